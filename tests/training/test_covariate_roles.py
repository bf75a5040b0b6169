"""Covariates declare their role, and a measured one's future is never read (issue 17, item 7).

Before: a column of the readings file (a meter's export) was always known-future, so window
features and backtests read its values at the target hour; a covariate file was known-future
unless it said otherwise."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from forecasting.config.base import ConfigError
from forecasting.config.data import load_data_config
from forecasting.config.features import FeatureConfig
from forecasting.config.model import TrainConfig
from forecasting.data.prepare import prepare
from forecasting.errors import InputError
from forecasting.evaluation.backtest import RollingOrigin, backtest
from forecasting.features.sequences import make_sequences
from forecasting.features.windows import make_windows
from training.train import check_covariate_roles, resolve_features

ORIGIN = pd.Timestamp("2024-01-20", tz="UTC")


def readings(tmp_path, export_role: dict, weather_role: dict):
    t = pd.date_range("2024-01-01", periods=24 * 30, freq="h", tz="UTC")
    rng = np.random.default_rng(1)
    pd.DataFrame(
        {
            "id": "M1",
            "time": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "kwh": rng.gamma(2, 0.3, len(t)).round(3),
            "export": rng.gamma(1, 0.1, len(t)).round(3),
        }
    ).to_csv(tmp_path / "readings.csv", index=False)
    pd.DataFrame(
        {"time": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "temp": rng.normal(8, 3, len(t)).round(1)}
    ).to_csv(tmp_path / "weather.csv", index=False)
    doc = {
        "name": "roles",
        "input": {
            "path": str(tmp_path / "readings.csv"),
            "series_id": "id",
            "timestamp": "time",
            "target": "kwh",
            "covariates": {"export_kwh": {"column": "export", **export_role}},
        },
        "frequency": "1h",
        "covariates": [
            {
                "name": "weather",
                "path": str(tmp_path / "weather.csv"),
                "timestamp": "time",
                "columns": {"temperature": {"column": "temp"}},
                **weather_role,
            }
        ],
    }
    path = tmp_path / "data.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("export_role", "weather_role", "where"),
    [
        ({}, {"known_future": True}, "this covariate of the readings file"),
        ({"known_future": False}, {}, "covariate source 'weather'"),
    ],
)
def test_a_covariate_without_a_declared_role_is_refused_with_the_choice(
    tmp_path, export_role, weather_role, where
):
    with pytest.raises(ConfigError, match="known_future: true") as err:
        load_data_config(readings(tmp_path, export_role, weather_role))
    assert where in str(err.value) and "measurements" in str(err.value)


def test_measured_covariates_become_observed_features_and_lose_degree_hours(tmp_path):
    path = readings(tmp_path, {"known_future": False}, {"known_future": False})
    data_cfg = load_data_config(path)
    prepared = prepare(data_cfg)
    cfg = TrainConfig(data=str(path), name="t", model={"kind": "lightgbm"})
    f = resolve_features(cfg, prepared, data_cfg)
    assert f.known_future == [] and f.observed == ["export_kwh", "temperature"]
    assert f.temperature is None and f.horizon_covariates == []
    declared = load_data_config(readings(tmp_path, {"known_future": False}, {"known_future": True}))
    f = resolve_features(cfg, prepare(declared), declared)
    assert f.known_future == ["temperature"] and f.observed == ["export_kwh"]


def test_a_model_that_reads_a_measured_covariates_horizon_is_refused():
    roles = {"export_kwh": {"known_future": False}, "temperature": {"known_future": False}}
    with pytest.raises(ConfigError, match=r"\['export_kwh'\] are measured"):
        check_covariate_roles(
            FeatureConfig(known_future=["export_kwh"], temperature=None), roles, "data.yaml"
        )
    with pytest.raises(ConfigError, match="temperature of degree hours"):
        check_covariate_roles(FeatureConfig(), roles, "data.yaml")  # degree hours at target time
    check_covariate_roles(FeatureConfig(observed=["export_kwh"], temperature=None), roles, "d")


def frame_with_export() -> pd.DataFrame:
    t = pd.date_range("2024-01-01", periods=24 * 25, freq="h", tz="UTC")
    rng = np.random.default_rng(2)
    return pd.DataFrame(
        {
            "series_id": pd.array(["M1"] * len(t), dtype="string"),
            "timestamp": t,
            "target": rng.gamma(2, 0.3, len(t)),
            "export_kwh": rng.gamma(1, 0.1, len(t)),
        }
    )


def test_window_and_sequence_features_never_read_an_observed_covariate_after_the_origin():
    frame = frame_with_export()
    changed = frame.copy()
    later = changed["timestamp"] >= ORIGIN
    changed.loc[later, "export_kwh"] = changed.loc[later, "export_kwh"] * 40 + 3
    cfg = FeatureConfig(observed=["export_kwh"], temperature=None)
    origins = pd.DatetimeIndex([ORIGIN])
    a, b = (make_windows(f, origins, cfg, 24, 336) for f in (frame, changed))
    pd.testing.assert_frame_equal(a.X, b.X)
    norms = {"export_kwh": [0.1, 0.1]}
    s, u = (make_sequences(f, origins, cfg, 24, 336, norms) for f in (frame, changed))
    np.testing.assert_array_equal(s.past, u.past)
    np.testing.assert_array_equal(s.future, u.future)


class ReadsExportAhead:
    """A forecaster whose features read `export_kwh` at the target times."""

    features = FeatureConfig(known_future=["export_kwh"], temperature=None)
    horizon = 24

    def forecast(self, frame, origins, static=None):  # pragma: no cover - refused first
        raise AssertionError("the backtest should refuse before forecasting")


def test_the_backtest_refuses_to_hand_a_model_a_measured_covariates_future():
    frame = frame_with_export()
    splitter = RollingOrigin(horizon=24, lookback=336, start=ORIGIN, end=ORIGIN)
    with pytest.raises(InputError, match=r"reads covariate\(s\) \['export_kwh'\] at the target"):
        backtest(ReadsExportAhead(), frame, splitter, known_future=[])
