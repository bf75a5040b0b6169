"""Daily data end to end (issue 17, intervals up to a day): a file of local dates, and meters
summed into local days. A day starts at local midnight in standard time, so in a +10:00 market
the grid is 14:00 UTC; before, every reading of such a file was quarantined as off the grid and
no origin could be placed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

DAYS = 420


def daily_file(path: Path) -> Path:
    """One series of daily demand by local date: a weekly shape, a temperature response, noise."""
    rng = np.random.default_rng(4)
    dates = pd.date_range("2022-01-01", periods=DAYS, freq="D")
    temp = 18 + 8 * np.sin(2 * np.pi * (dates.dayofyear - 20) / 365.25) + rng.normal(0, 2, DAYS)
    weekly = np.where(dates.dayofweek >= 5, 0.8, 1.0)
    demand = 150 * weekly + 2.5 * np.abs(temp - 18) + rng.normal(0, 4, DAYS)
    frame = pd.DataFrame({"date": dates.strftime("%Y-%m-%d"), "demand": demand.round(3),
                          "temp": temp.round(2)})  # fmt: skip
    frame.to_csv(path, index=False)
    return path


def data_config(root: Path, source: Path, timezone: str) -> Path:
    doc = {
        "name": "daily",
        "input": {"path": str(source), "series_id_value": "grid", "timestamp": "date",
                  "target": "demand", "timezone": timezone,
                  "covariates": {"temp": {"column": "temp", "known_future": True}}},
        "frequency": "1D",
        "output_frequency": "1D",
        "calendar": {"timezone": "Australia/Melbourne"},
    }  # fmt: skip
    path = root / f"data_{timezone.replace('/', '_').replace(':', '')}.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


@pytest.mark.slow
@pytest.mark.parametrize("timezone", ["Australia/Melbourne", "+10:00"])
def test_a_file_of_local_dates_trains_evaluates_exports_and_predicts(cli, tmp_path, timezone):
    data = data_config(tmp_path, daily_file(tmp_path / "daily.csv"), timezone)
    prepared = tmp_path / "prepared"
    r = cli("data", "prepare", "--config", data, "--output", prepared, "-q")
    assert r.code == 0, r.err  # nothing quarantined, no gaps
    frame = pd.read_parquet(prepared / "frame.parquet")
    assert len(frame) == DAYS and (frame["timestamp"].dt.hour == 14).all()  # midnight +10:00
    assert (frame["timestamp"].diff().dropna() == pd.Timedelta("1D")).all()

    train = tmp_path / "train.yaml"
    train.write_text(yaml.safe_dump({
        "name": "daily_lgb", "data": str(data),
        "train": {"start": "2022-01-15", "end": "2022-11-30"},
        "validation": {"start": "2022-12-01", "end": "2022-12-31"},
        "model": {"kind": "lightgbm", "n_estimators": 60, "num_leaves": 7},
    }), encoding="utf-8")  # fmt: skip
    run = tmp_path / "run"
    r = cli("train", "--config", train, "--output", run)
    assert r.code == 0, r.err
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert (saved["horizon"], saved["lookback"], saved["origin_step"]) == (1, 7, 1)
    # the default recipe's 6-hour window has no meaning at a day: left out, not refused
    assert saved["features"]["rolling_windows"] == [1, 7]

    metrics = tmp_path / "eval.json"
    r = cli("evaluate", "--run", run, "--start", "2023-01-10", "--end", "2023-02-20",
            "--output", metrics)  # fmt: skip
    assert r.code == 0, r.err
    result = json.loads(metrics.read_text())
    assert result["n_origins"] == 42  # every local date from 10 January to 20 February
    y = frame.set_index("timestamp")["target"]
    days = pd.date_range("2023-01-10", "2023-02-20", freq="D", tz="+10:00").tz_convert("UTC")
    week_ago = y.reindex(days - pd.Timedelta("7D")).to_numpy()
    naive_mae = float(np.abs(y.reindex(days).to_numpy() - week_ago).mean())
    assert result["seasonal_naive"]["mae"] == pytest.approx(naive_mae, rel=1e-6)
    assert result["mae_ratio_vs_seasonal_naive"] < 0.9

    bundle = tmp_path / "bundle"
    r = cli("export", "--run", run, "--output", bundle)
    assert r.code == 0, r.err
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["parity"]["real"]["rows"] == 7  # the last week's origins, on the grid
    out = tmp_path / "pred"
    r = cli("predict", "--bundle", bundle, "--input", prepared / "frame.parquet", "--output", out)
    assert r.code == 0, r.err
    fc = pd.read_parquet(out / "forecasts")
    assert list(fc["timestamp"]) == [frame["timestamp"].max() + pd.Timedelta("1D")]


def test_half_hourly_meters_are_summed_into_local_days(cli, tmp_path):
    from forecasting.config.data import load_data_config
    from forecasting.data.prepare import prepare
    from forecasting.data.synthetic import SyntheticSpec, write_synthetic

    spec = SyntheticSpec(households=2, days=20, seed=1, timezone="Australia/Sydney",
                         faults=False, output_interval="1D")  # fmt: skip
    write_synthetic(spec, tmp_path / "raw")
    cfg = load_data_config(tmp_path / "raw" / "data.yaml")
    days = prepare(cfg).frame.dropna(subset=["target"])
    halves = prepare(cfg.model_copy(update={"output_frequency": cfg.frequency})).frame
    assert (days["timestamp"].dt.hour == 14).all()  # Sydney's standard midnight, +10:00
    local_day = (halves["timestamp"] + pd.Timedelta("10h")).dt.floor("D")
    summed = halves.groupby(["series_id", local_day])["target"].agg(["sum", "count"])
    summed = summed[summed["count"] == 48]["sum"]
    key = list(zip(days["series_id"], days["timestamp"] + pd.Timedelta("10h"), strict=True))
    got = days.set_index(pd.MultiIndex.from_tuples(key))["target"]
    both = summed.index.intersection(got.index)
    assert len(both) >= 2 * 17
    assert np.allclose(got.loc[both].to_numpy(), summed.loc[both].to_numpy())
