"""Errors the framework raises on purpose.

Every entry point turns a `ForecastingError` into a one-line message and an exit code,
never a traceback: the message must say what is wrong and where (file, column, row, value).
"""

from __future__ import annotations


class ForecastingError(Exception):
    """Base class of the errors users are meant to read. `exit_code` is what the CLI returns."""

    exit_code = 2


class ConfigError(ForecastingError):
    """A YAML config file is missing, unreadable, or fails validation."""


class InputError(ForecastingError):
    """An input data file cannot be used at all (missing, empty, wrong format, missing columns)."""


class BundleError(InputError):
    """An exported bundle cannot be used as it is (corrupt, truncated, edited, mismatched)."""


class ForecastingWarning(UserWarning):
    """Warnings issued by this package (turned into errors in the test suite)."""
