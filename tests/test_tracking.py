"""Where tracking goes (and that off means off), and what a missing `[tracking]` extra says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from forecasting.errors import InputError
from forecasting.tracking import (
    artifact_location,
    fetch_registered_bundle,
    flatten,
    param_text,
    require_mlflow,
    tracking_uri,
)
from tests.conftest import ROOT


def test_the_uri_is_the_option_then_the_environment_then_a_local_store_with_track(
    monkeypatch, tmp_path
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking_uri(None) is None and tracking_uri(None, track=False) is None  # off
    assert tracking_uri(None, track=True) == f"sqlite:///{tmp_path / 'mlruns.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracker:5000")
    assert tracking_uri(None) == "http://tracker:5000"
    assert tracking_uri("sqlite:///x.db", track=True) == "sqlite:///x.db"


def test_a_sqlite_store_keeps_its_artifacts_beside_it():
    assert artifact_location("sqlite:////data/ml/runs.db") == "/data/ml/mlartifacts"
    assert artifact_location("http://127.0.0.1:5000") is None  # the server decides
    assert artifact_location("sqlite:///:memory:") is None


def test_params_are_flat_and_within_mlflows_limit():
    assert flatten({"a": {"b": 1, "c": {"d": [1, 2]}}, "e": None}) == {
        "a.b": 1, "a.c.d": [1, 2], "e": None
    }  # fmt: skip
    long = param_text("x" * 10_000)
    assert len(long) == 6000 and long.endswith("…")


def test_without_the_extra_a_command_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if not installed
    with pytest.raises(InputError, match=r"pip install 'meterforecast\[tracking\]'"):
        require_mlflow("`forecasting train` with tracking")


def test_a_model_uri_must_name_a_version_or_an_alias(tmp_path):
    for bad in ("models:/household", "models:/household/latest", "models:/a/b/1"):
        with pytest.raises(InputError, match="models:/NAME/VERSION or models:/NAME@ALIAS"):
            fetch_registered_bundle(bad, tmp_path, "sqlite:///unused.db")


def test_tracking_off_imports_no_mlflow():
    """`--help` and an untracked command never load MLflow (it costs seconds to import)."""
    code = (
        "import sys\n"
        "from forecasting.cli import main\n"
        "try:\n    main(['train', '--help'])\nexcept SystemExit:\n    pass\n"
        "import forecasting.cli.app as a\n"
        "assert a.open_tracker(None, False, None, 'train') is None\n"
        "assert 'mlflow' not in sys.modules, 'mlflow imported'\n"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    assert "--tracking-uri" in r.stdout
