"""Conformal interval calibration (`forecasting/forecasts/calibration.py`): fitted on one sample
of a miscalibrated forecaster, it must bring the share of fresh actuals below each quantile to
the quantile's level, step by step, without moving the median."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.forecasts.calibration import (
    MIN_ROWS,
    IntervalCalibration,
    calibration_or_note,
    fit_interval_calibration,
    scores,
)

Q = [0.1, 0.5, 0.9]
Z90 = 1.2815515655446004  # the standard normal's 0.9 quantile


def forecaster(rng, n, steps, widths):
    """A forecaster of y ~ level * (1 + 0.3 N(0,1)) whose P10/P90 are `widths[step]` times the
    true ones; (pred [rows, 3], y [rows], horizon [rows]). Levels differ by household, so a
    scaled score is needed to cover quiet and busy ones alike."""
    h = rng.integers(1, steps + 1, n)
    level = rng.lognormal(0, 0.8, n)
    y = level * (1 + 0.3 * rng.standard_normal(n))
    half = np.asarray(widths)[h - 1] * 0.3 * Z90 * level
    pred = np.stack([level - half, level, level + half], axis=1)
    return pred, y, h


def below(pred, y):
    return np.mean(y[:, None] < pred, axis=0)


def test_fresh_actuals_fall_below_each_calibrated_quantile_at_its_level_per_step():
    rng = np.random.default_rng(0)
    widths = [0.5, 1.0, 2.0]  # step 1 far too narrow, step 3 far too wide
    pred, y, h = forecaster(rng, 30_000, 3, widths)
    cal = fit_interval_calibration(pred, y, h, Q, 3)
    assert cal.factors[:, 1].tolist() == [1.0, 1.0, 1.0]  # the median never moves
    np.testing.assert_allclose(cal.factors[:, 0], 1 / np.asarray(widths), rtol=0.06)
    np.testing.assert_allclose(cal.factors[:, 2], 1 / np.asarray(widths), rtol=0.06)
    fresh, y2, h2 = forecaster(rng, 30_000, 3, widths)
    out = cal.apply(fresh, h2, nonnegative=False)
    np.testing.assert_array_equal(out[:, 1], fresh[:, 1])
    for s in (1, 2, 3):
        at = h2 == s
        raw, fixed = below(fresh[at], y2[at]), below(out[at], y2[at])
        assert abs(fixed[0] - 0.1) < 0.015 and abs(fixed[2] - 0.9) < 0.015, (s, raw, fixed)
    assert abs(below(fresh[h2 == 1], y2[h2 == 1])[0] - 0.1) > 0.1  # it was miscalibrated
    info = cal.info
    assert info["validation_rows"] == 30_000 and info["steps_pooled"] == 0
    assert abs(info["coverage_after"] - 0.8) < 0.01 < abs(info["coverage_before"] - 0.8)


def test_a_step_with_too_few_rows_takes_the_pooled_factor():
    rng = np.random.default_rng(1)
    pred, y, h = forecaster(rng, 4_000, 2, [2.0, 2.0])
    keep = (h == 1) | (np.arange(len(h)) < MIN_ROWS)  # step 2 keeps only a few rows
    pred, y, h = pred[keep], y[keep], h[keep]
    assert 0 < (h == 2).sum() < MIN_ROWS
    cal = fit_interval_calibration(pred, y, h, Q, 2)
    pooled = fit_interval_calibration(pred, y, np.ones_like(h), Q, 1).factors[0]
    np.testing.assert_allclose(cal.factors[1], pooled)
    assert cal.info["steps_pooled"] == 1


def test_rows_are_sorted_and_clipped_at_zero_for_a_nonnegative_target():
    cal = IntervalCalibration([0.05, 0.1, 0.5, 0.9], np.array([[0.5, 3.0, 1.0, 1.0]]))
    pred = np.array([[0.2, 0.6, 1.0, 2.0]])
    out = cal.apply(pred, np.array([1]), nonnegative=True)
    # P5 -> 1 - 0.5*0.8 = 0.6, P10 -> 1 - 3*0.4 = -0.2: crossed, so sorted, then clipped
    np.testing.assert_allclose(out, [[0.0, 0.6, 1.0, 2.0]])


def test_a_flat_quantile_scores_zero_inside_and_infinity_outside():
    pred = np.array([[1.0, 1.0, 2.0], [1.0, 1.0, 2.0], [0.5, 1.0, 2.0]])
    y = np.array([1.5, 0.5, 0.0])
    np.testing.assert_array_equal(scores(pred, y, 1, 0), [0.0, np.inf, 2.0])


def test_apply_frame_calibrates_the_quantile_columns_by_horizon():
    cal = IntervalCalibration(Q, np.array([[2.0, 1.0, 2.0], [0.5, 1.0, 0.5]]))
    fc = pd.DataFrame({"horizon": [1, 2], "p10": [1.0, 1.0], "p50": [2.0, 2.0],
                       "p90": [3.0, 3.0]})  # fmt: skip
    cal.apply_frame(fc, nonnegative=True)
    assert fc[["p10", "p50", "p90"]].to_numpy().tolist() == [[0.0, 2.0, 4.0], [1.5, 2.0, 2.5]]
    with pytest.raises(ValueError, match=r"horizon steps 3\.\.3 outside"):
        cal.apply(np.ones((1, 3)), np.array([3]), nonnegative=False)


def test_what_cannot_be_calibrated_is_said():
    rng = np.random.default_rng(2)
    pred, y, h = forecaster(rng, 100, 1, [1.0])
    with pytest.raises(ValueError, match=r"no 0\.5"):
        fit_interval_calibration(pred[:, [0, 2]], y, h, [0.1, 0.9], 1)
    y[: len(y) - MIN_ROWS + 1] = np.nan  # too few known actuals
    cal, note = calibration_or_note(pred, y, h, Q, 1)
    assert cal is None and note["method"] == "none"
    assert f"at least {MIN_ROWS} validation rows" in note["skipped"]


def test_the_json_form_round_trips_and_a_wrong_one_is_refused():
    rng = np.random.default_rng(3)
    pred, y, h = forecaster(rng, 2_000, 2, [1.5, 0.7])
    cal = fit_interval_calibration(pred, y, h, Q, 2)
    back = IntervalCalibration.from_json(cal.to_json(), Q, 2)
    assert back is not None
    np.testing.assert_allclose(back.factors, cal.factors, atol=1e-6)
    assert back.info["validation_rows"] == 2_000
    assert IntervalCalibration.from_json(None, Q, 2) is None
    good = cal.to_json()
    for bad, says in (
        ({**good, "method": "isotonic"}, "method 'isotonic'"),
        ({**good, "quantiles": [0.2, 0.5, 0.8]}, "not the model's"),
        ({**good, "factors": good["factors"][:1]}, "shape \\[1, 3\\]"),
        ({**good, "factors": [[-1, 1, 1], [1, 1, 1]]}, "must lie in"),
        ({**good, "factors": [["a", 1, 1], [1, 1, 1]]}, "not a table of numbers"),
        ([1, 2], "method 'list'"),
    ):
        with pytest.raises(ValueError, match=says):
            IntervalCalibration.from_json(bad, Q, 2)
