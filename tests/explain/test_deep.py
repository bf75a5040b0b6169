"""`forecasting explain --run` on a deep forecaster: family Shapley values on the native
network, equal to the bundle explainer's on the exported graph, and the network's attention
over the history beside them."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

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
    assert "attention over the history" in r.out
    rank = bands[["attention", "shapley_share"]].rank().to_numpy()  # the reported agreement
    assert native["attention_rank_agreement"] == pytest.approx(np.corrcoef(rank.T)[0, 1])


def test_a_tft_run_reports_its_variable_selection_beside_the_shapley_values(cli, tmp_path):
    data = planted(tmp_path, "temperature", households=3, days=70)
    train = tmp_path / "tft.yaml"
    import yaml

    from tests.serving.test_explain import TRAINER

    train.write_text(yaml.safe_dump({
        "name": "t_tft", "data": str(data), "lookback": 48,
        "train": {"start": "2024-01-15", "end": "2024-03-01"},
        "validation": {"start": "2024-03-02", "end": "2024-03-08"},
        "model": {"kind": "tft", "hidden_size": 8, "attention_head_size": 1,
                  "hidden_continuous_size": 4},
        "trainer": TRAINER.model_dump(mode="json")}), encoding="utf-8")  # fmt: skip
    r = cli("train", "--config", train, "--output", tmp_path / "run")
    assert r.code == 0, r.err
    r = cli("explain", "--run", tmp_path / "run", "--output", tmp_path / "why",
            "--start", "2024-03-05", "--end", "2024-03-09", "--max-rows", "10")  # fmt: skip
    assert r.code == 0, r.err
    s = json.loads((tmp_path / "why" / "explain.json").read_text())
    assert s["kind"] == "tft" and s["additivity_max_abs_error"] < 1e-9
    sel = pd.DataFrame(s["variable_selection"])
    assert abs(sel["selection"].sum() - 1) < 1e-6 and "temperature" in set(sel["family"])
    assert "history" in set(sel["family"]) and abs(sel["shapley_share"].sum() - 1) < 1e-6
    assert "variable selection:" in r.out
    bands = pd.DataFrame(s["attention_by_band"])  # its attention over the encoder's history
    assert abs(bands["attention"].sum() - 1) < 1e-5 and "attention over the history" in r.out
