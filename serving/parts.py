"""Part files of a batch job: each written whole or not at all, then joined in task order.

A task of `predict`, `bill` or `impute` (a group or batch, on any engine) writes its output as
parts: a temporary file, fsynced, renamed. A retried task writes the same parts again. The
driver joins the parts in task order, one in memory at a time, so the output does not depend
on which worker did what, or when. Torch-free: pandas and pyarrow.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from forecasting.folders import write_atomic


def write_table_atomic(path: Path, table: pa.Table) -> None:
    write_atomic(path, lambda p: pq.write_table(table, p))


def write_frame_atomic(path: Path, frame: pd.DataFrame) -> None:
    write_table_atomic(path, pa.Table.from_pandas(frame, preserve_index=False))


def join_parquet(files: list[Path], path: Path, columns: list[str] | None = None) -> bool:
    """`files` (one schema; those absent are skipped) as one parquet file at `path`, one in
    memory at a time. With none present: an empty table with `columns`, or no file when
    `columns` is None. Whether a file was written."""
    writer: pq.ParquetWriter | None = None
    try:
        for f in files:
            if not f.is_file():
                continue
            table = pq.read_table(f)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table.cast(writer.schema))
    finally:
        if writer is not None:
            writer.close()
    if writer is None and columns is not None:
        pd.DataFrame(columns=columns).to_parquet(path, index=False)
    return writer is not None or columns is not None
