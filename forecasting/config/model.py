"""Model and training configs (configs/models/*.yaml), validated by pydantic.

Hyper-parameters carry their tuning range on the field (`tunable`), so the Optuna tuner can
discover search spaces from the config classes instead of a second list kept by hand.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
from pydantic import Field, field_validator, model_validator

from forecasting.config.base import StrictModel, load_yaml_model
from forecasting.config.features import FeatureConfig
from forecasting.config.trainer import TrainerConfig
from forecasting.config.values import Duration, Span, steps
from forecasting.errors import ConfigError


def tunable(default: Any, low: float, high: float, log: bool = False, **kw: Any) -> Any:
    """A field with a default and the range a tuner may search (stored in the JSON schema)."""
    return Field(default, json_schema_extra={"tune": {"low": low, "high": high, "log": log}}, **kw)


class LightGBMConfig(StrictModel):
    """Global LightGBM: one booster per quantile (objective `quantile`), early stopping on the
    validation windows' pinball loss."""

    kind: Literal["lightgbm"] = "lightgbm"
    n_estimators: int = tunable(
        2000, 100, 4000, ge=1, le=1_000_000, description="upper bound on trees"
    )
    learning_rate: float = tunable(0.05, 0.01, 0.3, log=True, gt=0, le=1)
    num_leaves: int = tunable(63, 15, 255, log=True, ge=2, le=131_072)  # LightGBM's limit
    min_data_in_leaf: int = tunable(200, 20, 2000, log=True, ge=1)
    feature_fraction: float = tunable(0.8, 0.4, 1.0, gt=0, le=1)
    bagging_fraction: float = tunable(0.8, 0.5, 1.0, gt=0, le=1)
    bagging_freq: int = Field(default=1, ge=0)
    lambda_l2: float = tunable(0.0, 1e-3, 10.0, log=True, ge=0)
    max_bin: int = Field(default=255, ge=4, le=65_535)
    early_stopping_rounds: int | None = Field(default=100, ge=1)
    num_threads: int = Field(
        default=0, ge=0, description="0: the CPUs this process may use (affinity, cgroup quota)"
    )
    seed: int = 0


class XGBoostConfig(StrictModel):
    """Global XGBoost: one booster predicting every quantile at once (`reg:quantileerror`)."""

    kind: Literal["xgboost"] = "xgboost"
    n_estimators: int = tunable(2000, 100, 4000, ge=1, le=1_000_000)
    learning_rate: float = tunable(0.05, 0.01, 0.3, log=True, gt=0, le=1)
    max_depth: int = tunable(8, 3, 12, ge=1, le=30)  # 2**30 leaves per tree is already absurd
    min_child_weight: float = tunable(20.0, 1.0, 500.0, log=True, ge=0)
    subsample: float = tunable(0.8, 0.5, 1.0, gt=0, le=1)
    colsample_bytree: float = tunable(0.8, 0.4, 1.0, gt=0, le=1)
    reg_lambda: float = tunable(1.0, 1e-3, 10.0, log=True, ge=0)
    max_bin: int = Field(default=256, ge=4, le=65_535)
    early_stopping_rounds: int | None = Field(default=100, ge=1)
    n_jobs: int = Field(
        default=0, ge=0, description="0: the CPUs this process may use (affinity, cgroup quota)"
    )
    seed: int = 0


class SeasonalNaiveConfig(StrictModel):
    """The value one season back; quantiles from the series' past seasonal changes."""

    kind: Literal["seasonal_naive"] = "seasonal_naive"
    season: int | None = Field(
        default=None, ge=1, description="intervals back; default one week at the data's interval"
    )
    history: int | None = Field(
        default=None, ge=1, description="intervals of history for the quantiles; default 4 weeks"
    )


class YesterdayConfig(StrictModel):
    """Yesterday's profile (a one-day season) with the same quantile method as seasonal naive."""

    kind: Literal["yesterday"] = "yesterday"
    history: int | None = Field(default=None, ge=1, description="default 4 weeks")


