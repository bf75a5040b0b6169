"""The daily peak as a product of the hourly forecast: each local day's peak load (kWh in the
peak interval) with its own quantiles, and the interval it falls in with its probability.
Numpy, pandas and scipy's normal CDF only, shared by training (fit, benchmarks) and serving.

Consistent with the hourly path: the peak is read from sample paths whose every hour follows
the hour's own forecast quantiles (the calibrated P10/P50/P90, linear between them and beyond
them at the slope of the nearest segment), joined across the horizon by a Gaussian copula whose
correlation was measured on the validation backtest (`fit_path_correlation`: how a household's
errors at 18:00 and 19:00 move together). Without one the hours are taken as independent.

The paths are the same `PATHS` draws of the copula for every window (common random numbers,
seeded), so a window's peak does not depend on what else is in the batch, and reruns agree.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.data.schema import SERIES, TIME
from forecasting.evaluation.metrics import quantile_column
from forecasting.forecasts.frames import scale_around

PATHS = 400
SEED = 2013
SHRINK = 0.05  # the measured correlation is pulled this far towards independence
EDGE = 0.005  # levels of the sampled paths stay within EDGE..1-EDGE (finite tails)
PEAK_QUANTILES = (0.1, 0.5, 0.9)
CHUNK = 256  # windows whose paths are held at once (CHUNK x PATHS x steps values)


def copula_levels(steps: int, correlation: np.ndarray | None, paths: int = PATHS) -> np.ndarray:
    """Levels u [paths, steps] in (0, 1): uniform at each step, correlated across steps as the
    Gaussian copula with `correlation` [steps, steps] says (None: independent steps)."""
    from scipy.special import ndtr

    z = np.random.default_rng(SEED).standard_normal((paths, steps))
    if correlation is not None:
        c = (1 - SHRINK) * np.asarray(correlation, dtype="float64") + SHRINK * np.eye(steps)
        vals, vecs = np.linalg.eigh((c + c.T) / 2)
        root = vecs * np.sqrt(np.clip(vals, 1e-9, None))  # root @ root.T = c (made positive)
        z = z @ root.T / np.sqrt(np.sum(root**2, axis=1))  # unit variance at every step
    return np.clip(ndtr(z), EDGE, 1 - EDGE)


def quantile_path(q: np.ndarray, levels: list[float], u: np.ndarray) -> np.ndarray:
    """Values at levels `u` [S, H] from each window's quantiles q [N, H, Q] (sorted, at
    `levels`): piecewise linear between them, extended at the outer segments' slopes; [N, S, H]."""
    tau = np.asarray(levels, dtype="float64")
    j = np.clip(np.searchsorted(tau, u, side="right") - 1, 0, len(tau) - 2)  # segment [S, H]
    w = (u - tau[j]) / (tau[j + 1] - tau[j])  # < 0 below the first level, > 1 above the last
    h = np.arange(q.shape[1])[None, :]
    lo = q[:, h, j]  # [N, S, H]
    hi = q[:, h, j + 1]
    return lo + w[None] * (hi - lo)


def fit_path_correlation(
    pred: np.ndarray, y: np.ndarray, windows: np.ndarray, horizon: np.ndarray,
    levels: list[float], steps: int,
) -> np.ndarray | None:  # fmt: skip
    """The copula's correlation [steps, steps] from validation rows: each actual's level under
    its row's quantiles `pred` [rows, Q] (inverting `quantile_path`'s interpolation), as a normal
    score, correlated across the steps of the windows with every step known. None with fewer
    than 2 * steps such windows."""
    from scipy.special import ndtri

    tau = np.asarray(levels, dtype="float64")
    seg = np.clip((y[:, None] >= pred[:, 1:-1]).sum(axis=1), 0, len(tau) - 2)  # [rows]
    lo = pred[np.arange(len(y)), seg]
    hi = pred[np.arange(len(y)), seg + 1]
    gap = hi - lo
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(gap > 0, (y - lo) / gap, 0.5)
    u = np.clip(tau[seg] + frac * (tau[seg + 1] - tau[seg]), EDGE, 1 - EDGE)
    z = pd.DataFrame({"w": windows, "h": horizon, "z": ndtri(u)})
    table = z.pivot_table(index="w", columns="h", values="z", aggfunc="first")
    table = table.reindex(columns=range(1, steps + 1)).dropna()
    if len(table) < 2 * steps:
        return None
    c = np.corrcoef(table.to_numpy().T)
    return np.nan_to_num(c, nan=0.0) + np.diag(np.isnan(np.diag(c)).astype(float))


