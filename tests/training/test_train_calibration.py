"""Interval calibration at the end of training (`training/train.py::calibrate_intervals`): fitted
on the validation backtest, stored with the model, applied by every native forecast and by the
exported bundle on onnxruntime; switched off by `interval_calibration: none`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecasting.bundle_format import write_manifest
from forecasting.errors import BundleError
from tests.cli.test_train_evaluate import config

VALID = pd.date_range("2023-11-26", "2023-12-02", freq="1D", tz="Europe/London").tz_convert("UTC")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from forecasting.data.synthetic import SyntheticSpec, write_synthetic
    from forecasting.export import export_run
    from training.train import train

    tmp = tmp_path_factory.mktemp("calibrated")
    write_synthetic(SyntheticSpec(households=6, days=60, seed=3), tmp / "synth")
    cfg = config(tmp, tmp / "synth", "lightgbm")
    train(cfg, tmp / "run")
    export_run(tmp / "run", tmp / "bundle")
    raw = tmp / "raw.yaml"
    raw.write_text(cfg.read_text() + "interval_calibration: none\n")
    train(raw, tmp / "raw_run")
    return {"run": tmp / "run", "bundle": tmp / "bundle", "raw_run": tmp / "raw_run",
            "data": tmp / "synth" / "data.yaml"}  # fmt: skip


@pytest.fixture(scope="module")
def prepared(trained):
    from forecasting.config.data import load_data_config
    from forecasting.data.prepare import prepare

    return prepare(load_data_config(trained["data"]))


def with_actual(fc: pd.DataFrame, prepared) -> np.ndarray:
    actual = prepared.frame[["series_id", "timestamp", "target"]].astype({"series_id": "string"})
    return fc.merge(actual, on=["series_id", "timestamp"], how="left")["target"].to_numpy()


def test_the_validation_backtest_calibrates_what_every_forecast_then_gives(trained, prepared):
    from forecasting.models.registry import load_run

    info = json.loads((trained["run"] / "metrics.json").read_text())["interval_calibration"]
    assert info["method"] == "split_conformal_scaled"
    assert info["validation_rows"] == 6 * 7 * 24
    assert info["steps_pooled"] == 24  # 42 rows a step: too few for a factor of its own
    model, _ = load_run(trained["run"])
    assert model.calibration_ is not None and model.calibration_.factors.shape == (24, 3)
    fc = model.forecast(prepared.frame, VALID, prepared.static)
    y = with_actual(fc, prepared)
    covered = np.mean((y >= fc["p10"]) & (y <= fc["p90"]))
    assert covered == pytest.approx(info["coverage_after"], abs=1e-4)
    assert np.mean(y < fc["p10"]) <= 0.1 + 1e-9 and np.mean(y > fc["p90"]) <= 0.1 + 1e-9
    model.calibration_ = None  # the same booster's own quantiles
    raw = model.forecast(prepared.frame, VALID, prepared.static)
    assert np.mean((y >= raw["p10"]) & (y <= raw["p90"])) == pytest.approx(
        info["coverage_before"], abs=1e-4
    )
    np.testing.assert_array_equal(raw["p50"], fc["p50"])  # the median is never moved
    assert not np.allclose(raw["p90"], fc["p90"])


def test_interval_calibration_none_keeps_the_raw_quantiles(trained):
    meta = json.loads((trained["raw_run"] / "model" / "model.json").read_text())
    metrics = json.loads((trained["raw_run"] / "metrics.json").read_text())
    assert meta["calibration"] is None and metrics["interval_calibration"] == {"method": "none"}


def test_a_model_without_validation_says_why_it_is_not_calibrated(tmp_path, prepared, trained):
    from forecasting.config.data import load_data_config
    from forecasting.config.model import load_train_config
    from training.train import fit_model

    cfg = load_train_config(trained["run"] / "config.yaml").model_copy(update={"validation": None})
    model, _, metrics = fit_model(cfg, load_data_config(trained["data"]), prepared)
    assert model.calibration_ is None
    assert metrics["interval_calibration"]["skipped"] == "no validation period to calibrate on"


def test_the_bundle_applies_the_calibration_it_carries(trained, prepared, tmp_path):
    import shutil

    from forecasting.models.registry import load_run
    from serving.load import load_bundle

    stored = json.loads((trained["run"] / "model" / "model.json").read_text())["calibration"]
    manifest = json.loads((trained["bundle"] / "manifest.json").read_text())
    assert manifest["calibration"] == stored and "calibration" not in manifest["model"]
    model, _ = load_run(trained["run"])
    native = model.forecast(prepared.frame, VALID, prepared.static)
    served, _ = load_bundle(trained["bundle"]).forecast(prepared.frame, VALID, prepared.static)
    pd.testing.assert_frame_equal(served, native, rtol=1e-4, atol=1e-5)

    bare = tmp_path / "bare"  # the same graph without its calibration: the raw quantiles
    shutil.copytree(trained["bundle"], bare)
    write_manifest(bare / "manifest.json", {**manifest, "calibration": None})
    model.calibration_ = None
    raw, _ = load_bundle(bare).forecast(prepared.frame, VALID, prepared.static)
    pd.testing.assert_frame_equal(raw, model.forecast(prepared.frame, VALID, prepared.static),
                                  rtol=1e-4, atol=1e-5)  # fmt: skip

    factors = [[1.0, 1.0, 1.0]] * 23  # one step short of the horizon
    write_manifest(
        bare / "manifest.json", {**manifest, "calibration": {**stored, "factors": factors}}
    )
    with pytest.raises(BundleError, match=r"field 'calibration': .*shape \[23, 3\]"):
        load_bundle(bare)
