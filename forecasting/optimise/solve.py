"""The tariff problem, written with CVXPY and solved by HiGHS.

At each expansion point (model.py) the problem is a mixed-integer linear program:

    minimise   w_peak * mean_s(peak_s / peak_now_s) + w_dispersion * MAD(bill changes)
               + w_revenue * |revenue - target| / target
    subject to bounds and the order of the prices (peak >= shoulder >= off-peak, ...);
               revenue_s >= share * target in every scenario (robust) or on average;
               peak_s >= load_s,t at every candidate interval;
               bill_i,s - (1 + increase) * current_i,s <= M_i,s * z_i for every vulnerable
               customer i and scenario s, sum_i z_i <= floor(delta * vulnerable), z binary;
               optionally each group's revenue within `group_tolerance` of its current one.

Beyond `exact_limit` vulnerable customers the count is replaced by a convex surrogate:
h_i >= (bill_i,s / current_i,s - (1 + increase - tau)) / tau, h_i >= 0, sum_i h_i <= the
allowed count; every customer over the threshold has h_i >= 1, so it never allows more than the
exact count (it may allow fewer). Either way the count is recounted after the solve.

The expansion is repeated at each solution until the prices move by less than `tol` (relative),
so the final bills and loads are the model's exact ones. An infeasible problem is solved again
with slack on the soft constraints (revenue, fairness, group revenue) to say which binds and
by how much.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from forecasting.errors import InputError
from forecasting.optimise.model import CustomerBase, Linear, Slots, bills_at, linearise

EXACT_LIMIT = 2_000  # vulnerable customers solved with binaries; the surrogate beyond
TAU = 0.05
# The engine rounds every line of every bill to the currency's minor unit; the model does not.
# Constraints are planned this far inside their limits so they still hold on the engine's
# rounded bills (a relative margin on the revenue floor and on the increase that counts).
ROUNDING_MARGIN = 2e-4


@dataclass
class Goals:
    """Weights of the objective and the constraints' parameters."""

    w_peak: float = 1.0
    w_dispersion: float = 1.0
    w_revenue: float = 1.0
    revenue_target: float = 0.0  # major units over the data's span; 0: the current revenue
    revenue_share: float = 0.95
    robust: bool = True  # revenue floor in every scenario (else on average)
    increase: float = 0.10  # a vulnerable customer's bill increase that counts
    delta: float = 0.05  # share of vulnerable customers allowed over `increase`
    order: list[tuple[int, int]] = field(default_factory=list)  # (slot a, slot b): a >= b
    groups: np.ndarray | None = None  # group code per customer, for revenue neutrality
    group_tolerance: float | None = None
    exact_limit: int = EXACT_LIMIT


