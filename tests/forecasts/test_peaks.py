"""The daily peak product (`forecasting/forecasts/peaks.py`): read from copula paths that follow
each hour's quantiles, so its quantiles cover real daily peaks when the hours' errors are
correlated as measured, split by local day, and the same whatever else is in the batch."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import ndtri

from forecasting.forecasts.calibration import (
    IntervalCalibration,
    fit_interval_calibration,
    fit_peak_factors,
)
from forecasting.forecasts.peaks import daily_peaks, fit_path_correlation

Q = [0.1, 0.5, 0.9]
STEPS = 24
ORIGIN = pd.Timestamp("2024-01-08", tz="Europe/London").tz_convert("UTC")


def ar_correlation(rho: float, steps: int = STEPS) -> np.ndarray:
    i = np.arange(steps)
    return rho ** np.abs(i[:, None] - i[None, :])


def windows(n: int, rho: float, seed: int):
    """n household-days: a lognormal load per hour around an evening-peaked profile, errors
    correlated across hours as AR(1) with `rho`; (exact quantile forecasts frame, actuals)."""
    rng = np.random.default_rng(seed)
    hours = np.arange(STEPS)
    level = rng.lognormal(0, 0.5, n)[:, None] * (0.4 + np.exp(-((hours - 18) ** 2) / 4))
    chol = np.linalg.cholesky(ar_correlation(rho))
    z = rng.standard_normal((n, STEPS)) @ chol.T
    sigma = 0.4
    y = level * np.exp(sigma * z)
    q = np.stack([level * np.exp(sigma * ndtri(p)) for p in Q], axis=-1)  # [n, H, 3] exact
    ids = np.repeat([f"H{i:04d}" for i in range(n)], STEPS)
    fc = pd.DataFrame({"series_id": ids, "origin": ORIGIN,
                       "timestamp": ORIGIN + pd.to_timedelta(np.tile(hours, n), "h"),
                       "horizon": np.tile(hours + 1, n)})  # fmt: skip
    for j, p in enumerate(Q):
        fc[f"p{int(p * 100)}"] = q[..., j].ravel()
    return fc, y


def test_the_measured_correlation_recovers_the_errors_own():
    fc, y = windows(3000, 0.8, seed=0)
    pred = fc[["p10", "p50", "p90"]].to_numpy()
    w = fc.groupby("series_id").ngroup().to_numpy()
    c = fit_path_correlation(pred, y.ravel(), w, fc["horizon"].to_numpy(), Q, STEPS)
    assert c is not None and c.shape == (STEPS, STEPS)
    # the piecewise-linear quantile map blurs a lognormal's tails a little: lag 1 near 0.8
    assert np.mean(np.diag(c, 1)) == pytest.approx(0.8, abs=0.06)
    assert np.mean(np.diag(c, 12)) < 0.2
    assert fit_path_correlation(pred[:240], y.ravel()[:240], w[:240],
                                fc["horizon"].to_numpy()[:240], Q, STEPS) is None  # fmt: skip


def test_peak_quantiles_cover_real_daily_peaks_with_the_measured_correlation():
    fit_fc, fit_y = windows(2000, 0.85, seed=1)
    cal = fit_interval_calibration(
        fit_fc[["p10", "p50", "p90"]].to_numpy(), fit_y.ravel(), fit_fc["horizon"].to_numpy(),
        Q, STEPS, fit_fc.groupby("series_id").ngroup().to_numpy(),
    )  # fmt: skip
    assert cal.correlation is not None
    fc, y = windows(1500, 0.85, seed=2)
    actual = y.max(axis=1)
    for corr, inside in ((cal.correlation, (0.75, 0.85)), (None, (0.0, 0.7))):
        peaks = daily_peaks(fc, Q, "Europe/London", corr)
        assert len(peaks) == 1500 and (peaks["intervals"] == 24).all()
        covered = np.mean((actual >= peaks["peak_p10"]) & (actual <= peaks["peak_p90"]))
        assert inside[0] <= covered <= inside[1], (corr is None, covered)
    hours = daily_peaks(fc, Q, "Europe/London", cal.correlation)["peak_hour"]
    assert hours.mode()[0] == 18  # the evening peak


def test_correlated_paths_peak_near_the_largest_median_and_independent_ones_higher():
    fc, _ = windows(5, 0.5, seed=3)
    p50_max = fc.groupby("series_id")["p50"].max().to_numpy()
    same = daily_peaks(fc, Q, "Europe/London", np.ones((STEPS, STEPS)))
    apart = daily_peaks(fc, Q, "Europe/London", None)
    # fully correlated hours (5% shrunk towards independence) peak just above the largest
    # median hour; independent hours, well above it
    assert (same["peak_p50"].to_numpy() >= p50_max).all()
    np.testing.assert_allclose(same["peak_p50"], p50_max, rtol=0.08)
    assert (apart["peak_p50"].to_numpy() > same["peak_p50"].to_numpy()).all()
    alone = daily_peaks(fc[fc["series_id"] == "H0003"], Q, "Europe/London", None)
    pd.testing.assert_frame_equal(
        alone, apart[apart["series_id"] == "H0003"].reset_index(drop=True)
    )


def test_windows_are_split_by_local_day_across_a_clock_change():
    origin = pd.Timestamp("2024-03-30 12:00", tz="Europe/London").tz_convert("UTC")  # DST eve
    t = origin + pd.to_timedelta(np.arange(STEPS), "h")
    fc = pd.DataFrame({"series_id": "A", "origin": origin, "timestamp": t,
                       "horizon": np.arange(1, STEPS + 1), "p10": 1.0, "p50": 2.0, "p90": 3.0})  # fmt: skip
    fc.loc[fc["horizon"] == 20, ["p10", "p50", "p90"]] = [8.0, 9.0, 10.0]
    peaks = daily_peaks(fc, Q, "Europe/London", None)
    assert [str(d) for d in peaks["day"]] == ["2024-03-30", "2024-03-31"]
    assert peaks["intervals"].tolist() == [12, 12]  # 12:00-23:00, then 00:00-12:00 BST
    assert peaks.loc[1, "peak_hour"] == 8.0 and peaks.loc[1, "likeliest_probability"] == 1.0
    assert peaks.loc[1, "likeliest_time"] == peaks.loc[1, "peak_time"]
    assert peaks.loc[1, "peak_p10"] > 8.0 and peaks.loc[0, "peak_p90"] < 8.0
    with pytest.raises(ValueError, match="whole windows"):
        daily_peaks(fc.iloc[1:], Q, "Europe/London", None)


def test_the_path_correlation_travels_in_the_calibration_json():
    fc, y = windows(400, 0.7, seed=4)
    cal = fit_interval_calibration(fc[["p10", "p50", "p90"]].to_numpy(), y.ravel(),
                                   fc["horizon"].to_numpy(), Q, STEPS,
                                   fc.groupby("series_id").ngroup().to_numpy())  # fmt: skip
    back = IntervalCalibration.from_json(cal.to_json(), Q, STEPS)
    assert back is not None and back.info["path_windows"] == 400
    np.testing.assert_array_equal(back.correlation, cal.correlation)
    bad = {**cal.to_json(), "path_correlation": [[2.0] * STEPS] * STEPS}
    with pytest.raises(ValueError, match=r"must lie in -1\.\.1"):
        IntervalCalibration.from_json(bad, Q, STEPS)


def test_the_peaks_own_factors_calibrate_its_interval_on_fresh_days():
    """Heavy-tailed hours (lognormal with a wide spread) whose paths, extended linearly past P90,
    underestimate the day's peak: the peak factors fitted on validation days bring the peak's
    P10-P90 to about 80% on other days, and are stored with the calibration."""

    def heavy(n, seed):
        fc, y = windows(n, 0.6, seed)
        rng = np.random.default_rng(seed + 100)
        y = y * np.exp(0.6 * rng.standard_normal(y.shape) * (rng.random(y.shape) < 0.1))
        return fc, y

    fit_fc, fit_y = heavy(1500, 5)
    cal = fit_interval_calibration(fit_fc[["p10", "p50", "p90"]].to_numpy(), fit_y.ravel(),
                                   fit_fc["horizon"].to_numpy(), Q, STEPS,
                                   fit_fc.groupby("series_id").ngroup().to_numpy())  # fmt: skip
    cal2, info = fit_peak_factors(cal, fit_fc.assign(actual=fit_y.ravel()), "Europe/London", True)
    assert cal2.peak_factors is not None and info["peak_days"] == 1500
    assert abs(info["peak_coverage_after"] - 0.8) < 0.02
    fc, y = heavy(1500, 6)
    fc = cal2.apply_frame(fc, nonnegative=True)
    actual = y.max(axis=1)
    for factors, inside in ((None, (0.0, 0.74)), (cal2.peak_factors, (0.75, 0.85))):
        p = daily_peaks(fc, Q, "Europe/London", cal2.correlation, True, factors)
        covered = np.mean((actual >= p["peak_p10"]) & (actual <= p["peak_p90"]))
        assert inside[0] <= covered <= inside[1], (factors is None, covered)
    back = IntervalCalibration.from_json(cal2.to_json(), Q, STEPS)
    assert back is not None and np.array_equal(back.peak_factors, cal2.peak_factors)
    with pytest.raises(ValueError, match="peak_factors must be 3 numbers"):
        IntervalCalibration.from_json({**cal2.to_json(), "peak_factors": [1, 1]}, Q, STEPS)


def test_peak_factors_leave_out_windows_the_backtest_left_partial():
    fc, y = windows(300, 0.7, seed=7)
    fc = fc.assign(actual=y.ravel())
    cal = fit_interval_calibration(fc[["p10", "p50", "p90"]].to_numpy(), y.ravel(),
                                   fc["horizon"].to_numpy(), Q, STEPS,
                                   fc.groupby("series_id").ngroup().to_numpy())  # fmt: skip
    partial = fc.drop(index=fc.index[(fc["series_id"] == "H0001") & (fc["horizon"] > 20)])
    cal2, info = fit_peak_factors(cal, partial, "Europe/London", True)
    assert cal2.peak_factors is not None and info["peak_days"] == 299
