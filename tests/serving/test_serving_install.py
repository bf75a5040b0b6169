"""The base install is the serving side: a fresh virtual environment with `pip install .` (no
extra) holds no torch, lightning, boosters or shap, and runs `predict`, `bill`, `impute`, `explain`
and `monitor` on the committed serving kit (`tests/fixtures/serving_kit`, made by `make_serving_kit.py`). A command of
the training stack says, in one line, which extra to install."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from tests.serving.install import fresh_install

ROOT = Path(__file__).resolve().parents[2]
KIT = ROOT / "tests" / "fixtures" / "serving_kit"
TRAINING_STACK = ["torch", "lightning", "pytorch_forecasting", "lightgbm", "xgboost", "shap",
                  "sklearn", "optuna", "matplotlib"]  # fmt: skip
OFFLINE = ("NewConnectionError", "Temporary failure in name resolution", "Network is unreachable")


@pytest.fixture(scope="module")
def serving_env(tmp_path_factory) -> Path:
    env = tmp_path_factory.mktemp("serving") / "venv"
    pip = fresh_install(env)
    if pip.returncode != 0 and any(m in pip.stderr for m in OFFLINE):
        pytest.skip(f"the package index cannot be reached: {pip.stderr.strip().splitlines()[-1]}")
    assert pip.returncode == 0, pip.stderr[-2000:]
    return env


def forecasting(env: Path, *args: object, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([env / "bin" / "forecasting", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=300)  # fmt: skip


@pytest.mark.slow
def test_the_serving_install_has_no_training_stack(serving_env):
    probe = "import importlib.util as u, json, sys; print(json.dumps({m: u.find_spec(m) is not None for m in sys.argv[1:]}))"
    found = subprocess.run([serving_env / "bin" / "python", "-c", probe, *TRAINING_STACK],
                           capture_output=True, text=True, check=True)  # fmt: skip
    assert json.loads(found.stdout) == dict.fromkeys(TRAINING_STACK, False)


@pytest.mark.slow
def test_predict_bill_and_impute_run_on_the_serving_install(serving_env, tmp_path):
    r = forecasting(serving_env, "predict", "--bundle", KIT / "bundle", "--input",
                    KIT / "input.parquet", "--static", KIT / "static.csv", "--output", "fc",
                    "--no-progress", cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    fc = pd.read_parquet(tmp_path / "fc" / "forecasts")
    assert fc["series_id"].nunique() == pd.read_csv(KIT / "static.csv")["series_id"].nunique()
    assert (fc["p10"] <= fc["p50"]).all() and (fc["p50"] <= fc["p90"]).all()

    tariff = ROOT / "configs" / "tariffs" / "uk_flat_example.yaml"
    r = forecasting(serving_env, "bill", "--tariff", tariff, "--usage", KIT / "usage.csv",
                    "--output", "bills", cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    summary = json.loads((tmp_path / "bills" / "summary.json").read_text())
    assert summary["rows_in"] == len(pd.read_csv(KIT / "usage.csv")) == summary["rows_billed"]

    r = forecasting(serving_env, "impute", "--bundle", KIT / "bundle", "--monthly",
                    KIT / "monthly.csv", "--static", KIT / "static.csv", "--weather",
                    KIT / "weather.csv", "--output", "imputed", cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    monthly = pd.read_csv(KIT / "monthly.csv")
    profiles = pd.read_parquet(tmp_path / "imputed" / "profiles.parquet")
    sums = profiles.groupby("series_id")["p50"].sum()
    want = monthly.groupby("series_id")["kwh"].sum()
    pd.testing.assert_series_equal(
        sums.sort_index(), want.sort_index(), check_names=False, rtol=1e-6
    )


@pytest.mark.slow
def test_a_training_command_names_the_extra_in_one_line(serving_env, tmp_path):
    cfg = ROOT / "configs" / "models" / "lightgbm.yaml"
    r = forecasting(serving_env, "train", "--config", cfg, "--output", "run", cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "meterforecast[train]" in lines[0], r.stderr
    assert not (tmp_path / "run").exists()


def test_the_serving_kit_is_a_sealed_bundle_this_version_reads():
    from serving.load import load_bundle

    bundle = load_bundle(KIT / "bundle")
    assert bundle.manifest["format_version"] == 2 and "archetypes.json" in bundle.manifest["files"]


@pytest.mark.slow
def test_explain_runs_on_the_serving_install(serving_env, tmp_path):
    """`explain --bundle` needs onnxruntime alone: attributions of the kit's bundle, their
    additivity, and a household's story in words (no matplotlib there: no waterfall)."""
    import yaml

    (tmp_path / "data.yaml").write_text(yaml.safe_dump(_kit_data_config()))
    r = forecasting(serving_env, "explain", "--bundle", KIT / "bundle", "--data-config",
                    "data.yaml", "--output", "why", "--customer", "H0001", cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    s = json.loads((tmp_path / "why" / "explain.json").read_text())
    assert s["additivity_max_abs_error"] < 1e-9 and s["customer"]["series_id"] == "H0001"
    assert "waterfall.png" not in s["files"] and "H0001" in r.stdout


@pytest.mark.slow
def test_monitor_runs_on_the_serving_install(serving_env, tmp_path):
    """`monitor` needs no training stack: the kit's last week against the reference its
    bundle stored at export, with its forecasts scored (no matplotlib there: no plot)."""
    import yaml

    (tmp_path / "data.yaml").write_text(yaml.safe_dump(_kit_data_config()))
    (tmp_path / "t.yaml").write_text("min_samples: 10\n")
    r = forecasting(serving_env, "monitor", "--bundle", KIT / "bundle", "--data-config",
                    "data.yaml", "--output", "mon", "--window-days", 7, "--thresholds", "t.yaml",
                    cwd=tmp_path)  # fmt: skip
    assert r.returncode in (0, 1, 2), r.stderr
    s = json.loads((tmp_path / "mon" / "monitor.json").read_text())
    assert s["exit_code"] == r.returncode and s["households"] == 6
    assert s["recent"]["errors"]["origins"] >= 6 and not (tmp_path / "mon" / "monitor.png").exists()


def _kit_data_config() -> dict[str, object]:
    """A data config that reads the kit's canonical frame and static table."""
    return {"name": "kit", "frequency": "1h", "calendar": {"timezone": "Europe/London"},
            "input": {"path": str(KIT / "input.parquet"), "series_id": "series_id",
                      "timestamp": "timestamp", "target": "target", "timezone": "UTC",
                      "covariates": {c: {"column": c, "known_future": True}
                                     for c in ("export_kwh", "temperature", "cloud_cover")}},
            "static": {"path": str(KIT / "static.csv"), "id_column": "series_id"}}  # fmt: skip


@pytest.mark.slow
def test_the_server_runs_on_the_serving_install(serving_env, tmp_path):
    """`serve` names its extra in one line on the base install; with `[service]` added (FastAPI
    and uvicorn, still no torch), the server starts from that environment and answers."""
    import httpx

    from tests.serving.install import source_copy
    from tests.serving.service.server import Server, history_body, setup_folder

    r = forecasting(serving_env, "serve", "--bundles", tmp_path, "--keys", tmp_path / "k.yaml",
                    cwd=tmp_path)  # fmt: skip
    assert r.returncode == 2 and "meterforecast[service]" in r.stderr.strip(), r.stderr
    src = source_copy(tmp_path / "src")
    pip = subprocess.run([serving_env / "bin" / "python", "-m", "pip", "install", "--quiet", "-c",
                          ROOT / "constraints.txt", f"{src}[service]"],
                         capture_output=True, text=True, timeout=600)  # fmt: skip
    assert pip.returncode == 0, pip.stderr[-2000:]
    probe = "import importlib.util as u; print(any(u.find_spec(m) for m in ('torch', 'lightning')))"
    found = subprocess.run(
        [serving_env / "bin" / "python", "-c", probe], capture_output=True, text=True
    )
    assert found.stdout.strip() == "False"
    config, keys = setup_folder(tmp_path / "svc")
    server = Server(
        tmp_path / "svc", config, keys, python=str(serving_env / "bin" / "python")
    ).start()
    try:
        out = server.client().post("/v1/forecast", json=history_body(customers=2))
        assert out.status_code == 200 and len(out.json()["forecasts"]) == 2, out.text
        assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
    finally:
        server.stop()
