"""A price target end to end (issue 20): negative prices kept, a known-future load forecast,
trained, evaluated with rolling recalibration, exported, served by `predict`, and a schedule
that follows the served forecast. Generated data, so it runs without ../shared; the real
Belgian benchmark is benchmarks/epf_be.py."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

DAYS = 150


def prices(path: Path) -> Path:
    """Hourly prices (EUR/MWh) driven by a day-ahead load forecast: an evening peak, and
    windy weekend nights below zero (the residual load falls)."""
    rng = np.random.default_rng(5)
    t = pd.date_range("2024-01-01", periods=DAYS * 24, freq="h", tz="UTC")
    hour, weekend = t.hour.to_numpy(), t.dayofweek.to_numpy() >= 5
    load = 60000 + 9000 * np.exp(-((hour - 18) ** 2) / 8) - 8000 * (hour < 6) - 5000 * weekend
    load = load + rng.normal(0, 1500, len(t))
    price = 45 + 0.004 * (load - 60000) + rng.normal(0, 3, len(t))
    price[weekend & (hour < 5)] -= 40  # negative on weekend nights
    pd.DataFrame({"Date": t.strftime("%Y-%m-%d %H:%M:%S"), "Prices": price.round(2),
                  "Load forecast": load.round(0)}).to_csv(path, index=False)  # fmt: skip
    return path


def configs(root: Path) -> tuple[Path, Path]:
    data = {"name": "prices", "input": {
                "path": str(prices(root / "prices.csv")), "series_id_value": "XX", "timestamp": "Date",
                "timezone": "UTC", "target": "Prices",
                "covariates": {"load_forecast": {"column": "Load forecast", "known_future": True}}},
            "target": {"kind": "price", "unit": "EUR/MWh"}, "frequency": "1h",
            "output_frequency": "1h", "calendar": {"timezone": "UTC"}}  # fmt: skip
    (root / "data.yaml").write_text(yaml.safe_dump(data))
    train = {"name": "price_lgb", "data": str(root / "data.yaml"), "horizon": 24, "lookback": 168,
             "train": {"start": "2024-01-08", "end": "2024-04-14"},
             "validation": {"start": "2024-04-15", "end": "2024-04-30"},
             "features": {"lags": [24, 168], "rolling_windows": [24, 168], "recent_values": 24,
                          "covariate_lags": [24], "covariate_horizon_stats": True, "scaling": "none"},
             "model": {"kind": "lightgbm", "n_estimators": 150, "num_leaves": 15,
                       "num_threads": 1}}  # fmt: skip
    (root / "train.yaml").write_text(yaml.safe_dump(train))
    return root / "data.yaml", root / "train.yaml"


@pytest.mark.slow
def test_prices_train_recalibrate_export_serve_and_drive_a_schedule(cli, tmp_path):
    _, train = configs(tmp_path)
    run = tmp_path / "run"
    r = cli("train", "--config", train, "--output", run)
    assert r.code == 0, r.err
    assert json.loads((run / "run.json").read_text())["nonnegative"] is False  # prices go below 0

    once, weekly = tmp_path / "once.json", tmp_path / "weekly.json"
    r = cli("evaluate", "--run", run, "--start", "2024-05-01", "--end", "2024-05-28", "-o", once)
    assert r.code == 0, r.err
    r = cli("evaluate", "--run", run, "--start", "2024-05-01", "--end", "2024-05-28", "-o", weekly,
            "--recalibrate", "weekly", "--forecasts", tmp_path / "weekly.parquet")  # fmt: skip
    assert r.code == 0, r.err
    w = json.loads(weekly.read_text())
    assert w["recalibration"]["blocks"] == 4 and w["n_origins"] == 28
    lo, hi = w["recalibration"]["train_origins_per_refit"]
    assert hi == lo + 21  # each week's refit knows the week before
    assert w["model"]["mae"] < 0.5 * w["seasonal_naive"]["mae"]
    fc = pd.read_parquet(tmp_path / "weekly.parquet")
    assert (fc["p50"] < 0).any()  # negative prices forecast, not clipped at 0

    bundle = tmp_path / "bundle"
    r = cli("export", "--run", run, "--output", bundle)
    assert r.code == 0, r.err
    frame = pd.read_csv(tmp_path / "prices.csv")
    t = pd.to_datetime(frame["Date"], utc=True)
    origin = pd.Timestamp("2024-05-18", tz="UTC")  # a Saturday: its night is negative
    canon = pd.DataFrame({"series_id": "XX", "timestamp": t, "target": frame["Prices"],
                          "load_forecast": frame["Load forecast"]})  # fmt: skip
    canon = canon[t < origin + pd.Timedelta(days=1)].copy()
    canon.loc[canon["timestamp"] >= origin, "target"] = np.nan  # the day ahead: covariates only
    canon.to_parquet(tmp_path / "input.parquet")
    out = tmp_path / "pred"
    r = cli("predict", "--bundle", bundle, "--input", tmp_path / "input.parquet", "--output", out,
            "--origin", origin.isoformat())  # fmt: skip
    assert r.code == 0, r.err
    served = pd.read_parquet(out / "forecasts")
    assert len(served) == 24 and served["p50"].min() < 0

    home = tmp_path / "home.yaml"
    home.write_text(yaml.safe_dump({"appliances": [
        {"name": "ev", "power_kw": 7.0, "energy_kwh": 14, "interruptible": True}]}))  # fmt: skip
    for path in ("p50", "p90"):
        r = cli("schedule", "--config", home, "--prices", out / "forecasts", "--price-column", path,
                "--date", "2024-05-18", "--timezone", "UTC", "--output", tmp_path / path)  # fmt: skip
        assert r.code == 0, r.err
        slots = pd.read_csv(tmp_path / path / "slots.csv")
        cheapest = slots["price"].nsmallest(8).index  # two hours of 7 kW at 15 minutes
        assert set(slots.index[slots["ev"] == 1]) == set(cheapest)
        s = json.loads((tmp_path / path / "summary.json").read_text())
        assert s["prices"].endswith(f"({path})") and s["currency"] == "EUR"


def test_the_belgian_prices_train_and_beat_seasonal_naive_on_the_test_period(cli, tmp_path):
    """The shipped price configs on the real EPF data (a small LightGBM, two weeks of the
    standard test period): the median forecast well under a week-ago price."""
    from tests.conftest import ROOT, shared_path

    if not shared_path("epf", "BE.csv").exists():
        pytest.skip("../shared/data/epf/BE.csv is absent")
    cfg = yaml.safe_load((ROOT / "configs" / "models" / "lightgbm_epf.yaml").read_text())
    cfg["data"] = str(ROOT / "configs" / "data" / "epf_be.yaml")
    cfg["model"] |= {"n_estimators": 80, "early_stopping_rounds": 20, "num_threads": 2}
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(cfg))
    r = cli("train", "--config", tmp_path / "train.yaml", "--output", tmp_path / "run")
    assert r.code == 0, r.err
    r = cli("evaluate", "--run", tmp_path / "run", "--start", "2015-01-04", "--end", "2015-01-17",
            "--output", tmp_path / "m.json")  # fmt: skip
    assert r.code == 0, r.err
    m = json.loads((tmp_path / "m.json").read_text())
    assert m["n_origins"] == 14 and m["mae_ratio_vs_seasonal_naive"] < 0.8
