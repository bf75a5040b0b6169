"""A 2-process DDP run on CPU (gloo) through `forecasting train`, as a user launches it: Lightning
starts the second rank, each rank trains on half the windows, rank 0 alone writes the run
folder, reports it and logs it to MLflow."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest
import yaml


@pytest.mark.slow
def test_two_cpu_processes_train_one_run_with_ddp(corpus_workspace, tmp_path):
    root = corpus_workspace["root"]
    config = yaml.safe_load(corpus_workspace["train_config"].read_text())
    config["model"] = {"kind": "cnn_lstm", "hidden_size": 8, "conv_channels": 4}
    config["trainer"] = {"accelerator": "cpu", "devices": 2, "strategy": "ddp", "max_epochs": 2,
                         "progress_bar": "none", "logger": "none"}  # fmt: skip
    (tmp_path / "ddp.yaml").write_text(yaml.safe_dump(config))
    cmd = [sys.executable, "-m", "forecasting", "train", "-c", str(tmp_path / "ddp.yaml"),
           "-o", str(tmp_path / "run")]  # fmt: skip
    tracked = importlib.util.find_spec("mlflow") is not None  # the [tracking] extra
    if tracked:
        cmd += ["--tracking-uri", f"sqlite:///{tmp_path / 'mlruns.db'}"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    r = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count("trained ") == 1  # rank 0 reports; rank 1 says nothing
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert m["strategy"] == "DDPStrategy" and m["devices"] == 2 and m["global_rank"] == 0
    assert m["accelerator"] == "CPUAccelerator" and m["epochs"] == 2
    per_rank = -(-m["train_windows"] // 2)  # the distributed sampler splits the windows
    assert [e["windows"] for e in m["epoch_history"]] == [per_rank, per_rank]
    assert (tmp_path / "run" / "model" / "weights.pt").is_file()
    if tracked:
        from mlflow import MlflowClient

        c = MlflowClient(f"sqlite:///{tmp_path / 'mlruns.db'}")
        runs = c.search_runs([c.get_experiment_by_name("forecasting").experiment_id])
        assert len(runs) == 1 and runs[0].data.params["trainer.strategy"] == "ddp"
