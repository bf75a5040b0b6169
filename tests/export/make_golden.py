"""Regenerate the golden bundle (run by hand, only when the bundle format changes on purpose):

    .venv/bin/python -m tests.export.make_golden

It trains a tiny CNN-LSTM on generated data, exports it, and records an input frame and the
forecasts this version makes from it. `test_golden.py` checks that later versions still load
the bundle and reproduce those forecasts.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pandas as pd

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden_bundle_v1"
ORIGINS = pd.date_range("2023-11-28", "2023-11-30", freq="1D", tz="UTC")


def main() -> None:
    from forecasting.config.data import load_data_config
    from forecasting.config.trainer import TrainerConfig
    from forecasting.data.prepare import prepare
    from serving.load import load_bundle
    from tests.models.helpers import synthetic_bundle

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        synthetic_bundle(
            root, "golden_cnn_lstm", {"households": 3, "days": 50, "seed": 11},
            train={"start": "2023-10-22", "end": "2023-11-20"},
            validation={"start": "2023-11-21", "end": "2023-11-25"},
            model={"kind": "cnn_lstm", "hidden_size": 8, "conv_channels": 4},
            trainer=TrainerConfig(accelerator="cpu", max_epochs=1, progress_bar="none"),
        )  # fmt: skip
        shutil.rmtree(GOLDEN / "bundle", ignore_errors=True)
        shutil.copytree(root / "bundle", GOLDEN / "bundle")
        prepared = prepare(load_data_config(root / "synth" / "data.yaml"))
    frame = prepared.frame[prepared.frame["timestamp"] >= ORIGINS[0] - pd.Timedelta(days=8)]
    frame = frame[frame["timestamp"] < ORIGINS[-1] + pd.Timedelta(days=1)]
    frame.to_parquet(GOLDEN / "input.parquet", index=False)
    prepared.static.to_parquet(GOLDEN / "static.parquet", index=False)
    forecasts, _ = load_bundle(GOLDEN / "bundle").forecast(frame, ORIGINS, prepared.static)
    forecasts.to_parquet(GOLDEN / "expected.parquet", index=False)
    print(f"golden bundle written to {GOLDEN}: {len(forecasts)} forecast rows")


if __name__ == "__main__":
    main()