class ProfileConfig(StrictModel):
    """Mean by local weekday and hour over the last `weeks`; quantiles from its residuals."""

    kind: Literal["profile"] = "profile"
    weeks: int = Field(default=4, ge=1)


class _DeepBase(StrictModel):
    """Optimiser settings shared by the deep models (the trainer is the `trainer:` block)."""

    learning_rate: float = tunable(3e-3, 1e-4, 3e-2, log=True, gt=0, le=1)
    weight_decay: float = tunable(1e-4, 1e-6, 1e-2, log=True, ge=0)
    batch_size: int = tunable(256, 32, 1024, log=True, ge=1, le=1_000_000)
    dropout: float = tunable(0.1, 0.0, 0.4, ge=0, lt=1)


class CNNLSTMConfig(_DeepBase):
    """1-D convolutions over the lookback, an LSTM encoder, an LSTM decoder over the horizon's
    known-future inputs, attention from each step to the encoder states, static embeddings and a
    non-crossing quantile head."""

    kind: Literal["cnn_lstm"] = "cnn_lstm"
    hidden_size: int = tunable(64, 16, 256, log=True, ge=2, le=4096)
    conv_channels: int = tunable(32, 8, 128, log=True, ge=1, le=4096)
    kernel_size: int = tunable(5, 3, 9, ge=1, le=1000)
    conv_layers: int = tunable(2, 1, 4, ge=1, le=32)
    lstm_layers: int = tunable(1, 1, 3, ge=1, le=32)
    embedding_dim: int = Field(default=4, ge=1, le=1024)


class TFTConfig(_DeepBase):
    """pytorch-forecasting's Temporal Fusion Transformer with our windows and quantiles."""

    kind: Literal["tft"] = "tft"
    hidden_size: int = tunable(16, 8, 128, log=True, ge=2, le=4096)
    attention_head_size: int = tunable(2, 1, 4, ge=1, le=64)
    hidden_continuous_size: int = tunable(8, 4, 64, log=True, ge=1, le=4096)
    learning_rate: float = tunable(1e-2, 1e-4, 3e-2, log=True, gt=0, le=1)
    batch_size: int = tunable(128, 32, 1024, log=True, ge=1, le=1_000_000)


class PatchConfig(_DeepBase):
    """A PatchTST-style transformer over patches of the lookback with a TiDE-style dense decoder
    per horizon step (`forecasting/models/deep/patch.py`); width = heads x head_size."""

    kind: Literal["patchtst"] = "patchtst"
    patch_len: int = Field(
        default=24,
        ge=1,
        le=10_000,
        description="intervals per patch (24 hourly intervals: one day)",
    )
    heads: int = tunable(4, 1, 8, ge=1, le=64)
    head_size: int = tunable(16, 8, 32, log=True, ge=1, le=1024)
    layers: int = tunable(2, 1, 4, ge=1, le=32)
    embedding_dim: int = Field(default=4, ge=1, le=1024)


class AutoencoderConfig(_DeepBase):
    """LSTM autoencoder over windows of `window` intervals, scaled by the lookback before them;
    the flag threshold is the validation score quantile giving `false_alarm_rate`."""

    kind: Literal["lstm_autoencoder"] = "lstm_autoencoder"
    window: Span = Field(
        default=Duration("1D"), description="intervals (or a duration) per scored window"
    )
    stride: int = Field(
        default=6, ge=1, description="intervals between scored windows (scores are averaged)"
    )
    hidden_size: int = tunable(32, 8, 128, log=True, ge=2, le=4096)
    latent_size: int = tunable(8, 2, 64, log=True, ge=1, le=4096)
    lstm_layers: int = Field(default=1, ge=1, le=32)
    false_alarm_rate: float = Field(
        default=0.01, gt=0, lt=1, description="share of normal validation intervals flagged"
    )


