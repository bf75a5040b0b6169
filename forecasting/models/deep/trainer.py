"""Build a `lightning.pytorch.Trainer` from a `TrainerConfig` (the `trainer:` block of a YAML).

Checkpoints (best by validation loss, and last) and logs go in the run folder:
    RUNDIR/checkpoints/best.ckpt, last.ckpt    RUNDIR/logs/version_N/metrics.csv (or TensorBoard events)
Interactive terminals get Lightning's progress bar; otherwise (CI, batch jobs) one plain line
per epoch with the losses, the epoch time and the throughput in windows per second.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint

from forecasting.config.trainer import TrainerConfig
from forecasting.errors import ConfigError

CHECKPOINTS = "checkpoints"


class EpochLog(Callback):
    """Records epoch time and throughput (windows/s); prints one line per epoch when `echo`."""

    def __init__(self, echo: bool):
        self.echo = echo
        self.history: list[dict[str, Any]] = []
        self._t = 0.0
        self._n = 0

    def on_train_epoch_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self._t, self._n = time.perf_counter(), 0

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        self._n += len(batch[0]) if isinstance(batch, list | tuple) else 0

    def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        seconds = time.perf_counter() - self._t
        m = trainer.callback_metrics
        row: dict[str, Any] = {
            "epoch": trainer.current_epoch,
            "seconds": round(seconds, 3),
            "windows": self._n,
            "windows_per_second": round(self._n / seconds, 1) if seconds > 0 else None,
            "train_loss": float(m["train_loss"]) if "train_loss" in m else None,
            "val_loss": float(m["val_loss"]) if "val_loss" in m else None,
        }
        self.history.append(row)
        if self.echo and trainer.is_global_zero:
            val = f"  val_loss {row['val_loss']:.4f}" if row["val_loss"] is not None else ""
            train = row["train_loss"] if row["train_loss"] is not None else float("nan")
            speed = row["windows_per_second"] or 0
            print(
                f"epoch {row['epoch'] + 1}/{trainer.max_epochs}  train_loss {train:.4f}{val}  "
                f"{seconds:.1f} s  {speed:,.0f} windows/s",
                file=sys.stderr,
                flush=True,
            )


def quiet_lightning() -> None:
    """Keep Lightning's start-up chatter (device summaries, worker hints) out of CLI output."""
    for name in ("lightning.pytorch", "lightning.fabric", "pytorch_lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*is smaller than the logging interval.*")
    warnings.filterwarnings("ignore", message="Checkpoint directory .* exists and is not empty")
    warnings.filterwarnings("ignore", message=".*`isinstance.treespec, LeafSpec.` is deprecated.*")


def build_trainer(
    cfg: TrainerConfig,
    run_dir: Path | None,
    has_validation: bool,
    echo: bool = True,
    trial: Any = None,
) -> tuple[pl.Trainer, EpochLog, str | None]:
    """The trainer, its epoch log, and the checkpoint to resume from (None: a fresh start).
    Seeds every generator with `cfg.seed` first, so a run is repeatable. With an Optuna
    `trial`, the validation loss is reported after each epoch and a trial the pruner stops
    raises `optuna.TrialPruned` (optuna_integration's Lightning callback)."""
    quiet_lightning()
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    bar = sys.stderr.isatty() if cfg.progress_bar == "auto" else cfg.progress_bar == "on"
    log = EpochLog(echo=echo and not bar and cfg.progress_bar != "none")
    callbacks: list[Callback] = [log]
    if trial is not None and has_validation:
        from optuna_integration import PyTorchLightningPruningCallback

        callbacks.append(PyTorchLightningPruningCallback(trial, monitor="val_loss"))
    monitor = "val_loss" if has_validation else "train_loss"
    if cfg.early_stopping is not None and has_validation:
        callbacks.append(
            EarlyStopping(
                monitor="val_loss",
                patience=cfg.early_stopping.patience,
                min_delta=cfg.early_stopping.min_delta,
            )
        )
    if cfg.checkpoints and run_dir is not None:
        callbacks.append(
            ModelCheckpoint(
                dirpath=run_dir / CHECKPOINTS,
                filename="best",
                monitor=monitor,
                mode="min",
                save_top_k=1,
                save_last=True,
                enable_version_counter=False,
            )
        )
    logger: Any = False
    if run_dir is not None and cfg.logger != "none":
        from lightning.pytorch.loggers import CSVLogger

        logger = CSVLogger(run_dir, name="logs")  # logs/version_N: a resumed run adds one
        if cfg.logger == "tensorboard":
            try:
                from lightning.pytorch.loggers import TensorBoardLogger

                logger = TensorBoardLogger(run_dir, name="logs")
            except ModuleNotFoundError:  # tensorboard not installed: keep the CSV log
                print("tensorboard is not installed; logging to CSV", file=sys.stderr)
    trainer = pl.Trainer(
        accelerator=cfg.accelerator,
        devices=cfg.devices,
        precision=cfg.precision,
        strategy=cfg.strategy,
        num_nodes=cfg.num_nodes,
        max_epochs=cfg.max_epochs,
        min_epochs=cfg.min_epochs,
        max_time=dt.timedelta(minutes=cfg.max_minutes) if cfg.max_minutes else None,
        gradient_clip_val=cfg.gradient_clip_val,
        deterministic=cfg.deterministic,
        callbacks=callbacks,
        logger=logger,
        enable_checkpointing=cfg.checkpoints and run_dir is not None,
        enable_progress_bar=bar,
        enable_model_summary=False,
        log_every_n_steps=cfg.log_every_n_steps,
        limit_train_batches=cfg.limit_train_batches,
        limit_val_batches=cfg.limit_val_batches if has_validation else 0,
        num_sanity_val_steps=0,
        default_root_dir=run_dir,
    )
    return trainer, log, resume_path(cfg, run_dir)


def resume_path(cfg: TrainerConfig, run_dir: Path | None) -> str | None:
    if cfg.resume_from is None:
        return None
    if cfg.resume_from == "last":
        if run_dir is None:
            raise ConfigError("resume_from: last needs a run folder")
        path = run_dir / CHECKPOINTS / "last.ckpt"
    else:
        path = Path(cfg.resume_from)
    if not path.is_file():
        raise ConfigError(f"resume_from: checkpoint {path} does not exist")
    check_checkpoint(path)
    return str(path)


def check_checkpoint(path: Path) -> None:
    """Refuse a file that is not a Lightning checkpoint readable weights-only (tensors and plain
    containers: loading it can never run code), before Lightning is handed it."""
    import pickle
    import zipfile

    import torch

    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, zipfile.BadZipFile,
            ValueError, AttributeError, TypeError) as exc:  # fmt: skip
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            f"resume_from: {path} is not a checkpoint that loads weights-only ({first[:200]})"
        ) from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise ConfigError(f"resume_from: {path} is not a Lightning checkpoint (no state_dict)")
