"""Who gets a signal: the fewest households that reach a target change, and a replay of
successive events that learns from the responses of those who got one.

For an event, household h signalled changes the population's weighted kWh by
`c_h = (r_h * theta_h + noise) * base_h` (see posterior.py). A rule ranks the households by
how much they are expected to move the total toward the target:

- `expected`: the posterior mean of c_h;
- `ucb`: the mean plus `kappa` standard deviations (optimism: an uncertain household gets
  tried, and its answer teaches the model);
- `thompson`: one posterior draw of (rho, theta) per household (each household is tried in
  proportion to the probability that it is among the best).

Then the ranked households are added one by one until the target is reached with
probability `confidence` (a normal approximation of the sum of the chosen households'
contributions, from their posterior means and variances, observation noise included), or the
limit on signals is hit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np

from forecasting.targeting.events import Responses
from forecasting.targeting.posterior import Posterior


@dataclass(frozen=True)
class Rule:
    name: str = "thompson"
    confidence: float = 0.8
    kappa: float = 1.0
    limit: int | None = None


def choose(rule: Rule, post: Posterior, rows: np.ndarray, base: np.ndarray, noise: np.ndarray,
           target: float, rng: np.random.Generator) -> np.ndarray:  # fmt: skip
    """Households (positions in `rows`) to signal so that the change reaches `target` kWh
    (negative: a cut) with the rule's confidence."""
    d = np.sign(target)
    s = post.summary()
    mean = s["expected_change"][rows] * base
    var = (s["change_sd"][rows] ** 2 + noise**2) * base**2
    if rule.name == "expected":
        score = d * mean
    elif rule.name == "ucb":
        score = d * mean + rule.kappa * np.sqrt(var)
    else:
        rho, theta = post.draw(rng)
        score = d * rho[rows] * theta[rows] * base
    order = np.argsort(-score, kind="stable")
    order = order[score[order] > 0]
    if rule.limit is not None:
        order = order[: rule.limit]
    if not len(order):
        return order
    z = NormalDist().inv_cdf(rule.confidence)
    reach = d * np.cumsum(mean[order]) - z * np.sqrt(np.cumsum(var[order]))
    enough = np.flatnonzero(reach >= d * target)
    k = int(enough[0]) + 1 if len(enough) else len(order)
    return order[:k]


@dataclass
class Replay:
    """The outcomes of one policy over the test events."""

    policy: str
    rows: list[dict[str, float | str | int]] = field(default_factory=list)


def replay(responses: Responses, test: np.ndarray, posts: dict[str, Posterior],
           targets: dict[str, float], rule: Rule, rng: np.random.Generator,
           random_repeats: int = 20) -> dict[str, Replay]:  # fmt: skip
    """Each test event in time order: the rule's choice, sending to everyone, random sets of
    the rule's size and random sets sized to reach the target (`_size_to_reach`); what each achieved against the target from the households' observed
    responses (those not signalled use their counterfactual: no change). The rule's posteriors
    learn only from the households it signalled."""
    names = (f"bayes ({rule.name})", "all", "random", "random, sized to reach")
    out = {name: Replay(name) for name in names}
    for e in test:
        level = str(responses.events.level[e])
        if level not in targets or level not in posts:
            continue
        y, base, noise = responses.y[:, e], responses.base[:, e], responses.noise[:, e]
        rows = np.flatnonzero(np.isfinite(y) & np.isfinite(base))
        if not len(rows):
            continue
        population = float(base[rows].sum())
        goal = targets[level] * population
        chosen = rows[choose(rule, posts[level], rows, base[rows], noise[rows], goal, rng)]

        change = y * base  # each household's kWh change had it been signalled
        for name, sent in ((names[0], chosen), ("all", rows)):
            got = np.array([float(change[sent].sum())])
            out[name].rows.append(
                _row(e, level, responses, len(rows), len(sent), goal, population, got)
            )
        sized = _size_to_reach(change[rows], goal, rule.confidence, rng, random_repeats)
        for name, size in (("random", len(chosen)), ("random, sized to reach", sized)):
            got = np.array([float(change[rng.choice(rows, size=size, replace=False)].sum())
                            for _ in range(random_repeats)])  # fmt: skip
            out[name].rows.append(_row(e, level, responses, len(rows), size, goal, population, got))
        posts[level].update(chosen, y[chosen], noise[chosen])  # learn from the signalled only
    return out


def _row(e: int, level: str, responses: Responses, households: int, signals: int, goal: float,
         population: float, got: np.ndarray) -> dict[str, float | str | int]:  # fmt: skip
    """One policy on one event; `got` the change achieved (one value, or one per random draw:
    the means of the draws' errors, not the error of their mean)."""
    return {
        "event": int(e), "level": level, "start": str(responses.events.when[e]),
        "households": households, "signals": signals, "target_kwh": goal,
        "achieved_kwh": float(got.mean()), "population_kwh": population,
        "target_pct": 100 * goal / population, "achieved_pct": 100 * float(got.mean()) / population,
        "error_pct": 100 * float((got - goal).mean()) / population,
        "abs_error_pct": 100 * float(np.abs(got - goal).mean()) / population,
        "shortfall_pct": 100 * float(np.maximum(np.sign(goal) * (goal - got), 0).mean()) / population,
        "reached": float((np.sign(goal) * (got - goal) >= 0).mean()),
    }  # fmt: skip


def _size_to_reach(change: np.ndarray, goal: float, confidence: float, rng: np.random.Generator,
                   draws: int) -> int:  # fmt: skip
    """The fewest households a random choice needs to reach `goal` in at least `confidence`
    of draws, found with the event's observed responses: an oracle's sizing, a baseline that
    flatters the random choice (all of them if none suffices)."""
    d = np.sign(goal)

    def ok(n: int) -> bool:
        sums = np.array(
            [change[rng.choice(len(change), size=n, replace=False)].sum() for _ in range(draws)]
        )
        return bool((d * (sums - goal) >= 0).mean() >= confidence)

    lo, hi = 1, len(change)
    if not ok(hi):
        return hi
    while lo < hi:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo
