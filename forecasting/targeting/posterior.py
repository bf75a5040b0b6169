"""Each household's response to a signal, as a posterior on a grid.

Model, for one signal level (High and Low are separate), household h, event e:

    y[h, e] = r[h, e] * theta[h] + noise,   noise ~ N(0, s[h, e]^2)   (s from placebo events)
    r[h, e] ~ Bernoulli(rho[h])             does h respond to this signal at all?
    rho[h]  ~ Beta(a_g, b_g)                its engagement, by group g
    theta[h] ~ N(mu_g, tau_g^2)             how much it changes when it responds

Why a grid and not a conjugate update or MCMC: the likelihood of one event is a mixture
(rho N(theta, s^2) + (1 - rho) N(0, s^2)), which no conjugate prior keeps in its family; on
a grid of (rho, theta) the posterior is exact up to the grid, every update after an event is
one multiply per grid point, and thousands of households update in milliseconds, which an
active-learning loop over successive events needs. MCMC would give the same answer slower.

The group priors are hierarchical by empirical Bayes: the population's hyperparameters
maximise the marginal likelihood of the learning events over all households; each group's
then maximise its own marginal likelihood plus a normal penalty (sd 1 on the transformed
scale: logit of mean engagement, log concentration, mean response, log spread) pulling them
to the population's, so a small group borrows strength and a large one speaks for itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

# starting points of the hyperparameter fit: (logit mean engagement, log concentration,
# mean response, log spread of responses)
STARTS = [(0.0, np.log(2.0), s * m, np.log(0.1)) for s in (-1, 1) for m in (0.05, 0.2)] + [
    (2.0, np.log(2.0), 0.0, np.log(0.1)), (-2.0, np.log(2.0), 0.0, np.log(0.1))]  # fmt: skip
ENGAGEMENT = (("above 95%", 0.95), ("above 60%", 0.60), ("above 30%", 0.30), ("none", -1.0))


@dataclass(frozen=True)
class GridSpec:
    rho: np.ndarray  # [R] engagement values on 0-1
    theta: np.ndarray  # [T] response values

    @classmethod
    def make(cls, engagement: int = 21, response: int = 81, span: float = 0.8) -> GridSpec:
        return cls(np.linspace(0, 1, engagement), np.linspace(-span, span, response))


def log_likelihood(grid: GridSpec, y: np.ndarray, s: np.ndarray) -> np.ndarray:
    """[household, R, T] log-likelihood of the observed events (NaN y: not observed)."""
    rho, theta = grid.rho[:, None], grid.theta[None, :]
    out = np.zeros((y.shape[0], len(grid.rho), len(grid.theta)))
    for e in range(y.shape[1]):
        seen = np.isfinite(y[:, e])
        if not seen.any():
            continue
        ye, se = y[seen, e][:, None, None], s[seen, e][:, None, None]
        on = -0.5 * ((ye - theta) / se) ** 2
        off = -0.5 * (ye / se) ** 2
        mix = np.logaddexp(
            np.log(np.maximum(rho, 1e-300)) + on, np.log1p(-np.minimum(rho, 1 - 1e-12)) + off
        )
        out[seen] += mix
    return out


def log_prior(grid: GridSpec, params: np.ndarray) -> np.ndarray:
    """[R, T] log prior from (logit mean engagement, log concentration, mu, log tau)."""
    lr, lt = _log_prior_parts(grid, params)
    return lr[:, None] + lt[None, :]


def _log_prior_parts(grid: GridSpec, params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The prior's two independent factors: [R] engagement, [T] response."""
    m, c = special.expit(params[0]), np.exp(params[1])
    a, b = m * c, (1 - m) * c
    rho = np.clip(grid.rho, 1e-4, 1 - 1e-4)
    lr = (a - 1) * np.log(rho) + (b - 1) * np.log1p(-rho)
    lr -= special.logsumexp(lr)
    lt = -0.5 * ((grid.theta - params[2]) / np.exp(params[3])) ** 2
    lt -= special.logsumexp(lt)
    return lr, lt


class _Marginal:
    """The log marginal likelihood of households' events under a prior, fast: the prior
    factorises, so it is p_rho' L_h p_theta with L = exp(ll - max) computed once."""

    def __init__(self, grid: GridSpec, ll: np.ndarray) -> None:
        self.grid = grid
        self.top = ll.max(axis=(1, 2))
        self.like = np.exp(ll - self.top[:, None, None])

    def __call__(self, params: np.ndarray, rows: np.ndarray | slice = slice(None)) -> float:
        lr, lt = _log_prior_parts(self.grid, params)
        per = np.einsum("r,hrt,t->h", np.exp(lr), self.like[rows], np.exp(lt))
        return float((np.log(np.maximum(per, 1e-300)) + self.top[rows]).sum())