def daily_peaks(
    fc: pd.DataFrame,
    quantiles: list[float],
    timezone: str,
    correlation: np.ndarray | None = None,
    nonnegative: bool = True,
    peak_factors: np.ndarray | None = None,
) -> pd.DataFrame:
    """One row per series, origin and local day of a long forecast frame (equal-length windows):
    `day`, `intervals` (how many of the day's intervals the window forecasts), the peak's
    quantiles `peak_p10`.. (target units); `peak_time` (UTC) and `peak_hour` (local, fractional
    for sub-hourly data): the median of the paths' peak intervals, which minimises the expected
    timing error in hours; `likeliest_time`, the interval most paths peak in, and
    `likeliest_probability`, their share. `peak_factors` (fitted by
    `forecasting.forecasts.calibration.fit_peak_factors`) widen or narrow the peak's quantiles
    around its median, as the hourly calibration does for each hour."""
    cols = [quantile_column(q) for q in quantiles]
    fc = fc.sort_values([SERIES, "origin", "horizon"], kind="stable")
    steps = int(fc["horizon"].max()) if len(fc) else 0
    out_cols = [SERIES, "origin", "day", "intervals", *(f"peak_{quantile_column(p)}"
                for p in PEAK_QUANTILES), "peak_time", "peak_hour", "likeliest_time",
                "likeliest_probability"]  # fmt: skip
    if not len(fc):
        return pd.DataFrame(columns=out_cols)
    n = len(fc) // steps
    if n * steps != len(fc) or not (fc["horizon"].to_numpy().reshape(n, steps) ==
                                    np.arange(1, steps + 1)).all():  # fmt: skip
        raise ValueError("daily peaks need whole windows: every series and origin forecast "
                         f"at horizon steps 1..{steps}")  # fmt: skip
    q = fc[cols].to_numpy(dtype="float64").reshape(n, steps, len(cols))
    u = copula_levels(steps, correlation)
    local = pd.DatetimeIndex(fc[TIME]).tz_convert(timezone)
    day = local.normalize().tz_localize(None).to_numpy().reshape(n, steps)
    offset = ((day - day[:, :1]) // np.timedelta64(1, "D")).astype(np.int64)
    times = pd.DatetimeIndex(fc[TIME]).tz_convert("UTC").tz_localize(None).to_numpy()
    times = times.reshape(n, steps)
    hours = np.asarray(local.hour + local.minute / 60).reshape(n, steps)
    keys = fc[[SERIES, "origin"]].iloc[::steps].reset_index(drop=True)
    parts = []
    for d in range(int(offset.max()) + 1):
        mask = offset == d  # [N, H]: the steps of each window's d-th local day
        rows = np.flatnonzero(mask.any(axis=1))
        if not len(rows):
            continue
        peak = np.empty((len(rows), u.shape[0]))
        at = np.empty((len(rows), u.shape[0]), dtype=np.int64)
        for a in range(0, len(rows), CHUNK):  # paths of CHUNK windows at a time
            r = rows[a : a + CHUNK]
            paths = quantile_path(q[r], quantiles, u)  # [n, S, H]
            paths = np.clip(paths, 0, None) if nonnegative else paths
            paths = np.where(mask[r][:, None, :], paths, -np.inf)
            peak[a : a + CHUNK], at[a : a + CHUNK] = paths.max(axis=2), paths.argmax(axis=2)
        counts = np.zeros((len(rows), steps))
        np.add.at(counts, (np.repeat(np.arange(len(rows)), at.shape[1]), at.ravel()), 1)
        mode = counts.argmax(axis=1)  # the likeliest peak interval
        middle = np.median(at, axis=1).astype(np.int64)  # minimises the expected error in hours
        frame = keys.iloc[rows].reset_index(drop=True)
        frame["day"] = day[rows, mode]
        frame["intervals"] = mask[rows].sum(axis=1)
        pq = np.quantile(peak, PEAK_QUANTILES, axis=1).T  # [n, 3]
        if peak_factors is not None:
            pq = scale_around(pq, PEAK_QUANTILES.index(0.5), np.asarray(peak_factors), nonnegative)
        for i, p in enumerate(PEAK_QUANTILES):
            frame[f"peak_{quantile_column(p)}"] = pq[:, i]
        frame["peak_time"] = times[rows, middle]
        frame["peak_hour"] = hours[rows, middle]
        frame["likeliest_time"] = times[rows, mode]
        frame["likeliest_probability"] = counts[np.arange(len(rows)), mode] / at.shape[1]
        parts.append(frame)
    out = pd.concat(parts, ignore_index=True).sort_values([SERIES, "origin", "day"])
    for c in ("peak_time", "likeliest_time"):
        out[c] = pd.DatetimeIndex(out[c]).tz_localize("UTC")
    out["day"] = pd.DatetimeIndex(out["day"]).date
    return out.reset_index(drop=True)[out_cols]
