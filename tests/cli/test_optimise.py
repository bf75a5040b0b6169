"""`forecasting optimise-tariff` end to end on a synthetic trial: the chosen tariff, its
checks on the bill engine, the frontier, the YAML read back by `forecasting bill`, and the
errors a user meets."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from forecasting.response.trial import TrialSpec, write_trial

TEMPLATE = "configs/tariff_templates/tou3_example.yaml"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from forecasting.cli import main

    root = tmp_path_factory.mktemp("optimise")
    paths = write_trial(TrialSpec(households=24, days=28, seed=5), root / "trial")
    try:
        main(["elasticity", "--config", str(paths["config"]), "--output", str(root / "el"),
              "--bootstrap", "49"])  # fmt: skip
    except SystemExit as exc:
        assert exc.code == 0
    config = {
        "template": TEMPLATE, "current": "configs/tariffs/lcl_flat_2013.yaml",
        "data": str(paths["data"]), "response": {"file": str(root / "el" / "elasticity.json")},
        "vulnerable": {"column": "group", "value": "B"},
        "goals": {"w_peak": 5.0, "delta": 0.1, "revenue_share": 0.9},
        "scenarios": {"count": 4, "seed": 1, "ev_share": 0.2, "pv_share": 0.2},
        "frontier": 2, "breakdown": ["group", "archetype"], "timezone": "Europe/London",
    }  # fmt: skip
    (root / "optimise.yaml").write_text(yaml.safe_dump(config))
    return {**paths, "root": root, "optimise": root / "optimise.yaml"}


def _edited(workspace: dict[str, Path], tmp_path: Path, **changes: object) -> Path:
    cfg = yaml.safe_load(workspace["optimise"].read_text())
    for key, value in changes.items():
        head, _, tail = key.partition(".")
        if tail:
            cfg[head] = {**cfg.get(head, {}), tail: value}
        else:
            cfg[head] = value
    path = tmp_path / "o.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_optimise_end_to_end_and_the_tariff_round_trips_through_bill(cli, workspace, tmp_path):
    out = tmp_path / "out"
    r = cli("optimise-tariff", "--config", workspace["optimise"], "--output", out)
    assert r.code == 0, r.err
    assert "check revenue floor: holds" in r.out and "FAILS" not in r.out
    s = json.loads((out / "summary.json").read_text())
    assert s["checks"]["all_hold"] and s["scenarios"] == 4
    assert s["checks"]["checks"]["predicted vs engine revenue"]["largest_gap_pct"] < 0.5
    kpis = pd.read_csv(out / "kpis.csv")
    assert len(kpis) == 4 and (kpis["revenue_after"] >= 0.9 * s["revenue_target"]).all()
    assert kpis["peak_before_kw"].iloc[1:].max() > kpis["peak_before_kw"].iloc[0]  # EVs arrived
    by = pd.read_csv(out / "breakdown.csv")
    assert {"vulnerable", "group", "archetype"} <= set(by["by"])
    shape = pd.read_csv(out / "load_shape.csv")
    assert len(shape) == 48 and shape["after_kw"].sum() < shape["before_kw"].sum() * 1.05
    frontier = pd.read_csv(out / "frontier.csv")
    assert len(frontier) == 2 and (out / "frontier" / "tariff_01.yaml").exists()
    assert frontier["peak_reduction_pct"].iloc[1] >= frontier["peak_reduction_pct"].iloc[0] - 1e-6
    # the chosen tariff is an ordinary tariff: `forecasting bill` reads it
    b = cli("bill", "--tariff", out / "tariff.yaml", "--usage", workspace["readings"],
            "--output", tmp_path / "bills")  # fmt: skip
    assert b.code == 0, b.err
    billed = pd.read_parquet(tmp_path / "bills" / "bills.parquet")
    chosen = yaml.safe_load((out / "tariff.yaml").read_text())
    rates = {band["name"]: band["rate"] for band in chosen["energy"]["bands"]}
    assert rates == pytest.approx({k: v for k, v in s["prices"].items() if k in rates}, abs=1e-6)
    base = pd.read_parquet(out / "bills.parquet").query("scenario == 'base'")
    assert billed["total"].sum() > 0 and len(billed["series_id"].unique()) == len(base)
    # the regulator's report: one HTML page with its plots inside, and the same tables in Excel
    rep = cli("tariff-report", "--run", out)
    assert rep.code == 0, rep.err
    page = (out / "tariff_report.html").read_text()
    assert "every constraint holds" in page and page.count("data:image/png;base64,") == 3
    import openpyxl

    book = openpyxl.load_workbook(out / "tariff_report.xlsx", read_only=True)
    assert {"Tariff", "Checks", "KPIs", "Breakdown", "Frontier", "Elasticities"} <= set(
        book.sheetnames
    )
    kpi_rows = list(book["KPIs"].iter_rows(values_only=True))
    assert kpi_rows[0] == ("kpi", "base", "mean", "p05", "p95") and len(kpi_rows) > 10


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"response.file": "nowhere/elasticity.json"}, "elasticity file not found"),
        (
            {"vulnerable": {"column": "concession", "value": "yes"}},
            "vulnerable.column 'concession'",
        ),
        (
            {"goals.revenue_share": 1.4},
            "no tariff meets every constraint: revenue: with the other constraints held",
        ),
        ({"template": "configs/tariffs/lcl_flat_2013.yaml"}, "no price is a decision"),
        ({"response": {"detail": "band"}}, "give an elasticity `file`, or both `up` and `down`"),
    ],
)
def test_bad_configs_get_one_line(cli, workspace, tmp_path, changes, says):
    r = cli("optimise-tariff", "--config", _edited(workspace, tmp_path, **changes),
            "--output", tmp_path / "o", "--frontier", "0")  # fmt: skip
    assert r.code == 2, (r.out, r.err)
    last = r.err.strip().splitlines()[-1]  # after any progress lines: one line that says it
    assert last.startswith("error: ") and says in last and "Traceback" not in r.err, r.err


@pytest.fixture(scope="module")
def with_bundle(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """75 days of generated readings (October and November whole) and a tiny LightGBM
    bundle with archetypes fitted on them."""
    from forecasting.data.synthetic import SyntheticSpec, write_synthetic
    from tests.cli.corpus import FLAT, TRAIN
    from tests.conftest import train_and_export

    root = tmp_path_factory.mktemp("monthly_only")
    paths = write_synthetic(SyntheticSpec(households=6, days=75, start="2023-10-01", seed=4),
                            root / "synth")  # fmt: skip
    (root / "train.yaml").write_text(yaml.safe_dump({**TRAIN, "data": str(paths["config"])}))
    (root / "flat.yaml").write_text(yaml.safe_dump(FLAT))
    train_and_export(root, root / "train.yaml")
    return {"data": paths["config"], "bundle": root / "bundle", "tariff": root / "flat.yaml"}


@pytest.mark.slow
def test_monthly_only_customers_bring_their_sample_paths_into_the_scenarios(
    cli, with_bundle, tmp_path
):
    """Half the customers stripped to monthly totals and imputed on a bundle: the base takes
    their P50 hours, each other scenario one sample path; the smart-meter customers' bills
    stay the same across scenarios (no other source of variation here), theirs do not."""
    w = with_bundle
    cfg = {
        "template": TEMPLATE, "current": str(w["tariff"]), "data": str(w["data"]),
        "response": {"up": -0.1, "down": -0.05},
        "monthly_only": {"bundle": str(w["bundle"]), "share": 0.5, "seed": 3},
        "scenarios": {"count": 3, "elasticity_draws": False},
    }  # fmt: skip
    (tmp_path / "o.yaml").write_text(yaml.safe_dump(cfg))
    r = cli("optimise-tariff", "--config", tmp_path / "o.yaml", "--output", tmp_path / "out")
    assert r.code == 0, r.err
    s = json.loads((tmp_path / "out" / "summary.json").read_text())
    mo = s["customers"]["monthly_only"]
    assert mo["stripped_to_monthly"] == 3 and mo["imputed"] + len(mo["failed"]) == 3
    assert mo["imputed"] >= 1 and mo["samples"] == 2
    bills = pd.read_parquet(tmp_path / "out" / "bills.parquet")

    def spread(col: str) -> pd.Series:
        return bills.groupby("series_id")[col].agg(lambda b: b.max() - b.min())

    imputed = list(
        set(
            pd.read_parquet(tmp_path / "out" / "monthly_only" / "imputed" / "profiles.parquet")[
                "series_id"
            ]
        )
    )
    # each path keeps the monthly totals, so the flat tariff bills them alike; the TOU one not
    assert (spread("bill_before").abs() < 0.011).all()
    assert (spread("bill_after")[imputed] > 0.011).all()
    assert (spread("bill_after").drop(imputed) == 0).all()
    assert s["checks"]["all_hold"]


@pytest.mark.slow
def test_weather_years_change_the_load_through_the_bundle(cli, with_bundle, tmp_path):
    """Scenarios under shifted weather: the bundle forecasts every day twice (real and shifted
    weather) and the difference moves each customer's load; the base keeps the readings."""
    w = with_bundle
    cfg = {
        "template": TEMPLATE, "current": str(w["tariff"]), "data": str(w["data"]),
        "response": {"up": -0.1, "down": -0.05},
        "scenarios": {"count": 3, "elasticity_draws": False, "weather_years": {
            "bundle": str(w["bundle"]), "columns": ["temperature", "cloud_cover"],
            "shifts_days": [-14, -28]}},
    }  # fmt: skip
    (tmp_path / "o.yaml").write_text(yaml.safe_dump(cfg))
    r = cli("optimise-tariff", "--config", tmp_path / "o.yaml", "--output", tmp_path / "out")
    assert r.code == 0, r.err
    s = json.loads((tmp_path / "out" / "summary.json").read_text())
    wy = s["customers"]["weather_years"]
    assert set(wy["shifts"]) == {"-14", "-28"} and wy["origins"] > 50
    assert all(abs(v["mean_kwh_per_customer"]) > 0 for v in wy["shifts"].values())
    kpis = pd.read_csv(tmp_path / "out" / "kpis.csv")
    assert kpis["kwh_before"].nunique() == 3  # each weather year its own load
    assert s["checks"]["all_hold"]
