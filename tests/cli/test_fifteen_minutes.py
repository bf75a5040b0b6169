"""15-minute meters end to end (issue 17, item 2): generated 15-minute readings kept at 15
minutes through prepare -> train (LightGBM, CNN-LSTM and TFT, default periods) -> evaluate against
a one-week seasonal naive -> export -> predict. The defaults are durations, so a day-ahead
horizon is 96 steps and a week of history 672, with no config saying so."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

PER_DAY = 96


@pytest.fixture(scope="module")
def quarter_hours(tmp_path_factory) -> Path:
    from forecasting.data.synthetic import SyntheticSpec, write_synthetic

    root = tmp_path_factory.mktemp("quarter")
    spec = SyntheticSpec(
        households=4, days=36, seed=5, interval="15min", output_interval="15min", faults=False
    )
    write_synthetic(spec, root / "raw")
    return root


def train_config(root: Path, name: str, model: dict, **extra: object) -> Path:
    doc = {
        "name": name,
        "data": str(root / "raw" / "data.yaml"),
        "train": {"start": "2023-10-22", "end": "2023-11-07"},
        "validation": {"start": "2023-11-08", "end": "2023-11-11"},
        "model": model,
        **extra,
    }
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "model", "extra"),
    [
        ("lgb15", {"kind": "lightgbm", "n_estimators": 40, "num_leaves": 15}, {}),
        (
            "cnn15",
            {"kind": "cnn_lstm", "hidden_size": 8, "conv_channels": 4},
            {"trainer": {"max_epochs": 1, "accelerator": "cpu", "progress_bar": "none",
                         "logger": "none"}},
        ),
        (
            "tft15",
            {"kind": "tft", "hidden_size": 8, "hidden_continuous_size": 4,
             "attention_head_size": 1},
            {"lookback": "2D",  # 192 steps: the TFT at 672 costs a minute more per test run
             "trainer": {"max_epochs": 1, "accelerator": "cpu", "progress_bar": "none",
                         "logger": "none"}},
        ),
    ],
)  # fmt: skip
def test_fifteen_minute_data_trains_evaluates_exports_and_predicts(
    cli, quarter_hours, name, model, extra
):
    root = quarter_hours
    prepared = root / "prepared"
    if not prepared.exists():
        r = cli(
            "data", "prepare", "--config", root / "raw" / "data.yaml", "--output", prepared, "-q"
        )
        assert r.code in (0, 1), r.err
    frame = pd.read_parquet(prepared / "frame.parquet")
    assert (frame["timestamp"].diff().dropna().value_counts().idxmax()) == pd.Timedelta("15min")

    run = root / f"run_{name}"
    r = cli("train", "--config", train_config(root, name, model, **extra), "--output", run)
    assert r.code == 0, r.err
    saved = yaml.safe_load((run / "config.yaml").read_text())
    lookback = 2 * PER_DAY if "lookback" in extra else 7 * PER_DAY
    assert (saved["horizon"], saved["lookback"], saved["origin_step"]) == (
        PER_DAY,
        lookback,
        PER_DAY,
    )
    assert saved["features"]["lags"] == [PER_DAY, 2 * PER_DAY, 3 * PER_DAY, 7 * PER_DAY]
    assert saved["features"]["rolling_windows"] == [24, PER_DAY, 7 * PER_DAY]  # 6h, 1D, 7D

    metrics = root / f"{name}_eval.json"
    r = cli(
        "evaluate",
        "--run",
        run,
        "--start",
        "2023-11-13",
        "--end",
        "2023-11-18",
        "--output",
        metrics,
    )
    assert r.code == 0, r.err
    result = json.loads(metrics.read_text())
    assert result["n_origins"] == 6 and result["horizon"] == PER_DAY
    assert result["model"]["n_forecasts"] == 4 * 6 * PER_DAY
    naive, ours = result["seasonal_naive"]["mae"], result["model"]["mae"]
    assert result["mae_ratio_vs_seasonal_naive"] == pytest.approx(ours / naive, rel=1e-3)

    twice = root / f"{name}_twice.json"
    r = cli("evaluate", "--run", run, "--start", "2023-11-13", "--end", "2023-11-18",
            "--origin-hour", "0", "--origin-hour", "12", "--output", twice)  # fmt: skip
    assert r.code == 0, r.err
    both = json.loads(twice.read_text())
    assert both["n_origins"] == 12 and both["origin_hours"] == [0, 12] and "00:00, 12:00" in r.out

    bundle = root / f"bundle_{name}"
    r = cli("export", "--run", run, "--output", bundle)
    assert r.code == 0, r.err
    out = root / f"pred_{name}"
    r = cli(
        "predict", "--bundle", bundle, "--input", prepared / "frame.parquet",
        "--static", prepared / "static.parquet", "--output", out,
    )  # fmt: skip
    assert r.code == 0, r.err
    fc = pd.read_parquet(out / "forecasts")
    assert len(fc) == 4 * PER_DAY and fc["horizon"].max() == PER_DAY
    steps = fc.sort_values(["series_id", "timestamp"]).groupby("series_id")["timestamp"].diff()
    assert (steps.dropna() == pd.Timedelta("15min")).all()
