"""ONNX export of every model kind (tiny models): parity with the native model, checked
bundles that refuse corruption, and bundle forecasts equal to the native forecasts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecasting.config.trainer import TrainerConfig
from forecasting.errors import BundleError
from forecasting.export.onnx_export import ParityError, check_parity, export_model
from forecasting.models.kinds import KINDS as REGISTRY
from serving.load import load_bundle

TRAINER = TrainerConfig(accelerator="cpu", max_epochs=1, progress_bar="none")
KINDS = [k for k, v in REGISTRY.items() if v.capabilities.exportable and not v.combines_members]


@pytest.fixture(scope="module")
def data(tiny_models):
    return tiny_models["data"]


@pytest.fixture(scope="module")
def models(tiny_models):
    return tiny_models


@pytest.mark.parametrize("kind", KINDS)
def test_onnx_matches_native_on_random_and_real_inputs(models, data, kind):
    from forecasting.export.bundle import real_inputs

    model = models[kind]
    exported = export_model(model)
    real = real_inputs(model, *data)
    report = check_parity(model, exported, real)
    for case in ("random", "real"):
        assert report[case]["rows"] > 0
        assert report[case]["max_abs_diff"] < 1e-4 and report[case]["outside_tolerance"] == 0
    # the batch axis is dynamic: one row and many rows both run
    import onnxruntime as ort

    session = ort.InferenceSession(exported.onnx, providers=["CPUExecutionProvider"])
    for n in (1, 300):
        feed = {k: np.repeat(v[:1], n, axis=0) for k, v in real.items()}
        assert session.run(None, feed)[0].shape[0] == n


@pytest.mark.parametrize("kind", KINDS)
def test_parity_is_measured_against_the_native_model_in_float64(models, data, kind):
    """The reference is the native model computed in float64 (its float32 run is itself an
    approximation, reported beside); a graph that computes something else still fails."""
    from forecasting.export.bundle import real_inputs

    model = models[kind]
    real = real_inputs(model, *data)
    exact = model.native_outputs(real, exact=True)
    assert all(a.dtype == np.float64 for a in exact)
    fast = model.native_outputs(real)
    assert all(a.dtype == np.float32 for a in fast)
    assert max(float(np.abs(a - b).max()) for a, b in zip(exact, fast, strict=True)) < 1e-4
    report = check_parity(model, export_model(model), real)
    assert report["reference"] == "native float64"
    assert 0 <= report["real"]["native_float32_max_abs_diff"] < 1e-4


def test_a_graph_of_another_model_fails_the_float64_parity(models, data):
    import copy

    import torch

    model = models["cnn_lstm"]
    exported = export_model(model)
    other = copy.deepcopy(model)
    with torch.no_grad():
        for weights in other.net_.parameters():
            weights.mul_(1.001)  # every weight 0.1% off
    from forecasting.export.bundle import real_inputs

    with pytest.raises(ParityError, match="does not match the native model"):
        check_parity(other, exported, real_inputs(other, *data))


def test_parity_failure_is_a_clear_error(models):
    model = models["tft"]  # float32 attention: differences of ~1e-6, above a zero tolerance
    with pytest.raises(ParityError, match="does not match the native model"):
        check_parity(model, export_model(model), rtol=0.0, atol=0.0)


@pytest.fixture(scope="module")
def runs(data, tmp_path_factory):
    """Run folders of a boosted and a deep model trained through the CLI on generated data."""
    from forecasting.data.synthetic import SyntheticSpec, write_synthetic
    from training.train import train

    root = tmp_path_factory.mktemp("export")
    write_synthetic(SyntheticSpec(households=5, days=50, seed=4), root / "synth")
    out = {}
    for kind, extra in (
        ("lightgbm", {"n_estimators": 30, "num_leaves": 15}),
        ("cnn_lstm", {"hidden_size": 8, "conv_channels": 4}),
    ):
        from forecasting.config.model import TrainConfig

        cfg = TrainConfig(
            name=f"x_{kind}",
            data=str(root / "synth" / "data.yaml"),
            train={"start": "2023-10-22", "end": "2023-11-20"},
            validation={"start": "2023-11-21", "end": "2023-11-25"},
            model={"kind": kind, **extra},
            trainer=TRAINER if kind == "cnn_lstm" else None,
        )
        train(cfg, root / kind)
        out[kind] = root / kind
    return out


@pytest.mark.parametrize("kind", ["lightgbm", "cnn_lstm"])
def test_bundle_forecasts_equal_the_native_forecasts(cli, runs, tmp_path, kind):
    from forecasting.config.data import load_data_config
    from forecasting.data.prepare import prepare
    from forecasting.models.registry import load_run

    bundle_dir = tmp_path / "bundle"
    r = cli("export", "--run", runs[kind], "--output", bundle_dir)
    assert r.code == 0, r.err
    manifest = json.loads((bundle_dir / "manifest.json").read_text())
    assert manifest["parity"]["real"]["rows"] > 0 and manifest["kind"] == kind
    assert set(manifest) >= {"format_version", "inputs", "outputs", "model", "files", "quantiles"}
    prepared = prepare(load_data_config(runs[kind] / "data_config.yaml"))
    o = pd.date_range("2023-11-27", "2023-12-01", freq="1D", tz="Europe/London").tz_convert("UTC")
    native = load_run(runs[kind])[0].forecast(prepared.frame, o, prepared.static)
    served, skipped = load_bundle(bundle_dir).forecast(prepared.frame, o, prepared.static)
    assert len(served) == len(native) > 0 and skipped.empty
    pd.testing.assert_frame_equal(
        served.reset_index(drop=True), native.reset_index(drop=True), rtol=1e-4, atol=1e-5
    )


def _bundle(cli, runs, tmp_path) -> Path:
    out = tmp_path / "b"
    assert cli("export", "--run", runs["lightgbm"], "--output", out).code == 0
    return out


def test_corrupt_truncated_or_mismatched_bundles_are_refused(cli, runs, tmp_path):
    b = _bundle(cli, runs, tmp_path)
    load_bundle(b)  # intact
    model = b / "model.onnx"
    data = model.read_bytes()
    model.write_bytes(data[:-100])  # truncated
    with pytest.raises(BundleError, match=r"model\.onnx: sha256 does not match"):
        load_bundle(b)
    model.write_bytes(data[:50] + bytes([data[50] ^ 1]) + data[51:])  # one flipped bit
    with pytest.raises(BundleError, match="sha256 does not match"):
        load_bundle(b)
    model.unlink()
    with pytest.raises(BundleError, match=r"model\.onnx of the bundle is missing"):
        load_bundle(b)
    model.write_bytes(data)
    manifest = json.loads((b / "manifest.json").read_text())
    (b / "manifest.json").write_text(json.dumps({**manifest, "format_version": 99}))
    with pytest.raises(BundleError, match="bundle format 99"):
        load_bundle(b)
    (b / "manifest.json").write_text("{not json")
    with pytest.raises(BundleError, match="not valid JSON"):
        load_bundle(b)


def test_export_refuses_baselines_with_a_clear_message(cli, tmp_path):
    from forecasting.data.synthetic import SyntheticSpec, write_synthetic

    write_synthetic(SyntheticSpec(households=3, days=30, seed=1), tmp_path / "s")
    cfg = tmp_path / "p.yaml"
    cfg.write_text(f"name: p\ndata: {tmp_path / 's' / 'data.yaml'}\nmodel: {{kind: profile}}\n")
    assert cli("train", "--config", cfg, "--output", tmp_path / "run").code == 0
    r = cli("export", "--run", tmp_path / "run", "--output", tmp_path / "bundle")
    assert r.code != 0 and "no weights to export" in r.err and "Traceback" not in r.err
    assert not (tmp_path / "bundle").exists()
