"""Small tables read whole beside a long input: per-customer statics and per-time covariates.

Both refuse what would otherwise be resolved silently: an id or a timestamp that appears twice
(which row would win?), a covariate value that is not a finite number. Messages name the file,
the row and the value. Torch-free: pandas and pyarrow only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from forecasting.data.numbers import parse_numbers
from forecasting.data.readers import (
    FILE_COL,
    ROW_COL,
    describe_columns,
    detect_format,
    file_columns,
    read_table,
    resolve_inputs,
)
from forecasting.data.schema import SERIES, TIME
from forecasting.errors import InputError
from serving.stream import (
    Source,
    buffer_by_group,
    iter_batches,
    series_ids,
    stable_group,
    write_flush,
)


def _at(table: pd.DataFrame, i: int) -> str:
    return f"{table[FILE_COL].iloc[i]} row {table[ROW_COL].iloc[i]}"


def _check_static_columns(
    path: str | Path, key: str, columns: list[str] | None, delimiter: str = ","
) -> tuple[list[Path], list[str], list[str]]:
    """(files, columns to read: the id first, columns the first file has) of a static table
    whose first file has the id column `key`; without it, refused naming the file."""
    files = resolve_inputs(path, "static table")
    present = file_columns(files[0], delimiter=delimiter)
    if key not in present:
        raise InputError(
            f"{path}: no id column {key!r} ({describe_columns(files[0], present)}); "
            "name it with --static-id"
        )
    wanted = present if columns is None else [key, *[c for c in columns if c != key]]
    return files, wanted, present


def read_static(
    path: str | Path,
    id_column: str | None = None,
    columns: list[str] | None = None,
    delimiter: str = ",",
) -> pd.DataFrame:
    """A per-customer table keyed by `series_id` (or `id_column`, renamed to series_id).

    `columns`: the ones needed (all when None); a missing one is an error naming the file."""
    key = id_column or SERIES
    _, wanted, _ = _check_static_columns(path, key, columns, delimiter)
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


# static rows read at a time, and held before they are written: a few MB at any table size
STATIC_BATCH_ROWS = 65_536
STATIC_FLUSH_ROWS = 131_072


def partition_static(
    path: str | Path, columns: list[str], groups: int, folder: Path
) -> dict[str, Any]:
    """The static table (`series_id` and `columns`) split into a job's groups of customers
    (`serving.stream.stable_group`, as the input is), streamed in record batches into flush
    files in `folder`; `serving.stream.read_group` reads a group's rows back. A job's
    processes then hold the customers of the group at hand, not the whole table, whatever its
    size. Checked as `read_static` checks it: an empty id, or an id twice, is refused with its
    file and row."""
    files, wanted, present = _check_static_columns(path, SERIES, columns)
    missing = [c for c in wanted if c not in present]
    if missing:
        raise InputError(
            f"{files[0]}: missing column(s) {missing} the bundle uses; "
            + describe_columns(files[0], present)
        )
    source = Source(files, [detect_format(f) for f in files], wanted)
    hashes: list[np.ndarray] = []  # of every id: 8 bytes a customer
    buffers: dict[int, list[pa.Table]] = {}
    schema, buffered, flushes = None, 0, 0
    for fi, first_row, batch in iter_batches(source, wanted, rows=STATIC_BATCH_ROWS):
        ids, codes, uniques = series_ids(batch.column(0))
        where = _file_label(files, fi)
        empty = np.flatnonzero(uniques[codes] == "")
        if len(empty):
            raise InputError(f"{where} row {first_row + int(empty[0])}: empty customer id")
        hashes.append(pd.util.hash_array(uniques, categorize=False)[codes])
        table = pa.Table.from_batches([batch]).set_column(0, SERIES, ids)
        if schema is None:
            schema = table.schema
        try:
            table = table.cast(schema)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise InputError(
                f"{where}: its columns' types differ from the first file's ({schema})"
            ) from None
        buffer_by_group(buffers, table, stable_group(pd.Series(uniques), groups)[codes])
        buffered += len(table)
        if buffered >= STATIC_FLUSH_ROWS:
            flushes, buffered = write_flush(buffers, folder, "b00000", flushes), 0
    write_flush(buffers, folder, "b00000", flushes)
    every = np.sort(np.concatenate(hashes)) if hashes else np.empty(0, dtype="uint64")
    for h in np.unique(every[1:][every[1:] == every[:-1]]):  # an id twice (or a shared hash)
        _refuse_duplicate(path, source, h)
    return {"customers": len(every)}


def _file_label(files: list[Path], i: int) -> str:
    """How a message names file `i`: its path when it is the only one, else its name (as
    `read_table` names rows)."""
    return str(files[i]) if len(files) == 1 else files[i].name


def _refuse_duplicate(path: str | Path, source: Source, h: np.uint64) -> None:
    """Refuse the customer whose id hashes to `h` and is listed twice, naming the file and row
    of both (a second read: only on this error). Two ids that merely share a hash pass."""
    rows: dict[str, list[tuple[str, int]]] = {}  # id -> (file, row) of each time it is listed
    for fi, first_row, batch in iter_batches(source, [SERIES], rows=STATIC_BATCH_ROWS):
        _, codes, uniques = series_ids(batch.column(0))
        name = _file_label(source.files, fi)
        for i in np.flatnonzero(pd.util.hash_array(uniques, categorize=False)[codes] == h):
            rows.setdefault(str(uniques[codes[i]]), []).append((name, first_row + int(i)))
        twice = [(sid, at) for sid, at in rows.items() if len(at) >= 2]
        if twice:
            sid, ((f1, r1), (f2, r2), *_) = twice[0]
            second = f"row {r2}" if f2 == f1 else f"{f2} row {r2}"
            raise InputError(
                f"{path}: customer {sid!r} appears more than once ({f1} row {r1} and {second}): "
                "one row per customer"
            )
