"""The `forecasting` command. Heavy libraries are imported inside commands, never at start-up."""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the typer app and turn known errors into one line and an exit code."""
    from forecasting.cli.app import app
    from forecasting.errors import ForecastingError

    try:
        app(args=argv, prog_name="forecasting", standalone_mode=True)
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
