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

The bill changes' mean absolute deviation and the surrogate count are sums over customers of
convex piecewise-linear functions of the few prices. They enter the program as supporting
planes (Kelley's cutting planes, `Cuts`) rather than a variable and rows per customer: solve,
add the plane of each term at the solution where the program undershoots it, solve again,
until both are met to a relative 1e-6. The optimum is the per-customer program's, and the
program's size no longer grows with the customers: revenue is summed over them first, only
the vulnerable customers' binaries of the exact count remain per customer (only for those
whose bill can pass the limit within the prices' box; the planes are gathered on the MILP's
relaxation first, and HiGHS stops at a 0.1% gap in the objective: the count holds exactly).

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

EXACT_LIMIT = 500  # vulnerable customers solved with binaries; the surrogate beyond
TAU = 0.05
MAX_CUTS = 400  # solves per expansion while adding planes
RELAX_FIRST = 100  # vulnerable customers beyond which planes are gathered on the relaxation
MIP_GAP = 1e-3  # relative gap at which HiGHS stops a MILP (the count constraint holds exactly)
CUT_TOL = 1e-6  # relative, and absolute below 1 (the solver's own tolerances are ~1e-7)
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


@dataclass
class Cuts:
    """Supporting planes of the two convex piecewise-linear terms over all customers, kept as
    a few rows instead of a variable per customer: `dispersion` rows (g, h) say D >= g @ x + h
    for the mean absolute deviation D of the bill changes; `fairness` rows say
    g @ x + h <= the allowed count for the surrogate count."""

    dispersion: list[tuple[np.ndarray, float]] = field(default_factory=list)
    fairness: list[tuple[np.ndarray, float]] = field(default_factory=list)


def _changes(base: CustomerBase, lin: Linear) -> tuple[np.ndarray, np.ndarray]:
    """(alpha [n, K], beta [n]): each customer's bill change in the base scenario,
    alpha @ x + beta, centred on the mean over customers."""
    cur = np.maximum(base.current_bills[0], 1e-9)
    alpha = lin.A[0] / cur[:, None]
    beta = lin.c[0] / cur - 1
    return alpha - alpha.mean(axis=0), beta - beta.mean()


def dispersion_cut(
    base: CustomerBase, lin: Linear, x: np.ndarray
) -> tuple[float, np.ndarray, float]:
    """(the mean absolute deviation of bill changes at x, and the plane (g, h) touching it
    there: for any prices MAD >= g @ x + h, since |d| >= sign(d at x) * d)."""
    alpha, beta = _changes(base, lin)
    d = alpha @ x + beta
    sign = np.sign(d)
    return float(np.abs(d).mean()), sign @ alpha / len(d), float(sign @ beta / len(d))


def fairness_cut(base: CustomerBase, lin: Linear, goals: Goals, x: np.ndarray
                 ) -> tuple[float, np.ndarray, float]:  # fmt: skip
    """(the surrogate count at x, and its plane there): each vulnerable customer counts
    h_i = max(0, max_s (bill_is / current_is - (1 + increase - margin - TAU)) / TAU), at least
    1 for a customer over the threshold in some scenario; the plane sums each counted
    customer's piece that is largest at x."""
    vul = np.flatnonzero(base.vulnerable)
    cur = np.maximum(base.current_bills[:, vul], 1e-9)  # [S, v]
    start = 1 + goals.increase - ROUNDING_MARGIN - TAU
    slope = lin.A[:, vul, :] / (cur[..., None] * TAU)  # [S, v, K]
    const = (lin.c[:, vul] / cur - start) / TAU
    pieces = np.einsum("svk,k->sv", slope, x) + const
    top = pieces.argmax(axis=0)
    value = pieces[top, np.arange(len(vul))]
    on = value > 0
    g = slope[top[on], np.flatnonzero(on)].sum(axis=0) if on.any() else np.zeros(len(x))
    return float(np.maximum(value, 0).sum()), g, float(const[top[on], np.flatnonzero(on)].sum())


