"""LSTM-autoencoder detector on a tiny seeded frame: it flags an injected spike, calibrates its
false-alarm rate, round-trips through save/load, and the fault injector keeps its promises."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.anomaly.metrics import detection_scores
from forecasting.anomaly.zscore import calibrate, flag, zscore_scores
from forecasting.config.model import AutoencoderConfig
from forecasting.config.trainer import TrainerConfig
from forecasting.data.faults import FAULT_KINDS, inject_faults
from forecasting.errors import InputError
from forecasting.features.reconstruction import SCORE_COLUMNS
from forecasting.models.deep.anomaly import AnomalyDetector
from tests.models.helpers import START, features, households


def train_origins(first_day: int, last_day: int) -> pd.DatetimeIndex:
    return pd.date_range(
        START + pd.Timedelta(days=first_day), START + pd.Timedelta(days=last_day), freq="6h"
    )


@pytest.fixture(scope="module")
def detector() -> tuple[AnomalyDetector, pd.DataFrame]:
    frame, _ = households(n=6, days=42)
    cfg = AutoencoderConfig(hidden_size=16, latent_size=4, batch_size=64, false_alarm_rate=0.02)
    trainer = TrainerConfig(accelerator="cpu", max_epochs=8, progress_bar="off", seed=0)
    model = AnomalyDetector(cfg, features(), lookback=168)
    model.fit(frame, None, train_origins(7, 30), train_origins(31, 34), trainer)
    return model, frame


def test_flags_an_injected_spike(detector):
    model, frame = detector
    at = START + pd.Timedelta(days=37, hours=15)
    spiked = frame.copy()
    hit = (spiked["series_id"] == "H02") & (spiked["timestamp"] == at)
    assert hit.sum() == 1
    spiked.loc[hit, "target"] = spiked.loc[hit, "target"] * 5 + 2.0
    lo, hi = START + pd.Timedelta(days=36), START + pd.Timedelta(days=39)
    scores = model.score(spiked, lo, hi)
    row = scores[(scores["series_id"] == "H02") & (scores["timestamp"] == at)]
    assert bool(row["flag"].iloc[0])
    # the spike is the highest score of that household in the period
    h2 = scores[scores["series_id"] == "H02"]
    assert h2.loc[h2["score"].idxmax(), "timestamp"] == at
    clean = model.score(frame, lo, hi)
    assert (
        clean.loc[(clean["series_id"] == "H02") & (clean["timestamp"] == at), "score"].iloc[0]
        < row["score"].iloc[0] / 3
    )


def test_scores_every_interval_and_keeps_the_false_alarm_rate_near_target(detector):
    model, frame = detector
    lo, hi = START + pd.Timedelta(days=35), START + pd.Timedelta(days=41, hours=23)
    scores = model.score(frame, lo, hi)
    assert list(scores.columns) == SCORE_COLUMNS
    assert SCORE_COLUMNS[:4] == ["series_id", "timestamp", "target", "score"]
    assert len(scores) == 6 * (7 * 24)  # every interval of every series in the period
    assert scores["score"].notna().all()
    assert scores["flag"].mean() < 0.1  # clean data: few flags (target 2% on calibration)
    assert model.fit_info_["threshold"] > 0


def test_save_load_round_trip(detector, tmp_path):
    model, frame = detector
    model.save(tmp_path / "ae")
    again = AnomalyDetector.load(tmp_path / "ae")
    lo, hi = START + pd.Timedelta(days=36), START + pd.Timedelta(days=37)
    pd.testing.assert_frame_equal(model.score(frame, lo, hi), again.score(frame, lo, hi))


def test_fault_injection_labels_and_row_count():
    frame, _ = households(n=4, days=42)
    faulty, events = inject_faults(frame, "2024-01-20", "2024-02-10", events_per_series=3, seed=1)
    assert len(faulty) == len(frame)
    assert set(events["kind"]) <= set(FAULT_KINDS) and len(events) >= 8
    assert faulty["fault"].sum() == sum(
        ((faulty["series_id"] == e.series_id) & faulty["timestamp"].between(e.start, e.end)).sum()
        for e in events.itertuples()
    )
    merged = frame.merge(faulty, on=["series_id", "timestamp"], suffixes=("", "_f"))
    changed = ~np.isclose(merged["target"], merged["target_f"])
    assert not changed[~merged["fault"]].any()  # nothing outside an event was touched
    with pytest.raises(InputError, match="unknown fault kind"):
        inject_faults(frame, "2024-01-20", "2024-02-10", kinds=("meteor",))


def test_zscore_baseline_and_detection_metrics():
    frame, _ = households(n=4, days=42)
    faulty, events = inject_faults(frame, "2024-01-25", "2024-02-10", ("spike",), 2, seed=2)
    clean = zscore_scores(frame)
    threshold = calibrate(clean.loc[clean["timestamp"] < "2024-01-25", "score"], 0.01)
    flags = flag(zscore_scores(faulty), threshold)
    m = detection_scores(flags, faulty, events)
    assert m["events"] == len(events) == 8
    assert m["event_recall"] >= 0.75  # spikes are what a z-score is good at
    assert 0 < m["precision"] <= 1 and 0 < m["f1"] <= 1


def test_flags_a_day_stuck_at_zero_that_no_single_hour_gives_away(detector):
    model, frame = detector
    start = START + pd.Timedelta(days=37)
    stuck = frame.copy()
    day = (stuck["series_id"] == "H04") & stuck["timestamp"].between(
        start, start + pd.Timedelta(hours=23)
    )
    stuck.loc[day, "target"] = 0.0
    lo, hi = START + pd.Timedelta(days=36), START + pd.Timedelta(days=39)
    scores = model.score(stuck, lo, hi)
    inside = scores.merge(stuck.loc[day, ["series_id", "timestamp"]], on=["series_id", "timestamp"])
    assert len(inside) == 24
    assert inside["flag"].mean() > 0.5  # most of the day is flagged
    assert inside["window"].median() > inside["point"].median()  # by the window signal
