from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.evaluation.backtest import RollingOrigin, backtest
from forecasting.models.baselines import SeasonalNaive, WeekdayHourProfile, Yesterday
from tests.models.helpers import households


def weekly(days: int = 42) -> pd.DataFrame:
    t = pd.date_range("2024-01-01", periods=days * 24, freq="1h", tz="UTC")
    slot = (t.dayofweek * 24 + t.hour).to_numpy()
    y = 0.2 + (slot % 37) / 37.0  # repeats exactly every week
    return pd.DataFrame(
        {"series_id": pd.Series(["A"] * len(t), dtype="string"), "timestamp": t, "target": y}
    )


def test_weekday_hour_profile_is_exact_on_a_weekly_pattern():
    f = weekly()
    fc = backtest(
        WeekdayHourProfile(weeks=4), f, RollingOrigin(horizon=24, lookback=672, start="2024-02-01")
    )
    assert len(fc) > 24
    np.testing.assert_allclose(fc["p50"], fc["actual"], atol=1e-12)
    np.testing.assert_allclose(fc["p10"], fc["p90"], atol=1e-12)  # no residuals, no spread


def test_yesterday_repeats_the_day_before():
    f, _ = households(n=2, days=20)
    fc = backtest(Yesterday(), f, RollingOrigin(horizon=24, lookback=168, start="2024-01-15"))
    prev = f.assign(timestamp=f["timestamp"] + pd.Timedelta("1D")).rename(
        columns={"target": "prev"}
    )
    merged = fc.merge(prev[["series_id", "timestamp", "prev"]], on=["series_id", "timestamp"])
    assert len(merged) == len(fc) == 2 * 6 * 24  # origins Jan 15..20
    np.testing.assert_allclose(merged["p50"], merged["prev"])
    assert (merged["p10"] <= merged["p50"]).all() and (merged["p50"] <= merged["p90"]).all()


def test_profile_quantiles_cover_noisy_data_roughly():
    f, _ = households(n=4, days=60)
    fc = backtest(
        WeekdayHourProfile(weeks=4), f, RollingOrigin(horizon=24, lookback=672, start="2024-02-10")
    )
    inside = ((fc["actual"] >= fc["p10"]) & (fc["actual"] <= fc["p90"])).mean()
    assert 0.6 < inside < 0.95
    sn = backtest(SeasonalNaive(), f, RollingOrigin(horizon=24, lookback=672, start="2024-02-10"))
    assert len(sn) == len(fc)
