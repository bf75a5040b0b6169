"""Drift monitoring: a recent window of data, and the bundle's forecasts on it against what
happened, compared with the reference the bundle stored at export (`reference.json`), or
with chosen weeks of the data itself (`reference_from`: the same weeks a year before, where
the seasons move the load more than the drift to be found).

The same function (`profile`) describes the reference period (the run's validation period,
at export) and the recent window (at monitoring), so the two are measured alike:

- **distributions** of what a load shape is made of, per household and local day (the daily
  excess: the day's kWh over what the household's own reference fit predicts at that day's
  cold; the daily kWh; the evening 17-21 h share, the night 0-6 h share, peak over mean) and
  per interval (the load, each covariate): population stability index on the reference's
  deciles, Kolmogorov-Smirnov distance on its 101 quantiles, and how many times more often
  values fall beyond its 1st or 99th percentile;
- **archetype shares**: each household's average day (24 hourly shares) assigned to the
  nearest of the reference's load-shape centroids (k-means on the reference households);
  total variation distance between the shares;
- **temperature response**: kWh per household-day per heating degree-day (base 15.5 C), a
  regression within households; its change in standard errors and relative to the reference;
- **forecast error** (when a bundle is given): the bundle forecasts every household from each
  local midnight of the window, scored against the readings: normalised MAE of the P50 (sum of
  absolute errors over the sum of the load) by step ahead and day, and the coverage of the
  outer interval, against the same figures on the reference period.

Each check gets a level (none, warning, drift) from the thresholds (`MonitorConfig`); the
data checks' level and the model's (forecast error, coverage) are kept apart, and the
report's level is the worst of those `exit_on` names. Households are kept under a salted
pseudonym. Torch-free: it runs in the serving install.
"""

from __future__ import annotations

import hashlib
import html
import json
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecasting.config.monitor import Levels, MonitorConfig
from forecasting.data.schema import SERIES, TARGET, TIME
from forecasting.errors import InputError
from forecasting.evaluation.metrics import quantile_column
from forecasting.folders import write_json
from forecasting.tariffs.engine import infer_step

REFERENCE = "reference.json"
LEVELS = ("none", "warning", "drift")
MODEL_CHECKS = ("forecast error", "interval coverage")  # the rest describe the data
HEATING_BASE = 15.5  # C, the usual base of heating degree-days
EVENING, NIGHT = (17, 21), (0, 6)  # local hours [from, to)
GRID = np.linspace(0, 1, 101)
SHAPE_FEATURES = {
    "daily_excess": "a household's day over what its own reference predicts at that day's "
    "cold, in shares of its mean day",
    "daily_kwh": "a household's energy in a local day",
    "evening_share": "share of the day's energy in 17-21 h",
    "night_share": "share of the day's energy in 0-6 h",
    "peak_ratio": "the day's highest interval over its mean",
}
NOT_COVARIATES = {SERIES, TIME, TARGET, "filled"}


# ----------------------------------------------------------------------------- the profile
def local_days(frame: pd.DataFrame, tz: str) -> pd.DataFrame:
    """Per household and complete local day: daily kWh, evening and night shares, peak over
    mean, mean temperature (when the frame has one), and the 24 hourly kWh."""
    rows = frame.dropna(subset=[TARGET])
    local = pd.DatetimeIndex(rows[TIME]).tz_convert(tz)
    per_day = pd.Timedelta("1D") / infer_step(frame)
    d = pd.DataFrame({SERIES: rows[SERIES].astype(str).to_numpy(),
                      "date": local.tz_localize(None).normalize(), "hour": local.hour,
                      "kwh": rows[TARGET].to_numpy(float)})  # fmt: skip
    if "temperature" in rows:
        d["temperature"] = rows["temperature"].to_numpy(float)
    g = d.groupby([SERIES, "date"], sort=True)
    out = g["kwh"].agg(["size", "sum", "max", "mean"])
    hourly = d.pivot_table(index=[SERIES, "date"], columns="hour", values="kwh", aggfunc="sum")
    hourly = hourly.reindex(columns=range(24)).fillna(0.0)
    total = out["sum"].where(out["sum"] > 0)
    days = pd.DataFrame({
        "daily_kwh": out["sum"],
        "evening_share": hourly.loc[:, EVENING[0] : EVENING[1] - 1].sum(axis=1) / total,
        "night_share": hourly.loc[:, NIGHT[0] : NIGHT[1] - 1].sum(axis=1) / total,
        "peak_ratio": out["max"] / out["mean"].where(out["mean"] > 0),
    })  # fmt: skip
    if "temperature" in d:
        days["temperature"] = g["temperature"].mean()
    days = days[(out["size"] >= 0.9 * per_day).to_numpy()]
    return days.join(hourly.add_prefix("h"), how="left")


