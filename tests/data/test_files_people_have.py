"""Files as new users have them (issue 17): each test reproduces a report first.

Headers with a space after each comma, an unnamed timestamp column (a pandas index written to
CSV), country codes YAML 1.1 would read as booleans, one-series files in quarantine examples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from forecasting.config.data import DataConfig, load_data_config
from forecasting.data.prepare import prepare
from forecasting.errors import InputError

HOURS = 24 * 10


def prices(hours: int = HOURS, seed: int = 0) -> pd.DataFrame:
    t = pd.date_range("2024-01-01", periods=hours, freq="h")
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "Date": t.strftime("%Y-%m-%d %H:%M"),
            "Price": rng.normal(50, 10, hours).round(2),
            "Load": rng.normal(100, 5, hours).round(1),
        }
    )


def config(
    tmp_path: Path, path: Path, top: dict | None = None, **input_fields: object
) -> DataConfig:
    """A one-series market file's config (hourly unless `top` says otherwise)."""
    doc = {
        "name": "market",
        "input": {
            "path": str(path),
            "series_id_value": "BE",
            "timestamp": "Date",
            "target": "Price",
            **input_fields,
        },
        "frequency": "1h",
        **(top or {}),
    }
    cfg_path = tmp_path / "data.yaml"
    cfg_path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return load_data_config(cfg_path)


