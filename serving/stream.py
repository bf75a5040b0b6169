"""Read an input of any size in record batches: a parquet file, a folder of parquet parts, or CSV.

Rows come out normalised to the canonical columns (`series_id` string, `timestamp` UTC,
`target` and covariates float64) with their provenance (`_file` index, `_row` 1-based row in
that file) and `_bad`: why a row cannot be used (a timestamp or number that does not parse),
or null. Nothing is dropped here: a bad row stays, so its series can be reported with the
reason. Torch-free: pyarrow, numpy and pandas only.
"""

from __future__ import annotations

import itertools
import os
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from forecasting.data.numbers import parse_number_text
from forecasting.data.readers import (
    describe_columns,
    detect_format,
    file_columns,
    resolve_inputs,
)
from forecasting.data.schema import SERIES, TARGET, TIME
from forecasting.errors import InputError

BATCH_ROWS = 262_144
# rows `partition` holds before writing them as one file: few, large files, and a memory
# bound that does not grow with the input (about 100 bytes a row)
FLUSH_ROWS = 1_048_576
CSV_BLOCK = 1 << 20  # bytes per CSV block, parsed on demand (no read-ahead): see _rebatched
CSV_BATCH_ROWS = 65_536
FILE, ROW, BAD = "_file", "_row", "_bad"
FLOAT32_MAX = float(np.finfo(np.float32).max)  # models compute in float32
MISSING_TEXT = {"", "nan", "NaN", "NA", "null", "NULL", "None"}


@dataclass(frozen=True)
class Source:
    """The files of an input, their formats, and the columns to read from each."""

    files: list[Path]
    kinds: list[str]
    columns: list[str]

    def fingerprint(self) -> list[dict[str, object]]:
        return files_fingerprint(self.files)


