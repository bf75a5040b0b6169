"""Many homes with the same appliances, solved on one model structure per process.

Homes differ in their own load (which the site limit shares) and may differ in prices; the
appliances, windows and slots are the same, so each worker process builds the `Scheduler`
once and re-solves it with each home's numbers. A home whose problem cannot be solved gets
its reason and the batch goes on.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from forecasting.errors import InputError
from forecasting.schedule.solve import Request, Scheduler, at_once, greedy


@dataclass
class HomeResult:
    """One home's plan and baselines; `error` set (and the rest empty) when it failed."""

    index: int
    on: np.ndarray | None = None  # [appliance, slot] 0/1 of the MILP's plan
    cost: float = float("nan")
    comfort: float = float("nan")
    at_once: float = float("nan")
    greedy: float = float("nan")
    seconds: float = float("nan")
    error: str | None = None


@dataclass(frozen=True)
class Problem:
    """What every home shares."""

    requests: list[Request]
    horizon: int
    slot_h: float
    site_limit_kw: float | None = None


_WORKER: tuple[Problem, Scheduler] | None = None


def _start_worker(problem: Problem) -> None:
    global _WORKER
    _WORKER = (problem, Scheduler(problem.requests, problem.horizon, problem.slot_h,
                                  problem.site_limit_kw))  # fmt: skip


def _solve_chunk(args: tuple[int, np.ndarray, np.ndarray]) -> list[HomeResult]:
    assert _WORKER is not None
    problem, scheduler = _WORKER
    first, prices, loads = args
    out = []
    for k in range(len(loads)):
        out.append(_solve_one(problem, scheduler, first + k, prices[k % len(prices)], loads[k]))
    return out


def _solve_one(problem: Problem, scheduler: Scheduler, index: int, price: np.ndarray,
               load: np.ndarray) -> HomeResult:  # fmt: skip
    t0 = time.perf_counter()
    try:
        plan = scheduler.solve(price, load)
    except InputError as exc:
        return HomeResult(index, error=str(exc), seconds=time.perf_counter() - t0)
    seconds = time.perf_counter() - t0
    rs, h = problem.requests, problem.slot_h
    try:
        rule = greedy(rs, price, h, load, problem.site_limit_kw).cost
    except InputError:  # the rule can strand an appliance where the MILP finds room
        rule = float("nan")
    return HomeResult(index, plan.on.astype(np.int8), plan.cost, plan.comfort,
                      at_once(rs, price, h).cost, rule, seconds)  # fmt: skip


def solve_homes(
    problem: Problem,
    prices: np.ndarray,
    loads: np.ndarray,
    workers: int = 1,
    chunk: int = 200,
    progress: Callable[[int], None] | None = None,
) -> Iterator[HomeResult]:
    """Each home's plan, in order. `prices` is [slot] for all homes or [home, slot]; `loads`
    [home, slot] in kW. `workers` > 1 spreads chunks of homes over that many processes."""
    prices = np.atleast_2d(np.asarray(prices, dtype=float))
    loads = np.asarray(loads, dtype=float)
    if prices.shape[0] not in (1, len(loads)):
        raise InputError(f"{prices.shape[0]} price paths for {len(loads)} homes")
    starts = range(0, len(loads), chunk)
    jobs = ((s, prices if len(prices) == 1 else prices[s : s + chunk], loads[s : s + chunk])
            for s in starts)  # fmt: skip
    done = 0
    if workers <= 1 or len(loads) <= chunk:
        _start_worker(problem)
        for job in jobs:
            results = _solve_chunk(job)
            done += len(results)
            if progress:
                progress(done)
            yield from results
        return
    workers = min(workers, os.cpu_count() or 1)
    with ProcessPoolExecutor(workers, initializer=_start_worker, initargs=(problem,)) as pool:
        for results in pool.map(_solve_chunk, jobs):
            done += len(results)
            if progress:
                progress(done)
            yield from results
