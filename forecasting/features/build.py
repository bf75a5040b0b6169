"""Feature construction shared by training and serving (pure numpy/pandas, no torch).

Input is a canonical frame sorted by series and time on a regular grid. Every feature at
time t uses only targets up to t - 1 interval (lags >= 1, windows ending `rolling_shift` back)
and covariates at t; known-future covariates are ones we will also have for the horizon.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.config.features import FeatureConfig
from forecasting.data.holidays import HolidayCalendar
from forecasting.data.schema import SERIES, TARGET, TIME

CALENDAR = [
    "hour",
    "dow",
    "month",
    "is_weekend",
    "is_holiday",
    "hour_sin",
    "hour_cos",
    "dow_sin",
    "dow_cos",
    "doy_sin",
    "doy_cos",
]


def calendar_features(
    timestamps: pd.Series, tz: str, holidays: HolidayCalendar | None = None
) -> pd.DataFrame:
    """Hour, weekday, month, weekend, holiday and cyclical encodings in local time `tz`."""
    local = timestamps.dt.tz_convert(tz)
    hour = local.dt.hour + local.dt.minute / 60.0
    dow = local.dt.dayofweek
    doy = local.dt.dayofyear
    out = pd.DataFrame(index=timestamps.index)
    out["hour"] = hour.astype("float64")
    out["dow"] = dow.astype("int8")
    out["month"] = local.dt.month.astype("int8")
    out["is_weekend"] = (dow >= 5).astype("int8")
    flags = holidays.flags(local) if holidays is not None else np.zeros(len(local), dtype=bool)
    out["is_holiday"] = flags.astype("int8")
    out["hour_sin"] = np.sin(2 * np.pi * hour / 24)
    out["hour_cos"] = np.cos(2 * np.pi * hour / 24)
    out["dow_sin"] = np.sin(2 * np.pi * dow / 7)
    out["dow_cos"] = np.cos(2 * np.pi * dow / 7)
    out["doy_sin"] = np.sin(2 * np.pi * doy / 365.25)
    out["doy_cos"] = np.cos(2 * np.pi * doy / 365.25)
    return out


def _position_in_series(series: np.ndarray) -> np.ndarray:
    starts = np.r_[True, series[1:] != series[:-1]]
    idx = np.arange(len(series))
    return idx - np.maximum.accumulate(np.where(starts, idx, 0))


def _shift(values: np.ndarray, pos: np.ndarray, k: int) -> np.ndarray:
    out = np.full(len(values), np.nan)
    if k < len(values):
        out[k:] = values[:-k] if k else values
    out[pos < k] = np.nan
    return out


def lag_features(frame: pd.DataFrame, cfg: FeatureConfig) -> pd.DataFrame:
    """Target lags and rolling statistics, computed within each series only."""
    y = frame[TARGET].to_numpy(dtype="float64")
    pos = _position_in_series(frame[SERIES].to_numpy())
    out = pd.DataFrame(index=frame.index)
    for k in cfg.lags:
        out[f"lag_{k}"] = _shift(y, pos, k)
    shifted = pd.Series(_shift(y, pos, cfg.rolling_shift))
    for w in cfg.rolling_windows:
        roll = shifted.rolling(w, min_periods=max(1, w // 2))
        invalid = pos < cfg.rolling_shift + w - 1  # window would reach into the previous series
        for stat in cfg.rolling_stats:
            values = getattr(roll, stat)().to_numpy(copy=True)
            values[invalid] = np.nan
            out[f"roll_{stat}_{w}"] = values
    return out


def weather_features(frame: pd.DataFrame, cfg: FeatureConfig) -> pd.DataFrame:
    """Heating and cooling degree hours from the temperature column (degrees C)."""
    out = pd.DataFrame(index=frame.index)
    if cfg.temperature and cfg.temperature in frame:
        t = frame[cfg.temperature].to_numpy(dtype="float64")
        out["hdh"] = np.clip(cfg.heating_base - t, 0, None)
        out["cdh"] = np.clip(t - cfg.cooling_base, 0, None)
    return out


def build_features(
    frame: pd.DataFrame, cfg: FeatureConfig, static: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Return `frame` (sorted by series and time) with every configured feature column added."""
    frame = frame.sort_values([SERIES, TIME], kind="stable", ignore_index=True)
    parts = [frame]
    if cfg.calendar:
        cal = HolidayCalendar.from_dict(cfg.holidays) if cfg.holidays else None
        parts.append(calendar_features(frame[TIME], cfg.timezone, cal))
    parts.append(lag_features(frame, cfg))
    parts.append(weather_features(frame, cfg))
    out = pd.concat(parts, axis=1)
    if static is not None and cfg.static:
        out = out.merge(static[[SERIES, *cfg.static]], on=SERIES, how="left")
    return out


def feature_groups(cfg: FeatureConfig, columns: list[str]) -> dict[str, list[str]]:
    """Split built feature columns into known-future, observed and static (what models need)."""
    known = [c for c in CALENDAR if cfg.calendar and c in columns]
    known += [c for c in ("hdh", "cdh") if c in columns]
    known += [c for c in cfg.known_future if c in columns]
    observed = [c for c in columns if c.startswith(("lag_", "roll_"))] + [
        c for c in cfg.observed if c in columns
    ]
    static = [c for c in cfg.static if c in columns]
    return {"known_future": known, "observed": observed, "static": static}
