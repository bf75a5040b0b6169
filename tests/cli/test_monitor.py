"""`forecasting monitor` end to end: a LightGBM run trained on generated households, exported
with its reference, then recent data with EVs planted from 2024-01-07 monitored through the
CLI, with its exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

TRAIN = {
    "name": "monitor_lgb", "horizon": 24, "lookback": 168,
    "train": {"start": "2023-10-22", "end": "2023-11-25"},
    "validation": {"start": "2023-11-26", "end": "2023-12-23"},
    "features": {"lags": [24, 168], "rolling_windows": [24, 168]},
    "model": {"kind": "lightgbm", "n_estimators": 40, "num_leaves": 15, "min_data_in_leaf": 20},
}  # fmt: skip


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from forecasting.data.synthetic import SyntheticSpec, write_synthetic
    from tests.conftest import train_and_export

    root = tmp_path_factory.mktemp("monitor")
    spec = SyntheticSpec(households=40, days=112, seed=0, faults=False, drift="ev",
                         drift_day=84, drift_share=0.3)  # fmt: skip
    paths = write_synthetic(spec, root / "synth")
    (root / "train.yaml").write_text(yaml.safe_dump({**TRAIN, "data": str(paths["config"])}))
    train_and_export(root, root / "train.yaml")
    return {"data": paths["config"], "bundle": root / "bundle", "root": root}


def _monitor(cli, w: dict[str, Path], out: Path, *more: str):
    return cli("monitor", "--bundle", w["bundle"], "--data-config", w["data"], "--output", out,
               *more)  # fmt: skip


@pytest.mark.slow
def test_export_stores_the_validation_period_as_the_reference(exported):
    manifest = json.loads((exported["bundle"] / "manifest.json").read_text())
    assert "reference.json" in manifest["files"]
    ref = json.loads((exported["bundle"] / "reference.json").read_text())
    assert ref["span"][0].startswith("2023-11-26") and ref["span"][1].startswith("2023-12-23")
    assert ref["households"] == 40 and len(ref["errors"]["nmae_by_step"]) == 24
    assert ref["errors"]["origins"] == 28  # a forecast from each midnight of the 28 days
    text = (exported["bundle"] / "reference.json").read_text()
    assert "H0001" not in text  # households are kept under a salted pseudonym


@pytest.mark.slow
def test_before_the_drift_no_drift_after_it_exit_2_with_the_ev_tail_named(cli, exported, tmp_path):
    before = _monitor(cli, exported, tmp_path / "before", "--end", "2024-01-06")
    assert before.code in (0, 1), before.out + before.err
    after = _monitor(cli, exported, tmp_path / "after", "--end", "2024-01-20")
    assert after.code == 2, after.out + after.err
    s = json.loads((tmp_path / "after" / "monitor.json").read_text())
    assert s["level"] == "drift" and s["exit_code"] == 2
    drifted = {c["feature"] for c in s["checks"] if c["level"] == "drift" and c["counted"]}
    assert "daily_excess" in drifted, s["checks"]
    errors = next(c for c in s["checks"] if c["check"] == "forecast error")
    assert errors["reference"] > 0 and errors["recent"] > 0 and "ratio" in errors
    assert s["recent"]["errors"]["origins"] == 14  # a forecast from each day's midnight
    for f in ("report.html", "monitor.png"):
        assert (tmp_path / "after" / f).stat().st_size > 1000
    assert "Drift monitor: <span" in (tmp_path / "after" / "report.html").read_text()


@pytest.mark.slow
def test_thresholds_from_yaml_decide_the_exit_code(cli, exported, tmp_path):
    lax = {"psi": {"warning": 5, "drift": 9}, "ks": {"warning": 0.9, "drift": 0.95},
           "tail_ratio": {"warning": 50, "drift": 90}, "archetype_shift": {"warning": 0.9, "drift": 0.95},
           "temperature_slope": {"warning": 5, "drift": 9}, "error_ratio": {"warning": 5, "drift": 9},
           "coverage_change": {"warning": 0.9, "drift": 0.95}}  # fmt: skip
    (tmp_path / "lax.yaml").write_text(yaml.safe_dump(lax))
    r = _monitor(cli, exported, tmp_path / "o", "--end", "2024-01-20", "--thresholds",
                 tmp_path / "lax.yaml")  # fmt: skip
    assert r.code == 0, r.out + r.err


@pytest.mark.slow
@pytest.mark.parametrize(
    "case, says",
    [
        ("thresholds", "psy"),
        ("end", "no readings in the 14 local days"),
        ("reference", "reference.json"),
    ],
)
def test_bad_input_exits_4_in_one_line(cli, exported, tmp_path, case, says):
    """Exit 4, never 2: a scheduler must not read bad input as drift."""
    import shutil

    args = []
    w = dict(exported)
    if case == "thresholds":
        (tmp_path / "t.yaml").write_text("psy: {warning: 0.1, drift: 0.2}\n")
        args = ["--thresholds", str(tmp_path / "t.yaml")]
    elif case == "end":
        args = ["--end", "2031-01-01"]
    else:  # a bundle whose reference was removed: its checksum no longer holds
        shutil.copytree(exported["bundle"], tmp_path / "b")
        (tmp_path / "b" / "reference.json").unlink()
        w["bundle"] = tmp_path / "b"
    r = _monitor(cli, w, tmp_path / "o", *args)
    assert r.code == 4, r.out + r.err
    last = r.err.strip().splitlines()[-1]
    assert last.startswith("error: ") and says in last and "Traceback" not in r.err


@pytest.mark.slow
def test_a_reference_from_the_data_itself_measures_alike(cli, exported, tmp_path):
    """--reference-end builds the data checks' reference from the given weeks of the data
    (for spring: the same weeks a year before). On the bundle's own validation weeks it gives
    the figures of the stored reference; the forecast errors stay the stored ones."""
    args = ("--end", "2024-01-20")
    stored = _monitor(cli, exported, tmp_path / "stored", *args)
    chosen = _monitor(cli, exported, tmp_path / "chosen", *args, "--reference-end", "2023-12-23",
                      "--reference-days", "28")  # fmt: skip
    assert stored.code == chosen.code == 2, chosen.out + chosen.err
    a, b = (json.loads((tmp_path / d / "monitor.json").read_text())["checks"]
            for d in ("stored", "chosen"))  # fmt: skip
    assert [c["feature"] for c in a] == [c["feature"] for c in b]
    for x, y in zip(a, b, strict=True):
        for key in ("psi", "ks", "tail_ratio", "tv_distance", "reference", "ratio"):
            if key in x:
                assert x[key] == pytest.approx(y[key], rel=1e-9, abs=1e-12), (x, y)
    later = _monitor(cli, exported, tmp_path / "later", *args, "--reference-end", "2024-01-06")
    s = json.loads((tmp_path / "later" / "monitor.json").read_text())
    assert s["reference_span"][1].startswith("2024-01-06") and later.code in (0, 1, 2)


@pytest.mark.slow
def test_exit_on_picks_the_data_checks_or_the_models(cli, exported, tmp_path):
    """The summary keeps the data checks' level and the model's (forecast error, coverage)
    apart; --exit-on model exits on the model's alone, data on the data's."""
    levels = ("none", "warning", "drift")
    codes = {}
    for on in ("any", "data", "model"):
        r = _monitor(cli, exported, tmp_path / on, "--end", "2024-01-20", "--exit-on", on)
        s = json.loads((tmp_path / on / "monitor.json").read_text())
        codes[on] = r.code
        assert s["exit_on"] == on and f"data: {s['levels']['data']}" in r.out
    assert codes["data"] == levels.index(s["levels"]["data"]) == 2
    assert codes["model"] == levels.index(s["levels"]["model"])
    assert codes["any"] == max(codes["data"], codes["model"])
