"""Forecast frames: per-window model outputs as long rows in target units. Numpy and pandas only,
shared by the native models (`forecasting.models`) and the torch-free bundles (`serving`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.data.schema import SERIES, TIME
from forecasting.evaluation.metrics import quantile_column


def long_forecast(
    index: pd.DataFrame, pred: np.ndarray, quantiles: list[float], step: pd.Timedelta
) -> pd.DataFrame:
    """Long rows (series_id, origin, timestamp, horizon, p..) from per-window predictions
    pred [windows, horizon, Q] (target units)."""
    n, horizon = pred.shape[:2]
    h = np.tile(np.arange(1, horizon + 1), n)
    origin = pd.DatetimeIndex(np.repeat(index["origin"].to_numpy(), horizon))
    out = pd.DataFrame(
        {
            SERIES: np.repeat(index[SERIES].to_numpy(), horizon),
            "origin": origin,
            TIME: origin + (h - 1) * step,
            "horizon": h.astype("int64"),
        }
    )
    out[SERIES] = out[SERIES].astype("string")
    flat = pred.reshape(n * horizon, pred.shape[-1])
    for i, q in enumerate(quantiles):
        out[quantile_column(q)] = flat[:, i]
    return out


def scale_around(
    pred: np.ndarray, centre: int, factors: np.ndarray, nonnegative: bool
) -> np.ndarray:
    """Quantiles `pred` [rows, Q] moved away from (factor > 1) or towards (< 1) their column
    `centre` by `factors` ([Q] or [rows, Q]); each row sorted, clipped at 0 for a non-negative
    target. The interval calibrations (hourly and the daily peak's) apply their factors so."""
    mid = pred[:, [centre]]
    out = np.sort(mid + factors * (pred - mid), axis=1)
    return np.clip(out, 0, None) if nonnegative else out


def to_target_units(pred: np.ndarray, scale: np.ndarray, nonnegative: bool) -> np.ndarray:
    """Scaled model outputs (windows first, quantiles last) back to target units: multiplied
    by each window's scale and clipped at 0 for non-negative targets. Shared with serving."""
    out = pred * scale.reshape(-1, *([1] * (pred.ndim - 1)))
    return np.clip(out, 0, None) if nonnegative else out
