"""Shared fixtures: the real datasets in ../shared/data (skipped when absent) and CLI runners."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

# `make test` runs the suite on two processes (pytest-xdist). Each keeps its models, sessions
# and the commands it starts to one thread, so two processes never want more threads than
# the cores: two jobs' spinning OpenMP threads on shared cores made a test take 3x its time
# (benchmarks/side_by_side.py measures the same effect). Set before any model library loads.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("FORECASTING_THREADS", "1")
    os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
SHARED = (ROOT / ".." / "shared" / "data").resolve()


@pytest.fixture(autouse=True)
def _run_from_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """Configs use paths relative to the project root, as the README's commands do."""
    monkeypatch.chdir(ROOT)


def shared_path(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(
            f"real dataset not available: {path} (../shared/data is absent on this machine)"
        )
    return path


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> dict:
        return json.loads(self.out)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):
    """Run the `forecasting` command in-process; returns exit code, stdout and stderr."""
    from forecasting.cli import main

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture(scope="session")
def corpus_workspace(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Generated data, a LightGBM run and its sealed bundle, a tiny autoencoder run, monthly
    totals, weather and a tariff (tests/cli/corpus.py), made once for the session."""
    from tests.cli.corpus import workspace

    return workspace(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="session")
def tiny_models() -> dict[str, object]:
    """A tiny fitted model of every trained kind, fitted once (tests/models/helpers.py)."""
    from tests.models.helpers import tiny_models as build

    return build()


def train_and_export(root: Path, train_config: Path) -> tuple[Path, Path]:
    """Train `train_config` into root/run and export it to root/bundle, from `root` (generated
    data configs name their files relative to it); (run, bundle)."""
    import os

    from forecasting.export import export_run
    from training.train import train

    here = Path.cwd()
    os.chdir(root)
    try:
        train(train_config, root / "run")
        export_run(root / "run", root / "bundle")
    finally:
        os.chdir(here)
    return root / "run", root / "bundle"
