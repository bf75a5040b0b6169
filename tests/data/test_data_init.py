"""`forecasting data init` writes a starting config that works as it is (issue 17): on the
generator's raw files and on every real readings file in ../shared/data (skipped when absent)."""

from __future__ import annotations

import pytest
import yaml

from tests.conftest import shared_path


def init_then_validate(cli, source, tmp_path):
    cfg = tmp_path / "data.yaml"
    r = cli("data", "init", source, "--output", cfg)
    assert r.code == 0, r.err
    v = cli("data", "validate", "--config", cfg)
    assert v.code in (0, 1), v.err  # clean, or rows quarantined / gaps reported: never unusable
    assert "hint:" not in v.out  # the clock it wrote is the one the file follows
    return yaml.safe_load(cfg.read_text()), cfg.read_text()


def test_the_generators_raw_files(cli, tmp_path):
    from forecasting.data.synthetic import SyntheticSpec, write_synthetic

    raw = write_synthetic(SyntheticSpec(households=3, days=200, seed=2), tmp_path / "raw")
    doc, text = init_then_validate(cli, raw["readings"], tmp_path)
    assert doc["input"]["series_id"] == "series_id" and doc["input"]["target"] == "import_kwh"
    assert doc["frequency"] == "30min" and doc["target"]["kind"] == "energy"
    assert doc["input"]["covariates"]["export_kwh"]["known_future"] is False
    # London wall time: told from its clock changes (a spring hour missing, an autumn hour twice)
    assert (doc["input"]["timezone"], doc["input"]["label"]) == ("Europe/London", "start")
    assert doc["calendar"]["timezone"] == "Europe/London" and "Europe/London's does" in text
    assert cli("data", "init", raw["readings"], "--output", tmp_path / "data.yaml").code == 2
    # the config it wrote (with its `target` section) trains, and the run's copy of it evaluates
    train = tmp_path / "train.yaml"
    train.write_text(yaml.safe_dump({
        "name": "from_init", "data": str(tmp_path / "data.yaml"),
        "train": {"start": "2023-10-23", "end": "2024-03-31"},
        "validation": {"start": "2024-04-01", "end": "2024-04-10"},
        "model": {"kind": "lightgbm", "n_estimators": 20, "num_leaves": 7},
    }), encoding="utf-8")  # fmt: skip
    r = cli("train", "--config", train, "--output", tmp_path / "run")
    assert r.code == 0, r.err
    r = cli("evaluate", "--run", tmp_path / "run", "--start", "2024-04-11", "--end", "2024-04-20",
            "--output", tmp_path / "eval.json")  # fmt: skip
    assert r.code == 0, r.err


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("parts", "expect"),
    [
        (("lcl", "halfhourly_kwh_2013.parquet"),
         {"series_id": "LCLid", "target": "kwh", "kind": "energy", "frequency": "30min",
          "timezone": "UTC"}),
        (("victoria", "elecdemand_vic_2014_halfhourly.csv"),
         {"series_id": None, "target": "Demand", "frequency": "30min", "timezone": "UTC"}),
        (("pjm", "PJME_hourly.csv"),
         # US Eastern wall time, hour-ending: spring days lack 03:00, autumn days repeat 02:00
         {"series_id": None, "target": "PJME_MW", "kind": "power", "frequency": "1h",
          "timezone": "America/New_York", "label": "end", "unit": "MW"}),
        (("epf", "BE.csv"),
         {"series_id": None, "target": "Prices", "kind": "price", "frequency": "1h",
          "timezone": "UTC"}),
    ],
)  # fmt: skip
def test_every_real_file_gets_a_working_config(cli, tmp_path, parts, expect):
    doc, _ = init_then_validate(cli, shared_path(*parts), tmp_path)
    got = {
        "series_id": doc["input"].get("series_id"),
        "target": doc["input"]["target"],
        "kind": doc["target"]["kind"],
        "frequency": doc["frequency"],
        "timezone": doc["input"]["timezone"],
        "label": doc["input"]["label"],
        "unit": doc["target"].get("unit"),
    }
    assert {k: got[k] for k in expect} == expect
    if parts[0] == "epf":  # the day-ahead forecasts are known for the horizon
        assert doc["input"]["covariates"]["generation_forecast"]["known_future"] is True
