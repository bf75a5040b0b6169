from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecasting.evaluation.backtest import RollingOrigin, backtest
from forecasting.models.gbm import GBMForecaster
from tests.models.helpers import fitted, households, origins

KINDS = ["lightgbm", "xgboost"]


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.DataFrame]:
    return households()


@pytest.fixture(scope="module", params=KINDS)
def model(request: pytest.FixtureRequest, data) -> GBMForecaster:
    return fitted(request.param, *data)


def test_quantiles_are_ordered_and_nonnegative(model, data):
    frame, static = data
    fc = model.forecast(frame, origins(36, 40), static)
    assert len(fc) == 6 * 5 * 24
    assert set(fc["horizon"]) == set(range(1, 25))
    p = fc[["p10", "p50", "p90"]].to_numpy()
    assert np.isfinite(p).all()
    assert (p[:, 0] <= p[:, 1]).all() and (p[:, 1] <= p[:, 2]).all()
    assert (p >= 0).all()
    assert fc["p90"].mean() > fc["p10"].mean()  # a real interval, not three equal columns


def test_backtest_with_one_origin_at_a_time_matches_the_vectorised_path(model, data):
    frame, static = data
    splitter = RollingOrigin(
        horizon=24, lookback=168, step=24, start=origins(36, 36)[0], end=origins(38, 38)[0]
    )
    fast = backtest(model, frame, splitter, ["temperature"], static)
    slow = []
    for w in splitter.split(frame):
        fc = model.predict(w.history, w.future[["series_id", "timestamp", "temperature"]], static)
        slow.append(fc)
    slow_df = pd.concat(slow, ignore_index=True)
    key = ["series_id", "origin", "timestamp"]
    merged = fast.merge(slow_df, on=key, suffixes=("", "_slow"))
    assert len(merged) == len(fast) == 6 * 3 * 24
    np.testing.assert_allclose(merged["p50"], merged["p50_slow"], rtol=1e-6)


def test_saved_model_reloads_and_predicts_the_same(model, data, tmp_path: Path):
    frame, static = data
    model.save(tmp_path)
    assert not list(tmp_path.glob("*.pkl"))
    again = GBMForecaster.load(tmp_path)
    a = model.forecast(frame, origins(36, 40), static)
    b = again.forecast(frame, origins(36, 40), static)
    pd.testing.assert_frame_equal(a, b)


def test_unseen_household_and_unseen_category_are_forecast(model, data):
    frame, static = data
    new = frame[frame["series_id"] == "H03"].copy()
    new["series_id"] = pd.Series("NEW", index=new.index, dtype="string")
    new["target"] *= 3.0
    new_static = pd.DataFrame({"series_id": ["NEW"], "group": ["never seen"], "size": [9.0]})
    fc = model.forecast(new, origins(36, 36), new_static.astype({"series_id": "string"}))
    assert len(fc) == 24 and fc["p50"].notna().all()
    base = model.forecast(frame, origins(36, 36), static)
    base = base[base["series_id"] == "H03"]
    # with mean scaling a 3x bigger home gets a forecast of about 3x
    ratio = fc["p50"].sum() / base["p50"].sum()
    assert 2.0 < ratio < 4.5


def test_short_history_is_skipped_with_a_reason(model, data):
    frame, static = data
    short = frame[(frame["series_id"] != "H01") | (frame["timestamp"] >= origins(35, 35)[0])]
    fc = model.forecast(short, origins(36, 36), static)
    assert "H01" not in set(fc["series_id"])
    skipped = model.skipped_
    assert list(skipped["series_id"]) == ["H01"]
    assert "history has 24 of 168" in skipped["reason"].iloc[0]


def test_missing_covariate_is_a_clear_error(model, data):
    from forecasting.errors import InputError

    frame, static = data
    with pytest.raises(InputError, match="temperature"):
        model.forecast(frame.drop(columns="temperature"), origins(36, 36), static)
