"""`forecasting bill`: streamed bills, quarantine, tariff comparison by group, real LCL data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import shared_path

FLAT = "configs/tariffs/lcl_flat_2013.yaml"
DTOU = "configs/tariffs/lcl_dtou_2013.yaml"
EXAMPLE = "configs/tariffs/uk_tou_demand_example.yaml"


def meter_csv(path: Path, customers: int = 6) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    ts = pd.date_range("2013-01-01", "2013-03-01", freq="30min", inclusive="left", tz="UTC")
    frames = [
        pd.DataFrame(
            {"series_id": f"m{i}", "timestamp": ts, "kwh": rng.gamma(2.0, 0.1 * (i + 1), len(ts))}
        )
        for i in range(customers)
    ]
    frame = pd.concat(frames, ignore_index=True).sample(frac=1.0, random_state=1)  # any order
    out = frame.assign(timestamp=frame["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
    out = out.astype({"kwh": "string"})
    out.iloc[3, 2] = "-0.4"  # negative import
    out.iloc[5, 1] = "yesterday"  # not a timestamp
    out.iloc[7, 2] = ""  # missing
    dup = out.iloc[[10]].copy()
    out = pd.concat([out, dup], ignore_index=True)  # a duplicate reading
    out.to_csv(path, index=False)
    return frame


def test_bill_streams_and_quarantines(cli, tmp_path: Path) -> None:
    src = tmp_path / "usage.csv"
    frame = meter_csv(src)
    r = cli(
        "bill",
        "--tariff",
        EXAMPLE,
        "--usage",
        src,
        "--output",
        tmp_path / "out",
        "--batch-size",
        "2",
    )
    assert r.code == 0, r.err
    out = tmp_path / "out"
    bills = pd.read_parquet(out / "bills.parquet")
    q = pd.read_csv(out / "quarantine.csv")
    rows_in = len(frame) + 1
    assert len(q) == 4
    assert sorted(q["source_row"]) == [4, 6, 8, rows_in]  # 1-based data rows
    reasons = " | ".join(q["reason"])
    for text in ("negative", "not an ISO 8601 date-time", "kwh is missing", "duplicate reading"):
        assert text in reasons
    summary = pd.read_json(out / "summary.json", typ="series")
    assert summary["rows_in"] == rows_in == summary["rows_billed"] + summary["rows_quarantined"]
    assert len(bills) == 12 and bills["series_id"].nunique() == 6  # Jan + Feb each
    # the quarantined rows are not billed: January kWh of the customers add up without them
    assert bills["kwh"].sum() == pytest.approx(
        frame["kwh"].sum() - frame.iloc[[3, 5, 7]]["kwh"].sum()
    )
    assert {"fixed", "energy_peak", "demand", "feed_in", "tax_VAT", "total"} <= set(bills.columns)
    lines = bills[["fixed", "energy_peak", "energy_shoulder", "energy_offpeak", "demand",
                   "feed_in", "minimum_topup", "tax_VAT"]].sum(axis=1)  # fmt: skip
    assert np.allclose(lines, bills["total"], atol=1e-9)


def test_bill_compare_by_group(cli, tmp_path: Path) -> None:
    src = tmp_path / "usage.parquet"
    ts = pd.date_range("2013-01-01", "2013-02-01", freq="30min", inclusive="left", tz="UTC")
    night = np.asarray(ts.hour < 7)
    frame = pd.concat(
        [
            pd.DataFrame({"series_id": "night_owl", "timestamp": ts, "kwh": np.where(night, 1.0, 0.05)}),
            pd.DataFrame({"series_id": "evening", "timestamp": ts,
                          "kwh": np.where((ts.hour >= 16) & (ts.hour < 19), 1.0, 0.05)}),
            pd.DataFrame({"series_id": "stranger", "timestamp": ts, "kwh": 0.2}),
        ]
    )  # fmt: skip
    frame.to_parquet(src)
    static = tmp_path / "static.csv"
    pd.DataFrame({"id": ["night_owl", "evening"], "concession": ["yes", "no"]}).to_csv(
        static, index=False
    )
    r = cli("bill", "--tariff", EXAMPLE, "--baseline", FLAT, "--usage", src, "--static", static,
            "--static-id", "id", "--group-by", "concession", "--output", tmp_path / "cmp")  # fmt: skip
    assert r.code == 0, r.err
    changes = pd.read_csv(tmp_path / "cmp" / "changes.csv").set_index("series_id")
    assert changes.loc["stranger", "concession"] == "(no static data)"
    base = pd.read_parquet(tmp_path / "cmp" / "bills_baseline.parquet").set_index("series_id")
    new = pd.read_parquet(tmp_path / "cmp" / "bills.parquet").set_index("series_id")
    for sid in changes.index:
        assert changes.loc[sid, "change"] == pytest.approx(
            new.loc[sid, "total"] - base.loc[sid, "total"]
        )
    # the evening user pays the peak rate and the demand charge: a bigger rise than the night owl
    assert changes.loc["evening", "change_pct"] > changes.loc["night_owl", "change_pct"]
    summary = pd.read_json(tmp_path / "cmp" / "summary.json", typ="series")
    by = summary["comparison"]["concession"]
    assert set(by) == {"yes", "no", "(no static data)"}
    over20 = int((changes["change_pct"] > 20).sum())
    assert summary["comparison"]["all"]["increase_over_20pct"] == over20
    assert "| concession=no | 1 |" in (tmp_path / "cmp" / "summary.md").read_text()


def test_bill_errors_are_one_line(cli, tmp_path: Path) -> None:
    src = tmp_path / "u.csv"
    pd.DataFrame({"series_id": ["a"], "timestamp": ["2013-01-01T00:00Z"], "load": [1.0]}).to_csv(
        src
    )
    r = cli("bill", "--tariff", FLAT, "--usage", src, "--output", tmp_path / "o")
    assert r.code == 2 and "no usage column" in r.err and "Traceback" not in r.err
    bad = tmp_path / "bad.yaml"
    bad.write_text(Path(FLAT).read_text().replace("rate: 14.228", "rate: -1"))
    r = cli("bill", "--tariff", bad, "--usage", src, "--output", tmp_path / "o")
    assert r.code == 2 and "bad.yaml" in r.err and "energy.flat.rate" in r.err
    r = cli("bill", "--tariff", FLAT, "--usage", src, "--output", tmp_path / "o", "--group-by", "x")
    assert r.code == 2 and "--group-by needs a static table" in r.err


def test_lcl_bills_match_a_hand_computation(cli, tmp_path: Path) -> None:
    data = shared_path("lcl", "halfhourly_kwh_2013.parquet")
    signal = pd.read_csv(shared_path("lcl", "dtou_tariff_2013.csv"))
    r = cli("bill", "--tariff", DTOU, "--baseline", FLAT, "--usage", data,
            "--data-config", "configs/data/lcl.yaml", "--group-by", "stdorToU",
            "--output", tmp_path / "lcl")  # fmt: skip
    assert r.code == 0, r.err
    bills = pd.read_parquet(tmp_path / "lcl" / "bills.parquet")
    flat = pd.read_parquet(tmp_path / "lcl" / "bills_baseline.parquet")
    raw = pd.read_parquet(data)
    tou_ids = sorted(raw.loc[raw["stdorToU"] == "ToU", "LCLid"].unique())
    # by hand: a ToU household's March 2013 (London time: 1 Mar 00:00 GMT .. 31 Mar 23:00 UTC,
    # 1,486 half-hours), each half-hour's kWh at the rate of its signal level, in pence
    sid = tou_ids[0]
    hh = raw[raw["LCLid"] == sid].assign(t=lambda d: pd.to_datetime(d["tstp"]))
    march = hh[(hh["t"] >= "2013-03-01") & (hh["t"] < "2013-03-31 23:00")].dropna(subset=["kwh"])
    levels = dict(zip(pd.to_datetime(signal["TariffDateTime"]), signal["Tariff"], strict=True))
    rates = {"High": 67.20, "Normal": 11.76, "Low": 3.99}
    pence = {k: 0.0 for k in rates}
    for t, kwh in zip(march["t"], march["kwh"], strict=True):
        pence[levels[t]] += kwh * rates[levels[t]]
    mine = bills[(bills["series_id"] == sid) & (bills["period"] == "2013-03")].iloc[0]
    for level, p in pence.items():
        assert mine[f"energy_{level}"] == round(p / 100 + 1e-9, 2)
    assert mine["intervals"] == len(march)
    assert mine["total"] == pytest.approx(
        sum(round(p / 100 + 1e-9, 2) for p in pence.values()), abs=1e-9
    )
    flat_mine = flat[(flat["series_id"] == sid) & (flat["period"] == "2013-03")].iloc[0]
    assert flat_mine["total"] == round(march["kwh"].sum() * 14.228 / 100 + 1e-9, 2)
    # every reading is billed once: yearly kWh equals the file's, per customer
    per = raw.groupby("LCLid")["kwh"].sum()
    got = bills.groupby("series_id")["kwh"].sum()
    assert np.allclose(got.loc[per.index], per, atol=1e-6)
    summary = pd.read_json(tmp_path / "lcl" / "summary.json", typ="series")
    assert summary["rows_in"] == len(raw)
    assert set(summary["comparison"]["stdorToU"]) == {"Std", "ToU"}