def fit_priors(grid: GridSpec, ll: np.ndarray, groups: np.ndarray) -> dict[str, np.ndarray]:
    """Hyperparameters per group (and "all"), by penalised marginal likelihood."""
    marginal = _Marginal(grid, ll)

    def fit(rows: np.ndarray, centre: np.ndarray | None) -> np.ndarray:
        def loss(p: np.ndarray) -> float:
            pen = 0.0 if centre is None else 0.5 * float(((p - centre) ** 2).sum())
            pen += 0.5 * ((p[1] - np.log(2.0)) / 3) ** 2 + 0.5 * ((p[3] - np.log(0.1)) / 3) ** 2
            return -marginal(p, rows) + pen

        # the mixture's likelihood has several modes (few engaged households who respond a
        # lot, or many who respond a little): start from each and keep the best
        starts = STARTS if centre is None else [centre, *STARTS]
        fits = [optimize.minimize(loss, np.asarray(x0, float), method="Nelder-Mead",
                                  options={"xatol": 1e-3, "fatol": 1e-3, "maxiter": 600})
                for x0 in starts]  # fmt: skip
        return min(fits, key=lambda f: f.fun).x

    pooled = fit(np.arange(len(ll)), None)
    out = {"all": pooled}
    for g in np.unique(groups):
        out[str(g)] = fit(np.flatnonzero(groups == g), pooled)
    return out


@dataclass
class Posterior:
    """Log posterior [household, R, T] for one level, updated event by event."""

    grid: GridSpec
    log_post: np.ndarray

    @classmethod
    def start(cls, grid: GridSpec, priors: dict[str, np.ndarray], groups: np.ndarray,
              ll: np.ndarray) -> Posterior:  # fmt: skip
        lp = np.stack([log_prior(grid, priors.get(str(g), priors["all"])) for g in groups])
        return cls(grid, _normalise(lp + ll))

    def update(self, rows: np.ndarray, y: np.ndarray, s: np.ndarray) -> None:
        """Fold in one event's observed responses of households `rows`."""
        seen = np.isfinite(y)
        if seen.any():
            rows, y, s = rows[seen], y[seen], s[seen]
            ll = log_likelihood(self.grid, y[:, None], s[:, None])
            self.log_post[rows] = _normalise(self.log_post[rows] + ll)

    @property
    def weights(self) -> np.ndarray:
        return np.exp(self.log_post)

    def summary(self) -> dict[str, np.ndarray]:
        """Per household: engagement mean, P(rho > 0.5), response mean and sd (if it
        responds), and the expected change per signal E[rho * theta] with its sd."""
        w = self.weights
        rho, theta = self.grid.rho[None, :, None], self.grid.theta[None, None, :]
        m_rho = (w * rho).sum(axis=(1, 2))
        m_t = (w * theta).sum(axis=(1, 2))
        sd_t = np.sqrt(np.maximum((w * theta**2).sum(axis=(1, 2)) - m_t**2, 0))
        # one signal: r ~ Bernoulli(rho), change r * theta
        e1 = (w * rho * theta).sum(axis=(1, 2))
        e2 = (w * rho * theta**2).sum(axis=(1, 2))
        return {"engagement": m_rho, "p_engaged": (w * (rho > 0.5)).sum(axis=(1, 2)),
                "response_mean": m_t, "response_sd": sd_t, "expected_change": e1,
                "change_sd": np.sqrt(np.maximum(e2 - e1**2, 0))}  # fmt: skip

    def draw(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One posterior draw of (rho, theta) per household (Thompson sampling)."""
        w = self.weights.reshape(len(self.log_post), -1)
        cum = np.cumsum(w, axis=1)
        u = rng.random(len(w))[:, None] * cum[:, -1:]
        k = np.minimum((cum < u).sum(axis=1), w.shape[1] - 1)
        r, t = np.unravel_index(k, self.log_post.shape[1:])
        return self.grid.rho[r], self.grid.theta[t]

    def predictive_interval(self, s: np.ndarray, level: float, rng: np.random.Generator,
                            draws: int = 2000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
        """(low, high, mean) of the next event's observed response, per household with
        noise sd `s`: the central `level` interval of the posterior predictive."""
        n = len(self.log_post)
        lo, hi, mean = np.empty(n), np.empty(n), np.empty(n)
        for h in range(n):
            w = self.weights[h].ravel()
            k = rng.choice(w.size, size=draws, p=w / w.sum())
            r, t = np.unravel_index(k, self.log_post.shape[1:])
            on = rng.random(draws) < self.grid.rho[r]
            y = np.where(on, self.grid.theta[t], 0.0) + rng.normal(0, s[h], draws)
            lo[h], hi[h] = np.quantile(y, [(1 - level) / 2, (1 + level) / 2])
            mean[h] = y.mean()
        return lo, hi, mean


def engagement_category(engagement: np.ndarray) -> np.ndarray:
    """The problem's categories from the posterior mean engagement."""
    out = np.full(len(engagement), ENGAGEMENT[-1][0], dtype=object)
    for name, floor in reversed(ENGAGEMENT[:-1]):
        out[engagement > floor] = name
    return out


def _normalise(lp: np.ndarray) -> np.ndarray:
    return lp - special.logsumexp(lp, axis=(1, 2), keepdims=True)
