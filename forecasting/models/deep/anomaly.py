"""LSTM-autoencoder anomaly detector for meter readings (the estimator layer).

Windows of `window` intervals (training: at the run's origins; scoring: every `stride`
intervals) are each divided by the mean |load| of the `lookback` before it (the series' own
recent level, never the window itself, so a sudden drop or a stuck-at-zero stretch stays
visible) and given their local calendar. The autoencoder, trained on ordinary load, gives two
signals per window:
- `point`: the absolute reconstruction error of each interval: a spike or a glitch is not a
  shape the autoencoder can rebuild;
- `window`: the window's mean reconstruction error, so that a fault lasting hours (a day
  stuck at zero, a load that dropped to a third) adds up even where each hour alone looks
  plausible.
The network takes the window's shape from the window and its level from the history (see
`networks.LSTMAutoencoderNet`), so a collapsed level cannot simply be copied through.
Each signal is averaged over the windows covering an interval and standardised on the
calibration period (0 at its median, 1 at its false-alarm quantile), so both weigh alike; the
score is the larger of the two, and the flag threshold is the score quantile on the
calibration period (validation data, taken as normal) that gives the configured false-alarm
rate.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from forecasting.bundle_format import tensor
from forecasting.config.features import FeatureConfig
from forecasting.config.model import AutoencoderConfig
from forecasting.config.trainer import TrainerConfig
from forecasting.config.values import steps
from forecasting.data.schema import SERIES
from forecasting.features.reconstruction import (
    flagged,
    raw_signals,
    scoring_origins,
    standardised,
)
from forecasting.features.sequences import SEQ_CALENDAR, Sequences, load_windows
from forecasting.models.common import no_training_windows
from forecasting.models.deep.estimator import (
    epoch_summary,
    read_weights,
    train_network,
    write_model,
)
from forecasting.models.deep.networks import LSTMAutoencoderNet
from forecasting.models.deep.onnx import TorchGraph


def window_features(features: FeatureConfig) -> FeatureConfig:
    """The detector's recipe: load, its same-hour mean over the lookback days, and calendar
    (no lags, covariates or statics)."""
    return features.model_copy(
        update={
            "lags": [],
            "profile_days": max(1, features.profile_days),
            "known_future": [],
            "observed": [],
            "static": [],
        }
    )


class AnomalyDetector(TorchGraph):
    """`fit(frame, static, train_origins, valid_origins, trainer, run_dir)` trains and
    calibrates; `score(frame, start, end)` returns one row per series and interval with the
    score, the threshold and the flag."""

    def __init__(
        self,
        config: AutoencoderConfig,
        features: FeatureConfig,
        quantiles: list[float] | None = None,
        horizon: int | None = None,
        lookback: int = 168,
        freq: str = "1h",
        nonnegative: bool = True,
    ):
        self.window = steps(config.window, pd.Timedelta(freq), "model.window")
        self.config = config.model_copy(update={"window": self.window})
        self.features = window_features(features.in_intervals(pd.Timedelta(freq)))
        self.quantiles = quantiles or []
        self.lookback, self.freq, self.nonnegative = lookback, freq, nonnegative
        self.horizon = self.window
        self.categories_: dict[str, list[str]] = {}

    @property
    def kind(self) -> str:
        return self.config.kind

    # ------------------------------------------------------------------ data
    def _windows(
        self, frame: pd.DataFrame, origins: pd.DatetimeIndex
    ) -> tuple[Sequences, np.ndarray, np.ndarray]:
        """(sequences, inputs [N, W, 2 + K]: load, expected load, calendar; observed mask)."""
        return load_windows(frame, origins, self.features, self.window, self.lookback, self.freq)

    def _origins(self, frame: pd.DataFrame, start: Any, end: Any, stride: int) -> pd.DatetimeIndex:
        return scoring_origins(frame, start, end, stride, self.window, self.lookback, self.freq)

    def graph_inputs(
        self, frame: pd.DataFrame, origins: pd.DatetimeIndex, static: pd.DataFrame | None = None
    ) -> dict[str, np.ndarray]:
        """The ONNX graph's input: the windows of load ending at each origin."""
        return {"window": self._windows(frame, origins)[1]}

    def onnx_spec(self) -> dict[str, list[dict[str, Any]]]:
        w = self.window
        n = self.net_.encoder.input_size + 1  # load + expected + calendar
        return {
            "inputs": [tensor("window", ["batch", w, n], "float32")],
            "outputs": [
                tensor("reconstruction", ["batch", w], "float32"),
                tensor("latent", ["batch", self.config.latent_size], "float32"),
            ],
        }

    def build_net(self) -> LSTMAutoencoderNet:
        c = self.config
        n_calendar = len(SEQ_CALENDAR) if self.features.calendar else 0
        return LSTMAutoencoderNet(
            n_calendar, c.hidden_size, c.latent_size, c.lstm_layers, c.dropout
        )

    # ------------------------------------------------------------------- fit
    def fit(
        self,
        frame: pd.DataFrame,
        static: pd.DataFrame | None,
        train_origins: pd.DatetimeIndex,
        valid_origins: pd.DatetimeIndex | None = None,
        trainer: TrainerConfig | None = None,
        run_dir: Path | None = None,
        trial: Any = None,
    ) -> AnomalyDetector:
        from forecasting.models.deep.modules import ReconstructionModule

        t0 = time.perf_counter()
        train, x, mask = self._windows(frame, train_origins)
        keep = mask.mean(axis=1) >= 0.5
        x, mask = x[keep], mask[keep]
        if len(x) == 0:
            raise no_training_windows(len(train_origins), self.lookback)
        val = None
        if valid_origins is not None and len(valid_origins):
            _, vx, vm = self._windows(frame, valid_origins)
            vk = vm.mean(axis=1) >= 0.5
            val = (vx[vk], vm[vk]) if vk.any() else None

        def module() -> ReconstructionModule:
            self.net_ = self.build_net()
            return ReconstructionModule(
                self.net_, self.config.learning_rate, self.config.weight_decay
            )

        t1 = time.perf_counter()
        best, pl_trainer, log = train_network(
            module, (x, mask), val, self.config.batch_size, trainer, run_dir, trial
        )
        self.net_ = self.net_.cpu().float().eval()
        fit_s = time.perf_counter() - t1
        # calibrate on the validation period (or the training one without validation)
        calib = valid_origins if valid_origins is not None and len(valid_origins) else train_origins
        step = pd.Timedelta(self.freq)
        raw = self._signals(frame, calib.min(), calib.max() + (self.window - 1) * step)
        self.standard_ = {}
        for col in ("point", "window"):
            v = raw[col].dropna().to_numpy()
            mid = float(np.median(v))
            spread = float(np.quantile(v, 1 - self.config.false_alarm_rate) - mid)
            self.standard_[col] = [mid, spread if spread > 1e-9 else 1.0]
        scores = self._combine(raw)["score"].dropna()
        self.threshold_ = float(np.quantile(scores, 1 - self.config.false_alarm_rate))
        self.fit_info_: dict[str, Any] = {
            "train_windows": len(x),
            "valid_windows": 0 if val is None else len(val[0]),
            "train_series": int(train.index[SERIES].nunique()),
            "features_seconds": round(t1 - t0, 2),
            "fit_seconds": round(fit_s, 2),
            "threshold": self.threshold_,
            "standardisation": self.standard_,
            "calibration_intervals": len(scores),
            "false_alarm_rate": self.config.false_alarm_rate,
            "best_checkpoint": best,
            **epoch_summary(pl_trainer, log),
        }
        return self

    # ----------------------------------------------------------------- score
    def score(
        self,
        frame: pd.DataFrame,
        start: Any = None,
        end: Any = None,
        stride: int | None = None,
    ) -> pd.DataFrame:
        """Score every interval of every series between `start` and `end` (UTC, inclusive;
        default: all the data after the first lookback). Columns: series_id, timestamp,
        target, score (the larger standardised signal), point and window (the two signals,
        standardised), threshold, flag. Series without enough history are in `skipped_`."""
        return flagged(self._signals(frame, start, end, stride), self.standard_, self.threshold_)

    def _signals(
        self, frame: pd.DataFrame, start: Any, end: Any, stride: int | None = None
    ) -> pd.DataFrame:
        """Raw point and window signals per series and interval (before standardising)."""
        stride = stride or self.config.stride
        origins = self._origins(frame, start, end, stride)
        s, x, mask = self._windows(frame, origins)
        self.skipped_ = s.skipped
        return raw_signals(s.index, x, mask, self._run(x)[0], frame, self.freq, start, end)

    def _combine(self, raw: pd.DataFrame) -> pd.DataFrame:
        return standardised(raw, self.standard_)

    def _run(self, x: np.ndarray, batch: int = 2048) -> tuple[np.ndarray, np.ndarray]:
        """Reconstructions [N, W] and latent codes [N, latent] of input windows."""
        self.net_.eval()
        recon, codes = [], []
        with torch.no_grad():
            for start in range(0, len(x), batch):
                r, z = self.net_(torch.from_numpy(x[start : start + batch]))
                recon.append(r.numpy())
                codes.append(z.numpy())
        if not recon:
            return np.zeros(x.shape[:2], "float32"), np.zeros(
                (0, self.config.latent_size), "float32"
            )
        return np.concatenate(recon), np.concatenate(codes)

    # ------------------------------------------------------------ save / load
    def save(self, folder: Path) -> list[str]:
        meta = {
            "kind": self.kind,
            "config": self.config.model_dump(mode="json"),
            "features": self.features.model_dump(mode="json"),
            "lookback": self.lookback,
            "freq": self.freq,
            "threshold": self.threshold_,
            "standard": self.standard_,
        }
        return write_model(folder, self.net_, meta)

    @classmethod
    def load(cls, folder: Path) -> AnomalyDetector:
        meta = json.loads((folder / "model.json").read_text())
        model = cls(
            AutoencoderConfig(**meta["config"]),
            FeatureConfig(**meta["features"]),
            lookback=meta["lookback"],
            freq=meta["freq"],
        )
        model.threshold_ = meta["threshold"]
        model.standard_ = meta["standard"]
        model.net_ = read_weights(folder, model.build_net())
        return model