def test_a_header_with_a_space_after_each_comma_is_read(tmp_path):
    df = prices()
    path = tmp_path / "spaces.csv"
    lines = ["Date, Price, Load"] + [f"{r.Date}, {r.Price}, {r.Load}" for r in df.itertuples()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    covariates = {"load": {"column": "Load", "known_future": True}}
    p = prepare(config(tmp_path, path, covariates=covariates))
    assert len(p.frame) == HOURS
    np.testing.assert_allclose(p.frame["target"], df["Price"])
    np.testing.assert_allclose(p.frame["load"], df["Load"])


def test_an_unnamed_timestamp_column_is_named_by_the_empty_string(tmp_path):
    df = prices()
    path = tmp_path / "index.csv"
    df.rename(columns={"Date": ""}).to_csv(path, index=False)  # what df.to_csv() writes
    p = prepare(config(tmp_path, path, timestamp=""))
    assert len(p.frame) == HOURS and p.frame["timestamp"].iloc[0] == pd.Timestamp(
        "2024-01-01", tz="UTC"
    )
    named = tmp_path / "named.csv"
    df.to_csv(named, index=False)
    with pytest.raises(InputError, match="'' names a column whose header cell is empty"):
        prepare(config(tmp_path, named, timestamp=""))


def test_a_column_named_twice_in_the_header_is_refused_by_name(tmp_path):
    path = tmp_path / "twice.csv"
    path.write_text("Date,Price,Price\n2024-01-01 00:00,1,2\n", encoding="utf-8")
    with pytest.raises(InputError, match="column 'Price' appears 2 times in the header"):
        prepare(config(tmp_path, path))


def test_country_no_is_norway_and_yes_still_means_true(tmp_path):
    path = tmp_path / "data.yaml"
    path.write_text(
        "name: n\ninput: {path: x.csv, series_id_value: A, timestamp: t, target: v}\n"
        "calendar: {timezone: Europe/Oslo, holidays: {country: NO}}\n"
        "validation: {allow_negative: yes}\n",
        encoding="utf-8",
    )
    cfg = load_data_config(path)
    assert cfg.calendar.holidays.country == "NO" and cfg.validation.allow_negative is True


def test_quarantine_examples_of_a_one_series_file_name_its_series(tmp_path):
    df = prices().astype({"Price": object})
    df.loc[5, "Price"] = "n/a"
    path = tmp_path / "one.csv"
    df.to_csv(path, index=False)
    p = prepare(config(tmp_path, path))
    assert p.quarantine["series_id"].tolist() == ["BE"]


def test_negative_values_are_quarantined_with_the_key_that_allows_them(tmp_path):
    df = prices()
    df["Price"] = df["Price"] - 55  # a market where prices go below zero
    path = tmp_path / "negative.csv"
    df.to_csv(path, index=False)
    p = prepare(config(tmp_path, path))
    negative = int((df["Price"] < 0).sum())
    assert len(p.quarantine) == negative > 0
    note = next(n for n in p.report["notes"] if "negative" in n)
    assert f"{negative:,} rows" in note and "validation.allow_negative: true" in note
    assert "allow_negative: true" in p.quarantine["detail"].iloc[0]
    cfg = config(tmp_path, path)
    cfg.validation.allow_negative = True
    kept = prepare(cfg)
    assert len(kept.quarantine) == 0 and len(kept.frame) == HOURS


def test_the_prepared_dataset_hands_pandas_plain_text(tmp_path):
    """Config values carry their parse but are str subclasses, which pandas' parsers refuse
    ("Expected str, got Frequency"): what prepare hands on is plain text."""
    df = prices()
    path = tmp_path / "p.csv"
    df.to_csv(path, index=False)
    p = prepare(config(tmp_path, path))
    for key in ("frequency", "calendar_timezone"):
        assert type(p.dataset[key]) is str
    assert pd.Timedelta(p.dataset["frequency"]) == pd.Timedelta("1h")


def half_hourly_prices(tmp_path: Path) -> Path:
    t = pd.date_range("2024-01-01", periods=48 * 5, freq="30min")
    price = 20 * np.sin(np.arange(len(t)) / 7) - 5  # goes below zero
    path = tmp_path / "prices.csv"
    pd.DataFrame({"Date": t.strftime("%Y-%m-%d %H:%M"), "Price": price.round(3)}).to_csv(
        path, index=False
    )
    return path


def market(tmp_path: Path, path: Path, **top: object) -> DataConfig:
    return config(tmp_path, path, {"frequency": "30min", "output_frequency": "1h", **top})


def test_a_price_target_keeps_its_negatives_and_is_averaged_not_summed(tmp_path):
    path = half_hourly_prices(tmp_path)
    raw = pd.read_csv(path)["Price"].to_numpy()
    p = prepare(market(tmp_path, path, target={"kind": "price", "unit": "EUR/MWh"}))
    assert len(p.quarantine) == 0 and (p.frame["target"] < 0).any()
    np.testing.assert_allclose(p.frame["target"], raw.reshape(-1, 2).mean(axis=1))
    assert p.report["unit"] == "EUR/MWh"
    energy = prepare(market(tmp_path, path))  # no target section: energy, summed, no negatives
    assert len(energy.quarantine) > 0 and (energy.frame["target"].dropna() >= 0).all()
    assert "negative energy" in energy.quarantine["detail"].iloc[0]


def test_energy_and_power_targets_say_what_they_do_with_negatives(tmp_path):
    path = half_hourly_prices(tmp_path)
    p = prepare(market(tmp_path, path, target={"kind": "power", "unit": "MW"}))
    assert p.report["unit"] == "MWh" and len(p.quarantine) > 0
    assert (
        "negative power (legitimate? set target.negative: allowed)"
        in p.quarantine["detail"].iloc[0]
    )
    kept = prepare(market(tmp_path, path, target={"kind": "energy", "negative": "allowed"}))
    assert len(kept.quarantine) == 0
    # no unit given: power is read in kW and becomes kWh (the report once said 'kWhh')
    unnamed = prepare(market(tmp_path, path, target={"kind": "power", "negative": "allowed"}))
    assert unnamed.report["unit"] == "kWh"


def test_the_target_is_described_in_one_place(tmp_path):
    from forecasting.config.base import ConfigError

    path = half_hourly_prices(tmp_path)
    with pytest.raises(ConfigError, match=r"input\.quantity and the `target` section"):
        load_data_config(_write(tmp_path, path, quantity="power", target={"kind": "price"}))


def _write(tmp_path: Path, path: Path, quantity: str, target: dict) -> Path:
    doc = {
        "name": "m",
        "input": {"path": str(path), "series_id_value": "BE", "timestamp": "Date",
                  "target": "Price", "quantity": quantity},
        "target": target,
    }  # fmt: skip
    cfg = tmp_path / "twice.yaml"
    cfg.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return cfg


def test_a_file_with_every_hour_on_clock_change_days_gets_the_fixed_clock_hint(tmp_path):
    """Market data often keeps 24 hours on every day (issue 17, item 6): read with the
    market's IANA zone, spring hours are quarantined and autumn hours seen once; the report
    says which clock the file keeps."""
    t = pd.date_range("2024-03-25", "2024-11-05", freq="h", inclusive="left")  # both changes
    path = tmp_path / "fixed.csv"
    pd.DataFrame({"Date": t.strftime("%Y-%m-%d %H:%M"), "Price": 50.0}).to_csv(path, index=False)
    p = prepare(config(tmp_path, path, timezone="Europe/Brussels"))
    dst = p.report["dst"]
    assert dst["nonexistent_in_input"] == 1 and dst["autumn_repeats_resolved"] == 0
    assert "keeps no daylight saving" in dst["hint"] and "'+01:00'" in dst["hint"]
    fixed = prepare(config(tmp_path, path, timezone="+01:00"))
    assert len(fixed.quarantine) == 0 and len(fixed.frame) == len(t)
