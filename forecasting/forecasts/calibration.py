"""Conformal calibration of quantile forecasts, per horizon step. Numpy and pandas only, shared by
the native models (fitted once after training, on the validation backtest) and the torch-free
bundles (`serving`), which apply it to every forecast.

Method: split conformal prediction on a score scaled by the model's own interval (as
conformalised quantile regression does). For a quantile q below the median, each validation
row scores r = (p50 - y) / (p50 - q_pred): how many of the model's own half-widths the actual
fell below the median. The factor a_q is r's empirical quantile at level 1 - q (with the
finite-sample correction ceil((n + 1)(1 - q)) / n), and the calibrated quantile is
p50 - a_q (p50 - q_pred). Above the median, r = (y - p50) / (q_pred - p50) and a_q is its
q-quantile. So on the validation rows the share of actuals below each calibrated quantile is q,
one factor per horizon step and quantile: above 1 widens the model's interval, below 1 narrows
it. The median never moves, so the point forecast and its MAE are unchanged. Scaling instead of
shifting keeps a quiet household's interval narrow and a busy one's wide.

A horizon step with fewer than `MIN_ROWS` usable validation rows takes the factor fitted on
every step together.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from forecasting.data.schema import SERIES
from forecasting.evaluation.metrics import quantile_column
from forecasting.evaluation.peaks import actual_daily_peaks
from forecasting.forecasts.frames import scale_around
from forecasting.forecasts.peaks import PEAK_QUANTILES, daily_peaks, fit_path_correlation

METHOD = "split_conformal_scaled"
MIN_ROWS = 100  # fewer usable rows at a step: that step takes the pooled factor
MAX_FACTOR = 20.0  # a factor beyond this says the model's interval is degenerate, not narrow


@dataclass(frozen=True)
class IntervalCalibration:
    """Factors [horizon, quantiles] applied around the median (1 for the median itself)."""

    quantiles: list[float]
    factors: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)
    correlation: np.ndarray | None = None  # [horizon, horizon]: the daily peak's path copula
    peak_factors: np.ndarray | None = None  # the daily peak's own P10/P50/P90 factors

    @property
    def horizon(self) -> int:
        return int(self.factors.shape[0])

    @property
    def centre(self) -> int:
        return self.quantiles.index(0.5)

    def apply(self, pred: np.ndarray, horizon: np.ndarray, nonnegative: bool) -> np.ndarray:
        """Calibrated quantiles for `pred` [rows, Q] (target units) at 1-based `horizon` steps
        [rows]; each row sorted, clipped at 0 for a non-negative target."""
        h = np.asarray(horizon, dtype=np.int64)
        if len(h) and (h.min() < 1 or h.max() > self.horizon):
            raise ValueError(f"horizon steps {h.min()}..{h.max()} outside the calibration's "
                             f"1..{self.horizon}")  # fmt: skip
        return scale_around(pred, self.centre, self.factors[h - 1], nonnegative)

    def apply_frame(self, fc: pd.DataFrame, nonnegative: bool) -> pd.DataFrame:
        """A long forecast frame (columns `horizon`, p10, p50, ...) with its quantile columns
        calibrated, in place; returned for chaining."""
        if not len(fc):
            return fc
        cols = [quantile_column(q) for q in self.quantiles]
        fc[cols] = self.apply(fc[cols].to_numpy(dtype="float64"), fc["horizon"].to_numpy(),
                              nonnegative)  # fmt: skip
        return fc

    def to_json(self) -> dict[str, Any]:
        return {
            "method": METHOD,
            "quantiles": self.quantiles,
            "factors": self.factors.tolist(),  # exact: a rounded factor moves rows across
            "path_correlation": None if self.correlation is None else self.correlation.tolist(),
            "peak_factors": None if self.peak_factors is None else self.peak_factors.tolist(),
            **self.info,
        }

    @classmethod
    def from_json(
        cls, obj: Any, quantiles: list[float], horizon: int
    ) -> IntervalCalibration | None:
        """The calibration a model or bundle stored (None when it stored none); a `ValueError`
        saying what is wrong with one that does not fit the model's quantiles and horizon."""
        if obj is None:
            return None
        if not isinstance(obj, dict) or obj.get("method") != METHOD:
            got = obj.get("method") if isinstance(obj, dict) else type(obj).__name__
            raise ValueError(
                f"interval calibration method {got!r}, this version applies {METHOD!r}"
            )
        if obj.get("quantiles") != list(quantiles):
            raise ValueError(f"interval calibration quantiles {obj.get('quantiles')!r} are not "
                             f"the model's {list(quantiles)}")  # fmt: skip
        try:
            factors = np.asarray(obj.get("factors"), dtype="float64")
        except (TypeError, ValueError):
            raise ValueError("interval calibration factors are not a table of numbers") from None
        if factors.shape != (horizon, len(quantiles)):
            raise ValueError(f"interval calibration factors have shape {list(factors.shape)}, "
                             f"the model needs [{horizon}, {len(quantiles)}]")  # fmt: skip
        if not np.all(np.isfinite(factors)) or factors.min() < 0 or factors.max() > MAX_FACTOR:
            raise ValueError(f"interval calibration factors must lie in 0..{MAX_FACTOR:g}")
        info = {k: v for k, v in obj.items() if k not in OWN_KEYS}
        correlation = _correlation(obj.get("path_correlation"), horizon)
        return cls(list(quantiles), factors, info, correlation, _peak(obj.get("peak_factors")))


