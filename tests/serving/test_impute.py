"""`forecasting impute`: hourly profiles from monthly totals through an exported bundle.

Real parts: a LightGBM run on generated households, exported (which fits the archetypes),
then the CLI on real CSV files. Held-out households come from a second generated set."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "fixtures" / "golden_bundle_v1"
TZ = "Europe/London"


def monthly_of(frame: pd.DataFrame) -> pd.DataFrame:
    local = frame["timestamp"].dt.tz_convert(TZ)
    f = frame.assign(month=local.dt.strftime("%Y-%m"))
    g = f.groupby(["series_id", "month"])["target"].agg(["count", "sum"]).reset_index()
    g = g[g["count"] >= 24 * 28]
    return g.rename(columns={"sum": "kwh"})[["series_id", "month", "kwh"]]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from forecasting.config.data import load_data_config
    from forecasting.data.prepare import prepare
    from forecasting.data.synthetic import SyntheticSpec, write_synthetic
    from tests.models.helpers import synthetic_bundle

    root = tmp_path_factory.mktemp("impute")
    synthetic_bundle(
        root, "imp_lightgbm", {"households": 16, "days": 100, "seed": 3},
        train={"start": "2023-10-22", "end": "2023-12-31"},
        validation={"start": "2024-01-01", "end": "2024-01-10"},
        model={"kind": "lightgbm", "n_estimators": 40, "num_leaves": 15},
    )  # fmt: skip
    # other households of the same kind, never seen by the model or the archetypes
    write_synthetic(SyntheticSpec(households=6, days=100, seed=11), root / "heldout")
    held = prepare(load_data_config(root / "heldout" / "data.yaml"))
    frame = held.frame.assign(series_id="X" + held.frame["series_id"])
    static = held.static.assign(series_id="X" + held.static["series_id"])
    monthly = monthly_of(frame)
    monthly.to_csv(root / "monthly.csv", index=False)
    static.to_csv(root / "static.csv", index=False)
    weather = frame.drop_duplicates("timestamp")[["timestamp", "temperature", "cloud_cover"]]
    weather.assign(export_kwh=0.0).to_csv(root / "weather.csv", index=False)
    return {"root": root, "frame": frame, "monthly": monthly}


def run(cli, setup, out: Path, *extra: str, monthly: Path | None = None):
    r = setup["root"]
    return cli("impute", "--bundle", r / "bundle", "--monthly", monthly or r / "monthly.csv",
               "--static", r / "static.csv", "--weather", r / "weather.csv", "--output", out,
               *extra)  # fmt: skip


def test_profiles_sum_to_the_totals_and_beat_a_flat_profile(cli, setup, tmp_path):
    res = run(cli, setup, tmp_path / "out", "--samples", "4")
    assert res.code == 0, res.err
    prof = pd.read_parquet(tmp_path / "out" / "profiles.parquet")
    m = setup["monthly"]
    sums = prof.groupby(["series_id", "period"])["p50"].sum()
    expected = m.set_index(["series_id", "month"])["kwh"]
    assert (
        len(sums) == len(expected)
        and np.abs(sums.to_numpy() - expected.loc[sums.index].to_numpy()).max() < 1e-9
    )
    assert (prof["p10"] <= prof["p50"] + 1e-12).all() and (prof["p50"] <= prof["p90"] + 1e-12).all()
    samples = pd.read_parquet(tmp_path / "out" / "samples.parquet")
    local = samples["timestamp"].dt.tz_convert(TZ).dt.strftime("%Y-%m")
    per_path = samples.assign(month=local).groupby(["series_id", "sample", "month"])["kwh"].sum()
    want = expected.reindex(
        per_path.reset_index().set_index(["series_id", "month"]).index
    ).to_numpy()
    assert np.abs(per_path.to_numpy() - want).max() < 1e-9
    assert samples["sample"].nunique() == 4 and (samples["kwh"] >= 0).all()
    # hour by hour the imputed profile is closer to the real load than a flat profile
    actual = setup["frame"][["series_id", "timestamp", "target"]]
    both = prof.merge(actual, on=["series_id", "timestamp"])
    flat = both.groupby(["series_id", "period"])["target"].transform("mean")
    assert (both["p50"] - both["target"]).abs().mean() < 0.9 * (flat - both["target"]).abs().mean()
    a = pd.read_csv(tmp_path / "out" / "assignments.csv")
    p_cols = [c for c in a.columns if c.startswith("p_")]
    assert np.allclose(a[p_cols].sum(axis=1), 1.0) and len(a) == m["series_id"].nunique()
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["archetypes"] >= 2 and summary["silhouette"]


def test_quarterly_reads_and_bad_customers(cli, setup, tmp_path):
    m = setup["monthly"].copy()
    first = m["series_id"].iloc[0]
    q = m[m["series_id"] == first].head(2)  # two months as one read (bi-monthly meter reading)
    quarter = pd.DataFrame({"series_id": ["QUARTERLY"], "month": [q["month"].iloc[0]],
                            "kwh": [q["kwh"].sum()], "months": [2]})  # fmt: skip
    bad = pd.DataFrame(
        {
            "series_id": ["NEG", "NEG", "NOSTATIC", "BADMONTH"],
            "month": [m["month"].iloc[0], m["month"].iloc[1], m["month"].iloc[0], "Nov 2023"],
            "kwh": [100.0, -3.0, 100.0, 50.0],
            "months": [1, 1, 1, 1],
        }
    )
    rows = pd.concat([m.assign(months=1), quarter, bad], ignore_index=True)
    rows.to_csv(tmp_path / "monthly.csv", index=False)
    static = pd.read_csv(setup["root"] / "static.csv")
    quarterly_static = static[static["series_id"] == first].assign(series_id="QUARTERLY")
    extra = pd.concat([static, quarterly_static, static.head(1).assign(series_id="NEG"),
                       static.head(1).assign(series_id="BADMONTH")])  # fmt: skip
    extra.to_csv(setup["root"] / "static_q.csv", index=False)
    res = cli("impute", "--bundle", setup["root"] / "bundle", "--monthly", tmp_path / "monthly.csv",
              "--static", setup["root"] / "static_q.csv", "--weather", setup["root"] / "weather.csv",
              "--output", tmp_path / "o")  # fmt: skip
    assert res.code == 0, res.err
    errors = pd.read_csv(tmp_path / "o" / "errors.csv").set_index("series_id")["reason"]
    assert "negative total (-3.0 kWh)" in errors["NEG"] and "row" in errors["NEG"]
    assert "no static data" in errors["NOSTATIC"]
    assert "month must be YYYY-MM" in errors["BADMONTH"]
    assert "3 customers could not be imputed" in res.out
    prof = pd.read_parquet(tmp_path / "o" / "profiles.parquet")
    qp = prof[prof["series_id"] == "QUARTERLY"]
    assert abs(qp["p50"].sum() - q["kwh"].sum()) < 1e-9
    assert qp["timestamp"].dt.tz_convert(TZ).dt.strftime("%Y-%m").nunique() == 2
    assert prof["series_id"].nunique() == m["series_id"].nunique() + 1  # the rest went on


def test_unusable_jobs_are_one_line_errors(cli, setup, tmp_path):
    res = cli("impute", "--bundle", GOLDEN / "bundle", "--monthly", setup["root"] / "monthly.csv",
              "--static", setup["root"] / "static.csv", "--output", tmp_path / "g")  # fmt: skip
    assert res.code == 2 and "no load-shape archetypes" in res.err and "Traceback" not in res.err
    w = pd.read_csv(setup["root"] / "weather.csv").drop(columns=["cloud_cover"])
    w.to_csv(tmp_path / "w.csv", index=False)
    res = cli("impute", "--bundle", setup["root"] / "bundle", "--monthly", setup["root"] / "monthly.csv",
              "--static", setup["root"] / "static.csv", "--weather", tmp_path / "w.csv",
              "--output", tmp_path / "w")  # fmt: skip
    assert res.code == 2 and "missing column(s) ['cloud_cover']" in res.err
    pd.DataFrame({"series_id": ["a"], "kwh": [1.0]}).to_csv(tmp_path / "m.csv", index=False)
    res = run(cli, setup, tmp_path / "m", monthly=tmp_path / "m.csv")
    assert res.code == 2 and "missing column(s) ['month']" in res.err


def raw_config(setup, tmp_path: Path, weather_columns: dict[str, str]) -> Path:
    """The held-out households' weather and static table as people keep them (London wall time,
    day-first stamps, semicolons, decimal commas, their own column names), and a data config
    that declares them."""
    root = setup["root"]
    w = pd.read_csv(root / "weather.csv", parse_dates=["timestamp"])
    local = w["timestamp"].dt.tz_convert(TZ).dt.strftime("%d/%m/%Y %H:%M")
    raw = pd.DataFrame(
        {"Time (London)": local, "Temp C": w["temperature"], "Cloud": w["cloud_cover"]}
    )
    raw.to_csv(tmp_path / "weather_raw.csv", sep=";", decimal=",", index=False)
    static = pd.read_csv(root / "static.csv").rename(columns={"series_id": "customer"})
    static.to_csv(tmp_path / "customers.csv", sep=";", index=False)
    doc = {
        "name": "heldout",
        "input": {"path": str(root / "heldout" / "readings.csv"), "series_id": "series_id",
                  "timestamp": "timestamp", "target": "import_kwh", "timezone": TZ},
        "static": {"path": str(tmp_path / "customers.csv"), "id_column": "customer",
                   "delimiter": ";"},
        "covariates": [{
            "name": "weather", "path": str(tmp_path / "weather_raw.csv"),
            "timestamp": "Time (London)", "timestamp_format": "%d/%m/%Y %H:%M", "timezone": TZ,
            "delimiter": ";", "decimal": ",", "known_future": True,
            "columns": {name: {"column": col} for name, col in weather_columns.items()},
        }],
    }  # fmt: skip
    import yaml

    path = tmp_path / "data.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def test_a_data_config_reads_the_weather_and_static_table_as_it_declares_them(cli, setup, tmp_path):
    """impute --data-config (issue 17, item 12): the same profiles as from canonical files."""
    cfg = raw_config(setup, tmp_path, {"temperature": "Temp C", "cloud_cover": "Cloud"})
    r = setup["root"]
    res = cli("impute", "--bundle", r / "bundle", "--monthly", r / "monthly.csv",
              "--data-config", cfg, "--output", tmp_path / "cfg")  # fmt: skip
    assert res.code == 0, res.err
    base = run(cli, setup, tmp_path / "canonical")
    assert base.code == 0, base.err
    ours = pd.read_parquet(tmp_path / "cfg" / "profiles.parquet")
    theirs = pd.read_parquet(tmp_path / "canonical" / "profiles.parquet")
    assert len(ours) == len(theirs) > 0
    q = ["p10", "p50", "p90"]
    assert np.abs(ours[q].to_numpy() - theirs[q].to_numpy()).max() < 1e-9
    summary = json.loads((tmp_path / "cfg" / "summary.json").read_text())
    weather = summary["covariate_sources"]["weather"]
    assert weather["rows_quarantined"] == 0 and weather["rows_used"] == weather["rows_in"]
    # --static still wins over the config's static file; a source without a needed column
    # is one line naming what it gives
    cfg = raw_config(setup, tmp_path, {"temperature": "Temp C"})
    res = cli("impute", "--bundle", r / "bundle", "--monthly", r / "monthly.csv",
              "--data-config", cfg, "--static", r / "static.csv", "--output", tmp_path / "x")  # fmt: skip
    assert res.code == 2 and "give ['temperature'], not ['cloud_cover']" in res.err, res.err
    res = cli("impute", "--bundle", r / "bundle", "--monthly", r / "monthly.csv",
              "--output", tmp_path / "y")  # fmt: skip
    assert res.code == 2 and "--static (or --data-config)" in res.err
