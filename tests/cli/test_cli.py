"""The command line: help without heavy imports, torch-free serving, end-to-end subprocess runs."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT

HEAVY = ("pandas", "numpy", "pyarrow", "torch", "lightning", "pytorch_forecasting", "shap")


def _modules_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_help_imports_nothing_heavy():
    code = (
        "from forecasting.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass"
    )
    loaded = _modules_after(code)
    assert not {m for m in loaded if m.split(".")[0] in HEAVY}


def test_serving_and_feature_code_stay_torch_free(tmp_path):
    """Import the serving modules, then run a whole `forecasting predict` job on the golden
    bundle in the same process: neither torch nor lightning may have been loaded."""
    g = ROOT / "tests" / "fixtures" / "golden_bundle_v1"
    job = (
        "from forecasting.cli import main\ntry:\n    main(['predict', '--bundle', "
        f"'{g / 'bundle'}', '--input', '{g / 'input.parquet'}', '--static', "
        f"'{g / 'static.parquet'}', '--output', '{tmp_path / 'out'}'])\n"
        "except SystemExit as exc:\n    assert not exc.code, exc.code"
    )
    loaded = _modules_after(
        "import serving, serving.bundle, serving.predict, serving.stream, forecasting.features, "
        "serving.bill, serving.impute, serving.optimise, forecasting.tariffs.engine, "
        "forecasting.response.job, forecasting.optimise.solve, "
        "forecasting.data.prepare, forecasting.evaluation.backtest, forecasting.models.common\n"
        + job
    )
    assert (tmp_path / "out" / "summary.json").is_file()
    assert "onnxruntime" in loaded
    assert not {
        m
        for m in loaded
        if m.split(".")[0] in ("torch", "lightning", "pytorch_lightning", "pytorch_forecasting")
    }


def test_subprocess_error_is_one_line_without_traceback(tmp_path):
    exe = [
        sys.executable,
        "-m",
        "forecasting",
        "data",
        "validate",
        str(tmp_path / "missing.csv"),
        "--config",
        "configs/data/lcl.yaml",
    ]
    res = subprocess.run(exe, capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 2
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert "missing.csv" in res.stderr


def test_synth_then_prepare_end_to_end(cli, tmp_path):
    res = cli(
        "data",
        "synth",
        "--output",
        tmp_path / "raw",
        "--households",
        "4",
        "--days",
        "21",
        "--seed",
        "3",
    )
    assert res.code == 0, res.err
    res = cli(
        "data", "prepare", "--config", tmp_path / "raw" / "data.yaml", "--output", tmp_path / "out"
    )
    assert res.code == 0, res.err
    assert "identity holds" in res.out
    assert (tmp_path / "out" / "frame.parquet").exists() and (
        tmp_path / "out" / "dataset.json"
    ).exists()