def calibrated(
    fc: pd.DataFrame, cal: IntervalCalibration | None, nonnegative: bool
) -> pd.DataFrame:
    """Long forecasts `fc` with the calibration `cal` applied in place (unchanged when None):
    what every model, ensemble and bundle does to its forecasts."""
    return fc if cal is None else cal.apply_frame(fc, nonnegative)


OWN_KEYS = ("method", "quantiles", "factors", "path_correlation", "peak_factors")


def _peak(obj: Any) -> np.ndarray | None:
    if obj is None:
        return None
    try:
        f = np.asarray(obj, dtype="float64")
    except (TypeError, ValueError):
        raise ValueError("peak_factors is not a list of numbers") from None
    n = len(PEAK_QUANTILES)
    if f.shape != (n,) or not np.all(np.isfinite(f)) or f.min() < 0 or f.max() > MAX_FACTOR:
        raise ValueError(f"peak_factors must be {n} numbers in 0..{MAX_FACTOR:g}")
    return f


def _correlation(obj: Any, horizon: int) -> np.ndarray | None:
    if obj is None:
        return None
    try:
        c = np.asarray(obj, dtype="float64")
    except (TypeError, ValueError):
        raise ValueError("path_correlation is not a table of numbers") from None
    if c.shape != (horizon, horizon):
        raise ValueError(f"path_correlation has shape {list(c.shape)}, the model needs "
                         f"[{horizon}, {horizon}]")  # fmt: skip
    if not np.all(np.isfinite(c)) or np.abs(c).max() > 1 + 1e-9:
        raise ValueError("path_correlation entries must lie in -1..1")
    return c


def scores(pred: np.ndarray, y: np.ndarray, centre: int, j: int) -> np.ndarray:
    """Each row's scaled conformal score for quantile column `j` (see the module docstring);
    a row whose predicted quantile equals its median scores 0 when the actual is on the inner
    side or equal, +inf when outside (no factor can cover it)."""
    mid = pred[:, centre]
    if j < centre:
        gap, miss = mid - pred[:, j], mid - y
    else:
        gap, miss = pred[:, j] - mid, y - mid
    with np.errstate(divide="ignore", invalid="ignore"):
        r = miss / gap
    flat = gap <= 0
    r[flat] = np.where(miss[flat] > 0, np.inf, 0.0)
    return r


def conformal_factors(pred: np.ndarray, y: np.ndarray, quantiles: list[float]) -> np.ndarray:
    """One factor per quantile of `pred` [rows, Q] (1 for the median): the one that puts a share
    q of the actuals `y` below the scaled quantile, by the conformal rank of the scores."""
    centre = quantiles.index(0.5)
    out = np.ones(len(quantiles))
    for j, q in enumerate(quantiles):
        if j != centre:
            out[j] = _factor(scores(pred, y, centre, j), 1 - q if j < centre else q)
    return out


def _factor(r: np.ndarray, level: float) -> float:
    """The score that puts a share `level` of `r` at or below it (the conformal rank with its
    finite-sample correction), within 0..MAX_FACTOR."""
    n = len(r)
    k = min(n, math.ceil((n + 1) * level))  # the finite-sample conformal rank, 1-based
    return float(np.clip(np.partition(r, k - 1)[k - 1], 0.0, MAX_FACTOR))


def fit_interval_calibration(
    pred: np.ndarray, y: np.ndarray, horizon: np.ndarray, quantiles: list[float], steps: int,
    windows: np.ndarray | None = None,
) -> IntervalCalibration:  # fmt: skip
    """Fit per-step factors from validation forecasts `pred` [rows, Q] (target units, sorted),
    actuals `y` [rows] and 1-based `horizon` [rows]; rows with an unknown actual are left out.
    With `windows` (an id per row: its series and origin), also the correlation of the
    calibrated errors across steps that the daily peak's paths use
    (`forecasting.forecasts.peaks`). A `ValueError` when there is no median or too few rows."""
    quantiles = list(quantiles)
    if 0.5 not in quantiles:
        raise ValueError(f"interval calibration scales around the median; quantiles {quantiles} "
                         "have no 0.5")  # fmt: skip
    known = np.isfinite(y) & np.all(np.isfinite(pred), axis=1)
    pred, y, h = pred[known], y[known], np.asarray(horizon)[known]
    w = None if windows is None else np.asarray(windows)[known]
    if len(y) < MIN_ROWS:
        raise ValueError(f"interval calibration needs at least {MIN_ROWS} validation rows with "
                         f"a known actual, got {len(y)}")  # fmt: skip
    pooled = conformal_factors(pred, y, quantiles)
    factors = np.tile(pooled, (steps, 1))
    pooled_steps = 0
    for s in range(steps):
        at = h == s + 1
        if at.sum() >= MIN_ROWS:
            factors[s] = conformal_factors(pred[at], y[at], quantiles)
        else:
            pooled_steps += 1
    cal = IntervalCalibration(quantiles, factors)
    after = cal.apply(pred, h, nonnegative=False)
    info = {
        "validation_rows": len(y),
        "steps_pooled": pooled_steps,
        "below_before": _below(pred, y, quantiles),
        "below_after": _below(after, y, quantiles),
        "coverage_before": _coverage(pred, y, quantiles),
        "coverage_after": _coverage(after, y, quantiles),
    }
    correlation = None
    if w is not None and len(quantiles) > 1:
        correlation = fit_path_correlation(after, y, w, h, quantiles, steps)
        info["path_windows"] = len(np.unique(w))
    return IntervalCalibration(quantiles, factors, info, correlation)