def profile(frame: pd.DataFrame, tz: str, reference: dict[str, Any] | None = None,
            bundle: Any = None, history: pd.DataFrame | None = None,
            static: pd.DataFrame | None = None, centroids: int = 4,
            seed: int = 0) -> dict[str, Any]:  # fmt: skip
    """What the monitor compares, measured on `frame` (its whole span). Without `reference`
    this is a reference: distributions keep their quantiles, each household's daily kWh and
    response to cold are fitted (stored under a salted pseudonym), and the load-shape
    centroids are fitted; with it, households are measured against the reference's fits and
    assigned to its centroids. With a `bundle`, its forecasts from the local midnights of
    `frame` are scored (`history`: the data they need before `frame`, default `frame`)."""
    return _profile(frame, tz, reference, bundle, history, static, centroids, seed)[0]


def _profile(frame: pd.DataFrame, tz: str, reference: dict[str, Any] | None, bundle: Any,
             history: pd.DataFrame | None, static: pd.DataFrame | None, centroids: int = 4,
             seed: int = 0) -> tuple[dict[str, Any], dict[str, np.ndarray]]:  # fmt: skip
    """(the profile, the values of every feature it describes)."""
    if frame.empty:
        raise InputError("the monitored window has no readings")
    days = local_days(frame, tz)
    out: dict[str, Any] = {"span": [str(frame[TIME].min()), str(frame[TIME].max())],
                           "households": int(frame[SERIES].nunique()),
                           "household_days": len(days)}  # fmt: skip
    out["temperature_response"] = temperature_response(days)
    if reference is None:
        salt = secrets.token_hex(8)
        out["household_fits"] = {"salt": salt, "fits": {
            pseudonym(str(k), salt): v for k, v in household_fits(days).items()}}  # fmt: skip
        excess = cross_fitted_excess(days)  # out of sample, as any later window's is
    else:
        stored = reference["household_fits"]
        excess = _excess(days, lambda i: stored["fits"].get(pseudonym(i, stored["salt"])))
    values = feature_values(frame, days, excess)
    out["distributions"] = {k: _distribution(v) for k, v in values.items()}
    shapes = _average_days(days)
    if reference is None:
        out["centroids"] = _kmeans(shapes, min(centroids, len(shapes) // 5), seed)
    cents = np.asarray((reference or out).get("centroids") or [])
    if len(cents) >= 2 and len(shapes):
        near = np.argmin(((shapes[:, None, :] - cents[None]) ** 2).sum(axis=2), axis=1)
        out["archetype_shares"] = (np.bincount(near, minlength=len(cents)) / len(near)).tolist()
    if bundle is not None:
        span = (frame[TIME].min(), frame[TIME].max())
        out["errors"] = forecast_errors(bundle, frame if history is None else history, tz,
                                        static, span)  # fmt: skip
    return out, values


def pseudonym(series_id: str, salt: str) -> str:
    """A household's key in the stored reference: salted SHA-256, never the raw id."""
    return hashlib.sha256(f"{salt}:{series_id}".encode()).hexdigest()[:20]


def household_fits(days: pd.DataFrame) -> dict[str, list[float]]:
    """Per household: [mean daily kWh, intercept, slope per heating degree-day]. A few weeks
    of one household's days measure its slope with noise, and a cold spell beyond the
    reference's range multiplies that noise, so each slope is its posterior mean under a
    two-group prior fitted to all households (empirical Bayes): homes that do not heat with
    electricity (slope 0) and homes that do (slopes spread around their own mean); 0 without
    temperature."""
    hdd = _hdd(days)
    y = days["daily_kwh"]
    g = pd.DataFrame({"y": y, "x": hdd}).groupby(level=SERIES)
    dx, dy = hdd - g["x"].transform("mean"), y - g["y"].transform("mean")
    sums = pd.DataFrame({"sxy": dx * dy, "sxx": dx**2, "syy": dy**2}).groupby(level=SERIES).sum()
    n = g.size()
    sxx = sums["sxx"].where(sums["sxx"] > 1e-9)
    raw = (sums["sxy"] / sxx).fillna(0.0)
    noise = (sums["syy"] - raw * sums["sxy"]).clip(lower=0) / (n - 2).clip(lower=1) / sxx
    known = noise.notna().to_numpy() & (n > 3).to_numpy()
    slope = pd.Series(0.0, index=raw.index)
    if known.sum() >= 3:
        slope[known] = _two_group_posterior(raw[known].to_numpy(), noise[known].to_numpy())
    mean_y, mean_x = g["y"].mean(), g["x"].mean()
    return {str(k): [float(mean_y[k]), float(mean_y[k] - slope[k] * mean_x[k]), float(slope[k])]
            for k in mean_y.index}  # fmt: skip


def _two_group_posterior(b: np.ndarray, v: np.ndarray, rounds: int = 100) -> np.ndarray:
    """Posterior mean slopes of estimates `b` with variances `v` under the prior: 0 with
    probability 1 - p, else normal(mu, tau2); p, mu and tau2 by expectation-maximisation."""
    v = np.maximum(v, 1e-12)
    p, mu = 0.5, max(float(np.quantile(b, 0.9)), 1e-6)
    tau2 = max(float(np.var(b)), 1e-6)

    def normal(x: np.ndarray, m: float, var: np.ndarray) -> np.ndarray:
        return np.exp(-0.5 * (x - m) ** 2 / var) / np.sqrt(2 * np.pi * var)

    r = np.zeros_like(b)
    for _ in range(rounds):
        heats = p * normal(b, mu, tau2 + v)
        r = heats / np.maximum(heats + (1 - p) * normal(b, 0.0, v), 1e-300)
        if r.sum() < 1e-9:
            return np.zeros_like(b)
        w = r / (tau2 + v)
        p, mu = float(r.mean()), float((w * b).sum() / w.sum())
        tau2 = max(float((r * ((b - mu) ** 2 - v)).sum() / r.sum()), 1e-6)
    return np.clip(r * (mu + tau2 / (tau2 + v) * (b - mu)), 0, None)


def cross_fitted_excess(days: pd.DataFrame) -> np.ndarray:
    """The reference's daily excess with each day predicted by fits on the other days (odd
    and even dates, two folds): in-sample excess would be narrower than any later window's,
    and every cold spell would look like drift."""
    odd = (days.index.get_level_values("date").to_numpy().astype("datetime64[D]").astype(int)
           % 2).astype(bool)  # fmt: skip
    out = []
    for fit, use in ((odd, ~odd), (~odd, odd)):
        out.append(_excess(days[use], household_fits(days[fit]).get))
    return np.concatenate(out)


def _hdd(days: pd.DataFrame) -> pd.Series:
    if "temperature" not in days:
        return pd.Series(0.0, index=days.index)
    return np.clip(HEATING_BASE - days["temperature"], 0, None).fillna(0.0)


def _excess(days: pd.DataFrame, fit_of: Callable[[str], list[float] | None]) -> np.ndarray:
    """Each household-day's kWh over what its household's fit (`fit_of(series_id)`: [mean,
    intercept, slope], or None) predicts at the day's cold, in shares of its mean day
    (missing for households without a fit)."""
    ids = days.index.get_level_values(SERIES).astype(str)
    unique = pd.unique(ids)
    table = pd.DataFrame([fit_of(i) or [np.nan] * 3 for i in unique], index=unique,
                         columns=["mean", "a", "b"]).loc[ids]  # fmt: skip
    expected = table["a"].to_numpy() + table["b"].to_numpy() * _hdd(days).to_numpy()
    return (days["daily_kwh"].to_numpy() - expected) / np.maximum(table["mean"].to_numpy(), 0.1)


def feature_values(frame: pd.DataFrame, days: pd.DataFrame,
                   excess: np.ndarray) -> dict[str, np.ndarray]:  # fmt: skip
    """The values whose distributions are compared, per household-day (`excess`: the daily
    excess, measured by the caller) and per interval."""
    out = {"daily_excess": pd.Series(excess), **{k: days[k] for k in SHAPE_FEATURES
           if k != "daily_excess"}, "load": frame[TARGET]}  # fmt: skip
    for c in frame.columns:
        if c not in NOT_COVARIATES and pd.api.types.is_numeric_dtype(frame[c]):
            out[c] = frame[c]
    return {k: pd.to_numeric(v, errors="coerce").dropna().to_numpy(float) for k, v in out.items()}


def _distribution(v: np.ndarray) -> dict[str, Any]:
    x = np.sort(v)
    if not len(x):
        return {"n": 0}
    grid = np.quantile(x, GRID)
    edges = np.unique(np.quantile(x, np.linspace(0.1, 0.9, 9)))
    return {"n": len(x), "mean": float(x.mean()), "grid": grid.tolist(),
            "cdf": (np.searchsorted(x, grid, side="right") / len(x)).tolist(),
            "edges": edges.tolist(), "props": _props(x, edges).tolist()}  # fmt: skip


def _props(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    return np.bincount(np.searchsorted(edges, x, side="right"), minlength=len(edges) + 1) / len(x)


def _average_days(days: pd.DataFrame) -> np.ndarray:
    """Each household's average day as 24 hourly shares summing to one."""
    hours = days[[f"h{h}" for h in range(24)]].groupby(level=SERIES).mean().to_numpy()
    sums = hours.sum(axis=1, keepdims=True)
    return np.divide(hours, sums, out=np.full_like(hours, 1 / 24), where=sums > 0)


def _kmeans(x: np.ndarray, k: int, seed: int, rounds: int = 100) -> list[list[float]]:
    """Centroids of `x` by Lloyd's algorithm from a k-means++ start (few households, 24 columns:
    no library needed); fewer than 2 clusters gives none."""
    if k < 2:
        return []
    rng = np.random.default_rng(seed)
    c = x[[rng.integers(len(x))]]
    while len(c) < k:
        d = ((x[:, None, :] - c[None]) ** 2).sum(axis=2).min(axis=1)
        c = np.vstack([c, x[rng.choice(len(x), p=d / d.sum()) if d.sum() > 0 else 0]])
    for _ in range(rounds):
        near = np.argmin(((x[:, None, :] - c[None]) ** 2).sum(axis=2), axis=1)
        new = np.array([x[near == j].mean(axis=0) if (near == j).any() else c[j] for j in range(k)])
        if np.allclose(new, c):
            break
        c = new
    return c.tolist()


def temperature_response(days: pd.DataFrame) -> dict[str, Any]:
    """kWh per household-day per heating degree-day, within households (each household's own
    mean removed), with its standard error; None where the window has no temperature or too
    little spread of cold to measure it."""
    if "temperature" not in days or days["temperature"].isna().all():
        return {"slope": None, "why": "no temperature column"}
    hdd = np.clip(HEATING_BASE - days["temperature"], 0, None)
    kwh = days["daily_kwh"]
    keep = hdd.notna() & kwh.notna()
    hdd, kwh = hdd[keep], kwh[keep]
    x = hdd - hdd.groupby(level=SERIES).transform("mean")
    y = kwh - kwh.groupby(level=SERIES).transform("mean")
    sxx = float((x * x).sum())
    n, groups = len(x), kwh.index.get_level_values(SERIES).nunique()
    if n - groups < 3 or sxx / max(n, 1) < 0.25:  # under 0.5 degree-days of spread
        return {"slope": None, "mean_hdd": float(hdd.mean()) if n else None,
                "why": "too little spread of cold days in the window to measure it"}  # fmt: skip
    slope = float((x * y).sum() / sxx)
    resid = y - slope * x
    se = float(np.sqrt((resid**2).sum() / (n - groups - 1) / sxx))
    return {"slope": slope, "se": se, "mean_hdd": float(hdd.mean()), "household_days": n}


def forecast_errors(bundle: Any, frame: pd.DataFrame, tz: str, static: pd.DataFrame | None,
                    span: tuple[pd.Timestamp, pd.Timestamp]) -> dict[str, Any]:  # fmt: skip
    """The bundle's forecasts from every local midnight in `span` whose horizon ends in it
    (the history before it read from `frame`), scored against the readings: normalised MAE
    of the median by step ahead and by origin day, and the outer interval's coverage."""
    step = pd.Timedelta(bundle.manifest["freq"])
    horizon = int(bundle.manifest["horizon"])
    lo_t, hi_t = span
    first = (lo_t - pd.Timedelta(seconds=1)).tz_convert(tz).tz_localize(None).normalize()
    last = (hi_t - (horizon - 1) * step).tz_convert(tz).tz_localize(None).normalize()
    local = pd.date_range(first + pd.Timedelta("1D"), last, freq="1D")  # local midnights
    origins = local.tz_localize(tz, ambiguous=False, nonexistent="shift_forward").tz_convert("UTC")
    origins = origins[(origins >= lo_t) & (origins + (horizon - 1) * step <= hi_t)]
    if not len(origins):
        return {"rows": 0, "why": "no forecast origin with its whole horizon in the window"}
    fc, _ = bundle.forecast(frame, pd.DatetimeIndex(origins), static)
    actual = frame[[SERIES, TIME, TARGET]].astype({SERIES: "string"})
    fc = fc.merge(actual, on=[SERIES, TIME], how="inner").dropna(subset=[TARGET])
    qs = sorted(bundle.quantiles)
    mid = quantile_column(0.5 if 0.5 in qs else qs[len(qs) // 2])
    lo, hi = quantile_column(qs[0]), quantile_column(qs[-1])
    fc["abs_err"] = (fc[mid] - fc[TARGET]).abs()
    fc["abs_y"] = fc[TARGET].abs()
    fc["inside"] = (fc[lo] <= fc[TARGET]) & (fc[TARGET] <= fc[hi])
    fc["day"] = pd.DatetimeIndex(fc["origin"]).tz_convert(tz).strftime("%Y-%m-%d")

    def nmae(g: pd.DataFrame) -> float:
        return float(g["abs_err"].sum() / max(g["abs_y"].sum(), 1e-12))

    by_step = fc.groupby("horizon")[["abs_err", "abs_y"]].sum()
    by_day = fc.groupby("day").agg(abs_err=("abs_err", "sum"), abs_y=("abs_y", "sum"),
                                   coverage=("inside", "mean"))  # fmt: skip
    return {"rows": len(fc), "origins": len(origins), "nmae": nmae(fc),
            "coverage": float(fc["inside"].mean()), "interval": [lo, hi],
            "nominal_coverage": qs[-1] - qs[0],
            "nmae_by_step": (by_step["abs_err"] / by_step["abs_y"].clip(lower=1e-12)).tolist(),
            "by_day": [{"day": d, "nmae": float(r.abs_err / max(r.abs_y, 1e-12)),
                        "coverage": float(r.coverage)} for d, r in by_day.iterrows()]}  # fmt: skip


# ----------------------------------------------------------------------------- comparing
def psi(ref: dict[str, Any], x: np.ndarray) -> float:
    """Population stability index of `x` on the reference's decile bins."""
    p = np.asarray(ref["props"])
    q = _props(np.sort(x), np.asarray(ref["edges"]))
    p, q = np.clip(p, 1e-4, None), np.clip(q, 1e-4, None)
    return float(((q - p) * np.log(q / p)).sum())


def ks(ref: dict[str, Any], x: np.ndarray) -> float:
    """Largest gap between the reference's and `x`'s distribution functions, read at the
    reference's 101 quantiles."""
    grid = np.asarray(ref["grid"])
    mine = np.searchsorted(np.sort(x), grid, side="right") / len(x)
    return float(np.max(np.abs(mine - np.asarray(ref["cdf"]))))


def tails(ref: dict[str, Any], x: np.ndarray) -> tuple[float, float]:
    """How many times more often than in the reference `x` falls beyond the reference's 1st
    or 99th percentile (the larger of the two), and that excess in binomial standard errors:
    a new kind of day (an EV's evening charge, a PV export) first shows in a tail, which
    deciles barely see."""
    grid, cdf = np.asarray(ref["grid"]), np.asarray(ref["cdf"])
    best = (0.0, 0.0)
    for share_ref, share in ((1 - cdf[99], float(np.mean(x > grid[99]))),
                             (cdf[1], float(np.mean(x <= grid[1])))):  # fmt: skip
        if not 0 < share_ref < 1:
            continue
        z = (share - share_ref) / np.sqrt(share_ref * (1 - share_ref) / len(x))
        if share / share_ref > best[0]:
            best = (share / share_ref, float(z))
    return best


def _level(value: float | None, levels: Levels) -> str:
    if value is None or not np.isfinite(value):
        return "none"
    return "drift" if value >= levels.drift else "warning" if value >= levels.warning else "none"


def _worst(*levels: str) -> str:
    return max(levels, key=LEVELS.index, default="none")


def compare(reference: dict[str, Any], recent: dict[str, Any], raw: dict[str, np.ndarray],
            cfg: MonitorConfig) -> list[dict[str, Any]]:  # fmt: skip
    """The checks, each {check, what, value(s), level, counted, note}."""
    checks: list[dict[str, Any]] = []
    for name, ref in reference["distributions"].items():
        x = raw.get(name)
        derived = name in SHAPE_FEATURES or name == "load"
        counted = name not in cfg.context_only and (derived or name in cfg.counted_covariates)
        what = SHAPE_FEATURES.get(name, "the load per interval" if name == "load" else name)
        if x is None or not ref.get("n"):
            continue
        n = len(x)
        if n < cfg.min_samples:
            checks.append({"check": "distribution", "feature": name, "what": what,
                           "level": "none", "counted": counted,
                           "note": f"{n} values, fewer than {cfg.min_samples}"})  # fmt: skip
            continue
        p, k = psi(ref, x), ks(ref, x)
        tail, z = tails(ref, x)
        rec = recent["distributions"][name]
        level = _worst(_level(p, cfg.psi), _level(k, cfg.ks),
                       _level(tail, cfg.tail_ratio) if z >= cfg.tail_z else "none")  # fmt: skip
        checks.append({"check": "distribution", "feature": name, "what": what, "psi": p, "ks": k,
                       "tail_ratio": tail, "tail_z": z, "reference_mean": ref["mean"],
                       "recent_mean": rec.get("mean"), "level": level,
                       "counted": counted})  # fmt: skip
    if "archetype_shares" in reference and "archetype_shares" in recent:
        before, now = reference["archetype_shares"], recent["archetype_shares"]
        tv = float(0.5 * np.abs(np.subtract(before, now)).sum())
        checks.append({"check": "archetypes", "feature": "archetype shares",
                       "what": "households by nearest reference load shape",
                       "reference": before, "recent": now, "tv_distance": tv,
                       "level": _level(tv, cfg.archetype_shift), "counted": True})  # fmt: skip
    checks.append(_slope_check(reference["temperature_response"],
                               recent["temperature_response"], cfg))  # fmt: skip
    if "errors" in reference and "errors" in recent:
        checks += _error_checks(reference["errors"], recent["errors"], cfg)
    return checks


def _slope_check(ref: dict[str, Any], rec: dict[str, Any], cfg: MonitorConfig) -> dict[str, Any]:
    out = {"check": "temperature response", "feature": "kWh per heating degree-day",
           "what": "household-day kWh per heating degree-day, within households",
           "reference": ref.get("slope"), "recent": rec.get("slope"), "counted": True}  # fmt: skip
    if ref.get("slope") is None or rec.get("slope") is None:
        why = rec.get("why") if rec.get("slope") is None else ref.get("why")
        return {**out, "level": "none", "note": f"not measured: {why}"}
    change = rec["slope"] - ref["slope"]
    z = abs(change) / float(np.hypot(ref["se"], rec["se"]) or 1e-12)
    rel = abs(change) / max(abs(ref["slope"]), 1e-9)
    level = _level(rel, cfg.temperature_slope) if z >= cfg.slope_z else "none"
    return {**out, "change": change, "relative_change": rel, "z": z, "level": level}


def _error_checks(ref: dict[str, Any], rec: dict[str, Any], cfg: MonitorConfig
                  ) -> list[dict[str, Any]]:  # fmt: skip
    if not ref.get("rows") or not rec.get("rows") or rec["rows"] < cfg.min_samples:
        why = rec.get("why") or ref.get("why") or f"{rec.get('rows', 0)} forecast rows"
        return [{"check": "forecast error", "feature": "normalised MAE (P50)", "what": "",
                 "level": "none", "counted": True, "note": f"not measured: {why}"}]  # fmt: skip
    ratio = rec["nmae"] / max(ref["nmae"], 1e-12)
    moved = abs(rec["coverage"] - ref["coverage"])
    band = f"{rec['interval'][0]}-{rec['interval'][1]}"
    return [
        {"check": "forecast error", "feature": "normalised MAE (P50)",
         "what": "sum |P50 - actual| over sum |actual|", "reference": ref["nmae"],
         "recent": rec["nmae"], "ratio": ratio, "level": _level(ratio, cfg.error_ratio),
         "counted": True},
        {"check": "interval coverage", "feature": f"{band} coverage",
         "what": f"share of actuals inside {band} (nominal {rec['nominal_coverage']:.0%})",
         "reference": ref["coverage"], "recent": rec["coverage"], "change": moved,
         "level": _level(moved, cfg.coverage_change), "counted": True},
    ]  # fmt: skip


def recent_window(frame: pd.DataFrame, tz: str, days: int, end: str | None = None,
                  option: str = "--end") -> pd.DataFrame:  # fmt: skip
    """The last `days` complete local days of `frame`, or the `days` through `end` (a local
    date, given as `option`)."""
    if end is not None:
        try:
            stop = pd.Timestamp(end).normalize() + pd.Timedelta("1D")
        except (ValueError, TypeError, OverflowError, AttributeError):  # NaT has no normalize
            stop = pd.NaT
        if pd.isna(stop) or stop.tzinfo is not None:
            raise InputError(f"{option} must be a local date (YYYY-MM-DD), got {end!r}")
    else:  # local midnight after the last complete day
        stop = (frame[TIME].max() + infer_step(frame)).tz_convert(tz).tz_localize(None).normalize()
    start = stop - pd.Timedelta(days=days)  # local calendar days, whatever DST does
    lo, hi = (t.tz_localize(tz, ambiguous=False, nonexistent="shift_forward").tz_convert("UTC")
              for t in (start, stop))  # fmt: skip
    out = frame[(frame[TIME] >= lo) & (frame[TIME] < hi)]
    if out.empty:
        raise InputError(
            f"no readings in the {days} local days {start.date()} to {(stop - pd.Timedelta('1D')).date()}"
        )
    return out


def monitor(reference: dict[str, Any], frame: pd.DataFrame, tz: str, cfg: MonitorConfig,
            end: str | None = None, bundle: Any = None, static: pd.DataFrame | None = None,
            exit_on: str = "any") -> dict[str, Any]:  # fmt: skip
    """Compare the last `cfg.window_days` of `frame` (through `end`) with `reference`: the
    summary, the `levels` of the data checks and of the model's (forecast error, coverage),
    and the `level` and `exit_code` of those `exit_on` names ("any", "data" or "model")."""
    if exit_on not in ("any", "data", "model"):
        raise InputError(f"--exit-on must be any, data or model, got {exit_on!r}")
    window = recent_window(frame, tz, cfg.window_days, end)
    scored = bundle if "errors" in reference else None
    rec, raw = _profile(window, tz, reference, scored, frame, static)
    checks = compare(reference, rec, raw, cfg)
    model = [c["level"] for c in checks if c["counted"] and c["check"] in MODEL_CHECKS]
    data = [c["level"] for c in checks if c["counted"] and c["check"] not in MODEL_CHECKS]
    levels = {"data": _worst(*data), "model": _worst(*model)}
    level = _worst(*levels.values()) if exit_on == "any" else levels[exit_on]
    return {"level": level, "exit_code": LEVELS.index(level), "levels": levels,
            "exit_on": exit_on, "window": rec["span"],
            "households": rec["households"], "household_days": rec["household_days"],
            "reference_span": reference.get("span"), "checks": checks, "recent": rec,
            "thresholds": cfg.model_dump()}  # fmt: skip


def stored_reference(bundle: Any) -> dict[str, Any]:
    """The reference a loaded bundle stored at export; only a file its manifest seals (the
    bundle's loader checked its checksum)."""
    path = Path(bundle.folder) / REFERENCE
    if path.exists() and REFERENCE not in bundle.manifest["files"]:
        raise InputError(f"{path} is not one of the bundle's sealed files; export the run again")
    if not path.exists():
        why = bundle.manifest.get("reference", {}).get("skipped", "it was exported before 0.1")
        raise InputError(f"{bundle.folder} has no {REFERENCE} to compare with ({why}); export "
                         "the run again with its training data at hand")  # fmt: skip
    return dict(json.loads(path.read_text(encoding="utf-8")))


def reference_from(frame: pd.DataFrame, tz: str, end: str, days: int = 28,
                   stored: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """A reference built from the `days` local days of `frame` through `end` instead of the
    one stored at export: the same weeks a year before the window, where the seasons move
    the load more than the drift to be found (spring: the PV homes' import falls as the days
    lengthen). The forecast errors stay the stored reference's (`stored`): the model's own
    validation figures."""
    ref = profile(recent_window(frame, tz, days, end, "--reference-end"), tz)
    if stored and "errors" in stored:
        ref["errors"] = stored["errors"]
    return ref


# ----------------------------------------------------------------------------- the report
def write_monitor_report(output: Path, summary: dict[str, Any],
                         reference: dict[str, Any]) -> list[str]:  # fmt: skip
    """monitor.json (the summary, its `files` set here), report.html and, with matplotlib,
    monitor.png; the files written."""
    output.mkdir(parents=True, exist_ok=True)
    files = ["monitor.json", "report.html"]
    if _plots(summary, reference, output / "monitor.png"):
        files.append("monitor.png")
    summary["files"] = files
    write_json(output / "monitor.json", summary)
    colour = {"none": "#1e8449", "warning": "#b9770e", "drift": "#c0392b"}
    rows = []
    for c in summary["checks"]:
        value = ", ".join(f"{k} {_fmt(c[k])}" for k in ("psi", "ks", "tail_ratio", "tv_distance",
                          "reference", "recent", "ratio", "change", "z") if k in c)  # fmt: skip
        rows.append(
            f"<tr><td>{html.escape(c['check'])}</td><td>{html.escape(c['feature'])}</td>"
            f"<td>{html.escape(c.get('what', ''))}</td><td>{html.escape(value)}</td>"
            f"<td style='color:{colour[c['level']]}'><b>{c['level']}</b>"
            f"{'' if c['counted'] else ' (context)'}</td>"
            f"<td>{html.escape(c.get('note', ''))}</td></tr>"
        )
    img = '<img src="monitor.png" alt="drift plots" style="max-width:100%">' if (
        "monitor.png" in files) else ""  # fmt: skip
    level = summary["level"]
    (output / "report.html").write_text(f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Drift monitor: {level}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:3px 8px}}</style></head>
<body><h1>Drift monitor: <span style="color:{colour[level]}">{level}</span>
(exit code {summary["exit_code"]})</h1>
<p>Data checks: <b style="color:{colour[summary["levels"]["data"]]}">{summary["levels"]["data"]}</b>;
the model's forecast error and coverage:
<b style="color:{colour[summary["levels"]["model"]]}">{summary["levels"]["model"]}</b>; the exit
code follows {html.escape(summary["exit_on"])}.</p>
<p>Recent window {_span(summary["window"])}: {summary["households"]:,} households,
{summary["household_days"]:,} complete household-days; reference
{_span(summary["reference_span"])}.</p>
<table><tr><th>check</th><th>feature</th><th>what</th><th>figures</th><th>level</th>
<th>note</th></tr>
{"".join(rows)}</table>
{img}
<p>Thresholds: <code>{html.escape(str(summary["thresholds"]))}</code></p>
</body></html>
""", encoding="utf-8")  # fmt: skip
    return files


def _span(span: list[str] | None) -> str:
    """A UTC span as 'first to last' instants, minutes shown."""
    if not span:
        return "?"
    return " to ".join(f"{pd.Timestamp(t):%Y-%m-%d %H:%M} UTC" for t in span)


def _fmt(v: Any) -> str:
    if isinstance(v, list):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def _plots(summary: dict[str, Any], reference: dict[str, Any], path: Path) -> bool:
    try:
        import matplotlib
    except ImportError:  # the serving install has no matplotlib: the tables stand
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rec = summary["recent"]
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5))
    ax = axes[0, 0]  # the counted distributions that moved most, as P-P lines
    dist = [c for c in summary["checks"] if c["check"] == "distribution" and "psi" in c]
    for c in sorted(dist, key=lambda c: (not c["counted"], -c["psi"]))[:4]:
        ref, now = reference["distributions"][c["feature"]], rec["distributions"][c["feature"]]
        moved = np.interp(ref["grid"], now["grid"], GRID, left=0.0, right=1.0)
        ax.plot(GRID, moved, lw=1.5, label=f"{c['feature']} (PSI {c['psi']:.2f})")
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls=":")
    ax.set_xlabel("share at or below, reference")
    ax.set_ylabel("share at or below, recent")
    ax.set_title("distributions that moved most (on the diagonal: unchanged)")
    ax.legend(fontsize=7)
    ax = axes[0, 1]
    if "archetype_shares" in rec and "archetype_shares" in reference:
        k = np.arange(len(reference["archetype_shares"]))
        ax.bar(k - 0.2, reference["archetype_shares"], 0.4, label="reference")
        ax.bar(k + 0.2, rec["archetype_shares"], 0.4, label="recent")
        ax.set_xticks(k, [f"shape {i + 1}" for i in k])
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no load-shape centroids: the reference has fewer than 10 households",
                ha="center", va="center", fontsize=9, wrap=True)  # fmt: skip
        ax.set_axis_off()
    ax.set_title("households by load-shape archetype")
    ref_e, rec_e = reference.get("errors") or {}, rec.get("errors") or {}
    ax = axes[1, 0]
    if rec_e.get("by_day"):
        days = pd.to_datetime([d["day"] for d in rec_e["by_day"]])
        ax.plot(days, [d["nmae"] for d in rec_e["by_day"]], "o-", label="nMAE by origin day")
        ax.axhline(ref_e.get("nmae", np.nan), color="grey", ls=":", label="reference nMAE")
        ax2 = ax.twinx()
        ax2.plot(days, [d["coverage"] for d in rec_e["by_day"]], "s-", color="#8e44ad",
                 label="coverage")  # fmt: skip
        ax2.axhline(ref_e.get("coverage", np.nan), color="#8e44ad", ls=":")
        ax2.set_ylim(0, 1)
        ax2.set_ylabel("interval coverage")
        ax.legend(fontsize=7, loc="upper left")
        ax.tick_params(axis="x", labelrotation=30)
    ax.set_title("forecast error by day")
    ax = axes[1, 1]
    if rec_e.get("nmae_by_step") and ref_e.get("nmae_by_step"):
        ax.plot(range(1, len(ref_e["nmae_by_step"]) + 1), ref_e["nmae_by_step"], label="reference")
        ax.plot(range(1, len(rec_e["nmae_by_step"]) + 1), rec_e["nmae_by_step"], label="recent")
        ax.set_xlabel("step ahead")
        ax.legend(fontsize=8)
    ax.set_title("nMAE by step ahead")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True
