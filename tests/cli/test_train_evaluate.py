"""End to end through the CLI on generated data: train -> evaluate -> explain."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

TRAIN = """
name: tiny_{kind}
data: {data}
horizon: 24
lookback: 168
train: {{start: 2023-10-23, end: 2023-11-25}}
validation: {{start: 2023-11-26, end: 2023-12-02}}
features:
  lags: [24, 168]
  rolling_windows: [24, 168]
model:
  kind: {kind}
{params}
"""
PARAMS = {
    "lightgbm": "  n_estimators: 30\n  num_leaves: 15\n  min_data_in_leaf: 20",
    "xgboost": "  n_estimators: 30\n  max_depth: 4",
    "profile": "  weeks: 2",
    "cnn_lstm": "  hidden_size: 8\n  conv_channels: 4\n  batch_size: 32\n"
    "trainer:\n  accelerator: cpu\n  max_epochs: 2",
}


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from forecasting.data.synthetic import SyntheticSpec, write_synthetic

    out = tmp_path_factory.mktemp("synth")
    write_synthetic(SyntheticSpec(households=6, days=60, seed=3), out)
    return out


def config(tmp: Path, synth: Path, kind: str) -> Path:
    path = tmp / f"{kind}.yaml"
    path.write_text(TRAIN.format(kind=kind, data=synth / "data.yaml", params=PARAMS[kind]))
    return path


@pytest.mark.parametrize("kind", ["lightgbm", "xgboost", "profile", "cnn_lstm"])
def test_train_then_evaluate(cli, synth: Path, tmp_path: Path, kind: str):
    run = tmp_path / "run"
    r = cli("train", "--config", config(tmp_path, synth, kind), "--output", run)
    assert r.code == 0, r.err
    for name in ("run.json", "config.yaml", "data_config.yaml", "features.json", "metrics.json"):
        assert (run / name).exists()
    if kind != "profile":
        assert json.loads((run / "metrics.json").read_text())["validation"]["p50"] > 0
        assert not list(run.rglob("*.pkl"))
    out = tmp_path / "metrics.json"
    fc_path = tmp_path / "fc.parquet"
    r = cli(
        "evaluate", "--run", run, "--start", "2023-12-03", "--end", "2023-12-10",
        "--output", out, "--forecasts", fc_path,
    )  # fmt: skip
    assert r.code == 0, r.err
    m = json.loads(out.read_text())
    for block in ("model", "seasonal_naive"):
        assert set(m[block]) >= {"mae", "rmse", "qrisk", "coverage_p10_p90", "peak_error"}
        assert set(m[block]["qrisk"]) == {"p10", "p50", "p90"}
    assert m["n_series"] == 6 and m["n_origins"] == 8
    fc = pd.read_parquet(fc_path)
    assert (fc["p10"] <= fc["p50"]).all() and (fc["p50"] <= fc["p90"]).all()
    assert (
        fc.groupby("origin")["timestamp"].min().dt.tz_convert("Europe/London").dt.hour.eq(0).all()
    )


def test_reloaded_run_gives_the_forecasts_of_the_evaluate_command(cli, synth, tmp_path):
    from forecasting.config.data import load_data_config
    from forecasting.data.prepare import prepare
    from forecasting.models.registry import load_run

    run = tmp_path / "run"
    assert cli("train", "--config", config(tmp_path, synth, "lightgbm"), "--output", run).code == 0
    fc_path = tmp_path / "fc.parquet"
    r = cli(
        "evaluate", "--run", run, "--start", "2023-12-05", "--end", "2023-12-05",
        "--output", tmp_path / "m.json", "--forecasts", fc_path,
    )  # fmt: skip
    assert r.code == 0, r.err
    model, _ = load_run(run)
    prepared = prepare(load_data_config(run / "data_config.yaml"))
    origin = pd.DatetimeIndex([pd.Timestamp("2023-12-05", tz="Europe/London").tz_convert("UTC")])
    again = model.forecast(prepared.frame, origin, prepared.static)
    before = pd.read_parquet(fc_path)[again.columns]
    pd.testing.assert_frame_equal(
        before.reset_index(drop=True), again.reset_index(drop=True), check_dtype=False
    )


def test_explain_writes_the_report(cli, synth, tmp_path):
    run = tmp_path / "run"
    assert cli("train", "--config", config(tmp_path, synth, "lightgbm"), "--output", run).code == 0
    out = tmp_path / "explain"
    r = cli("explain", "--run", run, "--output", out, "--max-rows", "300")
    assert r.code == 0, r.err
    for name in ("importance.csv", "summary.png", "report.html", "explain.json"):
        assert (out / name).stat().st_size > 0
    assert len(list(out.glob("dependence_*.png"))) == 3
    summary = json.loads((out / "explain.json").read_text())
    assert summary["additivity_max_abs_error"] < 1e-6
    table = pd.read_csv(out / "importance.csv")
    assert table["share"].sum() == pytest.approx(1.0)
    assert "driven most by" in (out / "report.html").read_text()


def test_explain_refuses_a_baseline_run(cli, synth, tmp_path):
    run = tmp_path / "run"
    assert cli("train", "--config", config(tmp_path, synth, "profile"), "--output", run).code == 0
    r = cli("explain", "--run", run, "--output", tmp_path / "x")
    assert r.code == 2
    assert "explain works on tree models" in r.err


def test_bad_model_config_names_the_line(cli, synth, tmp_path):
    path = config(tmp_path, synth, "lightgbm")
    path.write_text(path.read_text().replace("num_leaves", "num_leafs"))
    r = cli("train", "--config", path, "--output", tmp_path / "run")
    assert r.code == 2
    assert "num_leafs" in r.err and f"{path}:" in r.err and "\n" not in r.err.strip()


def test_not_a_run_folder(cli, tmp_path):
    r = cli(
        "evaluate",
        "--run",
        tmp_path,
        "--start",
        "2023-12-01",
        "--end",
        "2023-12-02",
        "--output",
        tmp_path / "m.json",
    )
    assert r.code == 2 and "not a run folder" in r.err


AUTOENCODER = """
name: tiny_ae
data: {data}
lookback: 168
origin_hour: null
origin_step: 6
train: {{start: 2023-10-23, end: 2023-11-25}}
validation: {{start: 2023-11-26, end: 2023-12-02}}
model:
  kind: lstm_autoencoder
  hidden_size: 8
  latent_size: 4
  batch_size: 64
