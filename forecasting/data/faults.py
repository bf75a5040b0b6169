"""Meter faults: one vocabulary for the synthetic generator and for scoring anomaly detectors.

The faults a real meter shows in readings that still look valid (so no validator rejects them):
- `spike`: one or two intervals read 2-4x the series' 99th percentile (a glitch or a bad read);
- `flatline`: the register freezes and repeats its first value;
- `stuck_zero`: the meter reads 0 (a dead meter, or a comms loss reported as zero);
- `drop`: the load falls to 20-40% of the truth (a partly bypassed meter).

`apply_meter_fault` rewrites one segment of readings; `inject_faults` places events at random in
a canonical frame and returns the labels detectors are scored against. The synthetic generator
(`data/synthetic.py`) uses the same kinds and rewrite for the faults it lists in `faults.csv`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecasting.data.schema import SERIES, TARGET, TIME
from forecasting.errors import InputError


@dataclass(frozen=True)
class MeterFault:
    """One kind of fault: how many intervals an event lasts (inclusive range, for
    `inject_faults`) and, for scaled faults, the range its multiplier is drawn from."""

    lengths: tuple[int, int]
    multiplier: tuple[float, float] | None = None


METER_FAULTS: dict[str, MeterFault] = {
    "spike": MeterFault(lengths=(1, 2), multiplier=(2.0, 4.0)),  # x the 99th percentile
    "flatline": MeterFault(lengths=(24, 72)),
    "stuck_zero": MeterFault(lengths=(12, 48)),
    "drop": MeterFault(lengths=(72, 168), multiplier=(0.2, 0.4)),  # x the true load
}
FAULT_KINDS = tuple(METER_FAULTS)


def check_fault_kinds(kinds: tuple[str, ...]) -> None:
    bad = [k for k in kinds if k not in METER_FAULTS]
    if bad:
        raise InputError(f"unknown fault kind(s) {bad}; choose from {list(FAULT_KINDS)}")


def apply_meter_fault(
    kind: str,
    values: np.ndarray,
    rng: np.random.Generator,
    *,
    p99: float = np.nan,
    fallback: float = 0.0,
    multiplier: float | None = None,
) -> np.ndarray:
    """The segment `values` as the faulty meter reports it (a new array).

    `p99` is the series' 99th percentile (the level a spike scales), `fallback` the value a
    flat line repeats when its first reading is missing; `multiplier` fixes a scaled fault's
    severity instead of drawing it from the kind's range with `rng`."""
    check_fault_kinds((kind,))
    fault = METER_FAULTS[kind]
    if fault.multiplier is not None and multiplier is None:
        multiplier = float(rng.uniform(*fault.multiplier))
    times = 1.0 if multiplier is None else multiplier
    out = np.asarray(values, dtype="float64").copy()
    if kind == "spike":
        out[:] = p99 * times
    elif kind == "flatline":
        out[:] = out[0] if np.isfinite(out[0]) else fallback
    elif kind == "stuck_zero":
        out[:] = 0.0
    else:  # drop
        out *= times
    return out


def inject_faults(
    frame: pd.DataFrame,
    start: str | pd.Timestamp,
    end: str | pd.Timestamp,
    kinds: tuple[str, ...] = FAULT_KINDS,
    events_per_series: int = 2,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(frame with faults, events): `events` has series_id, kind, start, end (inclusive, UTC).

    Events are placed at random in [start, end], a day apart within a series, in series with
    at least 200 observed intervals there. The returned frame has a boolean `fault` column and
    the same rows as the input."""
    check_fault_kinds(kinds)
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
            shortest, longest = METER_FAULTS[kind].lengths
            length = int(rng.integers(shortest, longest + 1))
            at = _free_slot(taken, length, rng)
            if at is None:
                continue
            taken[at : at + length] = True
            idx = inside[at : at + length]
            y[idx] = apply_meter_fault(kind, y[idx], rng, p99=p99, fallback=np.nanmean(y[rows]))
            out.loc[idx, "fault"] = True
            times_idx = out[TIME].iloc[idx]
            events.append(
                {SERIES: sid, "kind": kind, "start": times_idx.iloc[0], "end": times_idx.iloc[-1]}
            )
    out[TARGET] = y
    ev = pd.DataFrame(events, columns=[SERIES, "kind", "start", "end"])
    return out, ev


def _free_slot(taken: np.ndarray, length: int, rng: np.random.Generator) -> int | None:
    """A random start for `length` intervals with a day kept free around it (20 tries)."""
    for _try in range(20):
        at = int(rng.integers(0, len(taken) - length))
        if not taken[max(0, at - 24) : at + length + 24].any():
            return at
    return None


def _utc(t: str | pd.Timestamp) -> pd.Timestamp:
    ts = pd.Timestamp(t)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
