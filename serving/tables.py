"""Small tables read whole beside a long input: per-customer statics and per-time covariates.

Both refuse what would otherwise be resolved silently: an id or a timestamp that appears twice
(which row would win?), a covariate value that is not a finite number. Messages name the file,
the row and the value. Torch-free: pandas and pyarrow only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from forecasting.data.numbers import parse_numbers
from forecasting.data.readers import (
    FILE_COL,
    ROW_COL,
    describe_columns,
    file_columns,
    read_table,
    resolve_inputs,
)
from forecasting.data.schema import SERIES, TIME
from forecasting.errors import InputError


def _at(table: pd.DataFrame, i: int) -> str:
    return f"{table[FILE_COL].iloc[i]} row {table[ROW_COL].iloc[i]}"


def read_static(
    path: str | Path,
    id_column: str | None = None,
    columns: list[str] | None = None,
    delimiter: str = ",",
) -> pd.DataFrame:
    """A per-customer table keyed by `series_id` (or `id_column`, renamed to series_id).

    `columns`: the ones needed (all when None); a missing one is an error naming the file."""
    first = resolve_inputs(path, "static table")[0]
    present = file_columns(first, delimiter=delimiter)
    key = id_column or SERIES
    if key not in present:
        raise InputError(
            f"{path}: no id column {key!r} ({describe_columns(first, present)}); "
            "name it with --static-id"
        )
    wanted = present if columns is None else [key, *[c for c in columns if c != key]]
    table = read_table(path, wanted, delimiter=delimiter, what="static table")
    table = table.rename(columns={key: SERIES})
    table[SERIES] = table[SERIES].astype("string").str.strip()
    empty = table[SERIES].isna() | (table[SERIES] == "")
    if empty.any():
        raise InputError(f"{_at(table, int(np.flatnonzero(empty)[0]))}: empty customer id")
    dup = table[SERIES].duplicated(keep=False)
    if dup.any():
        rows = np.flatnonzero(dup.to_numpy())
        first = table[SERIES].iloc[rows[0]]
        again = [i for i in rows if table[SERIES].iloc[i] == first]
        raise InputError(
            f"{path}: customer {first!r} appears more than once ({_at(table, int(again[0]))} and "
            f"row {table[ROW_COL].iloc[again[1]]}): one row per customer"
        )
    return table.drop(columns=[FILE_COL, ROW_COL])


def utc_stamps(table: pd.DataFrame, what: str, column: str = TIME) -> pd.Series:
    """A table's `column` as UTC timestamps (ISO 8601 text, naive meaning UTC); the first
    that does not parse is refused with its file and row."""
    stamps = table[column]
    if isinstance(stamps.dtype, pd.DatetimeTZDtype):
        return stamps.dt.tz_convert("UTC")
    if pd.api.types.is_datetime64_any_dtype(stamps.dtype):
        return stamps.dt.tz_localize("UTC")
    when = pd.to_datetime(
        stamps.astype("string").str.strip(), utc=True, format="ISO8601", errors="coerce"
    )
    bad = when.isna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"{what} {_at(table, i)}: {column} {stamps.iloc[i]!r} is not an ISO 8601 date-time"
        )
    return when


def read_time_table(path: str | Path, columns: list[str], what: str) -> pd.DataFrame:
    """Covariates by UTC timestamp (`timestamp` ISO 8601; naive text is UTC), as float64,
    indexed by timestamp and sorted. Unparseable or repeated timestamps and values that are
    not finite numbers are refused with the file and row."""
    table = read_table(path, [TIME, *columns], what=what)
    stamps = table[TIME]
    when = utc_stamps(table, what)
    dup = when.duplicated().to_numpy()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise InputError(
            f"{what} {_at(table, i)}: timestamp {stamps.iloc[i]!r} appears twice; "
            "one row per timestamp"
        )
    out = pd.DataFrame(index=pd.DatetimeIndex(when, name=TIME))
    for c in columns:
        values, unparseable, nonfinite = parse_numbers(table[c], f"{what} {path}: column {c!r}")
        wrong = unparseable | nonfinite
        if wrong.any():
            i = int(np.flatnonzero(wrong)[0])
            raise InputError(
                f"{what} {_at(table, i)}: column {c!r} value {table[c].iloc[i]!r} is not a "
                "finite number"
            )
        out[c] = values.to_numpy()
    return out.sort_index()
