"""The fixed-effect sweep and the clustered errors against the textbook computation: OLS with
every dummy written out, on a small unbalanced panel."""

from __future__ import annotations

import numpy as np
import pytest

from forecasting.errors import InputError
from forecasting.response.panel import Sweeper, fit_demeaned


def _panel(seed: int, slopes: bool = False):
    rng = np.random.default_rng(seed)
    H, T, S = 9, 40, 4
    h, t = np.meshgrid(np.arange(H), np.arange(T), indexing="ij")
    h, t = h.ravel(), t.ravel()
    keep = rng.random(len(h)) > 0.2  # unbalanced: a fifth of the cells missing
    h, t = h[keep], t[keep]
    slot = t % S
    first = h * S + slot
    x = np.column_stack([(h < 4) & (t % 5 == 0), rng.normal(size=len(h))]).astype(float)
    w = np.sin(t / 3.0) + rng.normal(0, 0.1, len(h))
    y = x @ [0.3, -0.5] + rng.normal(size=H)[h] + rng.normal(size=T)[t] + rng.normal(0, 0.2, len(h))
    y += (0.1 * h) * w if slopes else 0
    return h, t, first, x, y, w, H


def _dummy_ols(h, t, first, x, y, w=None):
    """OLS with every dummy written out (and each household's own slope on w)."""
    cols = [x, np.eye(first.max() + 1)[first], np.eye(t.max() + 1)[t][:, 1:]]
    if w is not None:
        cols.append(np.eye(h.max() + 1)[h] * w[:, None])
    Z = np.column_stack(cols)
    beta, *_ = np.linalg.lstsq(Z, y, rcond=None)
    return beta[: x.shape[1]], y - Z @ beta


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_sweep_gives_the_coefficients_of_the_full_dummy_regression(seed):
    h, t, first, x, y, _, _ = _panel(seed)
    sweep = Sweeper(first, t)
    X = np.column_stack([sweep(x[:, j]) for j in range(2)])
    fit = fit_demeaned(sweep(y), X, ["a", "b"], h, t // 10, sweep.sweeps)
    want, _ = _dummy_ols(h, t, first, x, y)
    np.testing.assert_allclose(fit.beta, want, atol=1e-8)
    assert sweep.sweeps > 1  # unbalanced: one pass is not enough


def test_household_slopes_swept_out_as_if_they_were_regressors():
    h, t, first, x, y, w, _ = _panel(4, slopes=True)
    sweep = Sweeper(first, t, [(h, w - w.mean())])
    X = np.column_stack([sweep(x[:, j]) for j in range(2)])
    fit = fit_demeaned(sweep(y), X, ["a", "b"], h, t // 10)
    want, _ = _dummy_ols(h, t, first, x, y, w - w.mean())
    np.testing.assert_allclose(fit.beta, want, atol=1e-7)


def test_clustered_covariance_is_the_sandwich_on_household_scores():
    h, t, first, x, y, _, H = _panel(5)
    sweep = Sweeper(first, t)
    X = np.column_stack([sweep(x[:, j]) for j in range(2)])
    yt = sweep(y)
    fit = fit_demeaned(yt, X, ["a", "b"], h, t // 10)
    e = yt - X @ fit.beta
    bread = np.linalg.inv(X.T @ X)
    scores = np.stack([X[h == g].T @ e[h == g] for g in range(H)])
    N, k = len(y), 2
    meat = scores.T @ scores * H / (H - 1) * (N - 1) / (N - k)
    np.testing.assert_allclose(fit.cov("household"), bread @ meat @ bread, rtol=1e-10)


def test_bootstraps_centre_on_the_estimate_and_spread_like_the_clustered_error():
    h, t, first, x, y, _, _H = _panel(6)
    sweep = Sweeper(first, t)
    X = np.column_stack([sweep(x[:, j]) for j in range(2)])
    fit = fit_demeaned(sweep(y), X, ["a", "b"], h, t // 10)
    for draws in (fit.wild_bootstrap(4000, 1), fit.household_bootstrap(4000, 1)):
        assert np.abs(draws.mean(axis=0) - fit.beta).max() < 0.5 * fit.se().max()
        ratio = draws.std(axis=0) / fit.se()
        assert ((ratio > 0.5) & (ratio < 2.0)).all(), ratio
    same = fit.wild_bootstrap(50, 7), fit.wild_bootstrap(50, 7)
    np.testing.assert_array_equal(*same)


def test_a_term_with_no_variation_left_is_named():
    h, t, first, _x, y, _, _ = _panel(7)
    sweep = Sweeper(first, t)
    only_time = sweep((t % 5 == 0).astype(float))  # a function of time alone: absorbed
    with pytest.raises(InputError, match="no variation left to estimate High"):
        fit_demeaned(sweep(y), only_time[:, None], ["High"], h, t // 10)
