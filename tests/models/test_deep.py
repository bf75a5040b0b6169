"""Deep forecasters on tiny models and a few batches: shapes, quantile order, unseen series,
seeding, checkpoints and resuming, mixed precision and the trainer's strategy set-up."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from forecasting.config.model import CNNLSTMConfig, TFTConfig
from forecasting.config.trainer import TrainerConfig
from forecasting.models.deep.estimator import CNNLSTMForecaster
from forecasting.models.deep.networks import CNNLSTMNet, monotone_quantiles
from forecasting.models.deep.tft import TFTForecaster
from tests.models.helpers import features, households, origins

TINY = CNNLSTMConfig(hidden_size=8, conv_channels=4, conv_layers=1, batch_size=32)


def trainer(**kw) -> TrainerConfig:
    return TrainerConfig(**{"accelerator": "cpu", "max_epochs": 2, "progress_bar": "off", **kw})


def fit(frame, static, run: Path | None = None, **kw) -> CNNLSTMForecaster:
    model = CNNLSTMForecaster(TINY, features(), [0.1, 0.5, 0.9], horizon=24, lookback=168)
    return model.fit(frame, static, origins(8, 30), origins(31, 35), trainer(**kw), run)


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.DataFrame]:
    return households()


@pytest.fixture(scope="module")
def model(data, tmp_path_factory) -> CNNLSTMForecaster:
    return fit(*data, tmp_path_factory.mktemp("run"))


def test_network_shapes_attention_and_quantile_order():
    torch.manual_seed(0)
    net = CNNLSTMNet(5, 7, [3, 4], 2, 3, hidden_size=8, conv_channels=4)
    past, future = torch.randn(9, 48, 5), torch.randn(9, 12, 7)
    cats, reals = torch.randint(0, 3, (9, 2)), torch.randn(9, 2)
    q, attn = net(past, future, cats, reals)
    assert q.shape == (9, 12, 3) and attn.shape == (9, 12, 48)
    assert torch.allclose(attn.sum(-1), torch.ones(9, 12), atol=1e-5)
    assert (q[..., 1:] >= q[..., :-1]).all()
    raw = torch.randn(100, 4) * 10
    assert (monotone_quantiles(raw).diff(dim=-1) >= 0).all()


def test_fit_forecast_shapes_and_order(model, data):
    frame, static = data
    fc = model.forecast(frame, origins(36, 40), static)
    assert len(fc) == 6 * 5 * 24
    assert list(fc.columns) == ["series_id", "origin", "timestamp", "horizon", "p10", "p50", "p90"]
    assert (fc["p10"] <= fc["p50"]).all() and (fc["p50"] <= fc["p90"]).all()
    assert (fc["p10"] >= 0).all()
    assert (fc["timestamp"] - fc["origin"] == (fc["horizon"] - 1) * pd.Timedelta("1h")).all()
    info = model.fit_info_
    assert info["epochs"] == 2 and info["windows_per_second"] > 0
    assert info["validation"]["p50"] > 0


def test_households_and_categories_never_seen(model, data):
    frame = data[0]
    other = frame[frame["series_id"] == "H05"].copy()
    other["series_id"] = pd.Series("NEW", index=other.index, dtype="string")
    other["target"] *= 3.0  # a bigger home
    new_static = pd.DataFrame({"series_id": ["NEW"], "group": ["never seen"], "size": [9.0]})
    fc = model.forecast(other, origins(36, 38), new_static.astype({"series_id": "string"}))
    assert len(fc) == 3 * 24 and fc[["p10", "p50", "p90"]].notna().all().all()
    truth = other.set_index("timestamp")["target"].reindex(fc["timestamp"]).to_numpy()
    assert abs(np.mean(fc["p50"]) / np.mean(truth) - 1) < 0.5  # scaled to the home's own level


def test_save_and_load_give_the_same_forecasts(model, data, tmp_path):
    frame, static = data
    model.save(tmp_path / "m")
    again = CNNLSTMForecaster.load(tmp_path / "m")
    o = origins(36, 38)
    pd.testing.assert_frame_equal(
        model.forecast(frame, o, static), again.forecast(frame, o, static)
    )
    idx, weights = again.attention(frame, o, static)
    assert weights.shape == (len(idx), 24, 168)


def test_same_seed_same_weights_on_cpu(data):
    a = fit(*data, seed=7, deterministic=True).net_.state_dict()
    b = fit(*data, seed=7, deterministic=True).net_.state_dict()
    c = fit(*data, seed=8, deterministic=True).net_.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_run_resumes_from_its_last_checkpoint(data, tmp_path):
    first = fit(*data, tmp_path, max_epochs=2)
    assert (tmp_path / "checkpoints" / "last.ckpt").exists()
    assert (tmp_path / "checkpoints" / "best.ckpt").exists()
    steps = first.fit_info_["global_step"]
    saved = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert saved["epoch"] == 1 and saved["global_step"] == steps
    resumed = fit(*data, tmp_path, max_epochs=4, resume_from="last")
    # only epochs 3 and 4 ran, continuing the step count of the checkpoint
    assert [e["epoch"] for e in resumed.fit_info_["epoch_history"]] == [2, 3]
    assert resumed.fit_info_["global_step"] == 2 * steps
    logs = [pd.read_csv(tmp_path / "logs" / v / "metrics.csv") for v in ("version_0", "version_1")]
    assert [sorted(log["epoch"].dropna().unique()) for log in logs] == [[0, 1], [2, 3]]


def test_missing_checkpoint_is_a_clear_error(data, tmp_path):
    from forecasting.errors import ConfigError

    with pytest.raises(ConfigError, match=r"last\.ckpt does not exist"):
        fit(*data, tmp_path, resume_from="last")


def test_bf16_mixed_precision_trains_on_cpu(data):
    m = fit(*data, precision="bf16-mixed", max_epochs=1, limit_train_batches=2)
    assert m.fit_info_["precision"] == "bf16-mixed"
    fc = m.forecast(data[0], origins(36, 36), data[1])
    assert fc[["p10", "p50", "p90"]].notna().all().all()


def test_ddp_strategy_set_up_from_config(tmp_path):
    from lightning.pytorch.strategies import DDPStrategy

    from forecasting.models.deep.trainer import build_trainer

    cfg = trainer(strategy="ddp", devices=2)
    pl_trainer, _, ckpt = build_trainer(cfg, tmp_path, has_validation=True)
    assert isinstance(pl_trainer.strategy, DDPStrategy)
    assert pl_trainer.num_devices == 2 and ckpt is None


@pytest.mark.gpu
def test_trains_on_cuda_with_bf16(data):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device on this machine")
    m = fit(*data, accelerator="gpu", devices=1, precision="bf16-mixed")
    assert m.fit_info_["accelerator"] == "CUDAAccelerator"
    assert m.forecast(data[0], origins(36, 36), data[1])["p50"].notna().all()


@pytest.fixture(scope="module")
def tft(data) -> TFTForecaster:
    cfg = TFTConfig(hidden_size=8, hidden_continuous_size=4, attention_head_size=2, batch_size=32)
    model = TFTForecaster(cfg, features(), [0.1, 0.5, 0.9], horizon=24, lookback=168)
    return model.fit(*data, origins(8, 30), origins(31, 35), trainer())


def test_tft_forecasts_in_order_for_seen_and_unseen_households(tft, data):
    frame, static = data
    fc = tft.forecast(frame, origins(36, 38), static)
    assert len(fc) == 6 * 3 * 24
    assert (fc["p10"] <= fc["p50"]).all() and (fc["p50"] <= fc["p90"]).all()
    other = frame[frame["series_id"] == "H01"].assign(
        series_id="NEW", target=lambda d: d.target * 2
    )
    new_static = pd.DataFrame({"series_id": ["NEW"], "group": ["Z"], "size": [3.0]})
    fc2 = tft.forecast(other, origins(36, 38), new_static.astype({"series_id": "string"}))
    assert len(fc2) == 3 * 24 and fc2["p50"].notna().all()


def test_tft_importance_and_attention(tft, data, tmp_path):
    frame, static = data
    imp = tft.importance(frame, origins(36, 40), static)
    assert set(imp) == {"static", "encoder", "decoder"}
    for weights in imp.values():
        assert abs(weights.sum() - 1) < 1e-5 and (weights >= 0).all()
    assert "past_target" in imp["encoder"].index and "static_log_scale" in imp["static"].index
    assert "future_lag_168" in imp["decoder"].index
    idx, attn = tft.attention(frame, origins(36, 36), static)
    assert attn.shape == (len(idx), 24, 168)
    tft.save(tmp_path / "tft")
    again = TFTForecaster.load(tmp_path / "tft")
    o = origins(36, 37)
    pd.testing.assert_frame_equal(tft.forecast(frame, o, static), again.forecast(frame, o, static))
