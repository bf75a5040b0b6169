"""The scheduling MILP (forecasting/schedule/solve.py) on problems solved by hand."""

from __future__ import annotations

import numpy as np
import pytest

from forecasting.errors import InputError
from forecasting.schedule.solve import Request, Scheduler, at_once, greedy

SLOT_H = 0.25  # 15-minute slots


def prices() -> np.ndarray:
    """96 slots at 30p, cheap from slot 8 to 15 (5p rising by 0.1p a slot)."""
    p = np.full(96, 0.30)
    p[8:16] = 0.05 + 0.001 * np.arange(8)
    return p


def test_one_appliance_takes_the_cheapest_block():
    """2 kW for an hour, any time: slots 8-11, 0.5 kWh a slot at 5.0, 5.1, 5.2, 5.3p."""
    r = Request("dishwasher", 2.0, 4, 0, 96)
    plan = Scheduler([r], 96, SLOT_H).solve(prices())
    assert plan.starts() == [8]
    assert plan.cost == pytest.approx(0.5 * (0.050 + 0.051 + 0.052 + 0.053))
    assert at_once([r], prices(), SLOT_H).cost == pytest.approx(0.5 * 4 * 0.30)


def test_the_site_limit_keeps_two_appliances_apart():
    """Two 3 kW hour-long runs under a 4 kW limit: they cannot overlap. The cheap band holds
    both (slots 8-11 and 12-15): 0.75 kWh a slot over all eight cheap slots."""
    rs = [Request("washer", 3.0, 4, 0, 96), Request("dryer", 3.0, 4, 0, 96)]
    plan = Scheduler(rs, 96, SLOT_H, site_limit_kw=4.0).solve(prices())
    assert sorted(plan.starts()) == [8, 12]
    assert (plan.on.sum(axis=0) <= 1).all()
    assert plan.cost == pytest.approx(0.75 * prices()[8:16].sum())


def test_an_interruptible_run_takes_cheap_slots_in_blocks_of_min_run():
    """An EV needing 4 slots at 7 kW within slots 0-20, min_run 2. Prices: single cheap slots
    at 2, 6 and 10 (1p), a cheap pair at 14-15 (2p, 2.1p), 30p elsewhere. Blocks of 2: the
    pair, and any other pair holding a single cheap slot (1p + 30p): cost by hand."""
    p = np.full(96, 0.30)
    p[[2, 6, 10]] = 0.01
    p[14:16] = [0.02, 0.021]
    ev = Request("ev", 7.0, 4, 0, 20, interruptible=True, min_run=2)
    plan = Scheduler([ev], 96, SLOT_H).solve(p)
    on = np.flatnonzero(plan.on[0])
    assert len(on) == 4 and {14, 15} <= set(on)
    assert plan.cost == pytest.approx(7.0 * SLOT_H * (0.02 + 0.021 + 0.01 + 0.30))
    loose = Scheduler([Request("ev", 7.0, 4, 0, 20, interruptible=True)], 96, SLOT_H).solve(p)
    assert set(np.flatnonzero(loose.on[0])) == {2, 6, 10, 14}  # without min_run: the 4 cheapest


def test_comfort_trades_cost_for_an_earlier_start():
    """A washer from slot 0 in a flat 30p day but for 5p at 80-83: without comfort it waits
    for the cheap hour; at 1p per slot of delay waiting 80 slots costs more than it saves."""
    p = np.full(96, 0.30)
    p[80:84] = 0.05
    r = Request("washer", 2.0, 4, 0, 96)
    assert Scheduler([r], 96, SLOT_H).solve(p).starts() == [80]
    hurried = Scheduler([Request("washer", 2.0, 4, 0, 96, comfort=0.01)], 96, SLOT_H).solve(p)
    assert hurried.starts() == [0] and hurried.comfort == pytest.approx(0.0)


@pytest.mark.parametrize("seed", range(5))
def test_the_milp_never_costs_more_than_the_greedy_rule(seed):
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.05, 0.40, 96)
    rs = [Request(f"a{i}", float(rng.uniform(0.5, 3)), int(rng.integers(2, 12)), 0, 96,
                  interruptible=bool(i % 2), min_run=2) for i in range(6)]  # fmt: skip
    best = Scheduler(rs, 96, SLOT_H, site_limit_kw=5.0).solve(p)
    rule = greedy(rs, p, SLOT_H, site_limit_kw=5.0)
    assert best.cost <= rule.cost + 1e-9 <= at_once(rs, p, SLOT_H).cost + 1e-9
    power = np.array([r.power_kw for r in rs])
    assert (power @ best.on <= 5.0 + 1e-9).all()
    assert (best.on.sum(axis=1) == [r.slots for r in rs]).all()


def test_an_impossible_request_names_what_is_wrong():
    with pytest.raises(InputError, match="'ev': its window holds 8 slots and it must run 10"):
        Scheduler([Request("ev", 7.0, 10, 0, 8)], 96, SLOT_H)
    with pytest.raises(InputError, match="'ev' draws 7 kW, above the site limit of 5 kW"):
        Scheduler([Request("ev", 7.0, 4, 0, 96)], 96, SLOT_H, site_limit_kw=5.0).solve(prices())
