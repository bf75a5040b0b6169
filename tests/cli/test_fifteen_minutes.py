"""15-minute meters end to end (issue 17, item 2): generated 15-minute readings kept at 15
minutes through prepare -> train (LightGBM, CNN-LSTM and TFT, default periods) -> evaluate against
a one-week seasonal naive -> export -> predict, a day ahead (96 steps) and three days ahead (288).
The defaults are durations, so a day-ahead horizon is 96 steps and a week of history 672, with no
config saying so."""

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


DEEP_TRAINER = {"max_epochs": 1, "accelerator": "cpu", "progress_bar": "none", "logger": "none"}
CNN = {"kind": "cnn_lstm", "hidden_size": 8, "conv_channels": 4}
TFT = {"kind": "tft", "hidden_size": 8, "hidden_continuous_size": 4, "attention_head_size": 1}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "model", "extra", "days_ahead"),
    [
        ("lgb15", {"kind": "lightgbm", "n_estimators": 40, "num_leaves": 15}, {}, 1),
        ("lgb15_3d", {"kind": "lightgbm", "n_estimators": 40, "num_leaves": 15},
         {"horizon": "3D"}, 3),
        ("cnn15", CNN, {"trainer": DEEP_TRAINER}, 1),
        ("cnn15_3d", CNN, {"horizon": "3D", "trainer": DEEP_TRAINER}, 3),
        # the default week of history (672 steps): its export is held to the same parity
        ("tft15", TFT, {"trainer": DEEP_TRAINER}, 1),
        ("tft15_3d", TFT, {"horizon": "3D", "trainer": DEEP_TRAINER}, 3),
    ],
)  # fmt: skip
def test_fifteen_minute_data_trains_evaluates_exports_and_predicts(
    cli, quarter_hours, name, model, extra, days_ahead
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
    horizon = days_ahead * PER_DAY
    lookback = 7 * PER_DAY  # the default week of history
    assert (saved["horizon"], saved["lookback"], saved["origin_step"]) == (
        horizon,
        lookback,
        PER_DAY,
    )
    assert saved["features"]["lags"] == [PER_DAY, 2 * PER_DAY, 3 * PER_DAY, 7 * PER_DAY]
    assert saved["features"]["rolling_windows"] == [24, PER_DAY, 7 * PER_DAY]  # 6h, 1D, 7D

    # daily origins from local midnight; the last one's horizon ends with the data
    start, end, n_origins = "2023-11-12", "2023-11-16", 5
    metrics = root / f"{name}_eval.json"
    r = cli("evaluate", "--run", run, "--start", start, "--end", end, "--output", metrics)
    assert r.code == 0, r.err
    result = json.loads(metrics.read_text())
    assert result["n_origins"] == n_origins and result["horizon"] == horizon
    assert result["model"]["n_forecasts"] == 4 * n_origins * horizon
    naive, ours = result["seasonal_naive"]["mae"], result["model"]["mae"]
    assert result["mae_ratio_vs_seasonal_naive"] == pytest.approx(ours / naive, rel=1e-3)

    if days_ahead == 1:
        twice = root / f"{name}_twice.json"
        r = cli("evaluate", "--run", run, "--start", start, "--end", end,
                "--origin-hour", "0", "--origin-hour", "12", "--output", twice)  # fmt: skip
        assert r.code == 0, r.err
        both = json.loads(twice.read_text())
        assert both["n_origins"] == 2 * n_origins and both["origin_hours"] == [0, 12]
        assert "00:00, 12:00" in r.out

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
    assert len(fc) == 4 * horizon and fc["horizon"].max() == horizon
    steps = fc.sort_values(["series_id", "timestamp"]).groupby("series_id")["timestamp"].diff()
    assert (steps.dropna() == pd.Timedelta("15min")).all()
