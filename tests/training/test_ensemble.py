"""Learned ensembles: the weight problem, and an ensemble of LightGBM, XGBoost and a CNN-LSTM
trained on generated data through evaluate, export and predict on onnxruntime."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.cli.test_train_evaluate import config

ORIGIN = "2023-12-05T00:00:00+00:00"


def pinball(y, f, q):
    d = y - f
    return float(np.mean(np.maximum(q * d, (q - 1) * d)))


def test_weights_recover_a_known_mix_and_stay_non_negative():
    from training.ensemble import solve_weights

    rng = np.random.default_rng(0)
    F = rng.gamma(2.0, 0.5, size=(3000, 3))
    y = 0.7 * F[:, 0] + 0.3 * F[:, 1]  # member 2 is noise: it must get no weight
    w = solve_weights(F, y, 0.5)
    np.testing.assert_allclose(w, [0.7, 0.3, 0.0], atol=1e-6)
    anti = np.column_stack([F[:, 0], -F[:, 0]])  # a member pointing the wrong way
    assert solve_weights(anti, F[:, 0], 0.9)[1] == 0.0
    convex = solve_weights(F, 1.5 * F[:, 0], 0.9, sum_to_one=True)
    assert convex.sum() == pytest.approx(1.0) and (convex >= 0).all()
    for q in (0.1, 0.9):  # optimal: no feasible corner (one member alone) does better
        noisy = y + rng.normal(0, 0.3, len(y))
        w = solve_weights(F, noisy, q)
        best = pinball(noisy, F @ w, q)
        for i in range(3):
            assert best <= pinball(noisy, F[:, i], q) + 1e-9


def test_combination_never_crosses_quantiles():
    from forecasting.forecasts.combine import combine, horizon_blocks

    rng = np.random.default_rng(1)
    pred = np.sort(rng.gamma(2, 1, size=(500, 2, 3)), axis=2)
    weights = np.array([[[1.0, 0.0], [0.0, 2.0], [0.1, 0.0]]])  # would cross unsorted
    out = combine(pred, np.ones(500, int), weights, horizon_blocks(24, 1), nonnegative=True)
    assert (np.diff(out, axis=1) >= 0).all()
    assert horizon_blocks(24, 3) == [[1, 8], [9, 16], [17, 24]]


@pytest.fixture(scope="module")
def members(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from forecasting.data.synthetic import SyntheticSpec, write_synthetic
    from training.train import train

    tmp = tmp_path_factory.mktemp("members")
    write_synthetic(SyntheticSpec(households=6, days=60, seed=3), tmp / "synth")
    runs = {}
    for kind in ("cnn_lstm", "xgboost", "lightgbm"):
        runs[kind] = tmp / kind
        train(config(tmp, tmp / "synth", kind), runs[kind])
    runs["data"] = tmp / "synth" / "data.yaml"
    return runs


def test_ensemble_learns_evaluates_exports_and_predicts(cli, members, tmp_path: Path):
    from forecasting.config.data import load_data_config
    from forecasting.data.prepare import prepare
    from forecasting.models.registry import load_run
    from serving.load import load_bundle

    runs = [members[k] for k in ("cnn_lstm", "xgboost", "lightgbm")]
    ens = tmp_path / "ens"
    r = cli("ensemble", "--runs", *runs, "--output", ens, "--horizon-blocks", "2")
    assert r.code == 0, r.err
    spec = json.loads((ens / "weights.json").read_text())
    w = np.asarray(spec["weights"])
    assert w.shape == (2, 3, 3) and (w >= 0).all() and w.sum() > 0
    v = json.loads((ens / "metrics.json").read_text())["validation"]
    assert set(v) >= {"equal_weights", "fixed_50_30_20", "learned"}
    best_single = min(v[n]["loss"] for n in spec["members"])
    assert v["learned"]["loss"] <= min(best_single, v["equal_weights"]["loss"]) + 1e-9

    out = tmp_path / "eval.json"
    r = cli(
        "evaluate", "--run", ens, "--start", "2023-12-03", "--end", "2023-12-10",
        "--output", out, "--forecasts", tmp_path / "fc.parquet",
    )  # fmt: skip
    assert r.code == 0, r.err
    assert json.loads(out.read_text())["n_origins"] == 8
    fc = pd.read_parquet(tmp_path / "fc.parquet")
    assert (
        len(fc) == 6 * 8 * 24 and (fc["p10"] <= fc["p50"]).all() and (fc["p50"] <= fc["p90"]).all()
    )

    bundle = tmp_path / "bundle"
    r = cli("export", "--run", ens, "--output", bundle)
    assert r.code == 0, r.err
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["kind"] == "ensemble" and manifest["parity"]["real"]["max_abs_diff"] < 1e-4
    # the combination's own interval calibration travels in the bundle (and is applied below)
    rows = json.loads((ens / "metrics.json").read_text())["validation_rows"]
    assert spec["calibration"]["validation_rows"] == rows > 0
    assert manifest["calibration"] == spec["calibration"]
    assert sorted(p.name for p in (bundle / "members").iterdir()) == sorted(spec["members"])

    prepared = prepare(load_data_config(members["data"]))
    origins = pd.date_range("2023-12-03", "2023-12-09", freq="1D", tz="Europe/London").tz_convert(
        "UTC"
    )
    model, _ = load_run(ens)
    native = model.forecast(prepared.frame, origins, prepared.static)
    onnx, skipped = load_bundle(bundle).forecast(prepared.frame, origins, prepared.static)
    assert len(native) == len(onnx) == 6 * 7 * 24 and skipped.empty
    keys = ["series_id", "origin", "timestamp"]
    m = native.merge(onnx, on=keys, suffixes=("", "_ort"))
    for c in ("p10", "p50", "p90"):
        np.testing.assert_allclose(m[c], m[f"{c}_ort"], rtol=1e-4, atol=1e-5)

    data = tmp_path / "input.parquet"
    prepared.frame.to_parquet(data, index=False)
    prepared.static.to_parquet(tmp_path / "static.parquet", index=False)
    r = cli(
        "predict", "--bundle", bundle, "--input", data, "--static", tmp_path / "static.parquet",
        "--output", tmp_path / "pred", "--origin", ORIGIN, "--no-progress",
    )  # fmt: skip
    assert r.code == 0, r.err
    got = pd.read_parquet(tmp_path / "pred" / "forecasts")
    want = native[native["origin"] == pd.Timestamp(ORIGIN)]
    m = want.merge(got, on=keys, suffixes=("", "_job"))
    assert len(m) == len(want) == 6 * 24
    np.testing.assert_allclose(m["p50"], m["p50_job"], rtol=1e-4, atol=1e-5)


def test_bad_ensembles_get_one_line_errors(cli, members, tmp_path: Path):
    one = cli("ensemble", "--runs", members["lightgbm"], "--output", tmp_path / "e")
    assert one.code == 2 and "at least 2 member runs" in one.err
    missing = cli(
        "ensemble", "--runs", members["lightgbm"], tmp_path / "nope", "-o", tmp_path / "e"
    )
    assert missing.code == 2 and "run folder not found" in missing.err
    odd = tmp_path / "odd"
    import shutil

    shutil.copytree(members["xgboost"], odd)
    meta = json.loads((odd / "run.json").read_text())
    meta["quantiles"] = [0.05, 0.5, 0.95]
    (odd / "run.json").write_text(json.dumps(meta))
    r = cli("ensemble", "--runs", members["lightgbm"], odd, "--output", tmp_path / "e")
    assert r.code == 2 and f"{odd}: quantiles" in r.err
    ens = tmp_path / "ens"
    assert cli("ensemble", "--runs", members["lightgbm"], members["xgboost"], "-o", ens).code == 0
    nested = cli("ensemble", "--runs", ens, members["xgboost"], "--output", tmp_path / "e2")
    assert nested.code == 2 and "cannot be a member of an ensemble" in nested.err
    blocks = cli("ensemble", "--runs", members["lightgbm"], members["xgboost"], "-o", ens,
                 "--horizon-blocks", "30")  # fmt: skip
    assert blocks.code == 2 and "--horizon-blocks 30" in blocks.err
    assert "Traceback" not in one.err + missing.err + r.err + nested.err + blocks.err
