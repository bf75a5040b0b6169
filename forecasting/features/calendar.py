"""Calendar features in local time: what every windowed model knows about a target time.

Pure numpy/pandas, shared by training and serving (`windows.py`, `sequences.py`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.data.holidays import HolidayCalendar

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
