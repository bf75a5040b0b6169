"""Anomaly scores from an autoencoder's reconstructions: the one scoring path of the native
detector (torch) and of its bundle on onnxruntime (`serving/anomalies.py`).

Per window: `point` is each interval's absolute reconstruction error, `window` the window's
mean error. Each signal is averaged over the windows covering an interval, standardised by
the calibration (`standard`: 0 at the median, 1 at the false-alarm quantile), and the score
is the larger of the two; an interval is flagged above the calibrated `threshold`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from forecasting.data.schema import SERIES, TARGET, TIME
from forecasting.features.grid import quiet_nan

SCORE_COLUMNS = [SERIES, TIME, TARGET, "score", "point", "window", "threshold", "flag"]


def scoring_origins(frame: pd.DataFrame, start: Any, end: Any, stride: int, window: int,
                    lookback: int, freq: str) -> pd.DatetimeIndex:  # fmt: skip
    """Starts of the windows that cover [start, end] (default: the data after one lookback)."""
    step = pd.Timedelta(freq)
    lo = pd.Timestamp(start) if start is not None else frame[TIME].min() + lookback * step
    hi = pd.Timestamp(end) if end is not None else frame[TIME].max()
    first = lo - (window - stride) * step if stride < window else lo
    return pd.date_range(first, hi, freq=stride * step)


def raw_signals(index: pd.DataFrame, x: np.ndarray, mask: np.ndarray, recon: np.ndarray,
                frame: pd.DataFrame, freq: str, start: Any, end: Any) -> pd.DataFrame:  # fmt: skip
    """Point and window signals per series and interval, before standardising. `index` names
    each window's series and origin; `x` [N, W, channels] (load first), `mask` [N, W]."""
    err = np.abs(recon - x[:, :, 0])
    err[mask == 0] = np.nan
    with np.errstate(all="ignore"), quiet_nan():
        dist = np.nanmean(err, axis=1)  # the window's mean error: persistent faults add up
    w = x.shape[1]
    step = pd.Timedelta(freq)
    times = (pd.DatetimeIndex(np.repeat(index["origin"].to_numpy(), w))
             + np.tile(np.arange(w), len(index)) * step)  # fmt: skip
    window = np.where(mask == 0, np.nan, dist[:, None])
    long = pd.DataFrame({SERIES: np.repeat(index[SERIES].to_numpy(), w), TIME: times,
                         "point": err.reshape(-1), "window": window.reshape(-1)})  # fmt: skip
    out = long.groupby([SERIES, TIME], sort=True, observed=True)[["point", "window"]].mean()
    out = out.reset_index()
    lo = pd.Timestamp(start) if start is not None else out[TIME].min()
    hi = pd.Timestamp(end) if end is not None else out[TIME].max()
    out = out[(out[TIME] >= lo) & (out[TIME] <= hi)]
    out = out.merge(frame[[SERIES, TIME, TARGET]].astype({SERIES: "string"}), on=[SERIES, TIME],
                    how="left")  # fmt: skip
    out[SERIES] = out[SERIES].astype("string")
    return out


def standardised(raw: pd.DataFrame, standard: dict[str, list[float]]) -> pd.DataFrame:
    out = raw.copy()
    for col, (mid, spread) in standard.items():
        out[col] = (out[col] - mid) / spread
    out["score"] = out[["point", "window"]].max(axis=1, skipna=False)
    return out


def flagged(raw: pd.DataFrame, standard: dict[str, list[float]], threshold: float) -> pd.DataFrame:
    """The scores table: standardised signals, the score, the threshold and the flag."""
    out = standardised(raw, standard)
    out["threshold"] = threshold
    out["flag"] = (out["score"] > threshold).fillna(False).astype(bool)
    return out[SCORE_COLUMNS].reset_index(drop=True)
