"""Bring validated readings from the source interval to the output interval (energy is summed)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import numpy as np
import pandas as pd

from forecasting.data.quarantine import Quarantine
from forecasting.data.schema import format_freq
from forecasting.data.timestamps import DAY, UTC_GRID, floor_to_grid, grid_anchor
from forecasting.errors import ConfigError


def to_output_frequency(
    readings: pd.DataFrame,
    freq: pd.Timedelta,
    out_freq: pd.Timedelta,
    aggregates: Mapping[str, str],
    quarantine: Quarantine,
    partial: str = "quarantine",
    how: str = "sum",
    anchor: pd.Timedelta = UTC_GRID,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Sum (energy) or average (`how="mean"`: prices, temperatures) the target into output
    intervals; `aggregates` names the aggregation of each covariate.

    An output interval missing some source readings is either quarantined whole (its rows get
    reason `incomplete_interval`) or kept (`partial: scale`, flagged in `filled`): a sum is
    scaled up to a full interval, a mean is the mean of the readings there.
    Output intervals start `anchor` past UTC midnight (see `output_anchor`).
    Returns the frame (`series_id`, `timestamp`, `target`, `filled`, covariates).
    """
    if out_freq < freq:
        raise ConfigError(
            f"output_frequency {format_freq(out_freq)} is finer than the data's {format_freq(freq)}: "
            "upsampling is not supported"
        )
    ratio = out_freq / freq
    if ratio != int(ratio):
        raise ConfigError(
            f"output_frequency {format_freq(out_freq)} is not a multiple of the data's {format_freq(freq)}"
        )
    ratio = int(ratio)
    cols = ["series_id", "timestamp", "target", *aggregates]
    if ratio == 1:
        out = readings[cols].copy()
        out["filled"] = False
        return out, {"incomplete_intervals": 0}
    df = readings.copy()
    df["bucket"] = floor_to_grid(df["timestamp"], out_freq, anchor)
    keys = [df["series_id"], df["bucket"]]
    count = df.groupby(keys, sort=False)["target"].transform("size").to_numpy()
    incomplete = count < ratio
    n_incomplete = 0
    if incomplete.any():
        n_incomplete = int(
            pd.DataFrame({"s": df["series_id"], "b": df["bucket"]})[incomplete]
            .drop_duplicates()
            .shape[0]
        )
    if partial == "quarantine" and incomplete.any():
        mask = np.zeros(len(quarantine.raw), dtype=bool)
        mask[df["_idx"].to_numpy()[incomplete]] = True
        detail = np.empty(len(quarantine.raw), dtype=object)
        detail[df["_idx"].to_numpy()[incomplete]] = (
            "interval starting "
            + df.loc[incomplete, "bucket"].dt.strftime("%Y-%m-%d %H:%M UTC").to_numpy(dtype=object)
            + f" has {' or '.join(map(str, sorted(set(count[incomplete].tolist()))))} of {ratio} readings"
        )
        quarantine.reject(mask, "incomplete_interval", detail)
        df = df[~incomplete]
        count = count[~incomplete]
    df["_scale"] = ratio / count
    if how == "sum":
        df["target"] = df["target"] * df["_scale"]
    agg: dict[str, tuple[str, str]] = {"target": ("target", how), "_scale": ("_scale", "max")}
    for name, how in aggregates.items():
        agg[name] = (name, how)
    out = df.groupby(["series_id", "bucket"], sort=True).agg(**agg).reset_index()
    out = out.rename(columns={"bucket": "timestamp"})
    out["filled"] = out.pop("_scale") > 1
    return out[["series_id", "timestamp", "target", "filled", *aggregates]], {
        "incomplete_intervals": n_incomplete
    }


def output_anchor(
    source_anchor: pd.Timedelta, freq: pd.Timedelta, out_freq: pd.Timedelta, tz: dt.tzinfo
) -> pd.Timedelta:
    """Where output intervals start (offset from UTC midnight): on the local clock's
    boundaries in standard time of `tz` (days at local midnight), moved back onto the
    source grid when that boundary is not on it; the source grid itself when nothing is
    aggregated."""
    if out_freq == freq:
        return source_anchor
    wanted = grid_anchor(out_freq, tz)
    on_source = source_anchor + ((wanted - source_anchor) // freq) * freq
    return on_source % min(out_freq, DAY)


def regular_grid(frame: pd.DataFrame, out_freq: pd.Timedelta) -> pd.DataFrame:
    """Reindex each series onto its full grid from first to last interval; new rows have NaN target."""
    if frame.empty:
        return frame
    spans = frame.groupby("series_id", sort=True)["timestamp"].agg(["min", "max"])
    n = ((spans["max"] - spans["min"]) / out_freq).astype("int64") + 1
    sid = np.repeat(spans.index.to_numpy(), n.to_numpy())
    offsets = (
        np.concatenate([np.arange(k) for k in n.to_numpy()])
        if len(n)
        else np.array([], dtype=np.int64)
    )
    start = np.repeat(spans["min"].dt.tz_localize(None).to_numpy(), n.to_numpy())
    grid = pd.DataFrame(
        {
            "series_id": pd.array(sid, dtype="string"),
            "timestamp": start + offsets * out_freq.to_timedelta64(),
        }
    )
    grid["timestamp"] = pd.to_datetime(grid["timestamp"], utc=True)
    out = grid.merge(frame, on=["series_id", "timestamp"], how="left", validate="one_to_one")
    out["filled"] = out["filled"].astype("boolean").fillna(False).astype(bool)
    return out
