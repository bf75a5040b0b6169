"""Model and training configs (configs/models/*.yaml), validated by pydantic.

Hyper-parameters carry their tuning range on the field (`tunable`), so the Optuna tuner can
discover search spaces from the config classes instead of a second list kept by hand.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from forecasting.config.base import StrictModel, load_yaml_model
from forecasting.features.spec import FeatureConfig


def tunable(default: Any, low: float, high: float, log: bool = False, **kw: Any) -> Any:
    """A field with a default and the range a tuner may search (stored in the JSON schema)."""
    return Field(default, json_schema_extra={"tune": {"low": low, "high": high, "log": log}}, **kw)


class LightGBMConfig(StrictModel):
    """Global LightGBM: one booster per quantile (objective `quantile`), early stopping on the
    validation windows' pinball loss."""

    kind: Literal["lightgbm"] = "lightgbm"
    n_estimators: int = tunable(2000, 100, 4000, ge=1, description="upper bound on trees")
    learning_rate: float = tunable(0.05, 0.01, 0.3, log=True, gt=0, le=1)
    num_leaves: int = tunable(63, 15, 255, log=True, ge=2)
    min_data_in_leaf: int = tunable(200, 20, 2000, log=True, ge=1)
    feature_fraction: float = tunable(0.8, 0.4, 1.0, gt=0, le=1)
    bagging_fraction: float = tunable(0.8, 0.5, 1.0, gt=0, le=1)
    bagging_freq: int = Field(default=1, ge=0)
    lambda_l2: float = tunable(0.0, 1e-3, 10.0, log=True, ge=0)
    max_bin: int = Field(default=255, ge=4)
    early_stopping_rounds: int | None = Field(default=100, ge=1)
    num_threads: int = Field(default=0, ge=0, description="0: all cores")
    seed: int = 0


class XGBoostConfig(StrictModel):
    """Global XGBoost: one booster predicting every quantile at once (`reg:quantileerror`)."""

    kind: Literal["xgboost"] = "xgboost"
    n_estimators: int = tunable(2000, 100, 4000, ge=1)
    learning_rate: float = tunable(0.05, 0.01, 0.3, log=True, gt=0, le=1)
    max_depth: int = tunable(8, 3, 12, ge=1)
    min_child_weight: float = tunable(20.0, 1.0, 500.0, log=True, ge=0)
    subsample: float = tunable(0.8, 0.5, 1.0, gt=0, le=1)
    colsample_bytree: float = tunable(0.8, 0.4, 1.0, gt=0, le=1)
    reg_lambda: float = tunable(1.0, 1e-3, 10.0, log=True, ge=0)
    max_bin: int = Field(default=256, ge=4)
    early_stopping_rounds: int | None = Field(default=100, ge=1)
    n_jobs: int = Field(default=0, ge=0, description="0: all cores")
    seed: int = 0


class SeasonalNaiveConfig(StrictModel):
    """The value one season back; quantiles from the series' past seasonal changes."""

    kind: Literal["seasonal_naive"] = "seasonal_naive"
    season: int = Field(default=168, ge=1, description="intervals back (168: same hour last week)")
    history: int = Field(default=672, ge=1, description="intervals of history for the quantiles")


class YesterdayConfig(StrictModel):
    """Yesterday's profile (season 24) with the same quantile method as seasonal naive."""

    kind: Literal["yesterday"] = "yesterday"
    history: int = Field(default=672, ge=1)


class ProfileConfig(StrictModel):
    """Mean by local weekday and hour over the last `weeks`; quantiles from its residuals."""

    kind: Literal["profile"] = "profile"
    weeks: int = Field(default=4, ge=1)


ModelConfig = Annotated[
    LightGBMConfig | XGBoostConfig | SeasonalNaiveConfig | YesterdayConfig | ProfileConfig,
    Field(discriminator="kind"),
]


class Period(StrictModel):
    """Forecast origins from `start` to `end` (local calendar dates, both included)."""

    start: dt.date
    end: dt.date

    @model_validator(mode="after")
    def _order(self) -> Period:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class TrainConfig(StrictModel):
    """One model trained on one dataset: `forecasting train --config CFG --output RUNDIR`."""

    name: str
    description: str = ""
    data: str = Field(description="data config YAML (configs/data/*.yaml), relative to the cwd")
    input: str | None = Field(default=None, description="override the data config's input path")
    quantiles: list[float] = Field(default_factory=lambda: [0.1, 0.5, 0.9])
    horizon: int = Field(default=24, ge=1, description="steps forecast from each origin")
    lookback: int = Field(default=168, ge=1, description="steps of history each forecast sees")
    origin_hour: int | None = Field(
        default=0, ge=0, le=23, description="training origins at this local hour; null: every step"
    )
    origin_step: int = Field(default=24, ge=1, description="steps between training origins")
    train: Period | None = Field(
        default=None, description="training origins; default: all before validation"
    )
    validation: Period | None = Field(
        default=None, description="origins for early stopping and metrics"
    )
    features: FeatureConfig = Field(
        default_factory=lambda: FeatureConfig(lags=[24, 48, 72, 168], rolling_windows=[6, 24, 168])
    )
    model: ModelConfig

    @field_validator("quantiles")
    @classmethod
    def _quantiles(cls, v: list[float]) -> list[float]:
        bad = [q for q in v if not 0 < q < 1]
        if bad or not v:
            raise ValueError(f"quantiles must lie strictly between 0 and 1, got {v}")
        return sorted(set(v))


def load_train_config(path: str | Path) -> TrainConfig:
    return load_yaml_model(TrainConfig, path)
