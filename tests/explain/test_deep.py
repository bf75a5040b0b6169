"""`forecasting explain --run` on a deep forecaster: family Shapley values on the native
network, equal to the bundle explainer's on the exported graph, and the network's attention
over the history beside them."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from tests.serving.test_explain import _bundle, _explain, planted


def test_a_cnn_lstm_run_is_explained_like_its_bundle_with_its_attention(cli, tmp_path):
    data = planted(tmp_path, "temperature", households=4, days=70)
    bundle = _bundle(cli, tmp_path, data, "cnn_lstm", {"hidden_size": 8, "conv_channels": 4})
    served = _explain(cli, bundle, data, tmp_path / "served", "--max-rows", "30")
    r = cli("explain", "--run", tmp_path / "run_cnn_lstm", "--output", tmp_path / "native",
            "--start", "2024-03-11", "--end", "2024-03-20", "--max-rows", "30")  # fmt: skip
    assert r.code == 0, r.err
    native = json.loads((tmp_path / "native" / "explain.json").read_text())
    assert native["kind"] == "cnn_lstm" and native["additivity_max_abs_error"] < 1e-9
    assert native["windows"] == served["windows"] > 0  # the same windows, picked alike
    a = pd.read_csv(tmp_path / "native" / "families.csv").set_index("family")["share"]
    b = pd.read_csv(tmp_path / "served" / "families.csv").set_index("family")["share"]
    pd.testing.assert_series_equal(a.sort_index(), b.sort_index(), atol=1e-4)  # same quantity
    bands = pd.read_csv(tmp_path / "native" / "attention.csv")
    assert list(bands["band"]) == ["last 24 h", "earlier this week", "a week back and more"]
    assert abs(bands["attention"].sum() - 1) < 1e-5  # attention weights over the lookback
    assert -1 <= native["attention_rank_agreement"] <= 1
    assert "attention over the history" in r.out
    assert np.isfinite(bands["shapley_share"]).all()
