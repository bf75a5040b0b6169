"""The `forecasting` command. Heavy libraries are imported inside commands, never at start-up."""

from __future__ import annotations

import os
import sys
from typing import Any

from forecasting.cli.extras import TRAINING_STACK, missing_stack_message

MULTI_VALUE = ("--runs", "-r")  # of `ensemble`: `--runs A B C` as well as `--runs A --runs B`
MULTI_VALUE_COMMAND = "ensemble"


def spread_options(argv: list[str], names: tuple[str, ...]) -> list[str]:
    """`--runs A B C` -> `--runs A --runs B --runs C` for the multi-value options `names`
    of the ensemble command (click takes one value per option)."""
    if not argv or argv[0] != MULTI_VALUE_COMMAND:
        return list(argv)
    out: list[str] = []
    current = None
    for token in argv:
        if token in names:
            current = token
            continue
        if current is not None and not token.startswith("-"):
            out += [current, token]
            continue
        current = None
        out.append(token)
    return out


def _click_exceptions() -> Any:
    """The click exceptions typer raises (typer >= 0.24 vendors click as typer._click)."""
    try:
        from typer._click import exceptions
    except ImportError:  # pragma: no cover - older typer on real click
        from click import exceptions  # type: ignore[no-redef]
    return exceptions


def one_line(text: str) -> str:
    """A message on one line: newlines folded, so every error is exactly one line."""
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the typer app and turn every error into one line and an exit code.

    Exit codes: 0 done; 1 done with a documented partial result (see each command); 2 the
    input, a config or an option cannot be used (the one line says what and where); 3 a bug.
    """
    from forecasting.threads import calm_openmp

    calm_openmp()  # before any OpenMP library (LightGBM, XGBoost, torch) loads
    import typer

    from forecasting.cli.app import app
    from forecasting.errors import ForecastingError

    click = _click_exceptions()
    args = spread_options(sys.argv[1:] if argv is None else argv, MULTI_VALUE)
    try:
        code = app(args=args, prog_name="forecasting", standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except ForecastingError as exc:
        print(f"error: {one_line(str(exc))}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except click.NoArgsIsHelpError as exc:
        print(exc.format_message(), file=sys.stdout)
        sys.exit(2)
    except click.ClickException as exc:  # usage errors: a bad option or value
        command = f" (see {exc.ctx.command_path} --help)" if getattr(exc, "ctx", None) else ""
        print(f"error: {one_line(exc.format_message())}{command}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except MemoryError:
        print("error: out of memory (try a smaller --batch-size or input)", file=sys.stderr)
        sys.exit(2)
    except OSError as exc:  # the file system said no: a path that cannot be read or written
        where = f": {exc.filename}" if exc.filename else ""
        print(f"error: {exc.strerror or type(exc).__name__}{where}", file=sys.stderr)
        sys.exit(2)
    except Exception as exc:
        if os.environ.get("FORECASTING_DEBUG"):
            raise
        missing = (exc.name or "").split(".")[0] if isinstance(exc, ModuleNotFoundError) else ""
        if missing in TRAINING_STACK:  # a serving-only install asked to train
            command = " ".join(a for a in args[:2] if not a.startswith("-"))
            print(f"error: {missing_stack_message(command, missing)}", file=sys.stderr)
            sys.exit(2)
        print(
            f"error: unexpected {type(exc).__name__}: {one_line(str(exc))[:500]} "
            "(a bug: please report it; set FORECASTING_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        sys.exit(3)
