"""Many homes on one model structure (forecasting/schedule/batch.py)."""

from __future__ import annotations

import numpy as np
import pytest

from forecasting.schedule.batch import Problem, solve_homes
from forecasting.schedule.solve import Request, Scheduler

SLOT_H = 0.25


def problem(limit: float | None = 6.0) -> Problem:
    rs = [Request("washer", 2.0, 8, 0, 96), Request("dryer", 2.5, 6, 20, 96),
          Request("ev", 4.0, 16, 40, 96, interruptible=True, min_run=2)]  # fmt: skip
    return Problem(rs, 96, SLOT_H, limit)


def homes(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(0.05, 0.40, (n, 96)), rng.uniform(0.1, 2.5, (n, 96))


def test_a_pool_of_workers_gives_each_home_the_plan_it_gets_alone():
    prices, loads = homes(12)
    alone = [Scheduler(problem().requests, 96, SLOT_H, 6.0).solve(p, b)
             for p, b in zip(prices, loads, strict=True)]  # fmt: skip
    pooled = list(solve_homes(problem(), prices, loads, workers=2, chunk=5))
    assert [r.index for r in pooled] == list(range(12))
    for a, r in zip(alone, pooled, strict=True):
        assert r.cost == pytest.approx(a.cost)
        assert r.cost <= r.greedy + 1e-9 and r.cost <= r.at_once + 1e-9


def test_one_price_path_serves_every_home_and_the_limit_reads_each_homes_load():
    prices, loads = homes(3)
    loads[1] = 5.9  # a home near its limit all day: only one 0.1 kW of room, nothing fits
    out = list(solve_homes(problem(), prices[0], loads))
    assert out[0].error is None and out[2].error is None
    assert out[1].on is None and "above the site limit of 6 kW" in str(out[1].error)
    # without a limit the homes' loads do not matter: the same plan for all
    free = list(solve_homes(problem(None), prices[0], loads))
    assert all(np.array_equal(free[0].on, r.on) for r in free)


def test_price_paths_must_match_the_homes():
    prices, loads = homes(4)
    with pytest.raises(Exception, match="3 price paths for 4 homes"):
        list(solve_homes(problem(), prices[:3], loads))
