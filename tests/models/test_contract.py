"""One suite over every registered model kind (`forecasting/models/kinds.py`), driven by the
kinds' capabilities: a new kind is tested by being registered (and given a tiny model in
`build`). Forecasters: one origin forecasts every series for the whole horizon with ordered,
finite quantiles, and reads nothing at or after its origin; trained kinds keep the contract
(`TrainedModel`) and give the same output after save and load; exportable kinds match their
ONNX graph; kinds for unseen series forecast a household they never saw; detectors flag."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from forecasting.data.schema import SERIES, TARGET, TIME
from forecasting.export.onnx_export import check_parity, export_model
from forecasting.models.contract import ExportableGraph, Forecaster, TrainedModel
from forecasting.models.kinds import KINDS, model_kind
from tests.models.helpers import START

ORIGIN = START + pd.Timedelta(days=37)
Q = ["p10", "p50", "p90"]


def build(kind: str, tiny: dict[str, Any]) -> Any:
    """A fitted tiny model of `kind` (the trained ones come from the session fixture)."""
    from forecasting.models.baselines import SeasonalNaive, WeekdayHourProfile, Yesterday
    from forecasting.models.ensemble import EnsembleForecaster

    if kind in tiny:
        return tiny[kind]
    frame = tiny["data"][0]
    return {
        "seasonal_naive": lambda: SeasonalNaive(season=168).fit(frame),
        "yesterday": lambda: Yesterday().fit(frame),
        "profile": lambda: WeekdayHourProfile(2, timezone="Europe/London").fit(frame),
        "ensemble": lambda: EnsembleForecaster(
            {"lgb": tiny["lightgbm"], "xgb": tiny["xgboost"]},
            np.full((1, 3, 2), 0.5),
            [[1, 24]],
            [0.1, 0.5, 0.9],
            24,
            "1h",
            True,
        ),
    }[kind]()


def forecast_at(model: Any, frame: pd.DataFrame, static: pd.DataFrame) -> pd.DataFrame:
    """Forecasts from ORIGIN: the vectorised `forecast`, or the one-origin `predict`."""
    if getattr(model, "horizon", None):  # as `backtest` decides; baselines without a horizon
        return model.forecast(frame, pd.DatetimeIndex([ORIGIN]), static)  # forecast one origin
    history = frame[frame[TIME] < ORIGIN]
    future = frame[(frame[TIME] >= ORIGIN) & (frame[TIME] < ORIGIN + pd.Timedelta(hours=24))]
    return model.predict(history, future.assign(**{TARGET: np.nan}), static)


def sorted_rows(fc: pd.DataFrame) -> pd.DataFrame:
    return fc.sort_values([SERIES, TIME], ignore_index=True)[[SERIES, TIME, *Q]]


@pytest.fixture(scope="module")
def models(tiny_models) -> dict[str, Any]:
    return {kind: build(kind, tiny_models) for kind in KINDS}


@pytest.fixture(scope="module")
def data(tiny_models):
    return tiny_models["data"]


FORECASTERS = [k for k, v in KINDS.items() if v.capabilities.quantiles]
TRAINED = [k for k, v in KINDS.items() if v.capabilities.exportable and not v.combines_members]


def test_every_registered_kind_builds_and_keeps_its_family_contract(models):
    assert set(models) == set(KINDS)
    for kind, model in models.items():
        assert model.kind == kind
        if kind in TRAINED:
            assert isinstance(model, TrainedModel) and isinstance(model, ExportableGraph), kind
        if kind in TRAINED and KINDS[kind].capabilities.quantiles:
            assert isinstance(model, Forecaster), kind


@pytest.mark.parametrize("kind", FORECASTERS)
def test_a_forecast_covers_every_series_and_step_with_ordered_quantiles(models, data, kind):
    frame, static = data
    fc = forecast_at(models[kind], frame, static)
    assert len(fc) == frame[SERIES].nunique() * 24, kind
    values = fc[Q].to_numpy(float)
    assert np.isfinite(values).all()
    assert (np.diff(values, axis=1) >= -1e-9).all(), f"{kind}: quantiles cross"


@pytest.mark.parametrize("kind", FORECASTERS)
def test_nothing_at_or_after_the_origin_is_read(models, data, kind):
    frame, static = data
    later = frame[TIME] >= ORIGIN
    changed = frame.assign(**{TARGET: np.where(later, frame[TARGET] * 50 + 7, frame[TARGET])})
    a = sorted_rows(forecast_at(models[kind], frame, static))
    b = sorted_rows(forecast_at(models[kind], changed, static))
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize("kind", [k for k in FORECASTERS if KINDS[k].capabilities.unseen_series])
def test_a_household_never_seen_in_training_is_forecast(models, data, kind):
    frame, static = data
    first = frame[SERIES].iloc[0]
    new = frame[frame[SERIES] == first].assign(**{SERIES: "NEVER_SEEN"}).astype({SERIES: "string"})
    new_static = static[static[SERIES] == first].assign(**{SERIES: "NEVER_SEEN"})
    fc = forecast_at(models[kind], new, new_static.astype({SERIES: "string"}))
    assert set(fc[SERIES]) == {"NEVER_SEEN"} and len(fc) == 24


@pytest.mark.parametrize("kind", TRAINED)
def test_save_and_load_give_the_same_outputs(models, data, kind, tmp_path: Path):
    frame, static = data
    model = models[kind]
    model.save(tmp_path / "model")
    loaded = model_kind(kind).estimator_class().load(tmp_path / "model")
    if KINDS[kind].capabilities.anomaly:
        end = frame[TIME].max()
        pd.testing.assert_frame_equal(model.score(frame, end - pd.Timedelta(days=2), end),
                                      loaded.score(frame, end - pd.Timedelta(days=2), end))  # fmt: skip
    else:
        pd.testing.assert_frame_equal(
            forecast_at(model, frame, static), forecast_at(loaded, frame, static)
        )


@pytest.mark.parametrize("kind", TRAINED)
def test_the_onnx_graph_matches_the_native_model(models, data, kind):
    frame, static = data
    model = models[kind]
    real = model.graph_inputs(frame, pd.DatetimeIndex([ORIGIN]), static)
    report = check_parity(model, export_model(model), real)
    assert report["random"]["outside_tolerance"] == 0 and report["real"]["outside_tolerance"] == 0


@pytest.mark.parametrize("kind", [k for k, v in KINDS.items() if v.capabilities.anomaly])
def test_a_detector_scores_every_interval_and_flags_some(models, data, kind):
    frame, _ = data
    end = frame[TIME].max()
    hurt = frame.copy()
    spike = (hurt[SERIES] == hurt[SERIES].iloc[0]) & (hurt[TIME] > end - pd.Timedelta(hours=12))
    hurt.loc[spike, TARGET] = 40.0
    scores = models[kind].score(hurt, end - pd.Timedelta(days=2), end)
    assert {"score", "flag"} <= set(scores.columns) and np.isfinite(scores["score"]).all()
    assert scores.loc[scores[SERIES] == hurt[SERIES].iloc[0], "flag"].any()
