"""Baseline detector: rolling z-score of each interval against the previous `window` intervals
of its own series (mean and standard deviation), thresholded at a calibrated quantile."""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.data.schema import SERIES, TARGET, TIME


def zscore_scores(frame: pd.DataFrame, window: int = 168, min_periods: int = 48) -> pd.DataFrame:
    """series_id, timestamp, target, score = |x - mean| / std over the preceding window."""
    f = frame.sort_values([SERIES, TIME])[[SERIES, TIME, TARGET]].reset_index(drop=True)
    g = f.groupby(SERIES, observed=True)[TARGET]
    mean = g.transform(lambda s: s.shift(1).rolling(window, min_periods=min_periods).mean())
    std = g.transform(lambda s: s.shift(1).rolling(window, min_periods=min_periods).std())
    f["score"] = ((f[TARGET] - mean).abs() / std.clip(lower=1e-3)).astype("float64")
    f[SERIES] = f[SERIES].astype("string")
    return f


def flag(scores: pd.DataFrame, threshold: float) -> pd.DataFrame:
    out = scores.copy()
    out["threshold"] = threshold
    out["flag"] = (out["score"] > threshold).fillna(False).astype(bool)
    return out


def calibrate(scores: pd.Series, false_alarm_rate: float) -> float:
    """The score quantile that flags `false_alarm_rate` of (normal) intervals."""
    return float(np.nanquantile(scores.to_numpy(dtype="float64"), 1 - false_alarm_rate))