ModelConfig = Annotated[
    LightGBMConfig
    | XGBoostConfig
    | SeasonalNaiveConfig
    | YesterdayConfig
    | ProfileConfig
    | CNNLSTMConfig
    | TFTConfig
    | PatchConfig
    | AutoencoderConfig,
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
    horizon: Span = Field(
        default=Duration("1D"), description="steps forecast from each origin, or a duration"
    )
    lookback: Span = Field(
        default=Duration("7D"), description="steps of history each forecast sees, or a duration"
    )
    origin_hour: int | None = Field(
        default=0, ge=0, le=23, description="training origins at this local hour; null: every step"
    )
    origin_step: Span = Field(
        default=Duration("1D"), description="steps (or a duration) between training origins"
    )
    train: Period | None = Field(
        default=None, description="training origins; default: all before validation"
    )
    validation: Period | None = Field(
        default=None, description="origins for early stopping and metrics"
    )
    interval_calibration: Literal["conformal", "none"] = Field(
        default="conformal",
        description="after training, calibrate each quantile per horizon step on the validation "
        "backtest (split conformal, scaled by the model's own interval), so P10-P90 covers about "
        "80%; stored with the model and applied by every forecast and bundle. Needs a validation "
        "period and the 0.5 quantile; none: the model's raw quantiles",
    )
    features: FeatureConfig = Field(
        default_factory=lambda: FeatureConfig(
            lags=["1D", "2D", "3D", "7D"],  # type: ignore[list-item]
            rolling_windows=["6h", "1D", "7D"],  # type: ignore[list-item]
        )
    )
    model: ModelConfig
    trainer: TrainerConfig | None = Field(
        default=None, description="Lightning trainer options (deep models only)"
    )

    @model_validator(mode="after")
    def _periods_apart(self) -> TrainConfig:
        t, v = self.train, self.validation
        if t is not None and v is not None and v.start <= t.end and t.start <= v.end:
            raise ValueError(
                f"validation {v.start}..{v.end} overlaps train {t.start}..{t.end}: validation "
                "must be data the model did not learn from"
            )
        return self

    @model_validator(mode="after")
    def _trainer(self) -> TrainConfig:
        if isinstance(self.model, _DeepBase):
            if self.trainer is None:
                self.trainer = TrainerConfig()
        elif self.trainer is not None:
            raise ValueError(f"`trainer` options apply to deep models, not to {self.model.kind!r}")
        return self

    @field_validator("quantiles")
    @classmethod
    def _quantiles(cls, v: list[float]) -> list[float]:
        bad = [q for q in v if not 0 < q < 1]
        if bad or not v:
            raise ValueError(f"quantiles must lie strictly between 0 and 1, got {v}")
        return sorted(set(v))

    @field_validator("horizon", "lookback", "origin_step")
    @classmethod
    def _span_range(cls, v: int | Duration) -> int | Duration:
        if isinstance(v, int) and not 1 <= v <= 1_000_000:
            raise ValueError(f"must be a count of intervals from 1 to 1,000,000, got {v}")
        return v

    def in_intervals(self, step: pd.Timedelta) -> TrainConfig:
        """This config with every period in intervals of `step` (the data's): horizon,
        lookback, origin step, feature lags and windows, the autoencoder's window."""
        update: dict[str, Any] = {
            "horizon": steps(self.horizon, step, "horizon"),
            "lookback": steps(self.lookback, step, "lookback"),
            "origin_step": steps(self.origin_step, step, "origin_step"),
            "features": self.features.in_intervals(
                step, defaults="features" not in self.model_fields_set
            ),
        }
        if isinstance(self.model, AutoencoderConfig):
            window = steps(self.model.window, step, "model.window")
            update["model"] = self.model.model_copy(update={"window": window})
        return self.model_copy(update=update)

    @property
    def steps(self) -> tuple[int, int, int]:
        """(horizon, lookback, origin step) in intervals; refused before `in_intervals`."""
        values = (self.horizon, self.lookback, self.origin_step)
        if not all(isinstance(v, int) for v in values):
            raise ConfigError(
                f"horizon {self.horizon}, lookback {self.lookback}, origin_step "
                f"{self.origin_step}: resolve the durations against the data's interval first"
            )
        return values  # type: ignore[return-value]


def load_train_config(path: str | Path) -> TrainConfig:
    return load_yaml_model(TrainConfig, path)
