"""The grid posterior of engagement and response (forecasting/targeting/posterior.py)."""

from __future__ import annotations

import numpy as np
import pytest

from forecasting.targeting.posterior import (
    GridSpec,
    Posterior,
    engagement_category,
    fit_priors,
    log_likelihood,
)

GRID = GridSpec.make(21, 81, 0.8)


def simulate(rho, theta, events=60, s=0.05, seed=0):
    """y[h, e] = r * theta + noise for households with engagement rho and response theta."""
    rng = np.random.default_rng(seed)
    rho, theta = np.asarray(rho), np.asarray(theta)
    r = rng.random((len(rho), events)) < rho[:, None]
    y = r * theta[:, None] + rng.normal(0, s, (len(rho), events))
    return y, np.full_like(y, s)


def test_many_events_pin_down_engagement_and_response():
    y, s = simulate([1.0, 0.5, 0.0], [-0.2, -0.2, -0.2])
    ll = log_likelihood(GRID, y, s)
    flat = np.array([0.0, 0.0, 0.0, np.log(0.5)])  # engagement mean 0.5, wide response prior
    post = Posterior.start(GRID, {"all": flat}, np.array(["x", "x", "x"]), ll)
    out = post.summary()
    assert out["engagement"] == pytest.approx([0.97, 0.5, 0.03], abs=0.1)
    assert out["response_mean"][:2] == pytest.approx([-0.2, -0.2], abs=0.03)  # grid step 0.02
    assert out["expected_change"] == pytest.approx([-0.2, -0.1, 0.0], abs=0.03)
    assert list(engagement_category(out["engagement"])) == ["above 95%", "above 30%", "none"]


def test_an_update_with_unobserved_events_changes_nothing_and_one_event_moves_the_posterior():
    y, s = simulate([0.9], [-0.3], events=5)
    post = Posterior.start(GRID, {"all": np.array([0.0, 0.0, 0.0, np.log(0.3)])}, np.array(["g"]),
                           log_likelihood(GRID, y, s))  # fmt: skip
    before = post.log_post.copy()
    post.update(np.array([0]), np.array([np.nan]), np.array([0.05]))
    assert np.array_equal(before, post.log_post)
    post.update(np.array([0]), np.array([-0.3]), np.array([0.05]))
    assert (
        post.summary()["expected_change"][0]
        < Posterior(GRID, before).summary()["expected_change"][0]
    )
    assert np.exp(post.log_post).sum() == pytest.approx(1.0)


def test_group_priors_learn_what_the_groups_do():
    """Group a responds by -0.25 with engagement 0.9, group b hardly at all: their fitted
    priors say so, and a new household of group a is expected to respond before any event."""
    ya, sa = simulate([0.9] * 15, [-0.25] * 15, events=20, s=0.08, seed=1)
    yb, sb = simulate([0.1] * 15, [-0.25] * 15, events=20, s=0.08, seed=2)
    ll = log_likelihood(GRID, np.vstack([ya, yb]), np.vstack([sa, sb]))
    groups = np.array(["a"] * 15 + ["b"] * 15)
    priors = fit_priors(GRID, ll, groups)
    new = Posterior.start(GRID, priors, np.array(["a", "b"]), np.zeros((2, 21, 81)))
    e = new.summary()["expected_change"]
    assert e[0] < -0.15 and e[1] > -0.08


def test_the_predictive_interval_covers_about_as_often_as_it_says():
    rng = np.random.default_rng(3)
    rho, theta = rng.uniform(0, 1, 200), rng.normal(-0.15, 0.05, 200)
    y, s = simulate(rho, theta, events=31, s=0.1, seed=4)
    ll = log_likelihood(GRID, y[:, :30], s[:, :30])
    groups = np.array(["g"] * 200)
    post = Posterior.start(GRID, fit_priors(GRID, ll, groups), groups, ll)
    lo, hi, _ = post.predictive_interval(s[:, 30], 0.9, rng, draws=1000)
    inside = ((y[:, 30] >= lo) & (y[:, 30] <= hi)).mean()
    assert 0.84 <= inside <= 0.96
