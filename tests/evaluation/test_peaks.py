"""Daily peak scores (`forecasting/evaluation/peaks.py`): the actual peak per local day, the
median path's peak, and the size, timing and coverage errors between them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.evaluation.peaks import (
    actual_daily_peaks,
    median_path_peaks,
    score_daily_peaks,
)

ORIGIN = pd.Timestamp("2024-06-01", tz="Europe/London").tz_convert("UTC")


def frame(actual: list[float], p50: list[float]) -> pd.DataFrame:
    n = len(actual)
    return pd.DataFrame({"series_id": "A", "origin": ORIGIN,
                         "timestamp": ORIGIN + pd.to_timedelta(np.arange(n), "h"),
                         "horizon": np.arange(1, n + 1), "p50": p50, "actual": actual})  # fmt: skip


def test_size_timing_and_coverage_of_a_known_day():
    actual = [0.2] * 24
    actual[18] = 2.0  # the peak at 18:00 local
    p50 = [0.3] * 24
    p50[20] = 1.5  # the median path peaks two hours late and 0.5 kWh low
    fc = frame(actual, p50)
    a = actual_daily_peaks(fc, "Europe/London")
    assert a["actual_peak"].tolist() == [2.0]
    assert a["actual_time"].iloc[0] == ORIGIN + pd.Timedelta(hours=18)
    s = score_daily_peaks(median_path_peaks(fc, "Europe/London"), a)
    assert s == {"days": 1, "peak_mae": pytest.approx(0.5), "timing_hours": 2.0,
                 "timing_exact": 0.0}  # fmt: skip
    product = median_path_peaks(fc, "Europe/London").assign(peak_p10=1.0, peak_p90=2.5)
    assert score_daily_peaks(product, a)["coverage_p10_p90"] == 1.0


def test_a_day_with_a_missing_actual_is_not_scored():
    actual = [0.5] * 24
    actual[3] = np.nan
    a = actual_daily_peaks(frame(actual, [0.5] * 24), "Europe/London")
    assert a.empty
    assert score_daily_peaks(median_path_peaks(frame(actual, [0.5] * 24), "Europe/London"), a) == {
        "days": 0
    }
