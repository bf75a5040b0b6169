"""Tuning configs (configs/tuning/*.yaml): one Optuna study over one model family.

The search space is discovered from the model config class: every field declared with
`tunable(default, low, high, log)` is searched unless `params` names a subset; `ranges`
narrows or widens a field's range, `fixed` pins model fields for every trial (a smaller
tree cap, fewer epochs) and `trainer` overrides the Lightning trainer block of deep models.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from forecasting.config.base import StrictModel, load_yaml_model


class ParamRange(StrictModel):
    """A search range replacing the one declared on the model field (unset keys keep it)."""

    low: float | None = None
    high: float | None = None
    log: bool | None = None

    @model_validator(mode="after")
    def _order(self) -> ParamRange:
        if self.low is not None and self.high is not None and self.high < self.low:
            raise ValueError(f"high {self.high} is below low {self.low}")
        return self


class SamplerConfig(StrictModel):
    kind: Literal["tpe", "random"] = "tpe"
    seed: int | None = Field(
        default=0,
        description="sampler seed; a worker adds its --worker number and the trials already "
        "stored, so workers and resumed studies draw new points; null: random",
    )
    n_startup_trials: int = Field(default=5, ge=0, description="random trials before TPE")


class PrunerConfig(StrictModel):
    """Median pruning: a trial whose intermediate validation loss (per boosting round or
    per epoch) is worse than the median of earlier trials at the same step is stopped."""

    kind: Literal["median", "none"] = "median"
    n_startup_trials: int = Field(default=3, ge=0, description="trials before any pruning")
    n_warmup_steps: int = Field(
        default=50, ge=0, description="steps (rounds / epochs) before a trial can be pruned"
    )


class TuningConfig(StrictModel):
    """`forecasting tune --config CFG --trials N [--storage URL] [--study NAME]`."""

    name: str
    description: str = ""
    base: str = Field(description="training config YAML the trials start from (configs/models)")
    output: str = Field(
        description="folder for the study database (default storage), the best run and the "
        "summary; relative to the cwd"
    )
    study: str | None = Field(default=None, description="study name; default: `name`")
    storage: str | None = Field(
        default=None,
        description="SQLAlchemy URL (sqlite:///..., postgresql://...); default: a SQLite file "
        "OUTPUT/study.db",
    )
    trials: int = Field(default=20, ge=1, description="trials in the study (all workers)")
    timeout_minutes: float | None = Field(
        default=None, gt=0, description="stop starting trials after this long (per worker)"
    )
    params: list[str] | None = Field(
        default=None, description="model fields to search; default: every tunable field"
    )
    ranges: dict[str, ParamRange] = Field(default_factory=dict)
    fixed: dict[str, Any] = Field(
        default_factory=dict, description="model fields set for every trial"
    )
    trainer: dict[str, Any] = Field(
        default_factory=dict, description="trainer options for every trial (deep models)"
    )
    sampler: SamplerConfig = Field(default_factory=SamplerConfig)
    pruner: PrunerConfig = Field(default_factory=PrunerConfig)
    heartbeat_seconds: int = Field(
        default=60,
        ge=1,
        description="a running trial's heartbeat; one silent for 2x this (a killed worker) is "
        "marked failed and its parameters are tried again once",
    )

    @property
    def study_name(self) -> str:
        return self.study or self.name


def load_tuning_config(path: str | Path) -> TuningConfig:
    return load_yaml_model(TuningConfig, path)
