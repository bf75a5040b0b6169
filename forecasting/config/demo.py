"""Config of `forecasting demo` (configs/demo/demo.yaml)."""

from __future__ import annotations

import math

from pydantic import Field, field_validator, model_validator

from forecasting.config.base import StrictModel

MIN_TRAIN_DAYS = 7  # days of training origins the demo needs after the first lookback
MIN_HOUSEHOLDS = 8  # step 12 clusters households into archetypes of at least 2 each
DEMO_QUANTILES = (0.1, 0.5, 0.9)  # its tables report P50, P90 and the P10-P90 coverage


class SyntheticConfig(StrictModel):
    households: int = Field(default=40, ge=MIN_HOUSEHOLDS, le=100_000)
    days: int = Field(default=180, ge=21, le=3660)
    start: str = "2023-10-15"
    seed: int = 0


class BacktestConfig(StrictModel):
    horizon: int = Field(default=24, ge=1)
    lookback: int = Field(default=336, ge=168)
    step: int = Field(default=24, ge=1)
    origin_hour: int | None = Field(default=0, ge=0, le=23)
    last_days: int = Field(default=28, ge=1)


class DemoModelConfig(StrictModel):
    """The global LightGBM the demo trains (small, so the demo stays quick on 2 cores)."""

    n_estimators: int = Field(default=300, ge=1)
    learning_rate: float = Field(default=0.1, gt=0, le=1)
    num_leaves: int = Field(default=31, ge=2)
    validation_days: int = Field(default=14, ge=1)


class DemoDeepConfig(StrictModel):
    """The small deep models the demo trains: a CNN-LSTM forecaster and an LSTM autoencoder."""

    max_epochs: int = Field(default=8, ge=1)
    hidden_size: int = Field(default=32, ge=2)
    anomaly_false_alarm_rate: float = Field(default=0.01, gt=0, lt=1)


class DemoTuningConfig(StrictModel):
    """The small Optuna study over the demo's LightGBM, and the ensemble built after it."""

    trials: int = Field(default=6, ge=1)


class DemoConfig(StrictModel):
    synthetic: SyntheticConfig = Field(default_factory=SyntheticConfig)
    backtest: BacktestConfig = Field(default_factory=BacktestConfig)
    model: DemoModelConfig = Field(default_factory=DemoModelConfig)
    deep: DemoDeepConfig = Field(default_factory=DemoDeepConfig)
    tuning: DemoTuningConfig = Field(default_factory=DemoTuningConfig)
    quantiles: list[float] = Field(default_factory=lambda: list(DEMO_QUANTILES))
    plot_series: str | None = None

    @field_validator("quantiles")
    @classmethod
    def _quantiles(cls, v: list[float]) -> list[float]:
        bad = [q for q in v if not 0 < q < 1]
        if bad or not set(DEMO_QUANTILES) <= set(v):
            raise ValueError(
                f"quantiles must lie strictly between 0 and 1 and include {list(DEMO_QUANTILES)}, "
                f"got {v}"
            )
        return sorted(set(v))

    @model_validator(mode="after")
    def _enough_days(self) -> DemoConfig:
        need = (
            self.backtest.last_days
            + self.model.validation_days
            + math.ceil(self.backtest.lookback / 24)
            + MIN_TRAIN_DAYS
        )
        if self.synthetic.days < need:
            raise ValueError(
                f"synthetic.days is {self.synthetic.days}, but the demo needs at least {need}: "
                f"backtest.last_days {self.backtest.last_days} + model.validation_days "
                f"{self.model.validation_days} + backtest.lookback {self.backtest.lookback} h "
                f"+ {MIN_TRAIN_DAYS} days of training"
            )
        return self
