"""The presets on the real public datasets in ../shared/data (skipped when it is absent)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from forecasting.data.schema import check_canonical
from tests.conftest import shared_path

pytestmark = pytest.mark.shared_data


def test_pjm_tells_dst_cases_apart_and_exits_one(cli, tmp_path):
    path = shared_path("pjm", "PJME_hourly.csv")
    res = cli("data", "validate", path, "--config", "configs/data/pjm.yaml", "--json")
    assert res.code == 1  # true gaps remain
    r = res.json()
    dst, gaps = r["dst"], r["gaps"]
    # Reconcile with a naive reading of the local labels, computed independently here.
    raw = pd.read_csv(path)
    labels = pd.to_datetime(raw["Datetime"], format="%d-%m-%Y %H:%M")
    naive_dups = int(labels.duplicated().sum())
    full = pd.date_range(labels.min(), labels.max(), freq="h")
    naive_missing = len(full.difference(labels))
    assert (
        dst["autumn_repeats_resolved"]
        + r["duplicates"]["identical"]
        + r["duplicates"]["conflicting"]
        == naive_dups
    )
    assert dst["spring_slots_absent_as_expected"] + gaps["gaps_found"] == naive_missing
    # the exact split on this file (hour-ending labels, US Eastern)
    assert dst["autumn_repeats_resolved"] == 4
    assert dst["nonexistent_in_input"] == 0 and dst["spring_slots_absent_as_expected"] == 17
    assert r["duplicates"]["identical"] + r["duplicates"]["conflicting"] == 0
    assert gaps["gaps_found"] == 13 and gaps["missing_intervals_found"] == 25
    assert gaps["remaining_gaps_at_clock_change"] == 12
    assert r["rows_in"] == r["rows_out"] + r["rows_quarantined"] == len(raw)
    assert (
        dst["autumn_repeat_examples"]
        and dst["spring_slot_examples"]
        and gaps["remaining_gap_examples"]
    )
    text = cli("data", "validate", path, "--config", "configs/data/pjm.yaml")
    assert "autumn repeated hours, resolved to distinct UTC hours: 4" in text.out
    assert "absent as expected (not gaps): 17" in text.out


def test_pjm_as_hour_beginning_gives_a_hint(cli):
    """Read with the wrong convention, the report points at the fix instead of failing silently."""
    import yaml

    from forecasting.config.data import DataConfig
    from forecasting.data.prepare import prepare

    cfg = yaml.safe_load(Path("configs/data/pjm.yaml").read_text())
    cfg["input"]["label"] = "start"
    cfg["input"]["path"] = str(shared_path("pjm", "PJME_hourly.csv"))
    r = prepare(DataConfig.model_validate(cfg)).report
    assert r["dst"]["nonexistent_in_input"] == 17
    assert "label: end" in r["dst"]["hint"]


def test_lcl_prepare_gives_80_hourly_series_with_weather(cli, tmp_path):
    shared_path("lcl", "halfhourly_kwh_2013.parquet")
    out = tmp_path / "lcl"
    res = cli("data", "prepare", "--config", "configs/data/lcl.yaml", "--output", out, "-q")
    assert res.code == 0, res.err
    report = json.loads((out / "report.json").read_text())
    assert (
        report["identity_holds"]
        and report["rows_in"] == report["rows_out"] + report["rows_quarantined"]
    )
    assert report["rows_in"] == 1_325_013
    q = pd.read_parquet(out / "quarantine.parquet")
    assert len(q) == report["rows_quarantined"]
    frame = pd.read_parquet(out / "frame.parquet")
    assert frame["series_id"].nunique() == 80
    assert check_canonical(frame) == pd.Timedelta("1h")
    for col in ("temperature", "humidity", "dtou_level"):
        assert frame[col].notna().mean() > 0.99, col
    static = pd.read_parquet(out / "static.parquet")
    assert len(static) == 80 and {"stdorToU", "Acorn", "Acorn_grouped"} <= set(static.columns)
    # hourly energy is the sum of the two half-hours
    raw = pd.read_parquet(
        shared_path("lcl", "halfhourly_kwh_2013.parquet"), filters=[("LCLid", "==", "MAC000003")]
    )
    raw["hour"] = raw["tstp"].dt.floor("h").dt.tz_localize("UTC")
    sums = raw.groupby("hour")["kwh"].agg(["sum", "size"])
    sums = sums[sums["size"] == 2]["sum"]
    mine = frame[frame["series_id"] == "MAC000003"].set_index("timestamp")["target"]
    joined = pd.concat([sums, mine], axis=1, join="inner").dropna()
    assert len(joined) > 8000
    assert (joined["sum"] - joined["target"]).abs().max() < 1e-9


def test_lcl_config_reads_other_households_in_csv_by_changing_only_the_input(cli, tmp_path):
    """Other households in the LCL format (here written as CSV) need no change but --input."""
    src = pd.read_parquet(shared_path("lcl", "halfhourly_kwh_2013.parquet"))
    some = src[src["LCLid"].isin(src["LCLid"].unique()[-5:])].copy()
    some["tstp"] = some["tstp"].dt.strftime(
        "%Y-%m-%d %H:%M:%S.0000000"
    )  # as the LCL CSV files write it
    other = tmp_path / "other_households.csv"
    some.to_csv(other, index=False)
    res = cli(
        "data",
        "prepare",
        "--config",
        "configs/data/lcl.yaml",
        "--input",
        other,
        "--output",
        tmp_path / "o",
        "-q",
    )
    assert res.code == 0, res.err
    frame = pd.read_parquet(tmp_path / "o" / "frame.parquet")
    assert frame["series_id"].nunique() == 5
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["rows_in"] == len(some) == report["rows_out"] + report["rows_quarantined"]


def test_victoria_power_becomes_hourly_energy(cli, tmp_path):
    path = shared_path("victoria", "elecdemand_vic_2014_halfhourly.csv")
    res = cli(
        "data", "prepare", "--config", "configs/data/victoria.yaml", "--output", tmp_path, "-q"
    )
    assert res.code == 0, res.err
    frame = pd.read_parquet(tmp_path / "frame.parquet")
    raw = pd.read_csv(path)
    assert len(frame) == len(raw) // 2
    # GW averaged over half-hours -> GWh per hour: half the sum of the two readings
    first = raw["Demand"].iloc[0:2].sum() * 0.5
    assert frame["target"].iloc[0] == pytest.approx(first)
    assert frame["timestamp"].iloc[0] == pd.Timestamp("2013-12-31 14:00", tz="UTC")  # 00:00 AEST
    assert {"temperature", "workday"} <= set(frame.columns)
