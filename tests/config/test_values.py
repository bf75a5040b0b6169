"""Frequencies, timezones and configured paths are parsed once, when a config is loaded."""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
import yaml

from forecasting.config.base import ConfigError
from forecasting.config.data import load_data_config
from forecasting.config.values import ConfigPath, Duration, Frequency, Zone, steps
from tests.test_layers import ROOT

PARSERS = {"parse_frequency", "parse_timezone", "expand_path"}


def write_config(tmp_path: Path, **top: object) -> Path:
    doc = {
        "name": "t",
        "input": {
            "path": "${METER_DIR:-/nowhere}/readings.csv",
            "timestamp": "ts",
            "target": "kwh",
            "series_id": "id",
            "timezone": "+10:00",
        },
        **top,
    }
    path = tmp_path / "data.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def test_a_loaded_config_carries_parsed_values_and_dumps_the_text_it_was_given(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("METER_DIR", str(tmp_path))
    cfg = load_data_config(write_config(tmp_path, frequency="30min", output_frequency="1h"))
    assert cfg.source_step == pd.Timedelta("30min")
    assert cfg.output_frequency.step == pd.Timedelta("1h")
    assert cfg.input.timezone.tzinfo == dt.timezone(dt.timedelta(hours=10))
    assert cfg.input.path.expanded == tmp_path / "readings.csv"
    dumped = cfg.model_dump(mode="json")
    assert dumped["input"]["path"] == "${METER_DIR:-/nowhere}/readings.csv"  # portable
    assert (dumped["frequency"], dumped["output_frequency"]) == ("30min", "1h")
    assert dumped["input"]["timezone"] == "+10:00"
    assert load_data_config(write_config(tmp_path)).source_step is None  # 'auto'


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("frequency", "fortnightly", "invalid frequency"),
        ("output_frequency", "25h", "between 1 minute and 1 day"),
    ],
)
def test_a_bad_value_is_one_error_naming_the_key(tmp_path, field, value, message):
    with pytest.raises(ConfigError, match=message) as err:
        load_data_config(write_config(tmp_path, **{field: value}))
    assert f"{field}:" in str(err.value) and str(err.value).count(message) == 1


def test_the_typed_values_refuse_what_their_parsers_refuse():
    with pytest.raises(ValueError, match="unknown timezone"):
        Zone("Mars/Olympus")
    with pytest.raises(ValueError, match="invalid frequency"):
        Frequency("often")
    assert ConfigPath("~/x.csv").expanded == Path.home() / "x.csv"
    for bad in ("", "soon", "-1h"):
        with pytest.raises(ValueError, match="duration"):
            Duration(bad)


def test_a_span_is_intervals_or_a_duration_resolved_against_the_data():
    quarter = pd.Timedelta("15min")
    assert [steps(s, quarter, "lag") for s in (1, 24, Duration("1D"), Duration("7D"))] == [
        1, 24, 96, 672,
    ]  # fmt: skip
    with pytest.raises(ConfigError, match="'45min' is not a whole number of the data's 30min"):
        steps(Duration("45min"), pd.Timedelta("30min"), "lag")


def test_the_data_layer_never_parses_config_text_again():
    """Below the config layer, code reads `.step`, `.tzinfo` and `.expanded`."""
    calls = []
    for path in sorted((ROOT / "forecasting" / "data").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            name = getattr(node, "id", None) or getattr(node, "attr", None)
            if name in PARSERS:
                calls.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}")
    assert calls == []
