"""A week is a week at any interval (issue 17, item 2): seasonal naive and yesterday's profile
count their season from the data's interval, so at 30 or 15 minutes they still look back one
week and one day, not 168 or 24 intervals (3.5 days and 12 hours at 30 minutes)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.config.model import SeasonalNaiveConfig
from forecasting.evaluation.backtest import RollingOrigin, backtest
from forecasting.models.baselines import SeasonalNaive, Yesterday
from forecasting.models.registry import make_baseline


def weekly(freq: str, weeks: int = 6) -> pd.DataFrame:
    """A series that repeats every week exactly, different every day of the week."""
    step = pd.Timedelta(freq)
    t = pd.date_range(
        "2024-01-01", periods=int(weeks * pd.Timedelta("7D") / step), freq=freq, tz="UTC"
    )
    minutes = ((t - t[0]) / pd.Timedelta(minutes=1)).to_numpy() % (7 * 24 * 60)
    y = 1 + np.sin(2 * np.pi * minutes / (24 * 60)) ** 2 + 0.3 * (minutes // (24 * 60))
    return pd.DataFrame(
        {"series_id": pd.array(["A"] * len(t), dtype="string"), "timestamp": t, "target": y}
    )


@pytest.mark.parametrize("freq", ["15min", "30min", "1h"])
def test_seasonal_naive_repeats_the_same_time_last_week_at_any_interval(freq):
    frame = weekly(freq)
    naive = SeasonalNaive(freq=freq)
    per_day = int(pd.Timedelta("1D") / pd.Timedelta(freq))
    assert naive.season == 7 * per_day and Yesterday(freq=freq).season == per_day
    origin = frame["timestamp"].iloc[-1].normalize() - pd.Timedelta(days=2)
    splitter = RollingOrigin(
        horizon=per_day, lookback=naive.lookback, freq=freq, start=origin, end=origin
    )
    fc = backtest(naive, frame, splitter)
    assert len(fc) == per_day
    np.testing.assert_allclose(fc["p50"], fc["actual"], atol=1e-12)  # a weekly series, exactly


def test_a_configured_season_is_still_intervals_and_the_default_follows_the_data():
    def naive(cfg: SeasonalNaiveConfig) -> int:
        return make_baseline(cfg, [0.5], "30min", True, "UTC").season  # type: ignore[union-attr]

    assert naive(SeasonalNaiveConfig()) == 336 and naive(SeasonalNaiveConfig(season=48)) == 48


@pytest.mark.parametrize("freq", ["15min", "30min", "1h"])
def test_daily_origins_are_daily_at_any_interval(freq):
    frame = weekly(freq, weeks=3)
    per_day = int(pd.Timedelta("1D") / pd.Timedelta(freq))
    start = frame["timestamp"].iloc[0] + pd.Timedelta(days=8)
    splitter = RollingOrigin(
        horizon=per_day, lookback=7 * per_day, step=per_day, freq=freq, origin_hour=0,
        timezone="Europe/London", start=start, end=start + pd.Timedelta(days=4, hours=23),
    )  # fmt: skip
    origins = splitter.origins(frame)
    assert len(origins) == 5 and (origins.to_series().diff().dropna() == pd.Timedelta("1D")).all()
