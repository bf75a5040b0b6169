from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd

from forecasting.evaluation.backtest import RollingOrigin, backtest
from forecasting.models.baselines import SeasonalNaive
from tests.features.test_features import frame


class Spy:
    """Records what a model is shown at each origin."""

    quantiles: ClassVar[list[float]] = [0.1, 0.5, 0.9]

    def __init__(self) -> None:
        self.seen: list[tuple[pd.Timestamp, pd.Timestamp, list[str]]] = []
        self.inner = SeasonalNaive()

    lookback = 24 * 14

    def predict(
        self, history: pd.DataFrame, future: pd.DataFrame, static: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        self.seen.append(
            (future["timestamp"].min(), history["timestamp"].max(), list(future.columns))
        )
        return self.inner.predict(history, future)


def test_no_target_at_or_after_the_origin_is_seen():
    f = frame(hours=24 * 30)
    spy = Spy()
    splitter = RollingOrigin(horizon=24, lookback=24 * 14, step=24, origin_hour=0)
    fc = backtest(spy, f, splitter, known_future=["temperature"])
    assert len(spy.seen) == len(splitter.origins(f)) > 5
    for origin, last_seen, future_cols in spy.seen:
        assert last_seen < origin
        assert "target" not in future_cols
    # rewriting every target at and after one origin leaves that origin's forecasts unchanged
    origin = splitter.origins(f)[3]
    changed = f.copy()
    changed.loc[changed["timestamp"] >= origin, "target"] += 1000.0
    again = backtest(SeasonalNaive(), changed, splitter)
    a = fc[fc["origin"] == origin].drop(columns="actual").reset_index(drop=True)
    b = again[again["origin"] == origin].drop(columns="actual").reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(
        fc[fc["origin"] == origin]["actual"], again[again["origin"] == origin]["actual"]
    )


def test_origins_follow_local_midnight_across_dst():
    f = frame(n_series=1, hours=24 * 20)  # spans 2024-03-31, when London moves to BST
    origins = RollingOrigin(
        horizon=24, lookback=48, step=24, origin_hour=0, timezone="Europe/London"
    ).origins(f)
    local = origins.tz_convert("Europe/London")
    days = pd.Series(local.date)
    assert (local.hour == 0).all() and (days.diff().dropna() == pd.Timedelta(days=1)).all()
    assert {o.hour for o in origins} == {0, 23}  # 00:00 GMT, then 23:00 UTC once on BST


def test_seasonal_naive_quantiles_ordered_and_horizon_complete():
    f = frame(hours=24 * 30)
    fc = backtest(SeasonalNaive(), f, RollingOrigin(horizon=24, lookback=24 * 14))
    assert (fc["p10"] <= fc["p50"]).all() and (fc["p50"] <= fc["p90"]).all()
    assert fc.groupby(["series_id", "origin"]).size().eq(24).all()
    assert fc["horizon"].min() == 1 and fc["horizon"].max() == 24
