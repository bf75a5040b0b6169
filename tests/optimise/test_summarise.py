"""The customer base summarised block by block: the same whatever the block size, its load
classes against the exact responded load, and the classes merged beyond their limit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.optimise.check import rebill
from forecasting.optimise.model import responded, system_load, template_slots
from forecasting.optimise.scenarios import InMemory, Scenario, Scenarios, ScenarioSpec
from forecasting.optimise.summarise import summarise
from forecasting.tariffs.spec import Tariff
from forecasting.tariffs.template import TariffTemplate

HEAD = {"name": "t", "currency": "GBP", "amounts": "minor", "timezone": "Europe/London"}
FLAT = Tariff.model_validate({**HEAD, "energy": {"type": "flat", "rate": 14.0}})
TOU_NOW = Tariff.model_validate({**HEAD, "energy": {"type": "tou", "bands": [
    {"name": "day", "rate": 16.0, "windows": [{"start": "07:00", "end": "23:00"}]},
    {"name": "night", "rate": 8.0, "windows": [{"start": "23:00", "end": "07:00"}]}]}})  # fmt: skip
TEMPLATE = TariffTemplate({**HEAD, "energy": {"type": "tou", "bands": [
    {"name": "day", "rate": {"min": 5, "max": 30}, "windows": [{"start": "00:00", "end": "16:00"},
                                                               {"start": "20:00", "end": "24:00"}]},
    {"name": "peak", "rate": {"min": 5, "max": 40}, "windows": [{"start": "16:00", "end": "20:00"}]}]}})  # fmt: skip
STEP = pd.Timedelta("30min")


def _usage(n: int, days: int = 21, seed: int = 0) -> tuple[pd.DatetimeIndex, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = pd.date_range("2024-01-01", periods=days * 48, freq="30min", tz="UTC")
    hour = (t.hour + t.minute / 60).to_numpy()
    evening = np.exp(-0.5 * ((hour - 18) / 2) ** 2)
    night = ((hour >= 23) | (hour < 7)).astype(float)
    U = (0.2 + rng.uniform(0.2, 1.0, (n, 1)) * evening + rng.uniform(0, 0.8, (n, 1)) * night
         ) * rng.lognormal(0, 0.2, (n, len(t)))  # fmt: skip
    U[3, :200] = np.nan  # a late starter
    return t, U


def _summary(source, t, current=FLAT, chunk=4, **kw):
    n = source.n
    ids = np.array([f"c{i}" for i in range(n)], dtype=object)
    return summarise(source, ids, t[0], STEP, np.zeros(n, bool), pd.DataFrame({"series_id": ids}),
                     TEMPLATE, current, template_slots(TEMPLATE), chunk=chunk, **kw)  # fmt: skip


def _drawn(n: int = 10):
    t, U = _usage(n)
    groups = (np.arange(n) % 2)[:, None]
    e = (np.where(groups == 0, -0.2, -0.05) * np.ones((n, 2)), np.full((n, 2), 0.03))
    return t, Scenarios(n, U.shape[1], lambda a, b: U[a:b], e, e, t[0], STEP, "Europe/London",
                        ScenarioSpec(count=3, seed=2, ev_share=0.3, pv_share=0.3))  # fmt: skip


def test_the_summary_does_not_depend_on_the_block_size():
    t, source = _drawn()
    small, whole = _summary(source, t, chunk=3), _summary(source, t, chunk=10)
    np.testing.assert_allclose(small.current_bills, whole.current_bills, atol=1e-9)
    np.testing.assert_allclose(small.quantities, whole.quantities, rtol=1e-12)
    np.testing.assert_allclose(small.pref, whole.pref, rtol=1e-12)
    for a, b in zip(small.loads, whole.loads, strict=True):
        np.testing.assert_allclose(a.profiles, b.profiles, rtol=1e-12)
        np.testing.assert_array_equal(a.members, b.members)


def test_the_rows_a_scenario_changes_are_all_it_changes():
    _, source = _drawn()
    for _, _, block in source.blocks(4):
        for s in (1, 2):
            rows, _ = block.changes(s)
            differs = np.flatnonzero(~np.all((block(s) == block.base)
                                             | np.isnan(block.base), axis=1))  # fmt: skip
            assert set(differs) <= set(rows)


def test_exact_classes_give_the_responded_load_of_every_customer():
    """A flat tariff today and two elasticity groups: two classes per scenario, and the load
    model at any prices is the sum of every customer's responded usage."""
    t, source = _drawn()
    base = _summary(source, t)
    x = np.array([0.0, 9.0, 31.0])
    for s in range(base.S):
        lc = base.loads[s]
        assert lc.exact and len(lc.members) == 2 and lc.members.sum() == base.n
        usage = np.vstack([blk(s) for _, _, blk in source.blocks(10)])
        want = np.nansum(responded(usage, base.customers[s], base.band_of, x, 0.01, 0.0), axis=0)
        np.testing.assert_allclose(system_load(base, x, s, 0.01), want, rtol=1e-10)


