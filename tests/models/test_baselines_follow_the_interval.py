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


@pytest.mark.parametrize("kind", [SeasonalNaive, Yesterday])
def test_all_origins_at_once_give_what_one_origin_at_a_time_gives(kind):
    """The grid path (`forecast`, issue 17 item 11: seasonal naive was the slowest backtest)
    must equal the per-origin `predict`, gaps, missing values and late-starting series included."""
    rng = np.random.default_rng(4)
    parts = []
    for i, start in enumerate(["2024-01-01", "2024-01-01", "2024-01-20"]):
        f = weekly("1h", weeks=6)
        f = f[f["timestamp"] >= pd.Timestamp(start, tz="UTC")].copy()
        f["series_id"] = pd.array([f"S{i}"] * len(f), dtype="string")
        f["target"] = f["target"] * (1 + i) + rng.gamma(2, 0.05, len(f))
        f.loc[f.sample(frac=0.05, random_state=i).index, "target"] = np.nan
        parts.append(f.drop(f.sample(frac=0.03, random_state=10 + i).index))
    frame = pd.concat(parts, ignore_index=True)
    splitter = RollingOrigin(horizon=24, lookback=672, start="2024-01-29", end="2024-02-10")
    one_by_one = backtest(kind(quantiles=[0.1, 0.5, 0.9]), frame, splitter)
    at_once = backtest(kind(quantiles=[0.1, 0.5, 0.9], horizon=24), frame, splitter)
    keys = ["series_id", "origin", "timestamp"]
    a = one_by_one.sort_values(keys).reset_index(drop=True)
    b = at_once.sort_values(keys).reset_index(drop=True)[a.columns]
    assert len(a) > 24 * 10 * 2 and a["p50"].notna().mean() > 0.8
    pd.testing.assert_frame_equal(a, b, check_dtype=False, rtol=1e-12)