def _problem(base: CustomerBase, slots: Slots, lin: Linear, goals: Goals, room: int = 32,
             elastic: bool = False, box: tuple[np.ndarray, np.ndarray] | None = None,
             relax: bool = False) -> tuple[Any, Any, dict[str, Any]]:  # fmt: skip
    """The program at one expansion, with `room` rows for the planes of each term, held as
    parameters (unused rows are 0 >= 0): adding a plane re-solves without compiling again."""
    import cvxpy as cp

    planes = {k: (cp.Parameter((room, slots.K)), cp.Parameter(room))
              for k in ("dispersion", "fairness")}  # fmt: skip

    S, K = base.S, slots.K
    x = cp.Variable(K)
    target = _target(base, goals)
    cons: list[Any] = [x >= slots.low, x <= slots.high]
    cons += [x[a] >= x[b] for a, b in goals.order]
    if box is not None:
        cons += [x >= box[0], x <= box[1]]
    slack: dict[str, Any] = {}
    # revenue is linear in x: sum over customers first
    revenue = [lin.A[s].sum(axis=0) @ x + float(lin.c[s].sum()) for s in range(S)]
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
            limit = (1 + goals.increase - ROUNDING_MARGIN) * cur  # [S, v]
            Av = lin.A[:, vul, :]
            lo_x, hi_x = slots.low, slots.high
            if box is not None:
                lo_x, hi_x = np.maximum(lo_x, box[0]), np.minimum(hi_x, box[1])
            most = np.where(Av > 0, Av * hi_x, Av * lo_x).sum(axis=2) + lin.c[:, vul] - limit
            # a binary only for customers whose bill can pass the limit at these prices
            can = np.flatnonzero((most > 0).any(axis=0))
            if len(can):
                z = cp.Variable(len(can), boolean=not relax)
                if relax:  # the binaries' LP relaxation (planes are gathered on it first)
                    cons += [z >= 0, z <= 1]
                M = most[:, can] + 1e-6 * np.maximum(np.abs(limit[:, can]), 1.0)
                for s in range(S):
                    over = Av[s, can] @ x + lin.c[s, vul[can]] - limit[s, can]
                    cons.append(over <= cp.multiply(np.maximum(M[s], 0), z))
                cons.append(cp.sum(z) <= allowed + extra)
            method = "MILP (HiGHS)"
        else:
            fg, fh = planes["fairness"]
            cons.append(fg @ x + fh <= allowed + extra)
            method = "LP surrogate (HiGHS)"
    if goals.groups is not None and goals.group_tolerance is not None:
        if elastic:
            slack["group revenue"] = cp.Variable(int(goals.groups.max()) + 1, nonneg=True)
        for g in range(int(goals.groups.max()) + 1):
            members = goals.groups == g
            now = float(base.current_bills[0, members].sum())
            got = lin.A[0, members].sum(axis=0) @ x + float(lin.c[0, members].sum())
            give = slack["group revenue"][g] * max(now, 1e-9) if elastic else 0
            cons += [got + give >= (1 - goals.group_tolerance) * now,
                     got - give <= (1 + goals.group_tolerance) * now]  # fmt: skip
    dev = cp.Variable(nonneg=True)  # the mean absolute deviation of bill changes, by its cuts
    dg, dh = planes["dispersion"]
    cons.append(dev >= dg @ x + dh)
    rev_dev = cp.Variable(nonneg=True)
    cons += [rev_dev >= (revenue[0] - target) / target, rev_dev >= (target - revenue[0]) / target]
    if elastic:
        obj = cp.Minimize(sum(cp.sum(v) for v in slack.values()))
    else:
        obj = cp.Minimize(goals.w_peak * cp.sum(cp.multiply(peak, 1 / np.maximum(lin.peak_now, 1e-9))) / S
                          + goals.w_dispersion * dev + goals.w_revenue * rev_dev)  # fmt: skip
    return cp.Problem(obj, cons), x, {"slack": slack, "method": method, "target": target,
                                      "dev": dev, "planes": planes, "room": room}  # fmt: skip


def _solve_cut(base: CustomerBase, slots: Slots, lin: Linear, goals: Goals, elastic: bool = False,
               box: tuple[np.ndarray, np.ndarray] | None = None,
               cuts: Cuts | None = None) -> tuple[Any, Any, dict[str, Any]]:  # fmt: skip
    """Solve, add the planes of the dispersion and the surrogate count where the solution
    undershoots them, solve again, until both are met to `CUT_TOL` (Kelley's method: the
    answer is the problem's with a variable per customer, with a few rows instead)."""
    cuts = cuts or Cuts()
    nv = int(base.vulnerable.sum())
    surrogate, exact = nv > goals.exact_limit, 0 < nv <= goals.exact_limit
    allowed = int(np.floor(goals.delta * nv))
    for point in (lin.at,) if not cuts.dispersion else ():
        cuts.dispersion.append(dispersion_cut(base, lin, point)[1:])
        if surrogate:
            cuts.fairness.append(fairness_cut(base, lin, goals, point)[1:])
    # with many binaries, gather the planes on the relaxation first: one MILP solve, not one
    # a plane (with few, re-solving the MILP costs less than compiling the relaxation)
    for relax in (True, False) if exact and nv > RELAX_FIRST else (False,):
        prob, var, info = _add_planes(base, slots, lin, goals, cuts, elastic, box, relax,
                                      surrogate, allowed)  # fmt: skip
        if prob.status not in ("optimal", "optimal_inaccurate"):
            break
    info["cuts"] = len(cuts.dispersion) + len(cuts.fairness)
    return prob, var, info