def files_fingerprint(files: list[Path]) -> list[dict[str, object]]:
    """Path, size and modification time of each file: what a resumed job compares."""
    stats = [(f, f.stat()) for f in files]
    return [
        {"path": str(f.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
        for f, st in stats
    ]


def open_source(
    path: str | Path, covariates: list[str], values: tuple[str, ...] = (TARGET,)
) -> Source:
    """Check every file of `path` is readable and has the columns; no rows are read."""
    files = resolve_inputs(path, "input")
    columns = [SERIES, TIME, *values, *covariates]
    kinds = []
    for f in files:
        if f.stat().st_size == 0:
            raise InputError(f"{f}: file is empty (0 bytes)")
        kinds.append(detect_format(f))
        present = file_columns(f)
        identity = [c for c in (SERIES, TIME, *values) if c not in present]
        lacking = [c for c in covariates if c not in present]
        if identity or lacking:
            said = []
            if identity:
                said.append(
                    f"missing column(s) {identity} of the canonical long format ({SERIES}, "
                    f"{TIME} in UTC, {', '.join(values)})"
                )
            if lacking:
                said.append(f"missing the bundle's covariate(s) {lacking}")
            hint = (
                "; for raw meter files give --data-config CFG, and they are read the way "
                "`forecasting data prepare` reads them"
                if identity
                else ""
            )
            raise InputError(f"{f}: {'; '.join(said)}; {describe_columns(f, present)}{hint}")
    return Source(files, kinds, columns)


def iter_batches(
    source: Source, columns: list[str], only: range | None = None, rows: int | None = None
) -> Iterator[tuple[int, int, pa.RecordBatch]]:
    """(file index, 1-based row of the batch's first row, batch of at most `rows` rows,
    BATCH_ROWS by default) over every file in order (or the files whose index is in `only`)."""
    for i, (f, kind) in enumerate(zip(source.files, source.kinds, strict=True)):
        if only is not None and i not in only:
            continue
        row = 1
        try:
            if kind == "parquet":
                batches: Iterator[pa.RecordBatch] = pq.ParquetFile(f).iter_batches(
                    batch_size=rows or BATCH_ROWS, columns=columns
                )
            else:
                batches = _rebatched(pacsv.open_csv(
                    f,
                    read_options=pacsv.ReadOptions(block_size=CSV_BLOCK, use_threads=False),
                    convert_options=pacsv.ConvertOptions(
                        include_columns=columns,
                        column_types=dict.fromkeys(columns, pa.string()),
                        strings_can_be_null=False,
                        quoted_strings_can_be_null=False,
                    ),
                ))  # fmt: skip
            for batch in batches:
                yield i, row, batch
                row += batch.num_rows
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputError(
                f"{f}: cannot be read past row {row - 1} ({str(exc).splitlines()[0]})"
            ) from None


def _rebatched(reader: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """CSV blocks joined into record batches of about CSV_BATCH_ROWS rows. Both are small on
    purpose: with 16 MiB blocks and 262k-row batches the peak RSS of a predict job grew with
    the CSV file (x1.74 from 2,000 to 20,000 series); see benchmarks/predict_csv_memory.py."""
    pending: list[pa.RecordBatch] = []
    rows = 0
    for batch in reader:
        pending.append(batch)
        rows += batch.num_rows
        if rows >= CSV_BATCH_ROWS:
            yield from pa.Table.from_batches(pending).combine_chunks().to_batches()
            pending, rows = [], 0
    if pending:
        yield from pa.Table.from_batches(pending).combine_chunks().to_batches()


def distinct_series(source: Source) -> int:
    """Number of distinct series ids in the input (reads the `series_id` column only). The
    ids seen are kept as 64-bit hashes in a sorted array, 8 bytes an id, so memory stays
    small and flat at millions of series (two ids would have to share a 64-bit hash to be
    counted once: at a million ids, a chance of about 3 in 100 million; the count only sizes
    the groups)."""
    seen = np.empty(0, dtype="uint64")
    pending: list[np.ndarray] = []
    for _, _, batch in iter_batches(source, [SERIES]):
        ids = batch.column(0)
        if not pa.types.is_string(ids.type) and not pa.types.is_large_string(ids.type):
            ids = ids.cast(pa.string())
        words = ids.unique().drop_null().to_numpy(zero_copy_only=False).astype(object)
        pending.append(pd.util.hash_array(words, categorize=False))
        if sum(len(p) for p in pending) > 1_000_000:
            seen = np.union1d(seen, np.concatenate(pending))
            pending = []
    if pending:
        seen = np.union1d(seen, np.concatenate(pending))
    return len(seen)


def _timestamps(col: pa.Array, bad: np.ndarray, why: np.ndarray) -> pd.Series:
    if pa.types.is_timestamp(col.type):
        ts = col.to_pandas()
        ts = ts.dt.tz_convert("UTC") if ts.dt.tz is not None else ts.dt.tz_localize("UTC")
    else:
        text = col.cast(pa.string()).to_pandas()
        ts = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
        wrong = ts.isna().to_numpy()
        for j in np.flatnonzero(wrong & ~bad):
            why[j] = f"timestamp {text.iloc[j]!r} is not an ISO 8601 date-time"
        bad |= wrong
    return ts.astype("datetime64[ns, UTC]")


def _numbers(col: pa.Array, name: str, bad: np.ndarray, why: np.ndarray) -> np.ndarray:
    if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
        v = col.to_numpy(zero_copy_only=False).astype("float64")
        text = None
    else:
        text = col.cast(pa.string()).to_pandas()
        v = parse_number_text(text).to_numpy(dtype="float64")
    with np.errstate(invalid="ignore"):
        wrong = np.isinf(v) | (np.abs(v) > FLOAT32_MAX)
    if text is not None:
        wrong |= np.isnan(v) & ~text.str.strip().isin(MISSING_TEXT).to_numpy()
    for j in np.flatnonzero(wrong & ~bad):
        shown = repr(text.iloc[j]) if text is not None else f"{v[j]:g}"
        why[j] = (
            f"{name} {shown} is not a finite number"
            if not np.isfinite(v[j])
            else f"{name} {shown} is too large for a model (beyond float32, {FLOAT32_MAX:.3g})"
        )
    bad |= wrong
    return v


def normalise(
    batch: pa.RecordBatch,
    file_index: int,
    first_row: int,
    ids: tuple[pa.Array, np.ndarray, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Canonical columns, provenance and `_bad` (reason or null) for one record batch; `ids`
    is `series_ids` of the batch when the caller has it already."""
    n = batch.num_rows
    bad = np.zeros(n, dtype=bool)
    why = np.full(n, None, dtype=object)
    ids, codes, uniques = ids or series_ids(batch.column(SERIES))
    empty = (uniques == "")[codes]
    why[empty] = "series_id is empty"
    bad |= empty
    out = pd.DataFrame({SERIES: pd.array(ids, dtype="string")})
    out[TIME] = _timestamps(batch.column(TIME), bad, why).array  # kept tz-aware: no objects
    for name in batch.schema.names:
        if name not in (SERIES, TIME):
            out[name] = _numbers(batch.column(name), name, bad, why)
    out[FILE] = np.int32(file_index)
    out[ROW] = np.arange(first_row, first_row + n, dtype="int64")
    out[BAD] = (
        pd.array(why, dtype="string")
        if bad.any()
        else pd.array(pa.nulls(n, pa.string()), dtype="string")  # the usual case: no object array
    )
    return out


def series_ids(col: pa.Array) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """Series ids stripped of surrounding whitespace, a missing id as "": (the ids as an Arrow
    string array, each row's code, the distinct ids by code). Only the distinct ids (a few
    thousand a batch, not a row each) pass through Python."""
    if not pa.types.is_string(col.type):
        col = col.cast(pa.string())
    enc = col.dictionary_encode()
    words = [w.strip() for w in enc.dictionary.to_pylist()] + [""]  # the last: a missing id
    uniques = np.array(words, dtype=object)
    codes = enc.indices.fill_null(len(words) - 1).to_numpy(zero_copy_only=False).astype("int64")
    return pa.array(words, pa.string()).take(pa.array(codes)), codes, uniques


def partition(
    source: Source,
    groups: int,
    folder: Path,
    value: str = TARGET,
    step: pd.Timedelta | None = None,
    processes: int = 1,
) -> dict[str, Any]:
    """Stream `source` into `folder` by a stable hash of the series id, so each group holds
    whole series however the input is ordered. Rows are buffered as Arrow slices and written
    every FLUSH_ROWS rows as one Arrow IPC file, `bFFFFF-KKKKKK.arrow` (F: the first input file
    of the pass that wrote it, K counts its flushes), with one record batch per group in the
    order read: a few large files at any number of groups, where a file per group and flush
    made hundreds of thousands of small ones at a million series. Rows are normalised (see
    `normalise`), bad ones included.

    With `processes` > 1 and several input files, the files are split into that many runs of
    consecutive files, each partitioned by its own process: the flush files sort in input
    order, so every group reads back exactly as from one pass.

    Returns rows read, bad rows and the last reading's time: with `step`, the last reading on
    the grid most readings are on (timestamp modulo `step`), so one series shifted off that
    grid cannot move it."""
    runs = _file_runs(source, processes)
    if len(runs) == 1:
        passes = [_partition_files(source, runs[0], groups, folder, value, step)]
        # the pass's buffers go back to the OS now, not when the allocator gets round to it:
        # else the first groups' memory comes on top of them, and the peak with it
        pa.default_memory_pool().release_unused()
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        ctx = multiprocessing.get_context("spawn")  # not forked: the caller may hold threads
        with ProcessPoolExecutor(len(runs), mp_context=ctx) as pool:
            jobs = [pool.submit(_partition_files, source, r, groups, folder, value, step)
                    for r in runs]  # fmt: skip
            passes = [j.result() for j in jobs]
    phases: dict[int, list[Any]] = {}
    for p in passes:
        for k, (n, last) in p["phases"].items():
            seen = phases.setdefault(k, [0, last])
            seen[0] += n
            seen[1] = max(seen[1], last)
    last = max(phases.values(), key=lambda v: (v[0], v[1]))[1] if phases else None
    rows, bad = sum(p["rows"] for p in passes), sum(p["bad_rows"] for p in passes)
    return {"rows": rows, "bad_rows": bad, "last_reading": last}


def _file_runs(source: Source, processes: int) -> list[range]:
    """The input files as up to `processes` runs of consecutive files of about equal bytes."""
    n = len(source.files)
    if processes <= 1 or n <= 1:
        return [range(n)]
    sizes = np.array([f.stat().st_size for f in source.files], dtype="float64")
    ends = np.searchsorted(np.cumsum(sizes), sizes.sum() * np.arange(1, processes) / processes)
    cuts = sorted({0, *(int(e) + 1 for e in ends), n})
    return [range(a, b) for a, b in itertools.pairwise(cuts) if a < b]


def _partition_files(
    source: Source,
    files: range,
    groups: int,
    folder: Path,
    value: str,
    step: pd.Timedelta | None,
) -> dict[str, Any]:
    """One partition pass over the input files `files` (see `partition`)."""
    rows, bad, buffered, flushes = 0, 0, 0, 0
    buffers: dict[int, list[pa.Table]] = {}
    phases: dict[int, list[Any]] = {}  # phase (ns) -> [readings, last reading]
    unit = int(step.value) if step is not None else 0
    name = f"b{files.start:05d}" if len(files) else "b00000"
    for fi, first, batch in iter_batches(source, source.columns, files):
        ids = series_ids(batch.column(SERIES))  # once: for the rows and for their groups
        df = normalise(batch, fi, first, ids)
        rows += len(df)
        bad += int(df[BAD].notna().sum())
        ok = df.loc[df[BAD].isna() & df[value].notna(), TIME]
        if len(ok):
            ns = pd.DatetimeIndex(ok).as_unit("ns").asi8
            phase = ns % unit if unit else np.zeros(len(ns), dtype="int64")
            for p in np.unique(phase):
                at = ok[phase == p]
                seen = phases.setdefault(int(p), [0, at.max()])
                seen[0] += len(at)
                seen[1] = max(seen[1], at.max())
        _, codes, uniques = ids
        g = stable_group(pd.Series(uniques), groups)[codes]  # each distinct id hashed once
        buffer_by_group(buffers, pa.Table.from_pandas(df, preserve_index=False), g)
        buffered += len(df)
        if buffered >= FLUSH_ROWS:
            flushes = write_flush(buffers, folder, name, flushes)
            buffered = 0
    write_flush(buffers, folder, name, flushes)
    return {"rows": rows, "bad_rows": bad, "phases": phases}


def buffer_by_group(buffers: dict[int, list[pa.Table]], table: pa.Table, g: np.ndarray) -> None:
    """Add `table`'s rows to the buffers of their groups `g`: the table is sorted by group
    once, and each group's rows are a zero-copy slice of it (in the order read), held until
    `write_flush` writes them."""
    order = np.argsort(g, kind="stable")
    table = table.take(pa.array(order))
    bounds = np.flatnonzero(np.r_[True, np.diff(g[order]) != 0, True])
    for a, b in itertools.pairwise(bounds):
        buffers.setdefault(int(g[order[a]]), []).append(table.slice(int(a), int(b - a)))


GROUPS_KEY = b"forecasting.groups"  # schema metadata: the group of each record batch, in order


def write_flush(buffers: dict[int, list[pa.Table]], folder: Path, name: str, k: int) -> int:
    """Write the buffered rows as one IPC file, a record batch per group (its rows in the
    order read), and empty the buffers."""
    if not buffers:
        return k
    order = sorted(buffers)
    first = buffers[order[0]][0].schema
    meta = {**(first.metadata or {}), GROUPS_KEY: ",".join(map(str, order)).encode()}
    schema = first.with_metadata(meta)
    options = pa.ipc.IpcWriteOptions(compression="lz4")
    with pa.ipc.new_file(folder / f"{name}-{k:06d}.arrow", schema, options=options) as writer:
        for g in order:
            table = pa.concat_tables(buffers[g])
            columns = [c.combine_chunks() for c in table.columns]
            writer.write_batch(pa.RecordBatch.from_arrays(columns, schema=schema))
    buffers.clear()
    return k + 1


class _PartitionReader:
    """One flush file, opened once: its record batch of each group."""

    def __init__(self, path: Path) -> None:
        self.file = pa.OSFile(str(path))
        self.reader = pa.ipc.open_file(self.file)
        listed = (self.reader.schema.metadata or {}).get(GROUPS_KEY, b"")
        self.index = {int(g): i for i, g in enumerate(listed.split(b",")) if g}

    def batch(self, g: int) -> pa.RecordBatch | None:
        i = self.index.get(g)
        return None if i is None else self.reader.get_batch(i)

    def close(self) -> None:
        self.file.close()


# flush files this process has open, most recently used last: reading a group takes a batch
# from every flush file, so opening each once (not once per group) is most of the speed; the
# count open is capped, and `forget_partition` closes a job's files when it is done
_READERS: OrderedDict[tuple[str, int, int], _PartitionReader] = OrderedDict()
MAX_OPEN_READERS = 256


def _reader(path: Path) -> _PartitionReader:
    st = path.stat()
    key = (str(path), st.st_ino, st.st_mtime_ns)  # a folder written again is read again
    r = _READERS.get(key)
    if r is None:
        r = _READERS[key] = _PartitionReader(path)
        while len(_READERS) > MAX_OPEN_READERS:
            _READERS.popitem(last=False)[1].close()
    _READERS.move_to_end(key)
    return r


def forget_partition(folder: Path) -> None:
    """Close this process's open files of the partition in `folder` (before it is removed)."""
    prefix = str(folder) + os.sep
    for key in [k for k in _READERS if k[0].startswith(prefix)]:
        _READERS.pop(key).close()


def read_group(folder: Path, g: int) -> pd.DataFrame | None:
    """The rows `partition` wrote to group `g`, or None when it has none."""
    files = sorted(folder.glob("b*.arrow")) if folder.is_dir() else []
    if not files:
        return _read_group_v1(folder, g)
    batches, schema = [], None
    for f in files:
        r = _reader(f)
        schema = schema or r.reader.schema
        b = r.batch(g)
        if b is not None:
            batches.append(b)
    if not batches:
        return None
    frame: pd.DataFrame = pa.Table.from_batches(batches, schema=schema).to_pandas()
    return frame


def _read_group_v1(folder: Path, g: int) -> pd.DataFrame | None:
    """A group as earlier releases partitioned it, `g=NNNNN/bKKKKKK.parquet` (a job begun by
    one of them and resumed by this)."""
    sub = folder / f"g={g:05d}"
    files = sorted(sub.glob("*.parquet")) if sub.is_dir() else []
    if not files:
        return None
    frame: pd.DataFrame = pa.concat_tables([pq.read_table(f) for f in files]).to_pandas()
    return frame


def stable_group(ids: pd.Series, groups: int) -> np.ndarray:
    """Group of each series id: a hash that is the same in every process and run."""
    h = pd.util.hash_array(ids.to_numpy(dtype=object), categorize=True)
    return (h % np.uint64(groups)).astype("int64")
