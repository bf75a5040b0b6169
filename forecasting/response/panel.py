"""Linear regression on a panel with two sets of fixed effects, numpy only.

The fixed effects are swept out, not estimated (Frisch-Waugh-Lovell): every column is
demeaned by alternating projections onto the two sets of groups (household x time-of-day
slot, and each interval of the year), which converges to the exact two-way within
transformation on unbalanced panels too. What is left is a small OLS on the demeaned
columns, with standard errors clustered by household and a household bootstrap, both from
per-household cross products (`A_h = X_h'X_h`, `c_h = X_h'y_h`), so a replicate costs
O(households x columns^2) rather than a pass over the rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecasting.errors import InputError

TOLERANCE = 1e-9  # largest change of a demeaned column between sweeps, relative to its scale
MAX_SWEEPS = 1_000


class Sweeper:
    """Sweeps fixed effects out of columns: two sets of group means (`first`: household x
    slot, `second`: time, as dense int codes) and, optionally, group-specific slopes on
    covariates (`slopes`: (group codes, values) pairs, e.g. each household's own temperature
    response in each band; each slope group must hold whole `first` groups).

    One sweep projects onto the `first` means and the slopes together (the values are
    demeaned within `first` groups once, so with one covariate that step is exact), then
    removes the `second` means; alternating the two converges to the projection onto the
    sum of the spaces."""

    def __init__(
        self,
        first: np.ndarray,
        second: np.ndarray,
        slopes: list[tuple[np.ndarray, np.ndarray]] | None = None,
        tol: float = TOLERANCE,
    ) -> None:
        self.first, self.second, self.tol = first, second, tol
        self.n1 = np.maximum(np.bincount(first), 1).astype("float64")
        self.n2 = np.maximum(np.bincount(second), 1).astype("float64")
        self.slopes = []
        for codes, values in slopes or []:
            v = values - self._first_means(values)
            ss = np.bincount(codes, weights=v**2)
            self.slopes.append((codes, v, np.where(ss > 1e-12, ss, np.inf)))
        self.sweeps = 0  # the most any column needed

    def _first_means(self, x: np.ndarray) -> np.ndarray:
        return (np.bincount(self.first, weights=x) / self.n1)[self.first]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """`x` with the fixed effects and slopes swept out."""
        out = x.astype("float64", copy=True)
        scale = max(float(np.abs(out).max(initial=0.0)), 1e-300)
        sweeps = 0
        while sweeps < MAX_SWEEPS:
            sweeps += 1
            out -= self._first_means(out)
            for codes, v, ss in self.slopes:
                out -= (np.bincount(codes, weights=out * v) / ss)[codes] * v
            step = np.bincount(self.second, weights=out) / self.n2
            out -= step[self.second]
            if float(np.abs(step).max(initial=0.0)) <= self.tol * scale:
                break
        self.sweeps = max(self.sweeps, sweeps)
        return out


def _meat(scores: np.ndarray) -> np.ndarray:
    """Sum of outer products of cluster scores [cluster, k], with the G/(G-1) correction."""
    G = len(scores)
    return scores.T @ scores * (G / max(G - 1, 1))


@dataclass
class PanelFit:
    """OLS on demeaned columns: coefficients, clustered covariances and what the bootstraps
    need. `A[h]`, `c[h]` are household h's cross products; `cell_scores[h, d] = X_hd' e_hd`
    the scores of household h on day d."""

    names: list[str]
    beta: np.ndarray
    bread: np.ndarray  # (X'X)^-1
    A: np.ndarray  # [household, k, k]
    c: np.ndarray  # [household, k]
    cell_scores: np.ndarray  # [household, day, k]
    rows: int
    sweeps: int

    @property
    def households(self) -> int:
        return len(self.A)

    def cov(self, by: str = "household") -> np.ndarray:
        """Clustered covariance: by `household` (CR1), by `day`, or both (`household+day`,
        Cameron-Gelbach-Miller: V_household + V_day - V_cell, negative eigenvalues clipped)."""
        S = self.cell_scores
        N, k = self.rows, len(self.beta)
        meats = {
            "household": _meat(S.sum(axis=1)),
            "day": _meat(S.sum(axis=0)),
            "cell": _meat(S.reshape(-1, k)),
        }
        if by == "household+day":
            meat = meats["household"] + meats["day"] - meats["cell"]
            w, v = np.linalg.eigh((meat + meat.T) / 2)
            meat = (v * np.clip(w, 0, None)) @ v.T
        else:
            meat = meats[by]
        return self.bread @ meat @ self.bread * ((N - 1) / max(N - k, 1))

    def se(self, by: str = "household") -> np.ndarray:
        return np.sqrt(np.clip(np.diag(self.cov(by)), 0.0, None))

    def household_bootstrap(
        self, replicates: int, seed: int, strata: np.ndarray | None = None
    ) -> np.ndarray:
        """[replicate, k] coefficients on households drawn with replacement (within each
        stratum, e.g. treated and control apart, so every arm keeps its size), the fixed
        effects held at their full-sample sweep. Replicates whose matrix is singular (a
        column with no household left) are dropped."""
        rng = np.random.default_rng(seed)
        H = self.households
        strata = np.zeros(H, dtype="int64") if strata is None else np.asarray(strata)
        counts = np.zeros((replicates, H))
        for s in np.unique(strata):
            m = np.flatnonzero(strata == s)
            draws = rng.integers(0, len(m), size=(replicates, len(m)))
            for r in range(replicates):
                counts[r] += np.bincount(m[draws[r]], minlength=H)
        A = np.einsum("rh,hij->rij", counts, self.A)
        c = np.einsum("rh,hi->ri", counts, self.c)
        out = np.full((replicates, len(self.names)), np.nan)
        for r in range(replicates):
            try:
                out[r] = np.linalg.solve(A[r], c[r])
            except np.linalg.LinAlgError:
                continue
        return out[~np.isnan(out).any(axis=1)]

    def wild_bootstrap(self, replicates: int, seed: int) -> np.ndarray:
        """[replicate, k] coefficients from a wild bootstrap clustered by household and by day:
        each (household, day) score is flipped by v_household + v_day (independent Rademacher
        signs), so scores of one household, or of one day, move together; its variance is
        V_household + V_day (a little above the two-way clustered one)."""
        rng = np.random.default_rng(seed)
        H, D, _ = self.cell_scores.shape
        vh = rng.choice([-1.0, 1.0], size=(replicates, H))
        vd = rng.choice([-1.0, 1.0], size=(replicates, D))
        shift = np.einsum("rh,hdk->rk", vh, self.cell_scores)
        shift += np.einsum("rd,hdk->rk", vd, self.cell_scores)
        return self.beta[None, :] + shift @ self.bread.T


def fit_demeaned(
    y: np.ndarray,
    X: np.ndarray,
    names: list[str],
    household: np.ndarray,
    day: np.ndarray,
    sweeps: int = 0,
) -> PanelFit:
    """OLS of demeaned `y` on demeaned `X` [rows, k]; `household` and `day` (dense codes) are
    the clusters. A column with nothing left after demeaning raises, naming it."""
    flat = [names[j] for j in range(X.shape[1]) if not np.abs(X[:, j]).max(initial=0) > 1e-7]
    if flat:
        raise InputError(
            f"no variation left to estimate {', '.join(flat)} once households and times are "
            "accounted for (no treated reading at those times?)"
        )
    H, D = int(household.max()) + 1, int(day.max()) + 1
    k = X.shape[1]
    A = np.zeros((H, k, k))
    c = np.zeros((H, k))
    order = np.argsort(household, kind="stable")
    bounds = np.searchsorted(household[order], np.arange(H + 1))
    for h in range(H):
        rows = order[bounds[h] : bounds[h + 1]]
        Xh = X[rows]
        A[h] = Xh.T @ Xh
        c[h] = Xh.T @ y[rows]
    try:
        bread = np.linalg.inv(A.sum(axis=0))
    except np.linalg.LinAlgError:
        raise InputError(
            "the terms to estimate are collinear (two describe the same readings); "
            "use fewer bands or groups"
        ) from None
    beta = bread @ c.sum(axis=0)
    e = y - X @ beta
    cell = household * D + day
    cell_scores = np.stack(
        [np.bincount(cell, weights=X[:, j] * e, minlength=H * D) for j in range(k)], axis=1
    ).reshape(H, D, k)
    return PanelFit(list(names), beta, bread, A, c, cell_scores, len(y), sweeps)
