"""Sequence forecasters (the estimator layer): canonical frames in, sequence windows to a
network, long quantile forecasts out. `SequenceForecaster` holds what the CNN-LSTM and the TFT
share; each subclass only builds its network. Weights are saved as a tensor file plus JSON
(no pickled objects).

Every window is normalised by its own lookback (see `forecasting.features.sequences`), so
households absent from training are forecast like any other: a new customer is the common case.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch

from forecasting.bundle_format import tensor
from forecasting.config.model import CNNLSTMConfig
from forecasting.config.trainer import TrainerConfig
from forecasting.data.schema import SERIES
from forecasting.errors import InputError
from forecasting.evaluation.metrics import pinball, quantile_column
from forecasting.features.sequences import (
    Sequences,
    covariate_norms,
    make_sequences,
    sequence_columns,
    static_layout,
    static_norms,
)
from forecasting.features.windows import learn_categories
from forecasting.folders import write_json
from forecasting.forecasts.calibration import calibrated
from forecasting.forecasts.frames import long_forecast, to_target_units
from forecasting.models.common import WindowModel, training_windows
from forecasting.models.deep.networks import CNNLSTMNet
from forecasting.models.deep.onnx import TorchGraph

WEIGHTS = "weights.pt"


def loader(arrays: tuple[np.ndarray, ...], batch_size: int, shuffle: bool, workers: int = 0) -> Any:
    """A DataLoader over in-memory arrays (int64 stays int64, the rest float32)."""
    from torch.utils.data import DataLoader, TensorDataset

    tensors = [torch.from_numpy(np.ascontiguousarray(a)) for a in arrays]
    return DataLoader(
        TensorDataset(*tensors),
        batch_size=batch_size,
        shuffle=shuffle,
        num_workers=workers,
        persistent_workers=workers > 0,
    )


class SequenceForecaster(TorchGraph, WindowModel):
    """Global quantile forecaster over sequence windows. `fit(frame, static, train_origins,
    valid_origins, trainer, run_dir)` trains with Lightning; `forecast(frame, origins, static)`
    forecasts every series at every origin; `attention(...)` returns attention weights."""

    config_class: ClassVar[type[Any]]

    # ------------------------------------------------------------------ data
    def sequences(
        self, frame: pd.DataFrame, origins: pd.DatetimeIndex, static: pd.DataFrame | None
    ) -> Sequences:
        return make_sequences(
            frame,
            origins,
            self.features,
            self.horizon,
            self.lookback,
            self.norms_,
            static,
            self.categories_,
            self.freq,
        )

    def graph_inputs(
        self, frame: pd.DataFrame, origins: pd.DatetimeIndex, static: pd.DataFrame | None
    ) -> dict[str, np.ndarray]:
        """The ONNX graph's inputs for every series at every origin."""
        arrays = self.sequences(frame, origins, static).arrays()[:4]
        return dict(zip(["past", "future", "static_cat", "static_real"], arrays, strict=True))

    def onnx_spec(self) -> dict[str, list[dict[str, Any]]]:
        cols, h, lb = self.columns_, self.horizon, self.lookback
        return {
            "inputs": [
                tensor("past", ["batch", lb, len(cols["past"])], "float32"),
                tensor("future", ["batch", h, len(cols["future"])], "float32"),
                tensor("static_cat", ["batch", len(cols["static_cat"])], "int64"),
                tensor("static_real", ["batch", len(cols["static_real"])], "float32"),
            ],
            "outputs": [
                tensor("quantiles", ["batch", h, len(self.quantiles)], "float32"),
                tensor("attention", ["batch", h, lb], "float32"),
            ],
        }

    def _learn_inputs(self, frame: pd.DataFrame, static: pd.DataFrame | None) -> None:
        self.categories_ = learn_categories(static, self.features.static)
        cat_cols, real_cols = static_layout(self.features, self.categories_)
        self.norms_ = covariate_norms(frame, self.features) | static_norms(static, real_cols)
        cols = sequence_columns(self.features, self.lookback, self.horizon)
        self.columns_ = {
            **cols,
            "static_cat": cat_cols,
            "static_real": [*cols["static_real"], *real_cols],
        }

    def build_net(self) -> torch.nn.Module:
        raise NotImplementedError

    def input_sizes(self) -> dict[str, Any]:
        cols = self.columns_
        return {
            "past_size": len(cols["past"]),
            "future_size": len(cols["future"]),
            "cardinalities": [len(self.categories_[col]) + 1 for col in cols["static_cat"]],
            "n_static_real": len(cols["static_real"]),
            "n_quantiles": len(self.quantiles),
        }

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
    ) -> SequenceForecaster:
        from forecasting.models.deep.modules import QuantileModule

        t0 = time.perf_counter()
        self._learn_inputs(frame, static)
        train, valid = training_windows(
            lambda o: self.sequences(frame, o, static),
            _labelled,
            train_origins,
            valid_origins,
            self.lookback,
        )
        t1 = time.perf_counter()

        def module() -> Any:
            self.net_ = self.build_net()
            return QuantileModule(
                self.net_, self.quantiles, self.config.learning_rate, self.config.weight_decay
            )

        best, pl_trainer, log = train_network(
            module, train.arrays(), valid.arrays() if valid else None, self.config.batch_size,
            trainer, run_dir, trial,
        )  # fmt: skip
        self.net_ = self.net_.cpu().float().eval()
        self.fit_info_ = _fit_info(train, valid, t1 - t0, time.perf_counter() - t1, pl_trainer, log)
        self.fit_info_["best_checkpoint"] = best
        if valid is not None:
            self.fit_info_["validation"] = self._validation(valid)
        return self

    # --------------------------------------------------------- recalibrate
    def training_rows(
        self, frame: pd.DataFrame, origins: pd.DatetimeIndex, static: pd.DataFrame | None
    ) -> Sequences:
        """The labelled windows at `origins`, to refit on (a recalibration slices them)."""
        return _labelled(self.sequences(frame, origins, static))

    def refit_rows(
        self, train: Sequences, trainer: TrainerConfig | None = None, lr_factor: float = 0.1
    ) -> SequenceForecaster:
        """Warm start: train the fitted network further on `train` for the trainer's epochs
        (default 1) at `lr_factor` times its learning rate (a fine-tune, not a new fit),
        inputs normalised as at the first fit, no validation, no checkpoints: what a rolling
        recalibration does for a network too costly to refit daily."""
        from forecasting.models.deep.modules import QuantileModule

        if len(train) == 0:
            raise InputError("recalibration: no labelled window to refit on")
        tcfg = (trainer or TrainerConfig(max_epochs=1)).model_copy(
            update={"early_stopping": None, "checkpoints": False, "logger": "none",
                    "progress_bar": "none", "resume_from": None}
        )  # fmt: skip
        net = self.net_.train()
        warnings.filterwarnings("ignore", message=".*validation_step.*val_dataloader")  # none
        train_network(
            lambda: QuantileModule(net, self.quantiles, lr_factor * self.config.learning_rate,
                                   self.config.weight_decay),
            train.arrays(), None, self.config.batch_size, tcfg, None,
        )  # fmt: skip
        self.net_ = net.cpu().float().eval()
        return self

    def _validation(self, valid: Sequences) -> dict[str, float]:
        pred = self._predict(valid)  # target units
        y = valid.y * valid.scale[:, None]
        known = np.isfinite(y)
        out = {
            quantile_column(q): pinball(y[known], pred[..., i][known], q)
            for i, q in enumerate(self.quantiles)
        }
        if 0.5 in self.quantiles:
            mid = pred[..., self.quantiles.index(0.5)]
            out["mae_p50"] = float(np.mean(np.abs(y[known] - mid[known])))
        return out

    # --------------------------------------------------------------- predict
    def _run(self, s: Sequences, batch: int = 1024) -> tuple[np.ndarray, np.ndarray]:
        """Network outputs for all windows: scaled quantiles and attention weights."""
        self.net_.eval()
        preds, attn = [], []
        with torch.no_grad():
            for start in range(0, len(s), batch):
                part = [torch.from_numpy(a[start : start + batch]) for a in s.arrays()[:4]]
                p, a = self.net_(*part)
                preds.append(p.numpy())
                attn.append(a.numpy())
        if not preds:
            return np.zeros((0, self.horizon, len(self.quantiles))), np.zeros(
                (0, self.horizon, self.lookback)
            )
        return np.concatenate(preds), np.concatenate(attn)

    def _predict(self, s: Sequences) -> np.ndarray:
        return to_target_units(self._run(s)[0], s.scale, self.nonnegative)

    def forecast(
        self, frame: pd.DataFrame, origins: pd.DatetimeIndex, static: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        """Long forecasts for every series at every origin; `skipped_` lists what could not be
        forecast and why. Targets at or after an origin are never read for its forecast."""
        s = self.sequences(frame, origins, static)
        self.skipped_ = s.skipped
        fc = long_forecast(s.index, self._predict(s), self.quantiles, pd.Timedelta(self.freq))
        return calibrated(fc, self.calibration_, self.nonnegative)

    def attention(
        self, frame: pd.DataFrame, origins: pd.DatetimeIndex, static: pd.DataFrame | None = None
    ) -> tuple[pd.DataFrame, np.ndarray]:
        """(index of windows, weights [windows, horizon, lookback]): how much each forecast
        step attends to each hour of the history (the last column is the hour before origin)."""
        s = self.sequences(frame, origins, static)
        return s.index, self._run(s)[1]

    # ------------------------------------------------------------ save / load
    def save(self, folder: Path) -> list[str]:
        meta = {
            **self.base_meta(),
            "columns": self.columns_,
            "categories": self.categories_,
            "norms": self.norms_,
        }
        return write_model(folder, self.net_, meta)

    @classmethod
    def load(cls, folder: Path) -> Any:
        meta = json.loads((folder / "model.json").read_text())
        model = cls.from_meta(cls.config_class(**meta["config"]), meta)
        model.columns_, model.categories_ = meta["columns"], meta["categories"]
        model.norms_ = meta["norms"]
        model.net_ = read_weights(folder, model.build_net())
        return model


class CNNLSTMForecaster(SequenceForecaster):
    """Global CNN-LSTM with attention (`networks.CNNLSTMNet`)."""

    config_class = CNNLSTMConfig

    def build_net(self) -> torch.nn.Module:
        c = self.config
        return CNNLSTMNet(
            **self.input_sizes(),
            hidden_size=c.hidden_size,
            conv_channels=c.conv_channels,
            kernel_size=c.kernel_size,
            conv_layers=c.conv_layers,
            lstm_layers=c.lstm_layers,
            embedding_dim=c.embedding_dim,
            dropout=c.dropout,
        )


def _labelled(s: Sequences) -> Sequences:
    """Windows with at least one known target in the horizon."""
    return s.select(np.isfinite(s.y).any(axis=1))


def train_network(
    build_module: Callable[[], Any],
    train: tuple[np.ndarray, ...],
    valid: tuple[np.ndarray, ...] | None,
    batch_size: int,
    trainer: TrainerConfig | None,
    run_dir: Path | None,
    trial: Any = None,
) -> tuple[str | None, Any, Any]:
    """Train the Lightning module `build_module()` makes on arrays (validation arrays or None)
    with the trainer the `trainer:` block builds; (best checkpoint, Lightning trainer, epoch
    log). The module is built after the trainer has seeded every generator, so a seed gives
    the same initial weights."""
    import torch

    from forecasting.models.deep.trainer import build_trainer
    from forecasting.threads import usable_cpus

    # torch starts a thread per physical core; a job keeps to the CPUs it may use
    torch.set_num_threads(min(torch.get_num_threads(), usable_cpus()))
    tcfg = trainer or TrainerConfig()
    pl_trainer, log, ckpt = build_trainer(tcfg, run_dir, valid is not None, trial=trial)
    best = fit_module(
        pl_trainer,
        build_module(),
        loader(train, batch_size, shuffle=True, workers=tcfg.num_workers),
        loader(valid, batch_size, shuffle=False, workers=tcfg.num_workers) if valid else None,
        ckpt,
    )
    return best, pl_trainer, log


def fit_module(trainer: Any, module: Any, train: Any, valid: Any, ckpt: str | None) -> str | None:
    """Fit, then load the weights of the best validation epoch when a checkpoint kept them;
    returns that checkpoint's path."""
    # weights-only: a checkpoint named by a user never runs code, whatever torch's default
    trainer.fit(module, train, valid, ckpt_path=ckpt, weights_only=True)
    best = best_checkpoint(trainer)
    if best:
        state = torch.load(best, map_location="cpu", weights_only=True)["state_dict"]
        module.load_state_dict(state)
    return best


def write_model(folder: Path, net: torch.nn.Module, meta: dict[str, Any]) -> list[str]:
    """A model folder: the network's state dict (tensors only) and `model.json`."""
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), folder / WEIGHTS)
    write_json(folder / "model.json", meta)
    return [WEIGHTS, "model.json"]


