"""The patch model (`forecasting/models/deep/patch.py`) on tiny networks: shapes, attention
that lands on the lookback's steps, non-crossing quantiles, a lookback that is not a whole number
of patches, unseen households, save and load, and ONNX parity on both."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from forecasting.config.model import PatchConfig
from forecasting.config.trainer import TrainerConfig
from forecasting.export.bundle import real_inputs
from forecasting.export.onnx_export import check_parity, export_model
from forecasting.models.deep.patch import PatchForecaster, PatchNet
from tests.models.helpers import features, households, origins

TINY = PatchConfig(heads=2, head_size=4, layers=1, batch_size=32)


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.DataFrame]:
    return households()


def fit(frame, static, lookback: int) -> PatchForecaster:
    trainer = TrainerConfig(accelerator="cpu", max_epochs=2, progress_bar="off", logger="none",
                            checkpoints=False)  # fmt: skip
    model = PatchForecaster(TINY, features(), [0.1, 0.5, 0.9], horizon=24, lookback=lookback)
    return model.fit(frame, static, origins(8, 30), origins(31, 35), trainer)


def test_network_shapes_attention_and_quantile_order():
    torch.manual_seed(0)
    net = PatchNet(5, 7, [3, 4], 2, 3, lookback=50, horizon=12, patch_len=12, d_model=8, heads=2)
    past, future = torch.randn(9, 50, 5), torch.randn(9, 12, 7)
    q, attn = net(past, future, torch.randint(0, 3, (9, 2)), torch.randn(9, 2))
    assert q.shape == (9, 12, 3) and attn.shape == (9, 12, 50)
    assert (q[..., 1:] >= q[..., :-1]).all()
    assert (attn[..., :2] == 0).all()  # 50 steps make 4 patches of 12: the oldest 2 are left out
    per_patch = attn[..., 2:].reshape(9, 12, 4, 12)
    assert torch.allclose(per_patch, per_patch[..., :1].expand_as(per_patch))  # shared in a patch
    assert ((attn.sum(-1) > 0) & (attn.sum(-1) <= 1 + 1e-6)).all()  # the rest: the static token
    with pytest.raises(ValueError, match="longer than the lookback"):
        PatchNet(5, 7, [], 0, 3, lookback=10, horizon=12, patch_len=24)
    with pytest.raises(ValueError, match="not a multiple of heads"):
        PatchNet(5, 7, [], 0, 3, lookback=48, horizon=12, d_model=10, heads=4)


@pytest.mark.parametrize("lookback", [168, 170])
def test_fits_forecasts_unseen_households_and_exports(data, tmp_path, lookback):
    frame, static = data
    model = fit(frame, static, lookback)
    fc = model.forecast(frame, origins(36, 38), static)
    assert (
        len(fc) == 6 * 3 * 24 and (fc["p10"] <= fc["p50"]).all() and (fc["p50"] <= fc["p90"]).all()
    )
    other = frame[frame["series_id"] == "H05"].copy()  # a household it never saw, 3x the load
    other["series_id"] = pd.Series("NEW", index=other.index, dtype="string")
    other["target"] *= 3.0
    new_static = pd.DataFrame({"series_id": ["NEW"], "group": ["never seen"], "size": [9.0]})
    new = model.forecast(other, origins(36, 38), new_static.astype({"series_id": "string"}))
    assert len(new) == 3 * 24 and np.isfinite(new[["p10", "p50", "p90"]].to_numpy()).all()
    model.save(tmp_path / "m")
    again = PatchForecaster.load(tmp_path / "m")
    pd.testing.assert_frame_equal(again.forecast(frame, origins(36, 38), static), fc)
    report = check_parity(model, export_model(model), real_inputs(model, frame, static))
    for case in ("random", "real"):
        assert report[case]["rows"] > 0 and report[case]["outside_tolerance"] == 0