def calibration_or_note(
    pred: np.ndarray, y: np.ndarray, horizon: np.ndarray, quantiles: list[float], steps: int,
    windows: np.ndarray | None = None,
) -> tuple[IntervalCalibration | None, dict[str, Any]]:  # fmt: skip
    """`fit_interval_calibration`, with what it did (its JSON form); or None and a note saying
    why there is none (no median, too few rows)."""
    try:
        cal = fit_interval_calibration(pred, y, horizon, quantiles, steps, windows)
    except ValueError as exc:
        return None, {"method": "none", "skipped": str(exc)}
    return cal, cal.to_json()


def calibrate_backtest(
    fc: pd.DataFrame, quantiles: list[float], steps: int, timezone: str, nonnegative: bool
) -> tuple[IntervalCalibration | None, dict[str, Any]]:
    """Everything calibrated from one validation backtest `fc` (long rows: series_id, origin,
    timestamp, horizon, the quantile columns, `actual`): the per-step factors, the path
    correlation across each window's steps and the daily peak's own factors
    (`fit_peak_factors`); with what was done, or why not."""
    cols = [quantile_column(q) for q in quantiles]
    windows = fc.groupby([SERIES, "origin"], sort=False).ngroup().to_numpy()
    cal, info = calibration_or_note(
        fc[cols].to_numpy(dtype="float64"), fc["actual"].to_numpy(dtype="float64"),
        fc["horizon"].to_numpy(), quantiles, steps, windows,
    )  # fmt: skip
    cal, _ = fit_peak_factors(cal, fc, timezone, nonnegative)
    return cal, (info if cal is None else cal.to_json())


def _below(pred: np.ndarray, y: np.ndarray, quantiles: list[float]) -> dict[str, float]:
    """Share of actuals below each quantile (q when calibrated)."""
    return {quantile_column(q): round(float(np.mean(y < pred[:, j])), 4)
            for j, q in enumerate(quantiles)}  # fmt: skip


def _coverage(pred: np.ndarray, y: np.ndarray, quantiles: list[float]) -> float | None:
    """Share of actuals between the outermost quantiles (None with fewer than two)."""
    if len(quantiles) < 2:
        return None
    return round(float(np.mean((y >= pred[:, 0]) & (y <= pred[:, -1]))), 4)


def fit_peak_factors(
    cal: IntervalCalibration | None, fc: pd.DataFrame, timezone: str, nonnegative: bool
) -> tuple[IntervalCalibration | None, dict[str, Any]]:
    """The interval calibration `cal` with the daily peak's own factors, fitted as the hourly
    ones are (split conformal, scaled around the peak's median) on the validation days: `fc` is
    the model's raw validation forecast with an `actual` column; only whole windows and whole
    days count (a window the backtest left partial is left out). `cal`
    unchanged when it measured no path correlation or fewer than MIN_ROWS days are whole."""
    if cal is None or cal.correlation is None:
        return cal, {}
    size = fc.groupby([SERIES, "origin"], sort=False)["horizon"].transform("size")
    calibrated = cal.apply_frame(fc[size == cal.horizon].copy(), nonnegative)  # whole windows
    peaks = daily_peaks(calibrated.drop(columns=["actual"]), cal.quantiles, timezone,
                        cal.correlation, nonnegative)  # fmt: skip
    peaks = peaks[peaks["intervals"] == peaks["intervals"].max()]
    actual = actual_daily_peaks(calibrated, timezone).astype({SERIES: str})
    m = peaks.astype({SERIES: str}).merge(actual, on=[SERIES, "origin", "day"])
    if len(m) < MIN_ROWS:
        return cal, {"peak_days": len(m), "peak_skipped": f"fewer than {MIN_ROWS} whole days"}
    levels = list(PEAK_QUANTILES)
    cols = [f"peak_{quantile_column(p)}" for p in levels]
    pred, y = m[cols].to_numpy(dtype="float64"), m["actual_peak"].to_numpy(dtype="float64")
    factors = conformal_factors(pred, y, levels)
    after = scale_around(pred, levels.index(0.5), factors, nonnegative=False)
    info = {"peak_days": len(m), "peak_coverage_before": _coverage(pred, y, levels),
            "peak_coverage_after": _coverage(after, y, levels)}  # fmt: skip
    return dataclasses.replace(cal, peak_factors=factors, info={**cal.info, **info}), info
