"""Read raw tabular files (CSV or parquet; one file, a folder, or a glob) keeping provenance.

Every row keeps `_file` (its file name) and `_row` (1-based data row in that file), so a
quarantined row can be found again in the original. CSV columns are read as text so that
nothing is coerced silently: parsing happens in validation, row by row.
"""

from __future__ import annotations

import csv
import glob
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from forecasting.config.values import as_path
from forecasting.errors import InputError

FILE_COL = "_file"
ROW_COL = "_row"
RAGGED_COL = "_ragged"  # with ragged="mark": why a CSV row's field count is wrong, else null
SUFFIXES = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def resolve_inputs(path: str | Path, what: str = "input") -> list[Path]:
    """Expand a file, a folder (its CSV/parquet files) or a glob into a sorted list of files."""
    p = as_path(path)
    if any(ch in str(p) for ch in "*?["):
        files = sorted(Path(f) for f in glob.glob(str(p)) if Path(f).is_file())
        if not files:
            raise InputError(f"{what}: no files match {p}")
        return files
    if not p.exists():
        raise InputError(f"{what} not found: {p}")
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in SUFFIXES)
        if not files:
            raise InputError(f"{what}: folder {p} holds no .csv or .parquet files")
        return files
    return [p]


def detect_format(path: Path, declared: str = "auto") -> str:
    if declared != "auto":
        return declared
    fmt = SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        with path.open("rb") as fh:
            head = fh.read(4)
        fmt = "parquet" if head == b"PAR1" else "csv"
    return fmt


def ragged_rows(path: Path, delimiter: str, encoding: str) -> list[tuple[int, int, int]]:
    """(1-based data row, fields, fields in the header) of every CSV row whose field count
    differs from the header's; [] for a well-formed file.

    A fast pyarrow pass tells whether any row is ragged; only then are rows counted one by
    one. The pass takes no Python callback: a reader holding one can be released on an Arrow
    IO thread while the interpreter exits, which aborts the process ("terminate called
    without an active exception")."""
    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(encoding=encoding, use_threads=False),
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
            convert_options=pacsv.ConvertOptions(include_columns=[], strings_can_be_null=False),
        )
        with reader:
            for _ in reader:
                pass
        return []
    except (OSError, UnicodeDecodeError, LookupError):
        return []  # pandas reports what is wrong with the file itself
    except pa.ArrowInvalid:  # a ragged row, or something pandas will name; count exactly
        try:
            return _count_fields(path, delimiter, encoding)
        except (OSError, UnicodeDecodeError, LookupError, csv.Error):
            return []


def _count_fields(path: Path, delimiter: str, encoding: str) -> list[tuple[int, int, int]]:
    """Slow path for a file known to be ragged: the csv module numbers records exactly
    (blank lines skipped, quoted newlines kept), as pandas numbers data rows."""
    out = []
    with path.open(newline="", encoding=encoding) as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        width = len(next(reader, []))
        row = 0
        for record in reader:
            if not record:
                continue
            row += 1
            if len(record) != width:
                out.append((row, len(record), width))
    return out


def _undecodable(path: Path, encoding: str, exc: UnicodeDecodeError) -> InputError:
    return InputError(f"{path}: not readable as {encoding} text ({exc.reason} at byte {exc.start})")


def csv_header(path: Path, delimiter: str = ",", encoding: str = "utf-8") -> list[str]:
    """The header's column names as the file writes them, without the spaces around them
    (`Date, Price` names `Price`); an empty header cell (a pandas index written to CSV) is
    the column `""`."""
    import csv

    try:
        header = pd.read_csv(path, nrows=0, sep=delimiter, encoding=encoding)
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: file is empty (no header, no rows)") from None
    except UnicodeDecodeError as exc:
        raise _undecodable(path, encoding, exc) from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise InputError(f"{path}: not a readable CSV file ({str(exc).splitlines()[0]})") from None
    if len(delimiter) == 1:  # pandas names empty cells 'Unnamed: 0': read the cells themselves
        try:
            with path.open(newline="", encoding=encoding) as fh:
                first = next((r for r in csv.reader(fh, delimiter=delimiter) if r), [])
        except UnicodeDecodeError as exc:
            raise _undecodable(path, encoding, exc) from None
        except csv.Error:
            first = []  # pandas read the header; its names are the fallback
        names = [c.lstrip("\ufeff").strip() if i == 0 else c.strip() for i, c in enumerate(first)]
        if len(names) == len(header.columns):
            return names
    return [str(c).strip() for c in header.columns]


