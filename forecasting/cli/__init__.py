"""The `forecasting` command. Heavy libraries are imported inside commands, never at start-up."""

from __future__ import annotations

import os
import sys

MULTI_VALUE = ("--runs", "-r")  # of `ensemble`: `--runs A B C` as well as `--runs A --runs B`


def spread_options(argv: list[str], names: tuple[str, ...]) -> list[str]:
    """`--runs A B C` -> `--runs A --runs B --runs C` for the multi-value options `names`
    of the ensemble command (click takes one value per option)."""
    if not argv or argv[0] != "ensemble":
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


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the typer app and turn known errors into one line and an exit code."""
    from forecasting.cli.app import app
    from forecasting.errors import ForecastingError

    args = spread_options(sys.argv[1:] if argv is None else argv, MULTI_VALUE)
    try:
        app(args=args, prog_name="forecasting", standalone_mode=True)
    except ForecastingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("FORECASTING_DEBUG"):
            raise
        print(
            f"error: unexpected {type(exc).__name__}: {exc} "
            "(a bug: please report it; set FORECASTING_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        sys.exit(3)
