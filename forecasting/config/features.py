"""What features to build, as a typed config that travels with every fitted model and bundle."""

from __future__ import annotations

from typing import Any, Literal

import pandas as pd
from pydantic import Field, field_validator, model_validator

from forecasting.config.base import StrictModel
from forecasting.config.values import Duration, Span, Zone, steps
from forecasting.errors import ConfigError

RollingStat = Literal["mean", "std", "max", "min"]
MAX_INTERVALS = 100_000  # the longest lag or window: over 11 years of hours


class FeatureConfig(StrictModel):
    """Feature recipe. Lags and rolling windows are counts of the frame's intervals (24) or
    durations ('1D', '7D'); a duration becomes intervals of the data when the model is built
    (`in_intervals`), so the defaults mean a day and a week at any interval.

    Window features (`make_windows` for the boosted models, `make_sequences` for the deep
    ones) anchor rolling windows at the forecast origin (they end at the last interval before
    it) and lags at the target time; a lag that would reach past the origin for a given step
    is left missing for that step, never filled from the future.
    """

    lags: list[Span] = Field(default_factory=lambda: _spans(1, "1D", "7D"))
    rolling_windows: list[Span] = Field(default_factory=lambda: _spans("1D", "7D"))
    rolling_stats: list[RollingStat] = Field(default_factory=lambda: ["mean", "std", "max"])  # type: ignore[arg-type]
    recent_values: int = Field(
        default=0,
        ge=0,
        le=10_000,
        description="window features: the last N values before the origin, each a feature "
        "for every step (yesterday's whole profile for a day-ahead price)",
    )
    profile_days: int = Field(
        default=7,
        ge=0,
        le=366,
        description="window features: same hour over the last N days (mean, std)",
    )
    analog_days: int = Field(
        default=0,
        ge=0,
        le=366,
        description="window features: similar-day analogues: among the past days of the "
        "lookback, the N whose load shape was most like the last day before the origin; the "
        "mean (and spread) of what followed each of them, at the target's time of day",
    )
    scaling: Literal["none", "mean"] = Field(
        default="mean",
        description="window features: divide target-derived features and the target by the "
        "series' mean |target| over the lookback, so one model serves households of any size",
    )
    scale_floor: float = Field(
        default=0.01,
        gt=0,
        le=1e12,
        description="smallest scale (target units), for near-empty homes",
    )
    calendar: bool = True
    timezone: Zone = Field(default=Zone("UTC"), description="local time for calendar features")
    holidays: dict[str, object] = Field(
        default_factory=dict, description="HolidayCalendar.to_dict()"
    )
    temperature: str | None = Field(default="temperature", description="column for degree hours")
    heating_base: float = 15.5
    cooling_base: float = 22.0
    known_future: list[str] = Field(default_factory=list, description="covariates known ahead")
    covariate_lags: list[Span] = Field(
        default_factory=list,
        description="window features: each known-future covariate also at the target time "
        "less these lags (yesterday's load forecast beside today's); the deep models read the "
        "covariates' whole lookback in their encoder instead",
    )
    covariate_horizon_stats: bool = Field(
        default=False,
        description="window features: mean, min and max of each known-future covariate over "
        "the forecast's horizon (the level of the day ahead)",
    )
    observed: list[str] = Field(default_factory=list, description="covariates only known up to now")
    static: list[str] = Field(default_factory=list)

    @property
    def horizon_covariates(self) -> list[str]:
        """Covariates read at the target times (so their horizon must be known): the
        known-future ones and the temperature of the degree hours."""
        extra = [self.temperature] if self.temperature else []
        return list(dict.fromkeys([*self.known_future, *extra]))

    @model_validator(mode="before")
    @classmethod
    def _retired_rolling_shift(cls, data: Any) -> Any:
        """Bundles and configs written while it was a field carry `rolling_shift: 1`, what window
        features always do; any other value asked for something they never did."""
        if isinstance(data, dict) and "rolling_shift" in data:
            data = dict(data)
            if data.pop("rolling_shift") != 1:
                raise ValueError(
                    "rolling_shift is retired: rolling windows always end at the interval "
                    "before the origin (rolling_shift 1); remove the key"
                )
        return data

    @field_validator("lags", "rolling_windows", "covariate_lags")
    @classmethod
    def _positive(cls, v: list[int | Duration]) -> list[int | Duration]:
        counts = [x for x in v if isinstance(x, int)]
        bad = [x for x in counts if not 1 <= x <= MAX_INTERVALS]
        if bad:
            raise ValueError(f"must be interval counts from 1 to {MAX_INTERVALS:,}, got {bad}")
        return sorted(set(counts)) if len(counts) == len(v) else list(dict.fromkeys(v))

    def in_intervals(self, step: pd.Timedelta, defaults: bool = False) -> FeatureConfig:
        """This recipe with every lag and window in intervals of `step` (sorted, unique).
        `defaults`: the recipe was not configured, so a duration that is not a whole number of
        intervals (the 6-hour window of daily data) is left out instead of refused."""

        def counts(spans: list[int | Duration], what: str) -> list[int]:
            kept = [s for s in spans if not defaults or _whole(s, step)]
            return sorted({steps(s, step, what) for s in kept})

        lags = counts(self.lags, "lag")
        windows = counts(self.rolling_windows, "rolling window")
        cov_lags = counts(self.covariate_lags, "covariate lag")
        if (
            lags == self.lags
            and windows == self.rolling_windows
            and cov_lags == self.covariate_lags
        ):
            return self
        return self.model_copy(
            update={"lags": lags, "rolling_windows": windows, "covariate_lags": cov_lags}
        )

    @property
    def lag_steps(self) -> list[int]:
        return _counts(self.lags, "lags")

    @property
    def window_steps(self) -> list[int]:
        return _counts(self.rolling_windows, "rolling_windows")

    @property
    def covariate_lag_steps(self) -> list[int]:
        return _counts(self.covariate_lags, "covariate_lags")


def _spans(*values: int | str) -> list[int | Duration]:
    return [v if isinstance(v, int) else Duration(v) for v in values]


def _counts(values: list[int | Duration], name: str) -> list[int]:
    if not all(isinstance(v, int) for v in values):
        raise ConfigError(
            f"{name} {[str(v) for v in values]} hold durations: resolve them against the data's "
            "interval first (FeatureConfig.in_intervals)"
        )
    return [int(v) for v in values]


def _whole(span: int | Duration, step: pd.Timedelta) -> bool:
    """Whether `span` is a whole number (at least one) of intervals of `step`."""
    return isinstance(span, int) or (span.span >= step and span.span % step == pd.Timedelta(0))