def read_weights(folder: Path, net: Any) -> Any:
    """Load a model folder's weights into `net` (weights-only loading: no pickled code)."""
    net.load_state_dict(torch.load(folder / WEIGHTS, map_location="cpu", weights_only=True))
    return net.eval()


def best_checkpoint(trainer: Any) -> str | None:
    from lightning.pytorch.callbacks import ModelCheckpoint

    cb = trainer.checkpoint_callback
    if isinstance(cb, ModelCheckpoint) and cb.best_model_path and Path(cb.best_model_path).exists():
        return str(cb.best_model_path)
    return None


def _fit_info(
    train: Sequences,
    valid: Sequences | None,
    features_s: float,
    fit_s: float,
    trainer: Any,
    log: Any,
) -> dict[str, Any]:
    return {
        "train_windows": len(train),
        "valid_windows": 0 if valid is None else len(valid),
        "train_series": int(train.index[SERIES].nunique()),
        "train_origins": int(train.index["origin"].nunique()),
        "features_seconds": round(features_s, 2),
        "fit_seconds": round(fit_s, 2),
        **epoch_summary(trainer, log),
    }


def epoch_summary(trainer: Any, log: Any) -> dict[str, Any]:
    """Epochs, time and throughput per epoch, and the hardware set-up of a finished fit."""
    epochs = log.history
    seconds = [e["seconds"] for e in epochs]
    speed = [e["windows_per_second"] or 0 for e in epochs]
    return {
        "epochs": len(epochs),
        "epoch_seconds_mean": round(float(np.mean(seconds)), 3) if epochs else None,
        "windows_per_second": round(float(np.mean(speed)), 1) if epochs else None,
        "epoch_history": epochs,
        "accelerator": type(trainer.accelerator).__name__,
        "precision": str(trainer.precision),
        "strategy": type(trainer.strategy).__name__,
        "devices": int(trainer.num_devices),
        "global_step": int(trainer.global_step),
        "global_rank": int(trainer.global_rank),
    }
