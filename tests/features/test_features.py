from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.data.holidays import HolidayCalendar
from forecasting.features import FeatureConfig, build_features, calendar_features, feature_groups


def frame(n_series: int = 3, hours: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = pd.date_range("2024-03-20", periods=hours, freq="h", tz="UTC")
    return pd.DataFrame(
        {
            "series_id": np.repeat([f"S{i}" for i in range(n_series)], hours),
            "timestamp": np.tile(t, n_series),
            "target": rng.gamma(2.0, 0.3, n_series * hours),
            "temperature": np.tile(10 + 5 * np.sin(np.arange(hours) / 24), n_series),
        }
    )


def test_features_never_see_the_current_or_future_target():
    f = frame()
    cfg = FeatureConfig()
    before = build_features(f, cfg)
    i = 250  # a row of series S0
    changed = f.copy()
    changed.loc[i:, "target"] = changed.loc[i:, "target"] * 100 + 50  # rewrite now and the future
    after = build_features(changed, cfg)
    cols = [c for c in before.columns if c.startswith(("lag_", "roll_"))]
    pd.testing.assert_frame_equal(before.loc[:i, cols], after.loc[:i, cols])
    assert not np.allclose(before.loc[i + 1 : i + 30, "lag_1"], after.loc[i + 1 : i + 30, "lag_1"])


def test_lags_stay_within_each_series():
    f = frame(hours=200)
    out = build_features(f, FeatureConfig(lags=[1, 24], rolling_windows=[24]))
    first_rows = out.groupby("series_id").head(1)
    assert first_rows["lag_1"].isna().all()
    s1 = out[out["series_id"] == "S1"].reset_index(drop=True)
    assert s1.loc[30, "lag_24"] == s1.loc[6, "target"]
    assert s1.loc[:23, "roll_mean_24"].isna().all()  # the window would reach into S0
    assert s1.loc[24, "roll_mean_24"] == pytest.approx(s1.loc[0:23, "target"].mean())


def test_calendar_in_local_time_across_dst_with_holidays():
    t = pd.Series(pd.date_range("2024-03-30 22:00", periods=6, freq="h", tz="UTC"))
    cal = HolidayCalendar(country="GB", subdivision="ENG")
    out = calendar_features(t, "Europe/London", cal)
    # 2024-03-31 01:00 UTC is 02:00 BST: the local hour skips 01
    assert out["hour"].tolist() == [22.0, 23.0, 0.0, 2.0, 3.0, 4.0]
    good_friday = calendar_features(
        pd.Series(pd.DatetimeIndex(["2024-03-29 12:00"], tz="UTC")), "Europe/London", cal
    )
    assert good_friday["is_holiday"].iloc[0] == 1 and out["is_holiday"].sum() == 0


def test_degree_hours_and_groups():
    f = frame(hours=50)
    cfg = FeatureConfig(known_future=["temperature"])
    out = build_features(f, cfg)
    assert ((out["hdh"] > 0) == (out["temperature"] < 15.5)).all()
    groups = feature_groups(cfg, list(out.columns))
    assert "hdh" in groups["known_future"] and "lag_1" in groups["observed"]
    assert not set(groups["known_future"]) & set(groups["observed"])
