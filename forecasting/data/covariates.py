"""Time series shared by every series (weather, a price signal), read, checked and joined on time."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from forecasting.config.data import CovariateSource
from forecasting.data import timestamps as ts
from forecasting.data.gaps import fill
from forecasting.data.numbers import NumberFormat, parse_numbers
from forecasting.data.quarantine import Quarantine
from forecasting.data.readers import read_table


@dataclass
class CovariateTable:
    name: str
    values: pd.DataFrame  # index: UTC output timestamps, one column per covariate
    quarantine: Quarantine
    report: dict[str, Any] = field(default_factory=dict)


def load_covariate(
    source: CovariateSource, out_freq: pd.Timedelta, anchor: pd.Timedelta = ts.UTC_GRID
) -> CovariateTable:
    """Read one covariate file and aggregate it to the output interval (UTC interval starts,
    on the grid that starts `anchor` past UTC midnight: the readings' grid)."""
    cols = {name: spec.column for name, spec in source.columns.items()}
    wanted = [source.timestamp, *dict.fromkeys(cols.values())]
    raw = read_table(
        source.path, wanted, delimiter=source.delimiter, what=f"covariate '{source.name}'"
    )
    q = Quarantine(raw, None, source.timestamp, list(dict.fromkeys(cols.values())))
    parsed = ts.parse_timestamps(
        raw[source.timestamp],
        source.timestamp_format,
        f"covariate '{source.name}' column '{source.timestamp}'",
        raw["_file"].astype("string") + " row " + raw["_row"].astype("string"),
    )
    wall = parsed.values
    q.reject(wall.isna().to_numpy(), "unparseable_timestamp", "timestamp cannot be parsed")
    tz = source.timezone.tzinfo
    step = ts.infer_frequency(pd.Series("x", index=wall.index), wall.where(q.alive)) or out_freq
    shift = step if source.label == "end" else pd.Timedelta(0)
    if parsed.instants:
        utc = (wall - shift).where(q.alive).dt.tz_localize("UTC")
        status = np.full(len(wall), ts.OK, dtype=np.int8)
    else:
        utc, status = ts.localize(
            (wall - shift).where(q.alive), pd.Series("x", index=wall.index), tz
        )
    q.reject(
        status == ts.NONEXISTENT, "nonexistent_local_time", f"not a valid time in {source.timezone}"
    )
    q.reject(
        status == ts.AMBIG_EXTRA, "duplicate_timestamp", "ambiguous local time seen more than twice"
    )
    dup = pd.Series(utc).where(q.alive).duplicated(keep="first").to_numpy() & q.alive
    q.reject(dup, "duplicate_timestamp", "timestamp already seen in this file")

    alive = q.alive
    data = pd.DataFrame({"timestamp": utc[alive].to_numpy()})
    data["timestamp"] = pd.to_datetime(data["timestamp"], utc=True)
    missing: dict[str, int] = {}
    unknown: dict[str, list[str]] = {}
    for name, spec in source.columns.items():
        col = raw.loc[alive, spec.column]
        if spec.values is not None:
            text = col.astype("string").str.strip()
            mapped = text.map(spec.values).astype("float64")
            bad = mapped.isna() & text.notna()
            if bad.any():
                unknown[name] = sorted(text[bad].unique().tolist())[:5]
            data[name] = mapped.to_numpy()
        else:
            values, _, _ = parse_numbers(
                col,
                f"covariate '{source.name}' column '{spec.column}'",
                NumberFormat.declared(source),
            )
            data[name] = values.to_numpy()
        missing[name] = int(data[name].isna().sum())
    data["bucket"] = ts.floor_to_grid(data["timestamp"], out_freq, anchor)
    agg = {name: (name, spec.aggregate) for name, spec in source.columns.items()}
    values = data.groupby("bucket").agg(**agg).sort_index()
    values.index.name = "timestamp"
    report = {
        "path": str(source.path),
        "rows_in": len(raw),
        "rows_used": int(alive.sum()),
        "rows_quarantined": int((~alive).sum()),
        "quarantined_by_reason": q.counts(),
        "missing_values": missing,
        "unknown_levels": unknown,
        "first": str(values.index.min()) if len(values) else None,
        "last": str(values.index.max()) if len(values) else None,
        "known_future": source.known_future,
    }
    return CovariateTable(source.name, values, q, report)


def covariates_by_time(
    sources: list[CovariateSource], out_freq: pd.Timedelta
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Every source's columns on one UTC grid of `out_freq` (index `timestamp`), each filled
    within its own time range by its source's policy, and a report per source: covariates for
    a job that has no readings to join them to (`impute` on monthly totals)."""
    parts, reports = [], {}
    for source in sources:
        table = load_covariate(source, out_freq)
        values = table.values
        if len(values):
            grid = pd.date_range(values.index.min(), values.index.max(), freq=out_freq)
            values, table.report["filled_intervals"] = _filled(values, grid, source, out_freq)
        parts.append(values)
        reports[source.name] = table.report
    if not parts:
        return pd.DataFrame(index=pd.DatetimeIndex([], tz="UTC", name="timestamp")), reports
    out = pd.concat(parts, axis=1).sort_index()
    out.index.name = "timestamp"
    return out, reports


def _filled(
    values: pd.DataFrame, grid: pd.DatetimeIndex, source: CovariateSource, out_freq: pd.Timedelta
) -> tuple[pd.DataFrame, dict[str, int]]:
    """`values` on `grid`, each column's gaps filled by the source's policy, and the intervals
    filled per column."""
    full = values.reindex(grid)
    counts: dict[str, int] = {}
    for name in source.columns:
        col, took = fill(full[name], pd.Series(0, index=grid), source.fill, out_freq)
        full[name] = col.to_numpy()
        counts[name] = int(took.sum())
    return full, counts


def join_covariates(
    frame: pd.DataFrame, table: CovariateTable, source: CovariateSource, out_freq: pd.Timedelta
) -> pd.DataFrame:
    """Join `table` onto the canonical frame by timestamp, filling by the source's policy."""
    if frame.empty:
        for name in source.columns:
            frame[name] = pd.Series(dtype="float64")
        return frame
    lo, hi = frame["timestamp"].min(), frame["timestamp"].max()
    grid = pd.date_range(
        min(lo, table.values.index.min()) if len(table.values) else lo, hi, freq=out_freq
    )
    full, filled_counts = _filled(table.values, grid, source, out_freq)
    if source.fill.outside is not None:
        inside = np.zeros(len(grid), dtype=bool)
        if len(table.values):
            inside = (grid >= table.values.index.min()) & (grid <= table.values.index.max())
        for name in source.columns:
            full[name] = full[name].where(inside, source.fill.outside)
    full.index.name = "timestamp"
    out = frame.merge(full.reset_index(), on="timestamp", how="left")
    table.report["filled_intervals"] = filled_counts
    table.report["coverage"] = {
        name: round(float(out[name].notna().mean()), 6) for name in source.columns
    }
    return out
