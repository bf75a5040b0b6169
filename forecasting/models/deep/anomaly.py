"""LSTM-autoencoder anomaly detector for meter readings (the estimator layer).

Windows of `window` intervals (training: at the run's origins; scoring: every `stride`
intervals) are each divided by the mean
|load| of the `lookback` before it (the series' own recent level, never the window itself,
so a sudden drop or a stuck-at-zero stretch stays visible) and given its local calendar. The
autoencoder, trained on ordinary load, reconstructs each window; the score of an interval is
its absolute reconstruction error in those scaled units, averaged over the windows covering
it. The flag threshold is the score quantile on the validation period that gives the
configured false-alarm rate (validation data is taken as normal).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch

from forecasting.config.model import AutoencoderConfig
from forecasting.config.trainer import TrainerConfig
from forecasting.data.schema import SERIES, TARGET, TIME
from forecasting.errors import InputError
from forecasting.features.sequences import SEQ_CALENDAR, Sequences, make_sequences
from forecasting.features.spec import FeatureConfig
from forecasting.models.deep.estimator import WEIGHTS, best_checkpoint, epoch_summary, loader
from forecasting.models.deep.networks import LSTMAutoencoderNet

SCORE_COLUMNS = [SERIES, TIME, TARGET, "score", "threshold", "flag"]


def window_features(features: FeatureConfig) -> FeatureConfig:
    """The detector's recipe: load and calendar only (no lags, covariates or statics)."""
    return features.model_copy(
        update={"lags": [], "profile_days": 0, "known_future": [], "observed": [], "static": []}
    )


class AnomalyDetector:
    """`fit(frame, static, train_origins, valid_origins, trainer, run_dir)` trains and
    calibrates; `score(frame, start, end)` returns one row per series and interval with the
    score, the threshold and the flag."""

    capabilities: ClassVar[dict[str, bool]] = {
        "quantiles": False,
        "anomaly": True,
        "exportable": True,
        "unseen_series": True,
    }

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
        self.config = config
        self.features = window_features(features)
        self.quantiles = quantiles or []
        self.lookback, self.freq, self.nonnegative = lookback, freq, nonnegative
        self.horizon = config.window
        self.categories_: dict[str, list[str]] = {}

    @property
    def kind(self) -> str:
        return self.config.kind

    # ------------------------------------------------------------------ data
    def _windows(
        self, frame: pd.DataFrame, origins: pd.DatetimeIndex
    ) -> tuple[Sequences, np.ndarray, np.ndarray]:
        """(sequences, inputs [N, W, 1 + K], observed mask [N, W])."""
        s = make_sequences(
            frame, origins, self.features, self.config.window, self.lookback, {},
            freq=self.freq,
        )  # fmt: skip
        cal = [i for i, c in enumerate(SEQ_CALENDAR) if self.features.calendar]
        mask = np.isfinite(s.y)
        x = np.concatenate([np.nan_to_num(s.y)[:, :, None], s.future[:, :, cal]], axis=2)
        return s, x.astype("float32"), mask.astype("float32")

    def _origins(self, frame: pd.DataFrame, start: Any, end: Any, stride: int) -> pd.DatetimeIndex:
        step = pd.Timedelta(self.freq)
        lo = pd.Timestamp(start) if start is not None else frame[TIME].min() + self.lookback * step
        hi = pd.Timestamp(end) if end is not None else frame[TIME].max()
        # windows that cover [lo, hi]: start up to a window before lo, end by hi
        first = lo - (self.config.window - stride) * step if stride < self.config.window else lo
        return pd.date_range(first, hi, freq=stride * step)

    def build_net(self) -> LSTMAutoencoderNet:
        c = self.config
        n_inputs = 1 + (len(SEQ_CALENDAR) if self.features.calendar else 0)
        return LSTMAutoencoderNet(n_inputs, c.hidden_size, c.latent_size, c.lstm_layers, c.dropout)

    # ------------------------------------------------------------------- fit
    def fit(
        self,
        frame: pd.DataFrame,
        static: pd.DataFrame | None,
        train_origins: pd.DatetimeIndex,
        valid_origins: pd.DatetimeIndex | None = None,
        trainer: TrainerConfig | None = None,
        run_dir: Path | None = None,
    ) -> AnomalyDetector:
        from forecasting.models.deep.modules import ReconstructionModule
        from training.trainer import build_trainer

        t0 = time.perf_counter()
        train, x, mask = self._windows(frame, train_origins)
        keep = mask.mean(axis=1) >= 0.5
        x, mask = x[keep], mask[keep]
        if len(x) == 0:
            raise InputError(
                f"no training windows: no series has {self.lookback} intervals of history and "
                f"a known target at the {len(train_origins)} training origins"
            )
        val = None
        if valid_origins is not None and len(valid_origins):
            _, vx, vm = self._windows(frame, valid_origins)
            vk = vm.mean(axis=1) >= 0.5
            val = (vx[vk], vm[vk]) if vk.any() else None
        tcfg = trainer or TrainerConfig()
        pl_trainer, log, ckpt = build_trainer(tcfg, run_dir, val is not None)
        self.net_ = self.build_net()
        module = ReconstructionModule(
            self.net_, self.config.learning_rate, self.config.weight_decay
        )
        bs = self.config.batch_size
        t1 = time.perf_counter()
        pl_trainer.fit(
            module,
            loader((x, mask), bs, shuffle=True, workers=tcfg.num_workers),
            loader(val, bs, shuffle=False, workers=tcfg.num_workers) if val else None,
            ckpt_path=ckpt,
        )
        best = best_checkpoint(pl_trainer)
        if best:
            state = torch.load(best, map_location="cpu", weights_only=True)["state_dict"]
            module.load_state_dict(state)
        self.net_ = self.net_.cpu().float().eval()
        fit_s = time.perf_counter() - t1
        # calibrate on the validation period (or the training one without validation)
        calib = valid_origins if valid_origins is not None and len(valid_origins) else train_origins
        step = pd.Timedelta(self.freq)
        scores = self.score(
            frame, calib.min(), calib.max() + (self.config.window - 1) * step, threshold=False
        )["score"].dropna()
        self.threshold_ = float(np.quantile(scores, 1 - self.config.false_alarm_rate))
        self.fit_info_: dict[str, Any] = {
            "train_windows": len(x),
            "valid_windows": 0 if val is None else len(val[0]),
            "train_series": int(train.index[SERIES].nunique()),
            "features_seconds": round(t1 - t0, 2),
            "fit_seconds": round(fit_s, 2),
            "threshold": self.threshold_,
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
        threshold: bool = True,
    ) -> pd.DataFrame:
        """Score every interval of every series between `start` and `end` (UTC, inclusive;
        default: all the data after the first lookback). Columns: series_id, timestamp,
        target, score (scaled absolute reconstruction error), threshold, flag. Series without
        enough history are listed in `skipped_`."""
        stride = stride or self.config.stride
        origins = self._origins(frame, start, end, stride)
        s, x, mask = self._windows(frame, origins)
        self.skipped_ = s.skipped
        err = np.abs(self._reconstruct(x) - x[:, :, 0])
        err[mask == 0] = np.nan
        w = self.config.window
        step = pd.Timedelta(self.freq)
        times = (
            pd.DatetimeIndex(np.repeat(s.index["origin"].to_numpy(), w))
            + np.tile(np.arange(w), len(s)) * step
        )
        long = pd.DataFrame(
            {
                SERIES: np.repeat(s.index[SERIES].to_numpy(), w),
                TIME: times,
                "score": err.reshape(-1),
            }
        )
        out = long.groupby([SERIES, TIME], sort=True, observed=True)["score"].mean().reset_index()
        lo = pd.Timestamp(start) if start is not None else out[TIME].min()
        hi = pd.Timestamp(end) if end is not None else out[TIME].max()
        out = out[(out[TIME] >= lo) & (out[TIME] <= hi)]
        out = out.merge(
            frame[[SERIES, TIME, TARGET]].astype({SERIES: "string"}), on=[SERIES, TIME], how="left"
        )
        out[SERIES] = out[SERIES].astype("string")
        out["threshold"] = getattr(self, "threshold_", np.nan) if threshold else np.nan
        out["flag"] = (out["score"] > out["threshold"]).fillna(False).astype(bool)
        return out[SCORE_COLUMNS].reset_index(drop=True)

    def _reconstruct(self, x: np.ndarray, batch: int = 2048) -> np.ndarray:
        self.net_.eval()
        parts = []
        with torch.no_grad():
            for start in range(0, len(x), batch):
                parts.append(self.net_(torch.from_numpy(x[start : start + batch])).numpy())
        return np.concatenate(parts) if parts else np.zeros(x.shape[:2], dtype="float32")

    # ------------------------------------------------------------ save / load
    def save(self, folder: Path) -> list[str]:
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(self.net_.state_dict(), folder / WEIGHTS)
        meta = {
            "kind": self.kind,
            "config": self.config.model_dump(mode="json"),
            "features": self.features.model_dump(mode="json"),
            "lookback": self.lookback,
            "freq": self.freq,
            "threshold": self.threshold_,
        }
        (folder / "model.json").write_text(json.dumps(meta, indent=2))
        return [WEIGHTS, "model.json"]

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
        model.net_ = model.build_net()
        model.net_.load_state_dict(
            torch.load(folder / WEIGHTS, map_location="cpu", weights_only=True)
        )
        model.net_.eval()
        return model