@dataclass
class Solution:
    x: np.ndarray
    iterations: int
    moved: float  # last relative change of the prices
    objective: float
    method: str  # "MILP (HiGHS)" or "LP surrogate (HiGHS)"
    predicted_bills: np.ndarray  # [S, n] major units, the model at x
    target: float
    history: list[dict[str, Any]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # expanding, building, solving


def _target(base: CustomerBase, goals: Goals) -> float:
    return goals.revenue_target or float(base.current_bills[0].sum())


def _problem(base: CustomerBase, slots: Slots, lin: Linear, goals: Goals, elastic: bool = False,
             box: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[Any, Any, dict[str, Any]]:  # fmt: skip
    import cvxpy as cp

    S, n, K = base.S, base.n, slots.K
    x = cp.Variable(K)
    target = _target(base, goals)
    cons: list[Any] = [x >= slots.low, x <= slots.high]
    cons += [x[a] >= x[b] for a, b in goals.order]
    if box is not None:
        cons += [x >= box[0], x <= box[1]]
    slack: dict[str, Any] = {}
    bills = [lin.A[s] @ x + lin.c[s] for s in range(S)]
    revenue = [cp.sum(b) for b in bills]
    floor = goals.revenue_share * target * (1 + ROUNDING_MARGIN)
    if elastic:
        slack["revenue"] = cp.Variable(S, nonneg=True)
    if goals.robust:
        cons += [revenue[s] + (slack["revenue"][s] * target if elastic else 0) >= floor
                 for s in range(S)]  # fmt: skip
    else:
        cons.append(sum(revenue) / S + (slack["revenue"][0] * target if elastic else 0) >= floor)
    peak = cp.Variable(S)
    for s in range(S):
        cons.append(peak[s] >= lin.L0[s] + lin.G[s] @ (x[1:] - lin.at[1:]))
    vul = np.flatnonzero(base.vulnerable)
    method = "LP (HiGHS)"
    if len(vul):
        allowed = int(np.floor(goals.delta * len(vul)))
        cur = base.current_bills[:, vul]
        if elastic:
            slack["fairness"] = cp.Variable(nonneg=True)
        extra = slack["fairness"] if elastic else 0
        if len(vul) <= goals.exact_limit:
            z = cp.Variable(len(vul), boolean=True)
            hi = np.where(lin.A[:, vul, :] > 0, lin.A[:, vul, :] * slots.high,
                          lin.A[:, vul, :] * slots.low).sum(axis=2) + lin.c[:, vul]  # fmt: skip
            M = np.maximum(hi - (1 + goals.increase) * cur, 0) + 1.0
            for s in range(S):
                limit = (1 + goals.increase - ROUNDING_MARGIN) * cur[s]
                cons.append(bills[s][vul] - limit <= cp.multiply(M[s], z))
            cons.append(cp.sum(z) <= allowed + extra)
            method = "MILP (HiGHS)"
        else:
            h = cp.Variable(len(vul), nonneg=True)
            safe = np.maximum(cur, 1e-9)
            for s in range(S):
                cons.append(h >= (cp.multiply(bills[s][vul], 1 / safe[s])
                                  - (1 + goals.increase - ROUNDING_MARGIN - TAU)) / TAU)  # fmt: skip
            cons.append(cp.sum(h) <= allowed + extra)
            method = "LP surrogate (HiGHS)"
    if goals.groups is not None and goals.group_tolerance is not None:
        if elastic:
            slack["group revenue"] = cp.Variable(int(goals.groups.max()) + 1, nonneg=True)
        for g in range(int(goals.groups.max()) + 1):
            members = np.flatnonzero(goals.groups == g)
            now = float(base.current_bills[0, members].sum())
            got = cp.sum(bills[0][members])
            give = slack["group revenue"][g] * max(now, 1e-9) if elastic else 0
            cons += [got + give >= (1 - goals.group_tolerance) * now,
                     got - give <= (1 + goals.group_tolerance) * now]  # fmt: skip
    rel = cp.multiply(bills[0], 1 / np.maximum(base.current_bills[0], 1e-9)) - 1
    dev = cp.Variable(n, nonneg=True)
    cons += [dev >= rel - cp.sum(rel) / n, dev >= cp.sum(rel) / n - rel]
    rev_dev = cp.Variable(nonneg=True)
    cons += [rev_dev >= (revenue[0] - target) / target, rev_dev >= (target - revenue[0]) / target]
    if elastic:
        obj = cp.Minimize(sum(cp.sum(v) for v in slack.values()))
    else:
        obj = cp.Minimize(goals.w_peak * cp.sum(cp.multiply(peak, 1 / np.maximum(lin.peak_now, 1e-9))) / S
                          + goals.w_dispersion * cp.sum(dev) / n + goals.w_revenue * rev_dev)  # fmt: skip
    return cp.Problem(obj, cons), x, {"slack": slack, "method": method, "target": target}


def solve(base: CustomerBase, slots: Slots, goals: Goals, scale: float, tol: float = 1e-5,
          max_iterations: int = 40, progress: Any = None) -> Solution:  # fmt: skip
    """Expand, solve, repeat at the solution until the prices settle (damped when they
    oscillate). Raises InputError naming the binding constraints when none is feasible."""
    import cvxpy as cp

    x = np.clip(np.where(slots.low == slots.high, slots.low, (slots.low + slots.high) / 2),
                slots.low, slots.high)  # fmt: skip
    history: list[dict[str, Any]] = []
    seconds: dict[str, float] = {}
    radius = slots.high - slots.low  # a box around the expansion point, halved on reversals
    previous = np.zeros(slots.K)
    moved = np.inf
    for it in range(1, max_iterations + 1):
        t0 = time.perf_counter()
        lin = linearise(base, slots, x, scale)
        t1 = time.perf_counter()
        prob, var, info = _problem(base, slots, lin, goals, box=(x - radius, x + radius))
        t2 = time.perf_counter()
        prob.solve(solver=cp.HIGHS)
        if prob.status in ("infeasible", "infeasible_inaccurate"):  # the box may be why
            prob, var, info = _problem(base, slots, lin, goals)
            prob.solve(solver=cp.HIGHS)
        t3 = time.perf_counter()
        for key, dt in (("expand", t1 - t0), ("build", t2 - t1), ("solve", t3 - t2)):
            seconds[key] = seconds.get(key, 0.0) + dt
        if prob.status not in ("optimal", "optimal_inaccurate"):
            if prob.status in ("infeasible", "infeasible_inaccurate"):
                raise InputError(explain_infeasible(base, slots, lin, goals))
            raise InputError(f"the solver stopped with status {prob.status!r}")
        new = np.clip(np.asarray(var.value, dtype=float), slots.low, slots.high)
        d = new - x
        moved = float(np.max(np.abs(d) / np.maximum(np.abs(x), 1e-9)))
        if float(d @ previous) < 0:  # went back on the last step: a smaller box
            radius = radius / 2
        previous = d
        history.append({"iteration": it, "objective": float(prob.value), "moved": moved,
                        **{n: float(v) for n, v in zip(slots.names, new, strict=True)}})  # fmt: skip
        if progress is not None:
            progress(f"iteration {it}: objective {prob.value:.5f}, prices moved {moved:.2e}")
        x = new
        if moved < tol:
            break
    last_obj = history[-1]["objective"]
    return Solution(x, len(history), moved, last_obj, info["method"],
                    bills_at(base, slots, x, scale), info["target"], history, seconds)  # fmt: skip


def explain_infeasible(base: CustomerBase, slots: Slots, lin: Linear, goals: Goals) -> str:
    """One line: which soft constraints cannot all hold, and how far from feasible."""
    import cvxpy as cp

    prob, _, info = _problem(base, slots, lin, goals, elastic=True)
    prob.solve(solver=cp.HIGHS)
    if prob.status not in ("optimal", "optimal_inaccurate"):
        return ("no tariff satisfies the bounds and order of the prices alone "
                f"(solver: {prob.status}); widen the template's ranges")  # fmt: skip
    said = []
    s = info["slack"]
    if "revenue" in s and float(np.max(s["revenue"].value)) > 1e-6:
        worst = int(np.argmax(s["revenue"].value))
        short = float(s["revenue"].value[worst])
        said.append(
            f"revenue: with the other constraints held, the best tariff within the bounds reaches "
            f"{100 * (goals.revenue_share - short):.1f}% of the target "
            f"{info['target']:,.2f} in scenario {base.scenarios[worst].name!r} "
            f"(needs {100 * goals.revenue_share:.0f}%)"
        )
    if "fairness" in s and float(s["fairness"].value) > 1e-6:
        vul = int(base.vulnerable.sum())
        need = int(np.floor(goals.delta * vul)) + int(np.ceil(float(s["fairness"].value) - 1e-6))
        said.append(
            f"fairness: at least {need} of {vul} vulnerable customers get increases over "
            f"{100 * goals.increase:.0f}% (allowed {int(np.floor(goals.delta * vul))})"
        )
    if "group revenue" in s and float(np.max(s["group revenue"].value)) > 1e-6:
        g = int(np.argmax(s["group revenue"].value))
        said.append(f"group revenue: group {g} misses its band by "
                    f"{100 * float(s['group revenue'].value[g]):.1f}% of its revenue")  # fmt: skip
    what = "; ".join(said) or "the constraints conflict only in combination"
    return f"no tariff meets every constraint: {what}"
