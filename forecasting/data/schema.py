"""The canonical frame: the one shape every model, feature function and adapter reads.

Long format, one row per series and interval: `series_id` (string), `timestamp` (UTC,
start of the interval, regular frequency per series), `target` (energy in the interval, NaN
when missing), `filled` (value made by a fill policy), then covariates (float). Static
attributes live in a separate table keyed by `series_id`.
"""

from __future__ import annotations

import pandas as pd

from forecasting.config.values import format_freq  # noqa: F401  (the data layer names it here)
from forecasting.errors import InputError

SERIES, TIME, TARGET, FILLED = "series_id", "timestamp", "target", "filled"
REQUIRED = (SERIES, TIME, TARGET)


def check_canonical(
    frame: pd.DataFrame, freq: pd.Timedelta | None = None, where: str = "frame"
) -> pd.Timedelta:
    """Raise InputError unless `frame` is canonical; return its frequency."""
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise InputError(
            f"{where}: missing column(s) {missing}; canonical columns are {list(REQUIRED)}"
        )
    if not isinstance(frame[TIME].dtype, pd.DatetimeTZDtype):
        raise InputError(
            f"{where}: column 'timestamp' must be timezone-aware UTC, got {frame[TIME].dtype}"
        )
    if frame.duplicated([SERIES, TIME]).any():
        row = frame[frame.duplicated([SERIES, TIME])].iloc[0]
        raise InputError(f"{where}: duplicate (series_id, timestamp) {row[SERIES]} {row[TIME]}")
    steps = frame.sort_values([SERIES, TIME]).groupby(SERIES, sort=False)[TIME].diff().dropna()
    if freq is None:
        if steps.empty:
            raise InputError(f"{where}: cannot tell the frequency (every series has one row)")
        freq = pd.Timedelta(steps.mode().iloc[0])
    irregular = steps[steps != freq]
    if len(irregular):
        raise InputError(
            f"{where}: series are not on a regular {freq} grid (step {irregular.iloc[0]} found); "
            "prepare data with `forecasting data prepare`"
        )
    return freq
