from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.data.holidays import HolidayCalendar
from forecasting.features import FeatureConfig, calendar_features, make_windows, window_families

ORIGIN = pd.Timestamp("2024-04-05 00:00", tz="UTC")
ORIGINS = pd.DatetimeIndex([ORIGIN])


def frame(n_series: int = 3, hours: int = 440, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = pd.date_range("2024-03-20", periods=hours, freq="h", tz="UTC")
    return pd.DataFrame(
        {
            "series_id": np.repeat([f"S{i}" for i in range(n_series)], hours),
            "timestamp": np.tile(t, n_series),
            "target": rng.gamma(2.0, 0.3, n_series * hours),
            "temperature": np.tile(10 + 8 * np.sin(np.arange(hours) / 24), n_series),
        }
    )


def windows(f: pd.DataFrame, cfg: FeatureConfig | None = None, horizon: int = 24):
    return make_windows(f, ORIGINS, cfg or FeatureConfig(), horizon=horizon, lookback=336)


def test_window_features_never_read_the_target_at_or_after_the_origin():
    f = frame()
    before = windows(f)
    changed = f.copy()
    later = changed["timestamp"] >= ORIGIN
    changed.loc[later, "target"] = changed.loc[later, "target"] * 100 + 50  # rewrite the future
    after = windows(changed)
    pd.testing.assert_frame_equal(before.X, after.X)
    assert not np.allclose(before.y, after.y)  # the label does see it


def test_lags_sit_at_the_target_time_and_stop_at_the_origin():
    f = frame()
    w = windows(f, FeatureConfig(lags=[1, 24], scaling="none"))
    s1 = f[f["series_id"] == "S1"].set_index("timestamp")["target"]
    rows = w.index["series_id"] == "S1"
    x, steps = w.X[rows.to_numpy()], w.index.loc[rows, "horizon"].to_numpy()
    expected_24 = [s1[ORIGIN + pd.Timedelta(hours=int(h) - 1 - 24)] for h in steps]
    np.testing.assert_allclose(x["lag_24"], expected_24, rtol=1e-6)
    assert x["lag_1"].iloc[0] == pytest.approx(s1[ORIGIN - pd.Timedelta(hours=1)], rel=1e-6)
    assert x["lag_1"].iloc[1:].isna().all()  # one hour back from step 2 is inside the horizon


def test_each_series_is_built_from_its_own_readings_only():
    f = frame()
    before = windows(f)
    changed = f.copy()
    changed.loc[changed["series_id"] == "S0", "target"] *= 7
    after = windows(changed)
    others = (before.index["series_id"] != "S0").to_numpy()
    pd.testing.assert_frame_equal(before.X[others], after.X[others])


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


def test_degree_hours_and_families_name_every_column_once():
    f = frame()
    cfg = FeatureConfig(known_future=["temperature"])
    w = windows(f, cfg)
    temp = f.set_index(["series_id", "timestamp"])["temperature"]
    at_target = temp.loc[list(zip(w.index["series_id"], w.index["timestamp"], strict=True))]
    assert ((w.X["hdh"] > 0).to_numpy() == (at_target < 15.5).to_numpy()).all()
    families = window_families(cfg, list(f.columns), freq="1h")
    names = [c for cols in families.values() for c in cols]
    assert names == list(w.X.columns) and len(set(names)) == len(names)
    assert "hdh" in families["known_future"] and "lag_24" in families["lags"]
    no_temperature = window_families(cfg.model_copy(update={"temperature": None}), freq="1h")
    assert "hdh" not in no_temperature["known_future"]


def test_the_retired_rolling_shift_is_read_from_old_bundles_and_refused_otherwise():
    assert FeatureConfig.model_validate({"rolling_shift": 1}) == FeatureConfig()
    with pytest.raises(ValueError, match="rolling_shift is retired"):
        FeatureConfig.model_validate({"rolling_shift": 3})


def test_recent_values_and_covariate_lags_and_horizon_stats_read_what_they_say():
    """recent_k: the k-th interval before the origin (the same for every step); a covariate
    lag k: the covariate at the target time less k; horizon stats: the covariate over the
    whole horizon. None reads the target at or after the origin."""
    f = frame().assign(load=lambda d: np.tile(np.arange(440.0), 3))
    cfg = FeatureConfig(lags=[24], scaling="none", recent_values=3, known_future=["load"],
                        covariate_lags=[24, 168], covariate_horizon_stats=True, temperature=None)  # fmt: skip
    w = windows(f, cfg)
    s1 = f[f["series_id"] == "S1"].set_index("timestamp")
    rows = (w.index["series_id"] == "S1").to_numpy()
    x, steps = w.X[rows], w.index.loc[rows, "horizon"].to_numpy()
    for k in (1, 2, 3):
        assert (
            x[f"recent_{k}"] == np.float32(s1.loc[ORIGIN - pd.Timedelta(hours=k), "target"])
        ).all()
    at = [ORIGIN + pd.Timedelta(hours=int(h) - 1) for h in steps]
    np.testing.assert_allclose(
        x["load_lag_24"], [s1.loc[t - pd.Timedelta(hours=24), "load"] for t in at]
    )
    np.testing.assert_allclose(
        x["load_lag_168"], [s1.loc[t - pd.Timedelta(hours=168), "load"] for t in at]
    )
    day = s1.loc[ORIGIN : ORIGIN + pd.Timedelta(hours=23), "load"]
    assert (x["load_horizon_mean"] == np.float32(day.mean())).all()
    assert (x["load_horizon_max"] == np.float32(day.max())).all()
    assert list(w.X.columns) == [
        c for cols in window_families(cfg, freq="1h").values() for c in cols
    ]
    changed = f.copy()
    changed.loc[changed["timestamp"] >= ORIGIN, "target"] += 99  # the future target moves
    pd.testing.assert_frame_equal(windows(changed, cfg).X, w.X)


def test_similar_day_analogues_follow_the_days_most_like_yesterday():
    """analog_days=2: of the past days, the two whose shape was nearest yesterday's are found,
    and the mean and spread of the days after them are read at each target's hour; a third
    day, less alike, and the target at or after the origin are never read."""
    f = frame(n_series=1)
    s = f.set_index("timestamp")["target"].copy()
    day = pd.Timedelta("1D")
    yesterday = pd.date_range(ORIGIN - day, periods=24, freq="h")
    shape = np.sin(np.arange(24) / 3) + 2
    s[yesterday] = shape
    for d, noise, after in ((3, 0.0, 5.0), (6, 0.01, 7.0), (9, 0.5, 50.0)):  # 3 and 6 alike
        start = ORIGIN - day * (d + 1)
        s[pd.date_range(start, periods=24, freq="h")] = shape + noise
        s[pd.date_range(start + day, periods=24, freq="h")] = after + np.arange(24) / 10
    f["target"] = s.to_numpy()
    cfg = FeatureConfig(lags=[24], rolling_windows=[24], scaling="none", analog_days=2)
    w = windows(f, cfg)
    x = w.X.reset_index(drop=True)
    hours = np.arange(24) / 10
    np.testing.assert_allclose(x["analog_mean"], 6.0 + hours, rtol=1e-5)
    np.testing.assert_allclose(x["analog_std"], 1.0, rtol=1e-5)
    changed = f.copy()
    changed.loc[changed["timestamp"] >= ORIGIN, "target"] += 99
    pd.testing.assert_frame_equal(windows(changed, cfg).X, w.X)
    with pytest.raises(Exception, match="analog_days"):
        make_windows(f, ORIGINS, FeatureConfig(analog_days=7), horizon=24, lookback=168)