def test_beyond_the_limit_classes_merge_and_the_check_measures_the_gap():
    """Under a time-of-use tariff today every customer pays its own price per kWh: one class
    each, until `max_classes` merges them; the load is kept, the response approximated."""
    t, U = _usage(12)
    e = np.full((12, 2), -0.3)
    source = InMemory([Scenario("base", U, e, e)])
    fine = _summary(source, t, current=TOU_NOW)
    assert len(fine.loads[0].members) == 12 and fine.loads[0].exact
    coarse = _summary(source, t, current=TOU_NOW, max_classes=3)
    lc = coarse.loads[0]
    assert len(lc.members) <= 3 and not lc.exact and lc.members.sum() == 12
    np.testing.assert_allclose(lc.profiles.sum(axis=0), np.nansum(U, axis=0), rtol=1e-12)
    x = np.array([0.0, 9.0, 35.0])
    model = system_load(coarse, x, 0, 0.01)
    tariff = TEMPLATE.tariff_with({"day": 9.0, "peak": 35.0})
    _, _, exact = rebill(coarse, tariff, x, 0.01)
    gap = np.abs(model - exact[0]).max() / exact[0].max()
    assert 0 < gap < 0.01  # approximate, and close
    np.testing.assert_allclose(system_load(fine, x, 0, 0.01), exact[0], rtol=1e-10)


@pytest.mark.parametrize("vulnerable", [0, 6])
def test_the_planes_give_the_per_customer_programs_optimum(vulnerable):
    """The dispersion and the surrogate count as cutting planes reach the optimum of the
    program written with a variable per customer."""
    import cvxpy as cp

    from forecasting.optimise.model import linearise
    from forecasting.optimise.solve import ROUNDING_MARGIN, TAU, Goals, _solve_cut

    t, source = _drawn(12)
    base = _summary(source, t)
    base.vulnerable = np.arange(12) < vulnerable
    slots = template_slots(TEMPLATE)
    goals = Goals(w_peak=1.0, w_dispersion=2.0, delta=0.2, exact_limit=0, revenue_share=0.97)
    lin = linearise(base, slots, np.array([0.0, 12.0, 20.0]), 0.01)
    prob, x, _ = _solve_cut(base, slots, lin, goals)
    # the same program, a variable per customer
    X = cp.Variable(3)
    bills = [lin.A[s] @ X + lin.c[s] for s in range(base.S)]
    target = float(base.current_bills[0].sum())
    rel = cp.multiply(bills[0], 1 / base.current_bills[0]) - 1
    dev = cp.Variable(12, nonneg=True)
    peak = cp.Variable(base.S)
    rev = cp.Variable(nonneg=True)
    cons = [slots.low <= X, slots.high >= X, dev >= rel - cp.sum(rel) / 12,
            dev >= cp.sum(rel) / 12 - rel, rev >= (cp.sum(bills[0]) - target) / target,
            rev >= (target - cp.sum(bills[0])) / target]  # fmt: skip
    cons += [cp.sum(bills[s]) >= 0.97 * target * (1 + ROUNDING_MARGIN) for s in range(base.S)]
    cons += [peak[s] >= lin.L0[s] + lin.G[s] @ (X[1:] - lin.at[1:]) for s in range(base.S)]
    if vulnerable:
        v = np.flatnonzero(base.vulnerable)
        h = cp.Variable(len(v), nonneg=True)
        cur = base.current_bills[:, v]
        cons += [h >= (cp.multiply(bills[s][v], 1 / cur[s]) - (1.1 - ROUNDING_MARGIN - TAU)) / TAU
                 for s in range(base.S)]  # fmt: skip
        cons.append(cp.sum(h) <= int(np.floor(0.2 * vulnerable)))
    ref = cp.Problem(cp.Minimize(cp.sum(cp.multiply(peak, 1 / lin.peak_now)) / base.S
                                 + 2.0 * cp.sum(dev) / 12 + rev), cons)  # fmt: skip
    ref.solve(solver=cp.HIGHS)
    assert prob.value == pytest.approx(ref.value, rel=1e-5, abs=1e-7)
    np.testing.assert_allclose(x.value, X.value, rtol=1e-4, atol=1e-4)
