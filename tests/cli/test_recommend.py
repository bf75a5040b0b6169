"""`forecasting recommend` end to end: equal to exhaustive billing with `forecasting bill`, on
real LCL households where present; a load shift priced under each tariff."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tests.conftest import ROOT, shared_path

TARIFFS = ROOT / "configs" / "tariffs"


def lcl_year(tmp_path, households: int = 8):
    src = shared_path("lcl", "halfhourly_kwh_2013.parquet")
    if not src.exists():
        pytest.skip("../shared/data/lcl/halfhourly_kwh_2013.parquet is absent")
    d = pd.read_parquet(src, columns=["LCLid", "tstp", "kwh", "stdorToU"])
    keep = list(
        d.groupby("stdorToU")["LCLid"]
        .unique()
        .map(lambda ids: sorted(ids)[: households // 2])
        .sum()
    )
    d = d[d["LCLid"].isin(keep)].rename(columns={"LCLid": "series_id", "tstp": "timestamp"})
    d["timestamp"] = d["timestamp"].dt.tz_localize("UTC")  # the file's clock is UTC
    d[["series_id", "timestamp", "kwh"]].to_parquet(tmp_path / "usage.parquet")
    static = d.groupby("series_id")["stdorToU"].first().map(
        {"Std": "lcl_flat_2013", "ToU": "lcl_dtou_2013"}).rename("tariff").reset_index()  # fmt: skip
    static.to_csv(tmp_path / "static.csv", index=False)
    return tmp_path / "usage.parquet", tmp_path / "static.csv"


def test_the_advice_bills_equal_forecasting_bill_per_tariff_to_the_penny(cli, tmp_path):
    usage, static = lcl_year(tmp_path)
    flat, dtou = TARIFFS / "lcl_flat_2013.yaml", TARIFFS / "lcl_dtou_2013.yaml"
    r = cli("recommend", "--tariffs", flat, "--tariffs", dtou, "--usage", usage, "--static", static,
            "--current-column", "tariff", "--samples", "10", "--output", tmp_path / "o")  # fmt: skip
    assert r.code == 0, r.err
    advice = pd.read_csv(tmp_path / "o" / "bills.csv")
    for tariff in (flat, dtou):
        b = cli("bill", "--tariff", tariff, "--usage", usage, "--output", tmp_path / tariff.stem)
        assert b.code == 0, b.err
        bills = pd.read_parquet(tmp_path / tariff.stem / "bills.parquet")
        exhaustive = bills.groupby("series_id")["total"].sum().round(2)
        mine = advice[advice["tariff"] == tariff.stem].set_index("series_id")["bill"].round(2)
        assert len(mine) == 8 and mine.equals(exhaustive.reindex(mine.index))
    rec = pd.read_csv(tmp_path / "o" / "recommendations.csv").set_index("series_id")
    b = advice.pivot(index="series_id", columns="tariff", values="mean")
    assert (rec["recommended"] == b.idxmin(axis=1).reindex(rec.index)).all()


def test_shifting_appliances_is_worth_nothing_under_a_flat_price_and_something_under_tou(
    cli, tmp_path
):
    t = pd.date_range("2024-03-04", periods=48 * 14, freq="30min", tz="UTC")
    rng = np.random.default_rng(0)
    pd.DataFrame({"series_id": np.repeat(["a", "b"], len(t)), "timestamp": np.tile(t, 2),
                  "kwh": rng.uniform(0.1, 0.6, 2 * len(t))}).to_csv(tmp_path / "u.csv", index=False)  # fmt: skip
    r = cli("recommend", "--tariffs", TARIFFS / "uk_flat_example.yaml", "--tariffs",
            TARIFFS / "uk_tou_demand_example.yaml", "--usage", tmp_path / "u.csv", "--current",
            "uk_flat_example", "--schedule", ROOT / "configs/schedule/home_example.yaml",
            "--samples", "5", "--output", tmp_path / "o")  # fmt: skip
    assert r.code == 0, r.err
    s = json.loads((tmp_path / "o" / "summary.json").read_text())["load_shift"]
    assert s["uk_flat_example"]["shifting_worth_mean"] == pytest.approx(0.0, abs=0.02)
    assert s["uk_tou_demand_example"]["shifting_worth_mean"] > 1.0  # two weeks of cheap nights
    # the appliances' energy is the config's, every day of the 14 (a part-day at each end)
    per_day = 2 * 2 + 2.5 * 1.5 + 1.8 * 1.5 + 21 + 3 * 1 + 2 * 1
    assert 13 * per_day <= s["uk_tou_demand_example"]["appliance_kwh"] <= 15 * per_day
    rec = pd.read_csv(tmp_path / "o" / "recommendations.csv")
    assert {"recommended_with_shift", "probability_saves_with_shift"} <= set(rec.columns)
