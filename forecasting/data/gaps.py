"""Missing intervals on a regular grid: find them, describe them, fill them by policy only."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from forecasting.config.data import FillPolicy


def runs_of_missing(missing: np.ndarray, groups: np.ndarray) -> pd.DataFrame:
    """One row per run of consecutive missing values within a group: group, start, length."""
    if len(missing) == 0:
        return pd.DataFrame({"group": [], "start": [], "length": []})
    new_group = np.r_[True, groups[1:] != groups[:-1]]
    change = new_group | np.r_[True, missing[1:] != missing[:-1]]
    run_id = np.cumsum(change)
    df = pd.DataFrame(
        {"run": run_id, "missing": missing, "group": groups, "pos": np.arange(len(missing))}
    )
    df = df[df["missing"]]
    runs = df.groupby("run").agg(
        group=("group", "first"), start=("pos", "first"), length=("pos", "size")
    )
    return runs.reset_index(drop=True)


def run_lengths(missing: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """For every position, the length of the missing run it belongs to (0 when present)."""
    out = np.zeros(len(missing), dtype=np.int64)
    runs = runs_of_missing(missing, groups)
    for start, length in zip(runs["start"].to_numpy(), runs["length"].to_numpy(), strict=True):
        out[start : start + length] = length
    return out


def fill(
    values: pd.Series, groups: pd.Series, policy: FillPolicy, step: pd.Timedelta
) -> tuple[pd.Series, np.ndarray]:
    """Fill missing `values` (one regular grid per group, sorted) per `policy`.

    Only whole gaps of at most `policy.max_length` (intervals of `step`) are filled, never the edge of a
    long gap. Returns the new values and a mask of the filled positions.
    """
    v = values.astype("float64").reset_index(drop=True)
    g = groups.reset_index(drop=True)
    missing = v.isna().to_numpy()
    if policy.method == "none" or not missing.any():
        return v, np.zeros(len(v), dtype=bool)
    longest, season = policy.in_intervals(step)  # durations -> intervals of `step`
    lengths = run_lengths(missing, g.to_numpy())
    eligible = missing & (lengths <= longest)
    if policy.method == "zero":
        candidate = pd.Series(0.0, index=v.index)
    elif policy.method == "ffill":
        candidate = v.groupby(g).ffill()
    elif policy.method == "seasonal":
        candidate = v.groupby(g).shift(season)
    else:  # linear, interior gaps only
        pos = pd.Series(np.arange(len(v), dtype="float64"))
        known_pos = pos.where(~missing)
        prev_pos = known_pos.groupby(g).ffill()
        next_pos = known_pos.groupby(g).bfill()
        prev_val = v.groupby(g).ffill()
        next_val = v.groupby(g).bfill()
        w = (pos - prev_pos) / (next_pos - prev_pos)
        candidate = prev_val + w * (next_val - prev_val)
    take = eligible & candidate.notna().to_numpy()
    out = v.where(~take, candidate)
    return out, take


def gap_table(frame: pd.DataFrame, freq: pd.Timedelta) -> pd.DataFrame:
    """Per series: first/last timestamp, expected intervals, gaps, missing intervals, longest gap."""
    missing = frame["target"].isna().to_numpy()
    sid = frame["series_id"].to_numpy()
    runs = runs_of_missing(missing, sid)
    base = frame.groupby("series_id", sort=True).agg(
        first=("timestamp", "min"), last=("timestamp", "max"), intervals=("timestamp", "size")
    )
    if len(runs):
        per = runs.groupby("group").agg(
            gaps=("length", "size"), missing=("length", "sum"), longest=("length", "max")
        )
        first_gap = runs.groupby("group")["start"].first()
        per["first_gap"] = frame["timestamp"].iloc[first_gap.to_numpy()].to_numpy()
    else:
        per = pd.DataFrame(columns=["gaps", "missing", "longest", "first_gap"])
    out = base.join(per, how="left")
    for c in ["gaps", "missing", "longest"]:
        out[c] = out[c].fillna(0).astype("int64")
    hours = freq / pd.Timedelta(hours=1)
    out["longest_hours"] = out["longest"] * hours
    return out.reset_index()


def gaps_at_clock_change(frame: pd.DataFrame, freq: pd.Timedelta, tz: dt.tzinfo) -> int:
    """Remaining gaps that cover a repeated (ambiguous) local hour of a daylight-saving clock."""
    missing = frame["target"].isna().to_numpy()
    runs = runs_of_missing(missing, frame["series_id"].to_numpy())
    if not len(runs) or isinstance(tz, dt.timezone):
        return 0
    # UTC instants whose local wall time occurs twice (the autumn repeat), over the whole span
    grid = pd.date_range(frame["timestamp"].min(), frame["timestamp"].max(), freq=freq)
    wall = pd.Series(grid.tz_convert(tz).tz_localize(None))
    repeated = grid[wall.duplicated(keep=False).to_numpy()].as_unit("us").asi8
    starts = frame["timestamp"].iloc[runs["start"].to_numpy()].dt.tz_localize(None).dt.as_unit("us")
    lo = starts.to_numpy().astype("int64")
    hi = lo + runs["length"].to_numpy() * int(freq / pd.Timedelta(microseconds=1))
    covered = np.searchsorted(repeated, hi, side="left") - np.searchsorted(
        repeated, lo, side="left"
    )
    return int((covered > 0).sum())


def gap_examples(frame: pd.DataFrame, freq: pd.Timedelta, n: int = 5) -> list[dict[str, object]]:
    """The first `n` remaining gaps: series, UTC start and length in hours."""
    missing = frame["target"].isna().to_numpy()
    runs = runs_of_missing(missing, frame["series_id"].to_numpy()).head(n)
    hours = freq / pd.Timedelta(hours=1)
    starts = frame["timestamp"].iloc[runs["start"].to_numpy()] if len(runs) else []
    return [
        {"series_id": str(g), "start": str(t), "hours": float(length * hours)}
        for g, t, length in zip(runs["group"], starts, runs["length"], strict=True)
    ]
