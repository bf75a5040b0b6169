"""One number format policy for every reader of text numbers (readings, covariates, serving inputs).

A value is read with a declared decimal separator and an optional thousands separator, and
nothing else: `"1,234"` is 1234 only where `thousands: ","` is declared, 1.234 only where
`decimal: ","` is, and refused (unparseable) otherwise, never guessed. A thousands separator
must group digits by three (`1,234,567`); `1,23` under `thousands: ","` is refused.
Canonical files (the long format `predict`, `bill` and `impute` read) use `.` and no thousands
separator. Torch-free: numpy and pandas only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from forecasting.errors import InputError

MISSING_TEXT = frozenset({"", "nan", "na", "n/a", "null", "none", "-", "?"})


@dataclass(frozen=True)
class NumberFormat:
    """How numbers are written in a text file: decimal separator and thousands separator."""

    decimal: str = "."
    thousands: str | None = None

    def __post_init__(self) -> None:
        if self.decimal not in (".", ","):
            raise ValueError(f"decimal separator must be '.' or ',', got {self.decimal!r}")
        if self.thousands is not None and self.thousands == self.decimal:
            raise ValueError(
                f"the thousands separator {self.thousands!r} cannot also be the decimal separator"
            )

    @classmethod
    def declared(cls, fields: Any) -> NumberFormat:
        """The format a config section declares with its `decimal` and `thousands` keys."""
        return cls(fields.decimal, fields.thousands)

    def describe(self) -> str:
        sep = f"thousands {self.thousands!r}" if self.thousands else "no thousands separator"
        return f"decimal {self.decimal!r}, {sep}"


CANONICAL = NumberFormat()


def _grouped(fmt: NumberFormat) -> re.Pattern[str]:
    t, d = re.escape(fmt.thousands or ""), re.escape(fmt.decimal)
    return re.compile(rf"^[+-]?\d{{1,3}}(?:{t}\d{{3}})+(?:{d}\d*)?(?:[eE][+-]?\d+)?$")


def parse_number_text(text: pd.Series, fmt: NumberFormat = CANONICAL) -> pd.Series:
    """Floats from text under `fmt` (NaN where empty or not a number in that format)."""
    t = text.astype("string").str.strip()
    if fmt.thousands:
        grouped = t.str.fullmatch(_grouped(fmt)).fillna(False)
        t = t.where(~grouped, t.str.replace(fmt.thousands, "", regex=False))
    if fmt.decimal != ".":
        t = t.where(~t.str.contains(".", regex=False).fillna(False), "\x00")  # '.' is not ours
        t = t.str.replace(fmt.decimal, ".", regex=False)
    return pd.to_numeric(t, errors="coerce").astype("float64")


def parse_numbers(
    raw: pd.Series, where: str, fmt: NumberFormat = CANONICAL
) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """(float values, unparseable mask, missing-or-non-finite mask) of a column.

    Numeric columns (parquet) are taken as they are; text is read under `fmt`. Bool or date
    columns are refused (`InputError` naming `where`): they are never energy."""
    if pd.api.types.is_bool_dtype(raw.dtype) or pd.api.types.is_datetime64_any_dtype(raw.dtype):
        raise InputError(f"{where}: column has type {raw.dtype}, expected numbers")
    if pd.api.types.is_numeric_dtype(raw.dtype):
        values = raw.astype("float64")
        return values, np.zeros(len(raw), dtype=bool), ~np.isfinite(values.to_numpy())
    text = raw.astype("string").str.strip()
    values = parse_number_text(text, fmt)
    failed = values.isna().to_numpy()
    missing = text.isna().to_numpy() | text.str.lower().isin(MISSING_TEXT).fillna(True).to_numpy()
    unparseable = failed & ~missing
    nonfinite = (failed & missing) | np.isinf(values.to_numpy())
    return values, unparseable, nonfinite
