"""Tariff YAML validation: coverage of every local time by exactly one band, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from forecasting.errors import ConfigError
from forecasting.tariffs.spec import load_tariff, parse_months

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, body: dict) -> Path:
    base = {"name": "t", "currency": "GBP", "timezone": "Europe/London"}
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump({**base, **body}), "utf-8")
    return path


def tou(*bands: dict) -> dict:
    return {"energy": {"type": "tou", "bands": list(bands)}}


@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "configs/tariffs").glob("*.yaml")))
def test_shipped_tariffs_load(name: str) -> None:
    t = load_tariff(ROOT / "configs/tariffs" / f"{name}.yaml")
    assert t.energy_items()


def test_month_ranges() -> None:
    assert parse_months("Nov-Feb") == [1, 2, 11, 12]
    assert parse_months("jun-sep") == [6, 7, 8, 9]
    assert parse_months([3, "Apr"]) == [3, 4]
    with pytest.raises(ValueError, match="not a month"):
        parse_months("Jun-Foo")


def test_uncovered_hours_are_named(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        tou(
            {
                "name": "peak",
                "rate": 30,
                "windows": [{"days": ["weekday"], "start": "16:00", "end": "19:00"}],
            },
            {
                "name": "off",
                "rate": 10,
                "windows": [{"days": ["all"], "start": "19:00", "end": "16:00"}],
            },
        ),
    )
    with pytest.raises(ConfigError) as err:
        load_tariff(path)
    msg = str(err.value)
    assert "no band covers weekends 16:00-19:00 (all months)" in msg
    assert "t.yaml" in msg


def test_overlapping_bands_are_named(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        tou(
            {
                "name": "peak",
                "rate": 30,
                "windows": [{"start": "16:00", "end": "20:00", "months": "Jun-Aug"}],
            },
            {"name": "off", "rate": 10, "windows": [{"start": "19:30", "end": "16:00"}]},
            {
                "name": "eve",
                "rate": 20,
                "windows": [{"start": "16:00", "end": "19:30", "months": "Sep-May"}],
            },
        ),
    )
    with pytest.raises(ConfigError) as err:
        load_tariff(path)
    msg = str(err.value)
    assert "bands ['peak', 'off'] overlap on weekdays 19:30-20:00 (Jun, Jul, Aug)" in msg
    assert "weekends 19:30-20:00" in msg


def test_holiday_days_need_a_calendar(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        tou(
            {"name": "a", "rate": 1, "windows": [{"days": ["weekday", "weekend"]}]},
            {"name": "b", "rate": 2, "windows": [{"days": ["holiday"]}]},
        ),
    )
    with pytest.raises(ConfigError, match="no `holidays:`"):
        load_tariff(path)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"energy": {"type": "flat", "rate": 1}, "timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"energy": {"type": "flat", "rate": -1}}, "energy.flat.rate"),
        (
            {"energy": {"type": "blocks", "blocks": [{"up_to": 100, "rate": 1}]}},
            "only the last block",
        ),
        (
            {
                "energy": {"type": "flat", "rate": 1},
                "taxes": [{"name": "VAT", "rate": 0.2, "applies_to": ["enrgy"]}],
            },
            "unknown component(s) ['enrgy']",
        ),
        (
            {"energy": {"type": "flat", "rate": 1}, "fixed_per_dya": 3},
            "unknown key 'fixed_per_dya'",
        ),
        (
            {
                "energy": {
                    "type": "dynamic",
                    "signal": {"path": "x.csv", "timestamp": "t", "column": "c"},
                    "rates": {"High": 1},
                    "default": "Normal",
                }
            },
            "default level 'Normal' is not one of ['High']",
        ),
    ],
)
def test_bad_tariffs_are_one_clear_error(tmp_path: Path, body: dict, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_tariff(write(tmp_path, body))
    assert expected in str(err.value)
