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
    """Hour, weekday, month, weekend, holiday and cyclical encodings in local time `tz`
    (numpy on the index's fields: the same values as the `.dt` accessors, without their
    per-call overhead, which dominates a one-customer request)."""
    local = pd.DatetimeIndex(timestamps).tz_convert(tz)
    hour = local.hour.to_numpy().astype("float64") + local.minute.to_numpy() / 60.0
    dow = local.dayofweek.to_numpy()
    doy = local.dayofyear.to_numpy()
    flags = holidays.flags(local) if holidays is not None else np.zeros(len(local), dtype=bool)
    return pd.DataFrame(
        {
            "hour": hour,
            "dow": dow.astype("int8"),
            "month": local.month.to_numpy().astype("int8"),
            "is_weekend": (dow >= 5).astype("int8"),
            "is_holiday": flags.astype("int8"),
            "hour_sin": np.sin(2 * np.pi * hour / 24),
            "hour_cos": np.cos(2 * np.pi * hour / 24),
            "dow_sin": np.sin(2 * np.pi * dow / 7),
            "dow_cos": np.cos(2 * np.pi * dow / 7),
            "doy_sin": np.sin(2 * np.pi * doy / 365.25),
            "doy_cos": np.cos(2 * np.pi * doy / 365.25),
        },
        index=timestamps.index,
    )
