"""Why the autoencoder finds a day unusual (serving/explain_anomaly.py): on its bundle
(torch-free) and on its run, with a planted evening fault."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

DAY, HOUSE = "2023-11-15", "H0002"


@pytest.fixture(scope="module")
def planted(corpus_workspace, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The corpus readings with one household's evening of one day at 4 kWh a half-hour
    (an appliance left on, a meter fault: 8 kW from 18:00 to midnight), and the tiny
    autoencoder run exported to a bundle."""
    from forecasting.export import export_run

    w = corpus_workspace
    root = tmp_path_factory.mktemp("planted_evening")
    readings = pd.read_csv(w["readings"], dtype=str)
    stamp = pd.to_datetime(readings["timestamp"], errors="coerce")
    hit = (
        (readings["series_id"] == HOUSE)
        & (stamp.dt.strftime("%Y-%m-%d") == DAY)
        & (stamp.dt.hour >= 18)
    )
    assert hit.sum() == 12
    readings.loc[hit, "import_kwh"] = "4.000"
    readings.to_csv(root / "readings.csv", index=False)
    cfg = yaml.safe_load(Path(w["data"]).read_text())
    cfg["input"]["path"] = str(root / "readings.csv")
    (root / "data.yaml").write_text(yaml.safe_dump(cfg))
    export_run(w["ae_run"], root / "ae_bundle")
    return {"data": root / "data.yaml", "bundle": root / "ae_bundle", "run": w["ae_run"]}


@pytest.mark.slow
def test_a_planted_evening_fault_is_explained_by_the_evening_readings(cli, planted, tmp_path):
    """The household's most unusual day is the planted one, and the evening's readings carry
    most of its score, by more than twice the next family; attributions + the usual day's
    score = the score."""
    r = cli("explain", "--bundle", planted["bundle"], "--data-config", planted["data"],
            "--output", tmp_path / "b", "--customer", HOUSE, "--max-rows", 60)  # fmt: skip
    assert r.code == 0, r.err
    s = json.loads((tmp_path / "b" / "explain.json").read_text())
    story = s["customer"]
    assert story["day"] == DAY, story
    parts = sorted(story["contributions"].items(), key=lambda kv: -abs(kv[1]))
    assert parts[0][0] == "readings, evening 18-24" and parts[0][1] > 0, parts
    assert abs(parts[0][1]) > 2 * abs(parts[1][1]), parts
    assert s["additivity_max_abs_error"] < 1e-9
    assert (tmp_path / "b" / "waterfall.png").exists()
    days = pd.read_csv(tmp_path / "b" / "windows.csv")
    assert len(days) == 60 and days["score"].is_monotonic_decreasing


@pytest.mark.slow
def test_the_run_and_its_bundle_explain_alike(cli, planted, tmp_path):
    """The native network and its ONNX graph give the same attributions of the same days."""
    for where, flag in (("run", "--run"), ("bundle", "--bundle")):
        r = cli("explain", flag, planted[where], "--data-config", planted["data"],
                "--output", tmp_path / where, "--max-rows", 40)  # fmt: skip
        assert r.code == 0, r.err
    a = pd.read_csv(tmp_path / "run" / "windows.csv")
    b = pd.read_csv(tmp_path / "bundle" / "windows.csv")
    assert list(a["series_id"]) == list(b["series_id"]) and list(a["day"]) == list(b["day"])
    cols = [c for c in a.columns if c.startswith("readings") or c in ("score", "calendar")]
    assert (a[cols] - b[cols]).abs().max().max() < 1e-4