trainer:
  accelerator: cpu
  max_epochs: 2
"""


def test_anomaly_run_scores_new_data_and_is_refused_by_evaluate(cli, synth, tmp_path):
    from forecasting.features.reconstruction import SCORE_COLUMNS

    cfg = tmp_path / "ae.yaml"
    cfg.write_text(AUTOENCODER.format(data=synth / "data.yaml"))
    run = tmp_path / "ae_run"
    r = cli("train", "--config", cfg, "--output", run)
    assert r.code == 0, r.err
    assert json.loads((run / "metrics.json").read_text())["threshold"] > 0
    out = tmp_path / "flags.csv"
    r = cli(
        "anomalies", "--run", run, "--input", synth / "readings.csv", "--output", out,
        "--start", "2023-12-03", "--end", "2023-12-09",
    )  # fmt: skip
    assert r.code == 0, r.err
    flags = pd.read_csv(out)
    assert list(flags.columns) == SCORE_COLUMNS
    assert flags["series_id"].nunique() == 6 and len(flags) == 6 * 7 * 24
    summary = json.loads(out.with_suffix(".summary.json").read_text())
    assert summary["flagged_intervals"] == int(flags["flag"].sum())
    r = cli("evaluate", "--run", run, "--start", "2023-12-03", "--end", "2023-12-04",
            "--output", tmp_path / "m.json")  # fmt: skip
    assert r.code != 0 and "forecasting anomalies" in r.err and "Traceback" not in r.err
    forecaster = tmp_path / "fc_run"
    assert (
        cli("train", "--config", config(tmp_path, synth, "profile"), "--output", forecaster).code
        == 0
    )
    r = cli("anomalies", "--run", forecaster, "--input", synth / "readings.csv", "--output", out)
    assert r.code != 0 and "lstm_autoencoder" in r.err


def test_deep_run_resumes_from_its_last_checkpoint_through_the_cli(cli, synth, tmp_path):
    base = config(tmp_path, synth, "cnn_lstm").read_text()
    run = tmp_path / "run"
    assert cli("train", "--config", config(tmp_path, synth, "cnn_lstm"), "--output", run).code == 0
    assert (run / "checkpoints" / "last.ckpt").exists()
    resumed = tmp_path / "resume.yaml"
    resumed.write_text(
        base.replace("max_epochs: 2", "max_epochs: 3\n  resume_from: last\n  progress_bar: off")
    )
    r = cli("train", "--config", resumed, "--output", run)
    assert r.code == 0, r.err
    history = json.loads((run / "metrics.json").read_text())["epoch_history"]
    assert [e["epoch"] for e in history] == [2]  # only the third epoch ran
    assert "epoch 3/3" in r.err
