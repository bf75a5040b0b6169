"""The install extras: what a serving-only install (`pip install meterforecast`) lacks; and
progress lines for long commands."""

from __future__ import annotations

from collections.abc import Callable

# modules of the `[train]` extra: a command that imports one on a serving-only install says so
TRAINING_STACK = frozenset({
    "torch", "lightning", "pytorch_forecasting", "lightgbm", "xgboost", "sklearn", "shap",
    "optuna", "optuna_integration", "sqlalchemy", "matplotlib",
})  # fmt: skip


def missing_stack_message(command: str, module: str) -> str:
    return (
        f"`forecasting {command}` needs the training stack ({module} is not installed): "
        "pip install 'meterforecast[train]'"
    )


def require_training_stack(command: str) -> None:
    """Refuse, in one line, a command of the training stack on a serving-only install."""
    from forecasting.errors import InputError

    for module in sorted(TRAINING_STACK):
        if not installed(module):
            raise InputError(missing_stack_message(command, module))


def installed(module: str) -> bool:
    """Whether `module` can be imported here, without importing it."""
    import importlib.util
    import sys

    if module in sys.modules:
        return True
    try:
        return importlib.util.find_spec(module) is not None
    except (ValueError, ImportError):  # a lazily loaded module with no spec: it is there
        return True


def progress_printer() -> Callable[[str], None] | None:
    """Progress lines for a long command: on stderr when it is a terminal, else none (a
    script reading stderr gets the one-line error alone)."""
    import sys

    if not sys.stderr.isatty():
        return None

    def say(message: str) -> None:
        print(f"  {message}", file=sys.stderr, flush=True)

    return say
