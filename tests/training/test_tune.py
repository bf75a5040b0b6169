"""Optuna tuning on generated data, with a real SQLite storage and real worker processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli.test_train_evaluate import TRAIN as BASE
from tests.conftest import ROOT

MODEL = {
    "lightgbm": "  n_estimators: 120\n  early_stopping_rounds: null",
    "cnn_lstm": "  hidden_size: 8\n  conv_channels: 4\n  batch_size: 32\n"
    "trainer:\n  accelerator: cpu\n  max_epochs: 2\n  checkpoints: false\n  logger: none",
}
TUNING = """
name: {name}
base: {base}
output: {output}
trials: {trials}
params: [learning_rate, num_leaves, min_data_in_leaf]
ranges: {{min_data_in_leaf: {{low: 5, high: 100}}}}
pruner: {{kind: none}}
heartbeat_seconds: 1
"""


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from forecasting.data.synthetic import SyntheticSpec, write_synthetic

    out = tmp_path_factory.mktemp("synth")
    write_synthetic(SyntheticSpec(households=6, days=60, seed=3), out)
    return out


def tuning_config(tmp: Path, synth: Path, trials: int, kind: str = "lightgbm", **extra) -> Path:
    base = tmp / f"base_{kind}.yaml"
    base.write_text(BASE.format(kind=kind, data=synth / "data.yaml", params=MODEL[kind]))
    text = TUNING.format(name=f"t_{kind}", base=base, output=tmp / "study", trials=trials)
    for key, value in extra.items():
        text += f"{key}: {value}\n"
    path = tmp / f"tune_{kind}.yaml"
    path.write_text(text)
    return path


def tune_process(config: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "forecasting", "tune", "--config", str(config), *args]
    return subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def load(storage: str, name: str):
    import optuna

    return optuna.load_study(study_name=name, storage=storage)


def states(study) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        out[t.state.name] = out.get(t.state.name, 0) + 1
    return out


def test_search_space_comes_from_the_model_config_fields():
    from forecasting.config.model import CNNLSTMConfig, LightGBMConfig, XGBoostConfig
    from forecasting.config.tuning import ParamRange
    from forecasting.errors import ConfigError
    from training.tune import search_space

    lgb = search_space(LightGBMConfig)
    assert {"learning_rate", "num_leaves", "n_estimators"} <= set(lgb)
    assert "seed" not in lgb and "max_bin" not in lgb  # untuned fields stay out
    assert lgb["num_leaves"].kind == "int" and lgb["learning_rate"].log
    assert {"max_depth", "subsample"} <= set(search_space(XGBoostConfig))
    assert {"hidden_size", "dropout", "batch_size"} <= set(search_space(CNNLSTMConfig))
    some = search_space(LightGBMConfig, ["num_leaves"], {"num_leaves": ParamRange(high=31)})
    assert list(some) == ["num_leaves"] and some["num_leaves"].high == 31
    with pytest.raises(ConfigError, match="'max_bin' is not a tunable field of lightgbm"):
        search_space(LightGBMConfig, ["max_bin"])


def test_killed_study_resumes_from_its_stored_trials(synth: Path, tmp_path: Path):
    config = tuning_config(tmp_path, synth, trials=8)
    storage = f"sqlite:///{tmp_path / 'study' / 'study.db'}"
    proc = tune_process(config)
    deadline = time.time() + 120
    before = None
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
        try:
            study = load(storage, "t_lightgbm")
        except Exception:  # the database or the study is not created yet
            continue
        s = states(study)
        if s.get("COMPLETE", 0) >= 2 and s.get("RUNNING", 0) == 1:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            before = study.get_trials(deepcopy=True)
            break
    assert before is not None, f"the study never reached 2 trials: {proc.communicate()[0]}"
    killed = [t for t in before if t.state.name == "RUNNING"]
    done_before = {t.number: (t.value, t.params) for t in before if t.state.name == "COMPLETE"}
    assert len(killed) == 1 and 2 <= len(done_before) < 8

    out, _ = tune_process(config).communicate(timeout=300)
    assert f"{len(done_before)} of 8 trials finished" in out, out
    study = load(storage, "t_lightgbm")
    trials = study.get_trials(deepcopy=False)
    numbers = [t.number for t in trials]
    assert numbers == list(range(len(trials)))  # one sequence, nothing numbered twice
    assert states(study) == {"COMPLETE": 8, "FAIL": 1}
    for t in trials:  # the trials finished before the kill are kept as they were
        if t.number in done_before:
            assert (t.value, t.params) == done_before[t.number]
    stale = next(t for t in trials if t.number == killed[0].number)
    assert stale.state.name == "FAIL"  # its heartbeat stopped ...
    retried = [t for t in trials if t.system_attrs.get("failed_trial") == stale.number]
    # ... and it was run again with what it had drawn: the kill can fall between two
    # suggestions, so the killed trial may hold only the first few of the parameters
    assert len(retried) == 1 and killed[0].params.items() <= retried[0].params.items()
    summary = json.loads((tmp_path / "study" / "summary.json").read_text())
    assert summary["best_value"] == pytest.approx(study.best_value)
    assert summary["states"] == {"COMPLETE": 8, "FAIL": 1}
    assert (tmp_path / "study" / "history.png").stat().st_size > 10_000
    best = tmp_path / "study" / "best"
    cfg = (best / "config.yaml").read_text()
    for name, value in study.best_params.items():
        assert f"{name}: {value}" in cfg  # the best run was trained with the best parameters
    assert json.loads((best / "run.json").read_text())["kind"] == "lightgbm"


def test_two_workers_share_one_study(synth: Path, tmp_path: Path):
    config = tuning_config(tmp_path, synth, trials=10)
    procs = [
        tune_process(config, "--worker", str(w), "--threads", "1", "--no-train-best")
        for w in (0, 1)
    ]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    study = load(f"sqlite:///{tmp_path / 'study' / 'study.db'}", "t_lightgbm")
    trials = study.get_trials(deepcopy=False)
    numbers = [t.number for t in trials]
    assert len(set(numbers)) == len(numbers) == len(trials)
    assert sorted(numbers) == list(range(len(trials)))
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    assert 10 <= len(complete) <= 11  # a worker may finish the trial it had started
    assert {t.user_attrs["worker"] for t in complete} == {0, 1}  # both did work
    params = [tuple(sorted(t.params.items())) for t in complete]
    assert len(set(params)) == len(params)  # the workers' samplers draw different points


def test_deep_trials_report_each_epoch_to_the_pruner(synth: Path, tmp_path: Path):
    from training.tune import tune

    config = tuning_config(tmp_path, synth, trials=2, kind="cnn_lstm")
    text = config.read_text().replace(
        "params: [learning_rate, num_leaves, min_data_in_leaf]\n"
        "ranges: {min_data_in_leaf: {low: 5, high: 100}}",
        "params: [learning_rate, dropout]",
    )
    config.write_text(text + "trainer: {max_epochs: 3}\n")
    result = tune(config, train_best=False, echo=lambda m: None)
    study = load(f"sqlite:///{tmp_path / 'study' / 'study.db'}", "t_cnn_lstm")
    for t in study.get_trials(deepcopy=False):
        assert t.state.name == "COMPLETE"
        assert sorted(t.intermediate_values) == [0, 1, 2]  # val_loss after every epoch
        assert t.user_attrs["validation"]["loss"] == pytest.approx(t.value)
    assert result.best_run is None and result.summary["best_trial"] in (0, 1)


def test_lightgbm_pruning_stops_bad_trials(synth: Path, tmp_path: Path):
    from training.tune import tune

    config = tuning_config(tmp_path, synth, trials=6)
    text = config.read_text().replace(
        "pruner: {kind: none}", "pruner: {n_startup_trials: 1, n_warmup_steps: 5}"
    )
    config.write_text(text.replace("ranges: {min_data_in_leaf: {low: 5, high: 100}}", ""))
    tune(config, train_best=False, echo=lambda m: None)
    study = load(f"sqlite:///{tmp_path / 'study' / 'study.db'}", "t_lightgbm")
    trials = study.get_trials(deepcopy=False)
    assert all(len(t.intermediate_values) > 5 for t in trials)  # rounds were reported
    pruned = [t for t in trials if t.state.name == "PRUNED"]
    assert pruned, "no trial was pruned"
    assert all(t.last_step is not None and t.last_step < 119 for t in pruned)


def test_bad_tuning_inputs_get_one_line_errors(cli, synth: Path, tmp_path: Path):
    config = tuning_config(tmp_path, synth, trials=2)
    r = cli("tune", "--config", config, "--storage", "nosuchdb://x/y")
    assert r.code == 2 and "cannot open the study storage nosuchdb://x/y" in r.err
    bad = tmp_path / "bad.yaml"
    bad.write_text(config.read_text().replace("num_leaves", "max_bin"))
    r = cli("tune", "--config", bad)
    assert r.code == 2 and "'max_bin' is not a tunable field of lightgbm" in r.err
    r = cli("tune", "--config", config, "--trials", "1", "--no-train-best")
    assert r.code == 0, r.err
    other = tmp_path / "other.yaml"
    other.write_text(config.read_text().replace("num_leaves, ", ""))
    r = cli("tune", "--config", other, "--no-train-best")
    assert r.code == 2 and "use another --study" in r.err
    assert "Traceback" not in r.err


@pytest.mark.parametrize("path", sorted((ROOT / "configs" / "tuning").glob("*.yaml")))
def test_shipped_tuning_configs_resolve(path: Path):
    from forecasting.config.model import load_train_config
    from forecasting.config.tuning import load_tuning_config
    from training.tune import search_space, trial_config

    cfg = load_tuning_config(path)
    base = load_train_config(cfg.base)
    space = search_space(type(base.model), cfg.params, cfg.ranges)
    low = {n: int(d.low) if d.kind == "int" else d.low for n, d in space.items()}
    assert trial_config(base, low, cfg.fixed, cfg.trainer).validation is not None
