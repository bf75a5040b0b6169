"""The per-series static table: attributes that do not change over time (ACORN group, tariff)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from forecasting.config.data import StaticSpec
from forecasting.data.readers import file_columns, read_table, resolve_inputs


def from_readings(
    readings: pd.DataFrame, columns: list[str]
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """One row per series: the most frequent value of each static column; conflicts reported."""
    series = pd.Index(readings["series_id"].unique(), name="series_id").sort_values()
    table = pd.DataFrame(index=series)
    conflicts: dict[str, dict[str, list[str]]] = {}
    for col in columns:
        counts = readings.groupby(["series_id", col], dropna=True).size().rename("n").reset_index()
        counts = counts.sort_values(["series_id", "n"], ascending=[True, False])
        table[col] = counts.drop_duplicates("series_id").set_index("series_id")[col].reindex(series)
        n_values = counts.groupby("series_id").size()
        for sid in n_values[n_values > 1].index[:20]:
            conflicts.setdefault(col, {})[str(sid)] = (
                counts.loc[counts["series_id"] == sid, col].astype(str).tolist()
            )
    return table.reset_index(), {"conflicting_values": conflicts}


def join_static_file(table: pd.DataFrame, spec: StaticSpec) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Add attributes from a per-series file; values already in `table` win, mismatches reported."""
    path = resolve_inputs(spec.path, "static file")[0]
    cols = spec.columns or [
        c for c in file_columns(path, delimiter=spec.delimiter) if c != spec.id_column
    ]
    raw = read_table(path, [spec.id_column, *cols], delimiter=spec.delimiter, what="static file")
    raw = raw.rename(columns={spec.id_column: "series_id"})
    raw["series_id"] = raw["series_id"].astype("string").str.strip()
    dup_ids = raw["series_id"][raw["series_id"].duplicated()].unique().tolist()
    raw = raw.drop_duplicates("series_id", keep="first").set_index("series_id")[cols]
    ids = table["series_id"].astype("string")
    out = table.set_index(ids.rename("series_id")).drop(columns="series_id")
    mismatches: dict[str, int] = {}
    for col in cols:
        incoming = raw[col].reindex(out.index)
        if col in out:
            both = out[col].notna() & incoming.notna()
            mismatches[col] = int((out[col][both].astype(str) != incoming[both].astype(str)).sum())
            out[col] = out[col].fillna(incoming)
        else:
            out[col] = incoming
    missing = [s for s in out.index if s not in raw.index]
    report = {
        "path": str(path),
        "rows": len(raw),
        "series_without_static_row": len(missing),
        "series_without_static_row_examples": missing[:5],
        "duplicate_ids_in_file": dup_ids[:10],
        "mismatches_with_readings": {k: v for k, v in mismatches.items() if v},
    }
    return out.reset_index(), report
