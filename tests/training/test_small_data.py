"""Small datasets get guard rails (issue 17, item 10): boosted trees still grow on a few weeks
of one series, and training says in one line when the data is short, with the figures."""

from __future__ import annotations

import json

from forecasting.config.features import FeatureConfig
from forecasting.config.model import LightGBMConfig
from forecasting.models.gbm import GBMForecaster
from tests.models.helpers import households, origins


def fit(config: LightGBMConfig) -> GBMForecaster:
    frame, static = households(n=1, days=42)
    features = FeatureConfig(lags=[24, 168], rolling_windows=[24], temperature=None)
    model = GBMForecaster(config, features, [0.1, 0.5, 0.9], horizon=24, lookback=168)
    return model.fit(frame, static, origins(8, 30), origins(31, 35))


def test_the_default_leaf_minimum_shrinks_with_the_data_and_trees_grow():
    model = fit(LightGBMConfig(n_estimators=30, num_threads=1))
    rows = model.fit_info_["train_rows"]
    assert rows == 23 * 24 and model.fit_info_["min_data_in_leaf"] == max(5, rows // 50)
    assert all(b.num_trees() > 0 for b in model.boosters_)
    # the old fixed 200 on these 552 rows: two-leaf stumps and a worse validation median
    fixed = fit(LightGBMConfig(n_estimators=30, num_threads=1, min_data_in_leaf=200))

    def leaves(m: GBMForecaster) -> int:
        return max(t["num_leaves"] for t in m.boosters_[1].dump_model()["tree_info"])

    assert leaves(fixed) == 2 < leaves(model)
    assert model.fit_info_["validation"]["p50"] < fixed.fit_info_["validation"]["p50"]
    assert fixed.fit_info_["min_data_in_leaf"] == 200  # a configured value is kept


def test_training_on_few_origins_warns_with_the_figures(tmp_path, capsys):
    from tests.models.helpers import synthetic_bundle

    synthetic_bundle(
        tmp_path, "short", {"households": 2, "days": 40, "seed": 2},
        train={"start": "2023-10-30", "end": "2023-11-12"},
        validation={"start": "2023-11-13", "end": "2023-11-16"},
        model={"kind": "lightgbm", "n_estimators": 20},
    )  # fmt: skip
    err = capsys.readouterr().err
    line = next(x for x in err.splitlines() if x.startswith("warning: lightgbm trains on"))
    assert "origins" in line and "fewer than the 60" in line and "min_data_in_leaf" in line
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["warnings"] == [line.removeprefix("warning: ")]
