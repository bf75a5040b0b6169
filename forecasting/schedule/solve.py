"""The scheduling problem on slots, solved as a mixed-integer program (HiGHS through CVXPY).

Each appliance is a `Request` on a grid of equal slots: its power while on, how many slots
it must run, the first slot it may run in and the slot by which it must have finished, and
whether it runs in one block (`continuous`: a washing machine's cycle) or in any slots
(`interruptible`: an EV charging, a heat-pump boost), then in blocks of at least `min_run`
slots. The site may not draw more than `site_limit_kw` (the home's own load included).

    minimise   sum_t price[t] * slot_h * sum_a power[a] * on[a, t]
             + sum_a comfort[a] * (start delay of a, in slots)
    continuous a:    on[a, t] = sum of start[a, s] for s in (t - d + 1 .. t), sum_s start = 1
    interruptible a: sum_t on[a, t] = d, a block that starts runs for min_run slots

The problem is built once per set of appliances with the prices and the home's own load as
parameters (`Scheduler`), so a batch of homes re-solves it with new numbers only. Two
baselines come with every solve: starting every appliance at once, and a greedy rule that
takes the cheapest slots for one appliance after the other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecasting.errors import InputError


@dataclass(frozen=True)
class Request:
    name: str
    power_kw: float
    slots: int  # slots it must run
    first: int  # the first slot it may run in
    end: int  # it must have finished by this slot (exclusive)
    interruptible: bool = False
    min_run: int = 1  # interruptible: the shortest block, in slots
    comfort: float = 0.0  # cost per slot of delay: of its start, or (interruptible) of the
    # mean of its slots, after running at once from `first`

    def check(self, horizon: int) -> None:
        """One line naming what makes this request impossible on its own."""
        if not 0 <= self.first < self.end <= horizon:
            raise InputError(f"appliance {self.name!r}: its window (slots {self.first} to "
                             f"{self.end}) is not inside the {horizon} slots")  # fmt: skip
        if self.slots > self.end - self.first:
            raise InputError(f"appliance {self.name!r}: its window holds {self.end - self.first} "
                             f"slots and it must run {self.slots}")  # fmt: skip
        if self.interruptible and self.min_run > self.slots:
            raise InputError(f"appliance {self.name!r}: min_run ({self.min_run} slots) is longer "
                             f"than its whole run ({self.slots})")  # fmt: skip


@dataclass
class Plan:
    on: np.ndarray  # [appliance, slot] 0/1
    cost: float  # energy cost of the appliances (price x kWh)
    comfort: float  # the comfort penalty
    method: str

    def starts(self) -> list[int]:
        return [int(np.argmax(row > 0)) if row.any() else -1 for row in self.on]


class Scheduler:
    """The MILP for one set of appliances on `horizon` slots of `slot_h` hours; `solve(price,
    base_kw)` for one home (its prices per kWh and its own load, per slot)."""

    def __init__(self, requests: list[Request], horizon: int, slot_h: float,
                 site_limit_kw: float | None = None) -> None:  # fmt: skip
        import cvxpy as cp

        for r in requests:
            r.check(horizon)
        self.requests, self.horizon, self.slot_h = requests, horizon, slot_h
        self.site_limit_kw = site_limit_kw
        self.price = cp.Parameter(horizon, name="price")
        self.base = cp.Parameter(horizon, nonneg=True, name="base_kw")
        ons, cons, comfort = [], [], cp.Constant(0.0)
        for r in requests:
            span = r.end - r.first
            if not r.interruptible:  # one block: choose its start
                n_starts = span - r.slots + 1
                start = cp.Variable(n_starts, boolean=True)
                cons.append(cp.sum(start) == 1)
                # on[t] for t in the window: the starts that cover t
                cover = np.zeros((span, n_starts))
                for s in range(n_starts):
                    cover[s : s + r.slots, s] = 1
                on_window = cover @ start
                comfort = comfort + r.comfort * (np.arange(n_starts) @ start)
            else:
                on_window = cp.Variable(span, boolean=True)
                cons.append(cp.sum(on_window) == r.slots)
                if r.min_run > 1:  # a block that starts at t stays on for min_run slots
                    began = cp.Variable(span, boolean=True)
                    cons.append(began[0] >= on_window[0])
                    cons.append(began[1:] >= on_window[1:] - on_window[:-1])
                    for k in range(1, r.min_run):
                        cons.append(on_window[k:] >= began[:-k])
                        cons.append(began[span - k :] == 0)  # no block may start too late
                # delay: the mean of its slots after that of running at once
                mean_slot = np.arange(span) @ on_window / r.slots - (r.slots - 1) / 2
                comfort = comfort + r.comfort * mean_slot
            pad = np.zeros((horizon, span))
            pad[r.first : r.end] = np.eye(span)
            ons.append(pad @ on_window)
        self.on = ons
        draw = sum(r.power_kw * on for r, on in zip(requests, ons, strict=True))
        if site_limit_kw is not None:
            cons.append(self.base + draw <= site_limit_kw)
        energy = self.slot_h * (self.price @ draw)
        self.energy, self.comfort_term = energy, comfort
        self.problem = cp.Problem(cp.Minimize(energy + comfort), cons)

    def solve(self, price: np.ndarray, base_kw: np.ndarray | None = None) -> Plan:
        import cvxpy as cp

        self.price.value = np.asarray(price, dtype=float)
        self.base.value = np.zeros(self.horizon) if base_kw is None else np.asarray(base_kw, float)
        try:
            self.problem.solve(solver=cp.HIGHS)
        except cp.error.SolverError as exc:
            raise InputError(f"the scheduling problem could not be solved: {exc}") from None
        if self.problem.status not in ("optimal", "optimal_inaccurate"):
            raise InputError(self._why_infeasible())
        on = np.vstack([np.rint(np.asarray(o.value, float)) for o in self.on])
        return Plan(on, float(self.energy.value), float(self.comfort_term.value), "MILP (HiGHS)")

    def _why_infeasible(self) -> str:
        """Name the constraint: each request fits alone (checked at build), so the site limit
        is what the appliances cannot share."""
        limit = self.site_limit_kw
        base = np.asarray(self.base.value, dtype=float)
        worst = max(self.requests, key=lambda r: r.power_kw)
        if (
            limit is not None
            and worst.power_kw + float(np.min(base[worst.first : worst.end])) > limit
        ):
            return (f"appliance {worst.name!r} draws {worst.power_kw:g} kW, above the site limit "
                    f"of {limit:g} kW less the home's own load in every slot of its window")  # fmt: skip
        return (f"the appliances cannot all run within their windows under the site limit of "
                f"{limit:g} kW: raise the limit or widen a window")  # fmt: skip


def at_once(requests: list[Request], price: np.ndarray, slot_h: float) -> Plan:
    """Every appliance starts at its earliest slot and runs until done (no limit checked)."""
    on = np.zeros((len(requests), len(price)))
    for i, r in enumerate(requests):
        on[i, r.first : r.first + r.slots] = 1
    return Plan(on, _cost(requests, on, price, slot_h), 0.0, "start at once")


def greedy(requests: list[Request], price: np.ndarray, slot_h: float, base_kw: np.ndarray | None = None,
           site_limit_kw: float | None = None) -> Plan:  # fmt: skip
    """One appliance after the other (the most energy first), each in the cheapest slots
    left under the site limit: its cheapest block (continuous), or its cheapest slots, taken
    in blocks of min_run (interruptible)."""
    n = len(price)
    load = np.zeros(n) if base_kw is None else np.asarray(base_kw, float).copy()
    limit = np.inf if site_limit_kw is None else site_limit_kw
    on = np.zeros((len(requests), n))
    order = sorted(range(len(requests)), key=lambda i: -requests[i].power_kw * requests[i].slots)
    for i in order:
        r = requests[i]
        fits = load + r.power_kw <= limit + 1e-9
        if not r.interruptible:
            best, best_cost = None, np.inf
            for s in range(r.first, r.end - r.slots + 1):
                if fits[s : s + r.slots].all():
                    c = price[s : s + r.slots].sum()
                    if c < best_cost - 1e-12:
                        best, best_cost = s, c
            if best is None:
                raise InputError(f"greedy: appliance {r.name!r} finds no free block")
            on[i, best : best + r.slots] = 1
        else:  # blocks of min_run (the last one takes the remainder), cheapest first
            m = max(r.min_run, 1)
            q, rest = divmod(r.slots, m)
            blocks = [m] * (q - 1) + [m + rest] if m > 1 else [1] * r.slots
            taken = np.zeros(n, bool)
            for k in blocks:
                cands = [(price[s : s + k].sum(), s) for s in range(r.first, r.end - k + 1)
                         if fits[s : s + k].all() and not taken[s : s + k].any()]  # fmt: skip
                if not cands:
                    raise InputError(f"greedy: appliance {r.name!r} finds no free slots")
                _, s = min(cands)
                taken[s : s + k] = True
            on[i, taken] = 1
        load += r.power_kw * on[i]
    return Plan(on, _cost(requests, on, price, slot_h), 0.0, "greedy cheapest slots")


def _cost(requests: list[Request], on: np.ndarray, price: np.ndarray, slot_h: float) -> float:
    power = np.array([r.power_kw for r in requests])
    return float(slot_h * (power @ on) @ price)