def _add_planes(base: CustomerBase, slots: Slots, lin: Linear, goals: Goals, cuts: Cuts,
                elastic: bool, box: tuple[np.ndarray, np.ndarray] | None, relax: bool,
                surrogate: bool, allowed: int) -> tuple[Any, Any, dict[str, Any]]:  # fmt: skip
    import cvxpy as cp

    room = 32
    prob, var, info = _problem(base, slots, lin, goals, room, elastic, box, relax)
    for _ in range(MAX_CUTS):
        if max(len(cuts.dispersion), len(cuts.fairness)) > room:
            room *= 2
            prob, var, info = _problem(base, slots, lin, goals, room, elastic, box, relax)
        for name, rows in (("dispersion", cuts.dispersion), ("fairness", cuts.fairness)):
            G, H = np.zeros((room, slots.K)), np.zeros(room)  # unused rows: 0 >= 0
            for j, (g, h) in enumerate(rows):
                G[j], H[j] = g, h
            info["planes"][name][0].value, info["planes"][name][1].value = G, H
        prob.solve(solver=cp.HIGHS, mip_rel_gap=MIP_GAP)
        if prob.status not in ("optimal", "optimal_inaccurate"):
            break
        x = np.asarray(var.value, dtype=float)
        more = False
        mad, g, h = dispersion_cut(base, lin, x)
        if mad > float(info["dev"].value) + CUT_TOL * max(mad, 1.0) and not elastic:
            cuts.dispersion.append((g, h))
            more = True
        if surrogate:
            count, g, h = fairness_cut(base, lin, goals, x)
            extra = float(info["slack"]["fairness"].value) if elastic else 0.0
            if count > allowed + extra + CUT_TOL * max(allowed, 1.0):
                cuts.fairness.append((g, h))
                more = True
        if not more:
            break
    return prob, var, info


def solve(base: CustomerBase, slots: Slots, goals: Goals, scale: float, tol: float = 1e-5,
          max_iterations: int = 40, progress: Any = None) -> Solution:  # fmt: skip
    """Expand, solve, repeat at the solution until the prices settle (damped when they
    oscillate). Raises InputError naming the binding constraints when none is feasible."""
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
        prob, var, info = _solve_cut(base, slots, lin, goals, box=(x - radius, x + radius))
        if prob.status in ("infeasible", "infeasible_inaccurate"):  # the box may be why
            prob, var, info = _solve_cut(base, slots, lin, goals)
        t2 = time.perf_counter()
        for key, dt in (("expand", t1 - t0), ("solve", t2 - t1)):
            seconds[key] = seconds.get(key, 0.0) + dt
        if prob.status not in ("optimal", "optimal_inaccurate"):
            if prob.status in ("infeasible", "infeasible_inaccurate"):
                raise InputError(explain_infeasible(base, slots, lin, goals))
            raise InputError(f"the solver stopped with status {prob.status!r}")
        new = _in_order(np.clip(np.asarray(var.value, dtype=float), slots.low, slots.high),
                        goals.order)  # fmt: skip
        d = new - x
        moved = float(np.max(np.abs(d) / np.maximum(np.abs(x), 1e-9)))
        if float(d @ previous) < 0:  # went back on the last step: a smaller box
            radius = radius / 2
        previous = d
        history.append({"iteration": it, "objective": float(prob.value), "moved": moved,
                        "planes": info["cuts"],
                        **{n: float(v) for n, v in zip(slots.names, new, strict=True)}})  # fmt: skip
        if progress is not None:
            progress(f"iteration {it}: objective {prob.value:.5f}, prices moved {moved:.2e}")
        x = new
        if moved < tol:
            break
    last_obj = history[-1]["objective"]
    return Solution(x, len(history), moved, last_obj, info["method"],
                    bills_at(base, slots, x, scale), info["target"], history, seconds)  # fmt: skip


def _in_order(x: np.ndarray, order: list[tuple[int, int]]) -> np.ndarray:
    """Undo the solver's tolerance on the order of the prices (a few 1e-8 of a price unit): a
    price found below one it must not be below is lifted to it."""
    x = x.copy()
    for _ in range(len(order) + 1):
        for a, b in order:
            x[a] = max(x[a], x[b])
    return x


def explain_infeasible(base: CustomerBase, slots: Slots, lin: Linear, goals: Goals) -> str:
    """One line: which soft constraints cannot all hold, and how far from feasible."""
    prob, _, info = _solve_cut(base, slots, lin, goals, elastic=True)
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
            f"{info['target']:,.2f} in scenario {base.names[worst]!r} "
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
