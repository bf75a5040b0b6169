"""Events and observed responses against matched controls (forecasting/targeting/events.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.targeting.config import HourWeight
from forecasting.targeting.events import find_events, hour_weights, measure_responses


def test_events_are_runs_of_one_level_other_than_the_reference():
    levels = np.array(["Normal", "High", "High", "Normal", "Low", "Low", "High", "Normal"])
    t = pd.date_range("2024-01-01", periods=8, freq="30min", tz="UTC")
    ev = find_events(levels, t, "Normal")
    assert list(ev.level) == ["High", "Low", "High"]
    assert list(ev.start) == [1, 4, 6] and list(ev.stop) == [3, 6, 7]


def test_hour_weights_apply_to_their_level_and_local_hours():
    t = pd.date_range("2024-07-01T14:00Z", periods=8, freq="1h")  # 15:00-22:00 in London (BST)
    levels = np.array(["High"] * 4 + ["Low"] * 4)
    w = hour_weights(
        t, levels, [HourWeight(level="High", hours="16:00-20:00", weight=2.0)], "Europe/London"
    )
    assert list(w) == [1, 2, 2, 2, 1, 1, 1, 1]


def trial(days: int = 70, seed: int = 0):
    """Six control homes and two treated: one cuts 30% in every High event, the other never
    responds. Control homes share a daily pattern with noise; the treated homes are 1.5x
    and 0.8x a control home's pattern (their own level), heating-like day-to-day swings too."""
    rng = np.random.default_rng(seed)
    t = pd.date_range("2024-01-01", periods=48 * days, freq="30min", tz="UTC")
    hour = np.asarray(t.hour + t.minute / 60)
    daily = 1 + 0.5 * np.repeat(rng.normal(0, 1, days), 48)  # cold and mild days
    shape = 0.3 + 0.4 * np.exp(-((hour - 18) ** 2) / 4)
    levels = np.full(len(t), "Normal", dtype=object)
    for d in range(35, days, 3):
        levels[d * 48 + 34 : d * 48 + 40] = "High"  # 17:00-20:00
    ctrl = [shape * daily * rng.uniform(0.8, 1.2) * rng.lognormal(0, 0.1, len(t)) for _ in range(6)]
    a = 1.5 * shape * daily * rng.lognormal(0, 0.1, len(t))
    a = np.where(levels == "High", 0.7 * a, a)
    b = 0.8 * shape * daily * rng.lognormal(0, 0.1, len(t))
    kwh = np.vstack([a, b, *ctrl])
    treated = np.array([True, True] + [False] * 6)
    ids = np.array(["a", "b"] + [f"c{i}" for i in range(6)])
    return kwh, treated, ids, t, levels


def test_a_responder_reads_as_minus_30_percent_and_a_non_responder_as_nothing():
    kwh, treated, ids, t, levels = trial()
    r = measure_responses(kwh, treated, ids, np.array(["g"] * 8), t, levels, "Normal",
                          np.ones(len(t)), "UTC", placebo_days=7, matched=3)  # fmt: skip
    assert list(r.ids) == ["a", "b"] and len(r.events) == 12
    seen = np.isfinite(r.y[0])
    assert seen.sum() == 12  # every event is after the 28 baseline days
    assert np.nanmean(r.y[0]) == pytest.approx(-0.30, abs=0.03)
    assert np.nanmean(r.y[1]) == pytest.approx(0.0, abs=0.03)
    assert (r.noise[0] > 0.005).all() and (r.noise[0] < 0.1).all()
    # the base is the counterfactual kWh of the event: 1.5x a control home's, 6 half-hours
    assert np.nanmean(r.base[0]) / np.nanmean(r.base[1]) == pytest.approx(1.5 / 0.8, rel=0.1)


def test_events_in_the_first_baseline_days_are_not_measured():
    kwh, treated, ids, t, levels = trial(days=70)
    levels = levels.copy()
    levels[10 * 48 + 34 : 10 * 48 + 40] = "High"  # day 10: no 28 days before it
    r = measure_responses(kwh, treated, ids, np.array(["g"] * 8), t, levels, "Normal",
                          np.ones(len(t)), "UTC", placebo_days=7, matched=3)  # fmt: skip
    assert np.isnan(r.y[:, 0]).all() and np.isfinite(r.y[:, 1]).all()


def test_a_trial_without_controls_is_refused():
    kwh, _, ids, t, levels = trial(days=40)
    with pytest.raises(Exception, match="needs treated and control households"):
        measure_responses(kwh, np.ones(8, bool), ids, np.array(["g"] * 8), t, levels, "Normal",
                          np.ones(len(t)), "UTC")  # fmt: skip
