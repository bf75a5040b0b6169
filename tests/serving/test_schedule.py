"""The schedule job's inputs (serving/schedule.py): prices from a forecast, homes' own load."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.errors import InputError
from forecasting.schedule.config import ScheduleConfig
from serving.schedule import day_slots, forecast_prices, home_loads

CFG = ScheduleConfig.model_validate(
    {"slot": "15min", "day_start": "00:00", "appliances": [{"name": "w", "power_kw": 2, "duration": "1h"}]}
)  # fmt: skip


def times() -> pd.DatetimeIndex:
    return day_slots("2024-03-05", CFG, "UTC")


def write(frame: pd.DataFrame, path) -> str:
    frame.to_csv(path, index=False)
    return str(path)


def test_hourly_prices_hold_for_their_hour_and_the_latest_origin_before_the_day_wins(tmp_path):
    hours = pd.date_range("2024-03-05", periods=24, freq="h", tz="UTC")
    old = pd.DataFrame({"origin": "2024-03-03T00:00Z", "timestamp": hours, "p50": 999.0})
    new = pd.DataFrame(
        {"origin": "2024-03-04T11:00Z", "timestamp": hours, "p50": np.arange(24.0) * 10}
    )
    late = pd.DataFrame({"origin": "2024-03-05T06:00Z", "timestamp": hours, "p50": -5.0})
    path = write(pd.concat([old, new, late]).assign(series_id="BE", p90=0), tmp_path / "f.csv")
    p = forecast_prices(path, "p50", "per-mwh", times())
    assert p.shape == (96,)
    assert np.allclose(p, np.repeat(np.arange(24.0) * 10, 4) / 1000)  # EUR/MWh -> per kWh


def test_prices_that_stop_before_the_day_ends_are_refused(tmp_path):
    hours = pd.date_range("2024-03-05", periods=20, freq="h", tz="UTC")
    path = write(pd.DataFrame({"timestamp": hours, "p50": 1.0}), tmp_path / "f.csv")
    with pytest.raises(InputError, match="do not cover the day"):
        forecast_prices(path, "p50", "per-kwh", times())
    with pytest.raises(InputError, match="no price column 'p90'"):
        forecast_prices(path, "p90", "per-kwh", times())
    bad = pd.DataFrame({"timestamp": hours, "p50": ["1", "x"] + ["2"] * 18})
    with pytest.raises(InputError, match=r"row 2: column 'p50' value 'x' is not a finite number"):
        forecast_prices(write(bad, tmp_path / "g.csv"), "p50", "per-kwh", times())


def test_half_hourly_readings_become_the_power_of_each_quarter_hour(tmp_path):
    half = pd.date_range("2024-03-04T23:00Z", periods=52, freq="30min")
    full = pd.DataFrame({"series_id": "a", "timestamp": half, "kwh": np.arange(52) * 0.1})
    gappy = full.assign(series_id="b").iloc[::2]  # half the day missing: refused
    few = full.assign(series_id="c").drop(index=[5, 6, 7])  # three gaps: filled with its mean
    ids, kw, refused = home_loads(
        write(pd.concat([full, gappy, few]), tmp_path / "h.csv"), None, times(), CFG.slot.span
    )
    assert ids == ["a", "c"]
    # slot 0 (00:00) is in the reading from 00:00 (index 2): 0.2 kWh over half an hour
    assert kw[0, 0] == pytest.approx(0.4) and kw[0, 1] == pytest.approx(0.4)
    assert kw[0, 2] == pytest.approx(0.6)
    assert np.isfinite(kw[1]).all() and kw[1, 6] == pytest.approx(kw[1][np.r_[0:6, 12:96]].mean())
    assert (
        list(refused["series_id"]) == ["b"]
        and "cover 48 of the day's 96 slots" in refused["reason"][0]
    )
