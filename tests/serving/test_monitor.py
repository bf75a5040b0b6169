"""The drift monitor's measures (serving/monitor.py) and its planted-drift trials."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.config.monitor import MonitorConfig
from forecasting.data.schema import SERIES
from serving.monitor import (
    _distribution,
    household_fits,
    ks,
    pseudonym,
    psi,
    tails,
)
from tests.serving.drift_trials import run_trial


def test_psi_and_ks_are_near_zero_on_the_same_distribution_and_grow_with_a_shift():
    rng = np.random.default_rng(0)
    ref = _distribution(rng.normal(0, 1, 20_000))
    same = rng.normal(0, 1, 5_000)
    assert psi(ref, same) < 0.01 and ks(ref, same) < 0.03
    moved = rng.normal(0.5, 1, 5_000)
    assert psi(ref, moved) > 0.2 and 0.17 < ks(ref, moved) < 0.23  # KS of N(0.5, 1): 0.197
    assert psi(ref, rng.normal(1, 1, 5_000)) > 0.8


def test_a_new_kind_of_day_shows_in_the_upper_tail():
    """2% of days far above anything seen: the deciles barely move, the tail check sees 3x."""
    rng = np.random.default_rng(1)
    ref = _distribution(rng.normal(0, 1, 20_000))
    x = np.r_[rng.normal(0, 1, 4_900), rng.normal(6, 0.5, 100)]
    ratio, z = tails(ref, x)
    assert psi(ref, x) < 0.1
    assert 2.5 < ratio < 3.5 and z > 5
    ratio, z = tails(ref, rng.normal(0, 1, 5_000))
    assert ratio < 1.5 and z < 3


def test_household_slopes_find_the_heated_homes_and_leave_the_others_at_zero():
    """40 homes over 28 days, 10 heated at 2-4 kWh per degree-day, all with noise of 3 kWh
    a day: the posterior slopes of the heated homes are near their truth, the others near 0
    (unshrunk least squares would give the unheated ones about +-0.5 and, clipped at 0, a
    bias that a cold spell multiplies)."""
    rng = np.random.default_rng(2)
    temp = rng.normal(6, 3, 28)
    truth = np.r_[rng.uniform(2, 4, 10), np.zeros(30)]
    rows = []
    for h, b in enumerate(truth):
        kwh = 10 + b * np.clip(15.5 - temp, 0, None) + rng.normal(0, 3, 28)
        for d in range(28):
            rows.append({SERIES: f"H{h}", "date": pd.Timestamp("2024-01-01") + pd.Timedelta(days=d),
                         "daily_kwh": kwh[d], "temperature": temp[d]})  # fmt: skip
    days = pd.DataFrame(rows).set_index([SERIES, "date"])
    slopes = np.array([household_fits(days)[f"H{h}"][2] for h in range(40)])
    assert np.abs(slopes[:10] - truth[:10]).max() < 0.6
    assert np.abs(slopes[10:]).mean() < 0.1


def test_households_are_stored_under_a_salted_pseudonym():
    assert pseudonym("MAC000123", "a") != pseudonym("MAC000123", "b")
    assert pseudonym("MAC000123", "a") == pseudonym("MAC000123", "a")  # found again by its salt


def test_thresholds_must_be_ordered():
    from forecasting.errors import ConfigError

    with pytest.raises((ConfigError, ValueError), match="must not be below warning"):
        MonitorConfig.model_validate({"psi": {"warning": 0.3, "drift": 0.2}})


@pytest.mark.slow
@pytest.mark.parametrize("drift", ["ev", "heating"])
def test_a_planted_drift_is_flagged_within_two_weeks_and_its_undrifted_copy_is_not(drift):
    """The scheduler's view: the monitor run daily on the last 14 days (seed 0, 40 homes,
    30% of those without one gain an EV or a heat pump). The drift reaches the drift level
    (exit 2) within the window's length; the same seed without the drift, and the days
    before it, reach the drift level on at most 1 in 20 daily runs. Figures over 10 seeds:
    benchmarks/results/monitor_drift.md."""
    t = run_trial(drift, seed=0, after=21)
    delay = t.delay("drift")
    assert delay is not None and delay <= 14, t.levels
    false, runs = t.false_alarms("drift")
    assert false / runs <= 0.05, (false, runs, t.undrifted)
