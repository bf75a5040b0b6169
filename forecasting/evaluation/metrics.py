"""Forecast accuracy metrics on long-format forecasts (one column per quantile, e.g. p10/p50/p90).

Units follow the target (kWh per interval). `qrisk` is the normalised quantile loss of the
M4/TFT papers: 2 * sum(pinball) / sum(|y|). Rows whose actual is missing are ignored.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def quantile_column(q: float) -> str:
    """0.1 -> 'p10', 0.5 -> 'p50', 0.975 -> 'p97.5'."""
    pct = round(q * 100, 6)
    return f"p{int(pct)}" if float(pct).is_integer() else f"p{pct:g}"


def mae(y: np.ndarray, f: np.ndarray) -> float:
    return float(np.mean(np.abs(y - f)))


def rmse(y: np.ndarray, f: np.ndarray) -> float:
    return float(np.sqrt(np.mean((y - f) ** 2)))


def smape(y: np.ndarray, f: np.ndarray) -> float:
    """Symmetric MAPE in percent; a term where actual and forecast are both 0 counts as 0."""
    denom = np.abs(y) + np.abs(f)
    terms = np.where(denom > 0, 2 * np.abs(f - y) / np.where(denom > 0, denom, 1), 0.0)
    return float(100 * np.mean(terms))


def pinball(y: np.ndarray, f: np.ndarray, q: float) -> float:
    """Mean pinball (quantile) loss at level q."""
    diff = y - f
    return float(np.mean(np.maximum(q * diff, (q - 1) * diff)))


def qrisk(y: np.ndarray, f: np.ndarray, q: float) -> float:
    """Normalised quantile loss: 2 * sum(pinball) / sum(|y|)."""
    total = np.sum(np.abs(y))
    diff = y - f
    return (
        float(2 * np.sum(np.maximum(q * diff, (q - 1) * diff)) / total)
        if total > 0
        else float("nan")
    )


def coverage(y: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    """Share of actuals inside [lo, hi]."""
    return float(np.mean((y >= lo) & (y <= hi)))


def peak_errors(fc: pd.DataFrame, point: str = "p50") -> tuple[float, float]:
    """Error at each series' actual peak hour within each forecast window (series, origin).

    Returns (mean absolute error at the peak, mean of that error relative to the peak).
    """
    idx = fc.groupby(["series_id", "origin"], sort=False)["actual"].idxmax().dropna()
    peaks = fc.loc[idx.astype(int)]
    err = np.abs(peaks[point].to_numpy() - peaks["actual"].to_numpy())
    actual = peaks["actual"].to_numpy()
    rel = err[actual > 0] / actual[actual > 0]
    return float(np.mean(err)) if len(err) else float("nan"), float(np.mean(rel)) if len(
        rel
    ) else float("nan")


def score(fc: pd.DataFrame, quantiles: list[float], point: str | None = None) -> dict[str, object]:
    """All metrics for forecasts `fc` with an `actual` column.

    Rows without an actual are not scored; rows without a forecast are counted in
    `n_missing_forecasts` (a model that cannot forecast is not hidden) and not scored.
    """
    cols = {q: quantile_column(q) for q in quantiles}
    point = point or ("p50" if "p50" in fc else cols[quantiles[len(quantiles) // 2]])
    fc = fc[fc["actual"].notna()]
    has_forecast = fc[list(cols.values())].notna().all(axis=1)
    n_missing = int((~has_forecast).sum())
    fc = fc[has_forecast]
    y = fc["actual"].to_numpy(dtype="float64")
    f = fc[point].to_numpy(dtype="float64")
    out: dict[str, object] = {
        "mae": mae(y, f),
        "rmse": rmse(y, f),
        "smape": smape(y, f),
        "pinball": {c: pinball(y, fc[c].to_numpy(dtype="float64"), q) for q, c in cols.items()},
        "qrisk": {c: qrisk(y, fc[c].to_numpy(dtype="float64"), q) for q, c in cols.items()},
    }
    lo, hi = min(quantiles), max(quantiles)
    if lo < 0.5 < hi:
        out[f"coverage_{cols[lo]}_{cols[hi]}"] = coverage(
            y, fc[cols[lo]].to_numpy(), fc[cols[hi]].to_numpy()
        )
    out["peak_error"], out["peak_error_rel"] = peak_errors(fc, point)
    out["n_forecasts"] = len(fc)
    out["n_missing_forecasts"] = n_missing
    return out
