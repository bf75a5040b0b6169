"""A tiny seeded canonical frame with a daily and weekly pattern, weather and static groups."""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.config.features import FeatureConfig
from forecasting.config.model import LightGBMConfig, XGBoostConfig
from forecasting.models.gbm import GBMForecaster

START = pd.Timestamp("2024-01-01", tz="UTC")


def households(n: int = 6, days: int = 42, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    t = pd.date_range(START, periods=days * 24, freq="1h")
    hour = t.hour.to_numpy()
    dow = t.dayofweek.to_numpy()
    temp = 8 + 6 * np.sin(2 * np.pi * (np.arange(len(t)) / 24 - 9 / 24)) + rng.normal(0, 1, len(t))
    parts, static = [], []
    for i in range(n):
        size = 0.3 + 0.25 * i
        shape = 1 + 0.8 * np.exp(-((hour - 19) ** 2) / 6) + 0.4 * (dow >= 5)
        y = size * shape * (1 + 0.03 * np.clip(15 - temp, 0, None)) + rng.gamma(2, 0.04, len(t))
        sid = f"H{i:02d}"
        parts.append(
            pd.DataFrame({"series_id": sid, "timestamp": t, "target": y, "temperature": temp})
        )
        static.append({"series_id": sid, "group": "A" if i % 2 else "B", "size": float(i)})
    frame = pd.concat(parts, ignore_index=True)
    frame["series_id"] = frame["series_id"].astype("string")
    frame["filled"] = False
    return frame, pd.DataFrame(static).astype({"series_id": "string"})


def features() -> FeatureConfig:
    return FeatureConfig(
        lags=[24, 48, 168],
        rolling_windows=[24, 168],
        known_future=["temperature"],
        static=["group", "size"],
        timezone="Europe/London",
    )


def origins(first_day: int, last_day: int) -> pd.DatetimeIndex:
    return pd.date_range(
        START + pd.Timedelta(days=first_day), START + pd.Timedelta(days=last_day), freq="1D"
    )


def fitted(kind: str, frame: pd.DataFrame, static: pd.DataFrame) -> GBMForecaster:
    cfg = (
        LightGBMConfig(n_estimators=40, num_leaves=15, min_data_in_leaf=20, num_threads=1)
        if kind == "lightgbm"
        else XGBoostConfig(n_estimators=40, max_depth=4, n_jobs=1)
    )
    model = GBMForecaster(cfg, features(), [0.1, 0.5, 0.9], horizon=24, lookback=168)
    return model.fit(frame, static, origins(8, 30), origins(31, 35))


def tiny_models() -> dict[str, object]:
    """One tiny fitted model of every trained kind on `households()` (shared by the export and
    contract tests through the session fixture `tiny_models`), and the data under "data"."""
    from forecasting.config.model import AutoencoderConfig, CNNLSTMConfig, PatchConfig, TFTConfig
    from forecasting.config.trainer import TrainerConfig
    from forecasting.models.deep.anomaly import AnomalyDetector
    from forecasting.models.deep.estimator import CNNLSTMForecaster
    from forecasting.models.deep.patch import PatchForecaster
    from forecasting.models.deep.tft import TFTForecaster

    trainer = TrainerConfig(accelerator="cpu", max_epochs=1, progress_bar="none")
    f, st = households()
    fit = (f, st, origins(8, 30), origins(31, 33), trainer)
    six_hourly = pd.date_range("2024-01-09", "2024-01-30", freq="6h", tz="UTC")
    return {
        "data": (f, st),
        "lightgbm": fitted("lightgbm", f, st),
        "xgboost": fitted("xgboost", f, st),
        "cnn_lstm": CNNLSTMForecaster(CNNLSTMConfig(hidden_size=8, conv_channels=4), features())
        .fit(*fit),
        "tft": TFTForecaster(TFTConfig(hidden_size=8, hidden_continuous_size=4), features())
        .fit(*fit),
        "patchtst": PatchForecaster(PatchConfig(heads=2, head_size=4, layers=1), features())
        .fit(*fit),
        "lstm_autoencoder": AnomalyDetector(
            AutoencoderConfig(hidden_size=8, latent_size=4), features()
        ).fit(f, None, six_hourly, six_hourly[-8:], trainer),
    }  # fmt: skip


def synthetic_bundle(
    root, name: str, spec: dict, train: dict, validation: dict, model: dict, trainer=None
):
    """Generated households (`SyntheticSpec(**spec)`) under root/synth, a run trained on them
    under root/run and its bundle under root/bundle; returns the data config's path."""
    from forecasting.config.model import TrainConfig
    from forecasting.data.synthetic import SyntheticSpec, write_synthetic
    from forecasting.export import export_run
    from training.train import train as train_run

    write_synthetic(SyntheticSpec(**spec), root / "synth")
    data = root / "synth" / "data.yaml"
    cfg = TrainConfig(name=name, data=str(data), train=train, validation=validation, model=model,
                      trainer=trainer)  # fmt: skip
    train_run(cfg, root / "run")
    export_run(root / "run", root / "bundle")
    return data
