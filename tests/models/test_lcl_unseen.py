"""Real data: a run (boosted or deep) trained on some LCL households evaluates others from a
CSV file."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import ROOT, shared_path

CONFIG = """
name: lcl_small
data: configs/data/lcl.yaml
input: {train}
train: {{start: 2013-06-01, end: 2013-08-31}}
validation: {{start: 2013-09-01, end: 2013-09-14}}
model:
{model}
"""
MODELS = {
    "lightgbm": "  kind: lightgbm\n  n_estimators: 80\n  learning_rate: 0.1\n  num_leaves: 31",
    "cnn_lstm": "  kind: cnn_lstm\n  hidden_size: 24\n  conv_channels: 12\n  batch_size: 64\n"
    "trainer:\n  accelerator: cpu\n  max_epochs: 6\n  seed: 0",
}


@pytest.mark.shared_data
@pytest.mark.slow
@pytest.mark.parametrize("kind", list(MODELS))
def test_evaluate_on_households_the_model_never_saw(cli, tmp_path: Path, kind: str):
    raw = pd.read_parquet(shared_path("lcl", "halfhourly_kwh_2013.parquet"))
    ids = sorted(raw["LCLid"].unique())
    seen, unseen = ids[::2], ids[1::2]
    raw[raw["LCLid"].isin(seen)].to_parquet(tmp_path / "train.parquet", index=False)
    other = raw[raw["LCLid"].isin(unseen) & (raw["tstp"] >= "2013-10-01")]
    other.to_csv(tmp_path / "other_households.csv", index=False)  # same columns, as CSV
    cfg = tmp_path / f"{kind}.yaml"
    cfg.write_text(CONFIG.format(train=tmp_path / "train.parquet", model=MODELS[kind]))
    run = tmp_path / "run"
    r = cli("train", "--config", cfg, "--output", run)
    assert r.code == 0, r.err
    out = tmp_path / "metrics.json"
    r = cli(
        "evaluate", "--run", run, "--input", tmp_path / "other_households.csv",
        "--data-config", ROOT / "configs/data/lcl.yaml",
        "--start", "2013-11-01", "--end", "2013-11-21", "--output", out,
    )  # fmt: skip
    assert r.code == 0, r.err
    m = json.loads(out.read_text())
    assert m["n_origins"] == 21
    assert m["n_series"] >= 30  # households with data in November, none of them seen in training
    assert m["model"]["n_missing_forecasts"] == 0
    assert m["model"]["mae"] < 0.9 * m["seasonal_naive"]["mae"]
    assert 0.6 < m["model"]["coverage_p10_p90"] < 0.95
