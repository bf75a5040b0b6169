from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.evaluation import metrics as m


def test_point_metrics_by_hand():
    y = np.array([1.0, 2.0, 0.0, 4.0])
    f = np.array([2.0, 2.0, 0.0, 1.0])
    assert m.mae(y, f) == pytest.approx((1 + 0 + 0 + 3) / 4)
    assert m.rmse(y, f) == pytest.approx(np.sqrt((1 + 0 + 0 + 9) / 4))
    # sMAPE terms: 2*1/3, 0, 0 (0/0 counted as 0), 2*3/5
    assert m.smape(y, f) == pytest.approx(100 * (2 / 3 + 0 + 0 + 6 / 5) / 4)


def test_pinball_qrisk_coverage_by_hand():
    y = np.array([10.0, 0.0])
    f = np.array([8.0, 1.0])
    # q=0.9: under-forecast by 2 costs 0.9*2, over-forecast by 1 costs 0.1*1
    assert m.pinball(y, f, 0.9) == pytest.approx((1.8 + 0.1) / 2)
    assert m.qrisk(y, f, 0.9) == pytest.approx(2 * 1.9 / 10)
    assert m.coverage(y, np.array([9.0, 0.0]), np.array([11.0, 0.5])) == 1.0
    assert m.coverage(y, np.array([11.0, 0.0]), np.array([12.0, 0.5])) == 0.5
    assert m.quantile_column(0.1) == "p10" and m.quantile_column(0.975) == "p97.5"


def test_score_peak_error_and_missing_forecasts():
    t = pd.date_range("2024-01-01", periods=4, freq="h", tz="UTC")
    fc = pd.DataFrame(
        {
            "series_id": "A",
            "origin": t[0],
            "timestamp": t,
            "actual": [1.0, 5.0, 2.0, 1.0],
            "p10": [0.5, 2.0, 1.0, np.nan],
            "p50": [1.0, 3.0, 2.0, np.nan],
            "p90": [2.0, 4.0, 3.0, np.nan],
        }
    )
    s = m.score(fc, [0.1, 0.5, 0.9])
    assert s["n_missing_forecasts"] == 1 and s["n_forecasts"] == 3
    assert s["peak_error"] == pytest.approx(2.0) and s["peak_error_rel"] == pytest.approx(0.4)
    assert s["coverage_p10_p90"] == pytest.approx(2 / 3)
