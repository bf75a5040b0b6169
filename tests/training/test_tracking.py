"""MLflow tracking against real stores: a SQLite store for the logged runs, the registry round
trip and a tuning study; and once a real `mlflow server` started as a subprocess on 127.0.0.1.
What MLflow holds is compared with the run folder it was logged from."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

pytest.importorskip("mlflow", reason="MLflow is the [tracking] extra; make test installs it")

from forecasting.tracking import flatten
from training.tracking import histories, numbers


def scalars(run) -> dict[str, float]:
    """A tracked run's one-value metrics (MLflow also shows each step metric's last value)."""
    return {k: v for k, v in run.data.metrics.items() if not k.startswith(("round.", "epoch."))}


def store(tmp: Path) -> str:
    return f"sqlite:///{tmp / 'mlruns.db'}"


def client(uri: str):
    from mlflow import MlflowClient

    return MlflowClient(uri, registry_uri=uri)


def forecasts(folder: Path) -> pd.DataFrame:
    frame = pd.read_parquet(folder / "forecasts")
    return frame.sort_values(["series_id", "origin", "timestamp"]).reset_index(drop=True)


def tracked_copy(run: Path, tmp: Path, uri: str) -> Path:
    """A copy of a trained run folder, logged to `uri` as `train --tracking-uri` logs it."""
    from forecasting.tracking import Tracker
    from training.tracking import log_run_folder

    shutil.copytree(run, tmp / "run")
    log_run_folder(Tracker.open(uri, None, "test"), tmp / "run", "train")
    return tmp / "run"


@pytest.fixture
def ws(corpus_workspace, tmp_path, monkeypatch):
    """The corpus workspace's data, a fresh store and registry download cache per test; run
    from the workspace folder (its data config names files relative to it)."""
    monkeypatch.chdir(corpus_workspace["root"])
    monkeypatch.setenv("FORECASTING_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return corpus_workspace


def test_a_tracked_train_holds_the_run_folders_params_metrics_rounds_and_files(ws, cli, tmp_path):
    uri = store(tmp_path)
    run = tmp_path / "run"
    r = cli("train", "-c", ws["train_config"], "-o", run, "--tracking-uri", uri)
    assert r.code == 0, r.err
    link = json.loads((run / "tracking.json").read_text())
    assert link["tracking_uri"] == uri and link["run_id"] in r.out
    got = client(uri).get_run(link["run_id"])
    config = flatten(yaml.safe_load((run / "config.yaml").read_text()))
    assert {k: v for k, v in got.data.params.items() if not k.startswith("data.")} == {
        k: str(v) for k, v in config.items()
    }
    assert got.data.params["data.name"] == str(yaml.safe_load((run / "data_config.yaml").read_text())["name"])  # fmt: skip
    metrics = json.loads((run / "metrics.json").read_text())
    assert scalars(got) == numbers(metrics)  # every number of metrics.json, as it is there
    assert got.data.metrics["validation.p50"] == metrics["validation"]["p50"]
    rounds = metrics["round_history"]["valid_p50"]  # LightGBM's validation loss per round
    history = client(uri).get_metric_history(link["run_id"], "round.valid_p50")
    assert [(m.step, m.value) for m in history] == list(enumerate(rounds))
    assert len(rounds) >= metrics["best_iterations"][1]
    files = {a.path for a in client(uri).list_artifacts(link["run_id"])}
    assert {"run.json", "config.yaml", "metrics.json", "model"} <= files
    assert got.info.status == "FINISHED" and got.data.tags["forecasting.kind"] == "lightgbm"


def test_a_deep_runs_epochs_are_step_metrics(ws, tmp_path):
    """The autoencoder run of the corpus (a Lightning fit): one step per epoch, equal to its
    metrics.json epoch log."""
    uri = store(tmp_path)
    run = tracked_copy(ws["ae_run"], tmp_path, uri)
    run_id = json.loads((run / "tracking.json").read_text())["run_id"]
    epochs = json.loads((run / "metrics.json").read_text())["epoch_history"]
    assert epochs  # the corpus autoencoder trains one epoch; a longer fit logs one step each
    for key in ("train_loss", "seconds", "windows_per_second"):
        history = client(uri).get_metric_history(run_id, f"epoch.{key}")
        assert [(m.step, m.value) for m in history] == [(e["epoch"], e[key]) for e in epochs]
    assert set(histories(json.loads((run / "metrics.json").read_text()))) == {
        f"epoch.{k}" for k in epochs[0] if k != "epoch" and epochs[0][k] is not None
    }


def test_a_registered_bundle_round_trips_and_predicts_identically(ws, cli, tmp_path):
    uri = store(tmp_path)
    run = tracked_copy(ws["run"], tmp_path, uri)
    bundle = tmp_path / "bundle"
    r = cli("export", "-r", run, "-o", bundle, "--tracking-uri", uri,
            "--register", "household", "--alias", "champion")  # fmt: skip
    assert r.code == 0, r.err
    assert "registered models:/household/1 (alias champion)" in r.out
    version = client(uri).get_model_version_by_alias("household", "champion")
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert version.tags["bundle.kind"] == manifest["kind"] and str(version.version) == "1"
    exported = client(uri).get_run(version.run_id)  # the export run is a child of the train run
    train_id = json.loads((run / "tracking.json").read_text())["run_id"]
    assert exported.data.tags["mlflow.parentRunId"] == train_id

    common = ["-i", ws["canonical"], "--static", ws["static"], "--tracking-uri", uri]
    outs = {}
    for name, source in (("folder", str(bundle)), ("alias", "models:/household@champion"),
                         ("version", "models:/household/1")):  # fmt: skip
        outs[name] = tmp_path / f"pred_{name}"
        r = cli("predict", "-b", source, "-o", outs[name], *common)
        assert r.code == 0, r.err
    ref = forecasts(outs["folder"])
    assert len(ref) > 0
    pd.testing.assert_frame_equal(forecasts(outs["alias"]), ref)
    pd.testing.assert_frame_equal(forecasts(outs["version"]), ref)
    cached = list((tmp_path / "cache" / "registry").glob("*/household/1/manifest.json"))
    assert len(cached) == 1

    # another registry's version 1 of the same name is its own download, not the cached one
    other = store(tmp_path / "other")
    r = cli("export", "-r", tracked_copy(ws["run"], tmp_path / "other", other), "-o",
            tmp_path / "other" / "bundle", "--tracking-uri", other, "--register", "household")  # fmt: skip
    assert r.code == 0, r.err
    r = cli("predict", "-b", "models:/household/1", "-o", tmp_path / "pred_other",
            *common[:-1], other)  # fmt: skip
    assert r.code == 0, r.err
    assert len(list((tmp_path / "cache" / "registry").glob("*/household/1/manifest.json"))) == 2

    # the stored artifact is altered: a fresh download is refused by its checksums
    stored = next((tmp_path / "mlartifacts").rglob("bundle/model.onnx"))
    stored.write_bytes(stored.read_bytes()[:-64])
    shutil.rmtree(tmp_path / "cache")
    r = cli("predict", "-b", "models:/household/1", "-o", tmp_path / "pred_bad", *common)
    assert r.code == 2 and "sha256 does not match" in r.err and "Traceback" not in r.err
    r = cli("predict", "-b", "models:/household@retired", "-o", tmp_path / "p3", *common)
    assert r.code == 2 and "models:/household@retired" in r.err and "alias" in r.err.lower()
    r = cli("predict", "-b", "models:/household", "-o", tmp_path / "p4", *common)
    assert r.code == 2 and "models:/NAME/VERSION or models:/NAME@ALIAS" in r.err


def test_evaluate_logs_a_child_run_of_the_evaluated_run(ws, cli, tmp_path):
    uri = store(tmp_path)
    run = tracked_copy(ws["run"], tmp_path, uri)
    out = tmp_path / "eval.json"
    r = cli("evaluate", "-r", run, "--start", "2023-11-12", "--end", "2023-11-18", "-o", out,
            "--tracking-uri", uri)  # fmt: skip
    assert r.code == 0, r.err
    result = json.loads(out.read_text())
    (child,) = client(uri).search_runs(
        [client(uri).get_experiment_by_name("forecasting").experiment_id],
        "tags.`forecasting.command` = 'evaluate'",
    )
    assert child.data.tags["mlflow.parentRunId"] == json.loads((run / "tracking.json").read_text())["run_id"]  # fmt: skip
    assert child.data.metrics["model.mae"] == result["model"]["mae"]
    assert child.data.metrics["seasonal_naive.mae"] == result["seasonal_naive"]["mae"]
    assert child.data.params["start"] == "2023-11-12"


def test_a_tuning_study_is_a_parent_run_with_a_child_per_trial_and_the_best_run(cli, tmp_path):
    from forecasting.data.synthetic import SyntheticSpec, write_synthetic
    from tests.training.test_tune import tuning_config

    write_synthetic(SyntheticSpec(households=6, days=60, seed=3), tmp_path / "synth")
    config = tuning_config(tmp_path, tmp_path / "synth", trials=2)
    uri = store(tmp_path)
    r = cli("tune", "-c", config, "--tracking-uri", uri, "--experiment", "studies")
    assert r.code == 0, r.err
    summary = json.loads((tmp_path / "study" / "summary.json").read_text())
    c = client(uri)
    runs = c.search_runs([c.get_experiment_by_name("studies").experiment_id])
    (parent,) = [x for x in runs if x.data.tags.get("forecasting.command") == "tune"]
    children = [x for x in runs if x.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    trials = sorted((x for x in children if x.data.tags["forecasting.command"] == "tune.trial"),
                    key=lambda x: x.data.metrics["trial"])  # fmt: skip
    assert [t.data.metrics["value"] for t in trials] == [t["value"] for t in summary["trials"]]
    assert [t.data.params for t in trials] == [
        {k: str(v) for k, v in t["params"].items()} for t in summary["trials"]
    ]
    assert parent.data.metrics["best_value"] == summary["best_value"]
    (best,) = [x for x in children if x.data.tags["forecasting.command"] == "train"]
    assert best.data.tags["forecasting.run_folder"] == str((tmp_path / "study" / "best").resolve())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def mlflow_server(tmp_path):
    pytest.importorskip("flask", reason="`mlflow server` needs flask (the [tracking] extra)")
    port = free_port()
    log = open(tmp_path / "server.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1", "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
         "--artifacts-destination", str(tmp_path / "server_artifacts")],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    uri = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{uri}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert proc.poll() is None, (tmp_path / "server.log").read_text()[-2000:]
        time.sleep(0.3)
    else:
        pytest.fail("mlflow server did not start in 60 s")
    yield uri, tmp_path
    proc.terminate()
    proc.wait(timeout=20)
    log.close()


def test_against_a_real_mlflow_server_a_run_and_a_registered_bundle(ws, cli, mlflow_server):
    uri, tmp = mlflow_server
    run = tmp / "run"
    r = cli("train", "-c", ws["train_config"], "-o", run, "--tracking-uri", uri)
    assert r.code == 0, r.err
    run_id = json.loads((run / "tracking.json").read_text())["run_id"]
    got = client(uri).get_run(run_id)
    assert scalars(got) == numbers(json.loads((run / "metrics.json").read_text()))
    r = cli("export", "-r", run, "-o", tmp / "bundle", "--tracking-uri", uri,
            "--register", "household")  # fmt: skip
    assert r.code == 0, r.err
    common = ["-i", ws["canonical"], "--static", ws["static"], "--tracking-uri", uri]
    assert cli("predict", "-b", tmp / "bundle", "-o", tmp / "p_folder", *common).code == 0
    assert cli("predict", "-b", "models:/household/1", "-o", tmp / "p_reg", *common).code == 0
    pd.testing.assert_frame_equal(forecasts(tmp / "p_reg"), forecasts(tmp / "p_folder"))
    assert any((tmp / "server_artifacts").rglob("manifest.json"))  # stored by the server
