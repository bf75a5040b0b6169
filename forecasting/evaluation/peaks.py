"""Scores of daily peak forecasts against the actual daily peaks: the peak's size (kWh in the
peak interval) and its timing (hours between the forecast and the actual peak interval).

`daily_peaks` (forecasting/forecasts/peaks.py) gives a trained model's peak product; a model
without one (a baseline) is scored on the peak of its median path (`median_path_peaks`), which
is what a seasonal naive forecast says about tomorrow's peak.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.data.schema import SERIES, TIME

KEYS = [SERIES, "origin", "day"]


def _local_day(fc: pd.DataFrame, timezone: str) -> np.ndarray:
    return np.asarray(pd.DatetimeIndex(fc[TIME]).tz_convert(timezone).date)


def actual_daily_peaks(fc: pd.DataFrame, timezone: str) -> pd.DataFrame:
    """Per series, origin and local day of a forecast frame with an `actual` column: the
    largest actual (`actual_peak`) and when (`actual_time`, UTC); days with a missing actual
    are left out."""
    df = fc[[SERIES, "origin", TIME, "actual"]].assign(day=_local_day(fc, timezone))
    bad = df.groupby(KEYS)["actual"].transform(lambda s: s.isna().any())
    df = df[~bad.astype(bool)]
    at = df.groupby(KEYS, sort=False)["actual"].idxmax()
    out = df.loc[at.to_numpy(), [*KEYS, TIME, "actual"]]
    return out.rename(columns={"actual": "actual_peak", TIME: "actual_time"}).reset_index(drop=True)


def median_path_peaks(fc: pd.DataFrame, timezone: str, point: str = "p50") -> pd.DataFrame:
    """The peak of each day's median path: `peak_p50` (its largest value) and `peak_time`."""
    df = fc[[SERIES, "origin", TIME, point]].assign(day=_local_day(fc, timezone))
    at = df.groupby(KEYS, sort=False)[point].idxmax()
    out = df.loc[at.to_numpy(), [*KEYS, TIME, point]]
    return out.rename(columns={point: "peak_p50", TIME: "peak_time"}).reset_index(drop=True)


def score_daily_peaks(peaks: pd.DataFrame, actual: pd.DataFrame) -> dict[str, float | int]:
    """Mean absolute error of the peak's P50 (kWh), mean timing error (hours), and the share of
    actual peaks inside the peak's P10-P90 when the forecast gives one, on the days both have."""
    m = peaks.astype({SERIES: str}).merge(actual.astype({SERIES: str}), on=KEYS, how="inner")
    out: dict[str, float | int] = {"days": len(m)}
    if not len(m):
        return out
    y = m["actual_peak"].to_numpy(dtype="float64")
    out["peak_mae"] = float(np.mean(np.abs(m["peak_p50"].to_numpy(dtype="float64") - y)))
    gap = pd.DatetimeIndex(m["peak_time"]) - pd.DatetimeIndex(m["actual_time"])
    out["timing_hours"] = float(np.mean(np.abs(gap.total_seconds() / 3600)))
    out["timing_exact"] = float(np.mean(gap.total_seconds() == 0))
    if {"peak_p10", "peak_p90"} <= set(m):
        inside = (y >= m["peak_p10"].to_numpy()) & (y <= m["peak_p90"].to_numpy())
        out["coverage_p10_p90"] = float(np.mean(inside))
    return out
