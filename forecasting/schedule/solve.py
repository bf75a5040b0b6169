"""The scheduling problem on slots, solved as a mixed-integer program (HiGHS through highspy).

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
from typing import Any

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
    """The MILP for one set of appliances on `horizon` slots of `slot_h` hours, built once as
    a HiGHS model (through highspy); `solve(price, base_kw)` for one home sets only the
    costs (its prices) and the site-limit rows' bounds (the limit less its own load), and
    re-solves, so a batch of homes pays for the structure once."""

    def __init__(self, requests: list[Request], horizon: int, slot_h: float,
                 site_limit_kw: float | None = None) -> None:  # fmt: skip
        for r in requests:
            r.check(horizon)
        self.requests, self.horizon, self.slot_h = requests, horizon, slot_h
        self.site_limit_kw = site_limit_kw
        rows = _Rows()
        maps: list[np.ndarray] = []  # per appliance: [slot, its columns] -> on[t]
        delays: list[np.ndarray] = []  # per column: slots of delay (comfort's unit)
        uppers: list[np.ndarray] = []
        n = 0
        for r in requests:
            span = r.end - r.first
            if not r.interruptible:  # one block: exactly one of its possible starts
                k = span - r.slots + 1
                cover = np.zeros((horizon, k))
                for s in range(k):
                    cover[r.first + s : r.first + s + r.slots, s] = 1
                rows.add(n + np.arange(k), np.ones(k), 1, 1)
                maps.append(_place(cover, n))
                delays.append(r.comfort * np.arange(k, dtype=float))
                uppers.append(np.ones(k))
                n += k
                continue
            on = n + np.arange(span)  # on[t] over the window, then began[t] if min_run > 1
            rows.add(on, np.ones(span), r.slots, r.slots)
            window = np.zeros((horizon, span))
            window[r.first : r.end] = np.eye(span)
            # the mean of its slots after that of running at once from `first`
            delays.append(r.comfort * (np.arange(span) - (r.slots - 1) / 2) / r.slots)
            uppers.append(np.ones(span))
            n += span
            if r.min_run > 1:
                began = n + np.arange(span)
                rows.add([began[0], on[0]], [1, -1], 0, np.inf)
                for t in range(1, span):  # began[t] >= on[t] - on[t-1]
                    rows.add([began[t], on[t], on[t - 1]], [1, -1, 1], 0, np.inf)
                for j in range(1, r.min_run):  # a block begun at t is still on at t + j
                    for t in range(span - j):
                        rows.add([on[t + j], began[t]], [1, -1], 0, np.inf)
                up = np.ones(span)
                up[span - r.min_run + 1 :] = 0  # no block may begin too late to last
                window = np.hstack([window, np.zeros((horizon, span))])
                delays.append(np.zeros(span))
                uppers.append(up)
                n += span
            maps.append(_place(window, int(on[0])))
        self.n_cols = n
        self._on = np.stack([np.pad(m, ((0, 0), (0, n - m.shape[1]))) for m in maps])
        self._delay = np.concatenate(delays)
        power = np.array([r.power_kw for r in requests])
        draw = np.einsum("a,atn->tn", power, self._on)  # kW in slot t from each column
        self._cost_per_price = slot_h * draw  # column cost = price @ this + delay
        self._limited = np.flatnonzero(np.abs(draw).sum(axis=1) > 0)
        self._limit_rows = np.arange(rows.count, rows.count + len(self._limited))
        if site_limit_kw is not None:  # the appliances' draw in a slot, under limit - base
            for t in self._limited.tolist():
                cols = np.flatnonzero(draw[t])
                rows.add(cols, draw[t, cols], -np.inf, site_limit_kw)
        self._highs = rows.model(np.concatenate(uppers), n)

    def solve(self, price: np.ndarray, base_kw: np.ndarray | None = None) -> Plan:
        price = np.asarray(price, dtype=float)
        if price.shape != (self.horizon,) or not np.isfinite(price).all():
            raise InputError(f"the price path must hold {self.horizon} finite values")
        base = np.zeros(self.horizon) if base_kw is None else np.asarray(base_kw, float)
        h = self._highs
        cost = price @ self._cost_per_price + self._delay
        h.changeColsCost(self.n_cols, np.arange(self.n_cols, dtype=np.int32), cost)
        if self.site_limit_kw is not None and len(self._limited):
            upper = self.site_limit_kw - base[self._limited]
            h.changeRowsBounds(len(upper), self._limit_rows.astype(np.int32),
                               np.full(len(upper), -np.inf), upper)  # fmt: skip
        h.clearSolver()
        h.run()
        status = h.getModelStatus()
        if status != self._optimal:
            if status in self._infeasible:
                raise InputError(self._why_infeasible(base))
            raise InputError(f"the scheduling problem could not be solved: "
                             f"{h.modelStatusToString(status)}")  # fmt: skip
        x = np.rint(np.asarray(h.getSolution().col_value))
        on = self._on @ x
        energy = _cost(self.requests, on, price, self.slot_h)
        return Plan(on, energy, float(self._delay @ x), "MILP (HiGHS)")

    @property
    def _optimal(self) -> object:
        import highspy

        return highspy.HighsModelStatus.kOptimal

    @property
    def _infeasible(self) -> tuple[object, ...]:
        import highspy

        s = highspy.HighsModelStatus
        return (s.kInfeasible, s.kUnboundedOrInfeasible)

    def _why_infeasible(self, base: np.ndarray) -> str:
        """Name the constraint: each request fits alone (checked at build), so the site limit
        is what the appliances cannot share."""
        limit = self.site_limit_kw
        worst = max(self.requests, key=lambda r: r.power_kw)
        if (
            limit is not None
            and worst.power_kw + float(np.min(base[worst.first : worst.end])) > limit
        ):
            return (f"appliance {worst.name!r} draws {worst.power_kw:g} kW, above the site limit "
                    f"of {limit:g} kW less the home's own load in every slot of its window")  # fmt: skip
        return (f"the appliances cannot all run within their windows under the site limit of "
                f"{limit:g} kW: raise the limit or widen a window")  # fmt: skip


class _Rows:
    """Constraint rows gathered one by one (columns, coefficients, lower, upper), then made
    into a HiGHS model of binary columns."""

    def __init__(self) -> None:
        self.cols: list[np.ndarray] = []
        self.vals: list[np.ndarray] = []
        self.lower: list[float] = []
        self.upper: list[float] = []

    @property
    def count(self) -> int:
        return len(self.lower)

    def add(self, cols: Any, vals: Any, lower: float, upper: float) -> None:
        self.cols.append(np.asarray(cols, dtype=int))
        self.vals.append(np.asarray(vals, dtype=float))
        self.lower.append(float(lower))
        self.upper.append(float(upper))

    def model(self, col_upper: np.ndarray, n: int) -> Any:
        import highspy
        from scipy import sparse

        row_of = np.repeat(np.arange(self.count), [len(c) for c in self.cols])
        a = sparse.csc_matrix((np.concatenate(self.vals), (row_of, np.concatenate(self.cols))),
                              shape=(self.count, n))  # fmt: skip
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = n, self.count
        lp.col_cost_ = np.zeros(n)
        lp.col_lower_ = np.zeros(n)
        lp.col_upper_ = col_upper
        lp.row_lower_ = np.array(self.lower)
        lp.row_upper_ = np.array(self.upper)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = a.indptr
        lp.a_matrix_.index_ = a.indices
        lp.a_matrix_.value_ = a.data
        lp.integrality_ = [highspy.HighsVarType.kInteger] * n
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("threads", 1)
        h.passModel(lp)
        return h


def _place(block: np.ndarray, col0: int) -> np.ndarray:
    """A [slot, columns] map moved to start at column `col0` of the whole model."""
    return np.hstack([np.zeros((block.shape[0], col0)), block])


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
