"""Features from canonical frames: origin-anchored windows (boosted models), sequence windows
(deep models), both from one [series, time] grid, and calendar features in local time."""

from forecasting.config.features import FeatureConfig
from forecasting.features.calendar import CALENDAR, calendar_features
from forecasting.features.windows import Windows, make_windows, window_columns, window_families

__all__ = [
    "CALENDAR",
    "FeatureConfig",
    "Windows",
    "calendar_features",
    "make_windows",
    "window_columns",
    "window_families",
]
