"""Lightning trainer options for the deep models, read from the `trainer:` block of a config.

One YAML file launches the same run on a laptop CPU or a GPU node: accelerator, devices,
precision and strategy go straight to `lightning.pytorch.Trainer`; the rest sets early
stopping, checkpoints (best and last, in the run folder), resuming, seeding and logging.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from forecasting.config.base import StrictModel


class EarlyStoppingConfig(StrictModel):
    """Stop when the validation loss has not improved by `min_delta` for `patience` epochs."""

    patience: int = Field(default=5, ge=1)
    min_delta: float = Field(default=0.0, ge=0)


class TrainerConfig(StrictModel):
    accelerator: Literal["auto", "cpu", "gpu", "cuda", "mps"] = "auto"
    devices: int | Literal["auto"] | list[int] = Field(
        default="auto", description="device count, 'auto', or a list of device ids"
    )
    precision: Literal["32-true", "32", "bf16-mixed", "16-mixed", "bf16-true"] = "32-true"
    strategy: Literal["auto", "ddp", "ddp_spawn", "ddp_find_unused_parameters_true"] = "auto"
    num_nodes: int = Field(default=1, ge=1)
    max_epochs: int = Field(default=30, ge=1)
    min_epochs: int = Field(default=1, ge=0)
    max_minutes: float | None = Field(
        default=None, gt=0, description="wall-clock limit on fitting, in minutes"
    )
    early_stopping: EarlyStoppingConfig | None = Field(default_factory=EarlyStoppingConfig)
    gradient_clip_val: float | None = Field(default=1.0, gt=0)
    checkpoints: bool = Field(
        default=True, description="keep best (lowest validation loss) and last checkpoints"
    )
    resume_from: str | None = Field(
        default=None, description="'last' (the run folder's last checkpoint) or a .ckpt path"
    )
    seed: int = 0
    deterministic: bool = Field(
        default=False, description="bit-reproducible kernels (slower on GPU); seeding is always on"
    )
    logger: Literal["csv", "tensorboard", "none"] = "csv"
    log_every_n_steps: int = Field(default=50, ge=1)
    progress_bar: Literal["auto", "on", "off", "none"] = Field(
        default="auto",
        description="auto: a bar on an interactive terminal, one log line per epoch otherwise; "
        "on: the bar; off: the log lines; none: silent",
    )
    num_workers: int = Field(default=0, ge=0, description="DataLoader worker processes")
    limit_train_batches: int | float | None = Field(
        default=None, gt=0, description="cap batches per epoch (smoke runs, tests)"
    )
    limit_val_batches: int | float | None = Field(default=None, gt=0)

    @field_validator("progress_bar", mode="before")
    @classmethod
    def _yaml_on_off(cls, v: object) -> object:
        """YAML reads a bare on/off as true/false: take them as meant."""
        return {True: "on", False: "off"}.get(v, v) if isinstance(v, bool) else v

    @model_validator(mode="after")
    def _epochs(self) -> TrainerConfig:
        if self.min_epochs > self.max_epochs:
            raise ValueError(f"min_epochs {self.min_epochs} > max_epochs {self.max_epochs}")
        return self