def _read_csv(path: Path, columns: list[str], delimiter: str, encoding: str) -> pd.DataFrame:
    names = csv_header(path, delimiter, encoding)
    _check_columns(path, columns, names)
    twice = [c for c in dict.fromkeys(columns) if names.count(c) > 1]
    if twice:
        raise InputError(
            f"{path}: column {twice[0]!r} appears {names.count(twice[0])} times in the header; "
            "rename the copies so the config can name the one to read"
        )
    positions = sorted(names.index(c) for c in dict.fromkeys(columns))
    try:
        df = pd.read_csv(
            path,
            sep=delimiter,
            encoding=encoding,
            usecols=positions,  # by position: the names above are the file's, not pandas'
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skipinitialspace=True,
        )
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path}: CSV could not be parsed ({str(exc).splitlines()[0]})") from None
    df.columns = [names[i] for i in positions]
    df = df[columns]
    ragged = ragged_rows(path, delimiter, encoding)
    if ragged:
        why = np.full(len(df), None, dtype=object)
        for row, n, width in ragged:
            if row <= len(df):
                why[row - 1] = f"{n} fields where the header has {width}"
        df[RAGGED_COL] = why
    return df


def _read_parquet(path: Path, columns: list[str]) -> pd.DataFrame:
    try:
        schema = pq.read_schema(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"{path}: not a readable parquet file ({exc})") from None
    _check_columns(path, columns, list(schema.names))
    try:
        table = pq.read_table(path, columns=columns)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"{path}: parquet file could not be read ({exc})") from None
    return table.to_pandas()


def _check_columns(path: Path, wanted: list[str], present: list[str]) -> None:
    missing = [c for c in wanted if c not in present]
    if missing:
        raise InputError(
            f"{path}: missing column(s) {', '.join(repr(c) for c in missing)}; "
            + describe_columns(path, present)
            + ("" if "" not in missing else " ('' names a column whose header cell is empty)")
        )


def describe_columns(path: Path, present: list[str]) -> str:
    """'the file has ...' for a message; a file that is not named as a table (no .csv or
    .parquet suffix, e.g. /etc/passwd) never has its first line quoted back."""
    if path.suffix.lower() not in SUFFIXES:
        return (
            f"it is not a .csv or .parquet file ({path.suffix or 'no suffix'}), "
            "so its content is not shown"
        )
    return f"the file has {', '.join(repr(c) for c in present) or 'no columns'}"


def read_table(
    path: str | Path,
    columns: list[str],
    fmt: str = "auto",
    delimiter: str = ",",
    encoding: str = "utf-8",
    what: str = "input",
    ragged: str = "refuse",
) -> pd.DataFrame:
    """Read `columns` from every file under `path`, adding `_file` and `_row` provenance.

    A CSV row with more or fewer fields than the header is never read as if it were whole:
    `ragged="refuse"` raises `InputError` naming the file and row; `ragged="mark"` keeps the
    row with the reason in `_ragged` (ingestion quarantines it)."""
    files = resolve_inputs(path, what)
    frames = []
    for f in files:
        if f.stat().st_size == 0:
            raise InputError(f"{f}: file is empty (0 bytes)")
        kind = detect_format(f, fmt)
        df = (
            _read_parquet(f, columns)
            if kind == "parquet"
            else _read_csv(f, columns, delimiter, encoding)
        )
        if RAGGED_COL in df and ragged == "refuse":
            i = int(np.flatnonzero(df[RAGGED_COL].notna().to_numpy())[0])
            raise InputError(f"{f} row {i + 1}: {df[RAGGED_COL].iloc[i]}")
        df[FILE_COL] = f.name if len(files) > 1 else str(f)
        df[ROW_COL] = pd.RangeIndex(1, len(df) + 1)
        frames.append(df)
    out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    if ragged == "mark" and RAGGED_COL not in out:
        out[RAGGED_COL] = None
    if out.empty:
        where = str(files[0]) if len(files) == 1 else f"{len(files)} files under {path}"
        raise InputError(f"{where}: no data rows (header only)")
    return out


def file_columns(
    path: Path, fmt: str = "auto", delimiter: str = ",", encoding: str = "utf-8"
) -> list[str]:
    """Column names of one file, without reading its rows."""
    if detect_format(path, fmt) == "parquet":
        try:
            return list(pq.read_schema(path).names)
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputError(f"{path}: not a readable parquet file ({exc})") from None
    return csv_header(path, delimiter, encoding)
