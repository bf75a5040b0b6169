"""Choosing whom to signal and replaying events (forecasting/targeting/policy.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.targeting.events import Events, Responses
from forecasting.targeting.policy import Rule, choose, replay
from forecasting.targeting.posterior import GridSpec, Posterior, log_likelihood

GRID = GridSpec.make(21, 81, 0.8)
PRIOR = np.array([0.0, 0.0, 0.0, np.log(0.5)])


def known(rho, theta, events=80, s=0.05, seed=0) -> Posterior:
    """A posterior after many observed events of households with these truths."""
    rng = np.random.default_rng(seed)
    rho, theta = np.asarray(rho, float), np.asarray(theta, float)
    y = (rng.random((len(rho), events)) < rho[:, None]) * theta[:, None]
    y = y + rng.normal(0, s, y.shape)
    groups = np.array(["g"] * len(rho))
    return Posterior.start(
        GRID, {"all": PRIOR}, groups, log_likelihood(GRID, y, np.full_like(y, s))
    )


def test_the_expected_rule_takes_the_strongest_first_and_stops_at_the_target():
    """Ten households, the first five cut 30%, the rest nothing; base 1 kWh each. A cut of
    0.9 kWh needs three of the first five (four with confidence against the noise)."""
    post = known([1] * 5 + [0] * 5, [-0.3] * 10)
    rows = np.arange(10)
    pick = choose(Rule("expected", confidence=0.8), post, rows, np.ones(10), np.full(10, 0.05), -0.9,
                  np.random.default_rng(0))  # fmt: skip
    assert set(pick) <= set(range(5)) and 3 <= len(pick) <= 5
    capped = choose(Rule("expected", limit=2), post, rows, np.ones(10), np.full(10, 0.05), -0.9,
                    np.random.default_rng(0))  # fmt: skip
    assert len(capped) == 2
    raise_ = choose(Rule("expected"), post, rows, np.ones(10), np.full(10, 0.05), +0.5,
                    np.random.default_rng(0))  # fmt: skip
    # no one is expected to raise their load by much: the target is out of reach, and the
    # households that cut are never asked to raise (the others may, for what little they add)
    assert not set(raise_) & set(range(5))


def test_thompson_tries_an_uncertain_household_that_expected_ranking_never_picks():
    """Household 0 is known to cut 10%; household 1 was seen only twice, each time cutting
    20%. For a 0.1 kWh cut, expected ranking picks 1 or 0 every time; Thompson sometimes the
    other: over draws both appear."""
    certain = known([1.0], [-0.1], events=80)
    unsure = known([1.0], [-0.2], events=2, seed=1)
    post = Posterior(GRID, np.concatenate([certain.log_post, unsure.log_post]))
    rng = np.random.default_rng(0)
    picks = [tuple(choose(Rule("thompson", confidence=0.5), post, np.arange(2), np.ones(2),
                          np.full(2, 0.01), -0.1, rng)) for _ in range(200)]  # fmt: skip
    firsts = {p[0] for p in picks if p}
    assert firsts == {0, 1}


def test_a_replay_learns_and_beats_random_choice_sized_by_an_oracle():
    """200 households, a quarter cut 30% every time, the rest nothing; learned on 10 events
    from a flat prior, replayed on 20: the Bayesian choice reaches a 5% cut with fewer signals
    than a random choice needs even when sized with the event's own outcomes."""
    rng = np.random.default_rng(5)
    n, n_ev = 200, 30
    theta = np.where(np.arange(n) < 50, -0.3, 0.0)
    y = theta[:, None] * np.ones((n, n_ev)) + rng.normal(0, 0.05, (n, n_ev))
    noise = np.full((n, n_ev), 0.05)
    when = pd.date_range("2024-01-01", periods=n_ev, freq="D", tz="UTC")
    events = Events(
        np.array(["High"] * n_ev, dtype=object), np.arange(n_ev), np.arange(n_ev) + 1, when
    )
    resp = Responses(
        np.arange(n).astype(str), np.array(["g"] * n), events, y, noise, np.ones((n, n_ev))
    )
    groups = resp.groups
    post = Posterior.start(
        GRID, {"all": PRIOR}, groups, log_likelihood(GRID, y[:, :10], noise[:, :10])
    )
    out = replay(
        resp, np.arange(10, n_ev), {"High": post}, {"High": -0.05}, Rule("thompson"), rng, 20
    )
    mine = pd.DataFrame(out["bayes (thompson)"].rows)
    sized = pd.DataFrame(out["random, sized to reach"].rows)
    assert len(mine) == 20 and (mine["households"] == 200).all()
    assert mine["reached"].mean() >= 0.9
    assert mine["signals"].mean() < 0.6 * sized["signals"].mean()
    assert pd.DataFrame(out["all"].rows)["signals"].eq(200).all()
