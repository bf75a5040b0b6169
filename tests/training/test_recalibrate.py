"""Rolling recalibration (training/recalibrate.py): blocks, refits that see only the past, and
refits that do see it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.errors import InputError
from forecasting.evaluation.backtest import RollingOrigin
from tests.models.helpers import fitted, households, origins
from training.recalibrate import recalibrated_forecasts, recalibration_blocks


def test_blocks_are_days_or_weeks_of_origins():
    o = pd.date_range("2024-01-01", periods=20, freq="1D", tz="UTC")
    assert [len(b) for b in recalibration_blocks(o, "daily", "UTC")] == [1] * 20
    assert [len(b) for b in recalibration_blocks(o, "weekly", "UTC")] == [7, 7, 6]
    with pytest.raises(InputError, match="daily or weekly"):
        recalibration_blocks(o, "hourly", "UTC")


def candidates() -> RollingOrigin:
    return RollingOrigin(horizon=24, lookback=168, step=24, freq="1h", start=None, end=None,
                         origin_hour=(0,), timezone="UTC")  # fmt: skip


@pytest.mark.parametrize("kind", ["lightgbm", "xgboost"])
def test_a_refit_reads_only_what_was_known_before_its_block_and_does_read_it(kind):
    """Test origins days 40-53, weekly. Doubling the target from day 47 on (the second
    block's first day) changes nothing forecast from day 47 or before: neither the refits
    nor the lookbacks reach it. Each refit trains on every origin whose horizon ended by its
    block (a week more for the second), so the forecasts differ from the model fitted once."""
    frame, static = households(n=3, days=56)
    test = origins(40, 53)
    fc, info = recalibrated_forecasts(fitted(kind, frame, static), frame, static, test,
                                      candidates(), "weekly", "UTC")  # fmt: skip
    assert info["blocks"] == 2 and len(fc) == 3 * 14 * 24 and fc["actual"].notna().all()
    lo, hi = info["train_origins_per_refit"]
    assert hi == lo + 7
    changed = frame.copy()
    changed.loc[changed["timestamp"] >= test[7], "target"] *= 2
    fc2, _ = recalibrated_forecasts(fitted(kind, frame, static), changed, static, test,
                                    candidates(), "weekly", "UTC")  # fmt: skip
    q = ["p10", "p50", "p90"]
    known = (fc["origin"] <= test[7]).to_numpy()
    pd.testing.assert_frame_equal(fc.loc[known, q], fc2.loc[known, q])
    assert not np.allclose(fc.loc[~known, "p50"], fc2.loc[~known, "p50"])
    once = fitted(kind, frame, static).forecast(frame, test, static)
    assert not np.allclose(once["p50"].to_numpy(), fc["p50"].to_numpy())


def test_a_baseline_has_nothing_to_recalibrate():
    from forecasting.models.baselines import SeasonalNaive

    frame, _ = households(n=1, days=30)
    naive = SeasonalNaive(None, [0.5], "1h", True, horizon=24)
    with pytest.raises(InputError, match="learns nothing to recalibrate"):
        recalibrated_forecasts(naive, frame, None, origins(20, 25), candidates(), "daily", "UTC")


def test_a_deep_model_is_warm_started_from_its_weights(tiny_models):
    """One epoch on recent windows moves the weights a little from where they were (a warm
    start, not a fresh network) and keeps the input normalisation of the first fit."""
    import copy

    import torch

    model = copy.deepcopy(tiny_models["cnn_lstm"])
    frame, static = tiny_models["data"]
    before = {k: v.clone() for k, v in model.net_.state_dict().items()}
    norms = copy.deepcopy(model.norms_)
    from forecasting.config.trainer import TrainerConfig

    model.refit_rows(model.training_rows(frame, origins(25, 35), static),
                     TrainerConfig(accelerator="cpu", max_epochs=1, logger="none"))  # fmt: skip
    after = model.net_.state_dict()
    moved = [
        float((after[k] - before[k]).abs().max()) for k in before if before[k].is_floating_point()
    ]
    assert max(moved) > 0  # it trained
    drift = sum(
        float(torch.linalg.norm(after[k] - before[k]))
        for k in before
        if before[k].is_floating_point()
    )
    size = sum(float(torch.linalg.norm(before[k])) for k in before if before[k].is_floating_point())
    assert drift < 0.5 * size  # near its old weights, not re-initialised
    assert model.norms_ == norms
    assert not model.net_.training  # left ready to forecast
