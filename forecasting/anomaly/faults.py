"""Inject realistic meter faults into a canonical frame, with the labels to score detectors.

Kinds (lengths in intervals of the frame, hourly by default):
- `spike`: one or two intervals read 2-4x the series' 99th percentile (a glitch or a bad read);
- `flatline`: 24-72 intervals repeat the first value (a frozen register);
- `stuck_zero`: 12-48 intervals read 0 (a dead meter or comms loss reported as zero);
- `drop`: 72-168 intervals fall to 20-40% of the true load (a partly bypassed meter).
Events are placed at random in [start, end], never overlapping within a series.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.data.schema import SERIES, TARGET, TIME
from forecasting.errors import InputError

FAULT_KINDS = ("spike", "flatline", "stuck_zero", "drop")
LENGTHS = {"spike": (1, 2), "flatline": (24, 72), "stuck_zero": (12, 48), "drop": (72, 168)}


def inject_faults(
    frame: pd.DataFrame,
    start: str | pd.Timestamp,
    end: str | pd.Timestamp,
    kinds: tuple[str, ...] = FAULT_KINDS,
    events_per_series: int = 2,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(frame with faults, events): `events` has series_id, kind, start, end (inclusive, UTC).
    The returned frame has a boolean `fault` column and the same rows as the input."""
    bad = [k for k in kinds if k not in FAULT_KINDS]
    if bad:
        raise InputError(f"unknown fault kind(s) {bad}; choose from {list(FAULT_KINDS)}")
    rng = np.random.default_rng(seed)
    out = frame.sort_values([SERIES, TIME]).reset_index(drop=True).copy()
    out["fault"] = False
    lo, hi = _utc(start), _utc(end)
    events = []
    y = out[TARGET].to_numpy(dtype="float64", copy=True)
    in_span = ((out[TIME] >= lo) & (out[TIME] <= hi)).to_numpy()
    for sid, rows in out.groupby(SERIES, sort=True, observed=True).indices.items():
        inside = rows[in_span[rows]]
        observed = inside[np.isfinite(y[inside])]
        if len(observed) < 200:
            continue
        p99 = float(np.nanpercentile(y[rows], 99))
        taken = np.zeros(len(inside), dtype=bool)
        for _ in range(events_per_series):
            kind = kinds[rng.integers(len(kinds))]
            length = int(rng.integers(LENGTHS[kind][0], LENGTHS[kind][1] + 1))
            for _try in range(20):
                at = int(rng.integers(0, len(inside) - length))
                # keep a day free around events so they stay separate
                if not taken[max(0, at - 24) : at + length + 24].any():
                    break
            else:
                continue
            taken[at : at + length] = True
            idx = inside[at : at + length]
            if kind == "spike":
                y[idx] = p99 * rng.uniform(2, 4)
            elif kind == "flatline":
                first = y[idx[0]] if np.isfinite(y[idx[0]]) else np.nanmean(y[rows])
                y[idx] = first
            elif kind == "stuck_zero":
                y[idx] = 0.0
            else:
                y[idx] = y[idx] * rng.uniform(0.2, 0.4)
            out.loc[idx, "fault"] = True
            times_idx = out[TIME].iloc[idx]
            events.append(
                {SERIES: sid, "kind": kind, "start": times_idx.iloc[0], "end": times_idx.iloc[-1]}
            )
    out[TARGET] = y
    ev = pd.DataFrame(events, columns=[SERIES, "kind", "start", "end"])
    return out, ev


def _utc(t: str | pd.Timestamp) -> pd.Timestamp:
    ts = pd.Timestamp(t)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
