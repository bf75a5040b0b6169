"""Drift-monitor thresholds (`forecasting monitor --thresholds FILE`), every key optional.

Each check has a `warning` and a `drift` level; the monitor's exit code is the worst level
any counted check reaches (0 none, 1 warning, 2 drift). A check that has too little data to
measure says so and counts as none.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from forecasting.config.base import StrictModel, load_yaml_model


class Levels(StrictModel):
    warning: float = Field(gt=0)
    drift: float = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> Levels:
        if self.drift < self.warning:
            raise ValueError(f"drift ({self.drift}) must not be below warning ({self.warning})")
        return self


class MonitorConfig(StrictModel):
    """What counts as drift. Defaults follow common practice (PSI 0.1 / 0.25)."""

    # the recent window: the last `window_days` local days of the data given
    window_days: int = Field(default=14, ge=3, le=366)
    # population stability index of each feature's distribution (10 reference deciles)
    psi: Levels = Levels(warning=0.1, drift=0.25)
    # Kolmogorov-Smirnov distance (on the reference's 101 quantiles)
    ks: Levels = Levels(warning=0.15, drift=0.25)
    # how many times more often than in the reference values fall beyond its 1st or 99th
    # percentile (a new kind of day shows in a tail first) ...
    tail_ratio: Levels = Levels(warning=3.0, drift=4.0)
    # ... counted when that excess is this many binomial standard errors from 0
    tail_z: float = Field(default=3.0, gt=0)
    # total variation distance between the load-shape archetype shares
    archetype_shift: Levels = Levels(warning=0.1, drift=0.2)
    # relative change of the temperature response (kWh per heating degree-day) ...
    temperature_slope: Levels = Levels(warning=0.25, drift=0.5)
    # ... counted only when that change is this many standard errors from zero
    slope_z: float = Field(default=3.0, gt=0)
    # recent normalised MAE of the P50 over the reference's
    error_ratio: Levels = Levels(warning=1.2, drift=1.5)
    # how far the outer interval's coverage moved from the reference's (either way)
    coverage_change: Levels = Levels(warning=0.1, drift=0.2)
    # reported but not counted: the population's daily kWh and load per interval move with
    # the season and the weather by themselves (each household's change at its own response
    # to the cold is `daily_excess`; the response itself is the temperature-response check)
    context_only: list[str] = Field(default_factory=lambda: ["daily_kwh", "load"])
    # covariates (weather, PV export, prices) are context too unless named here
    counted_covariates: list[str] = Field(default_factory=list)
    # the least household-days (or forecast rows) a check needs to be measured
    min_samples: int = Field(default=50, ge=1)


def load_monitor_config(path: str | Path | None) -> MonitorConfig:
    return MonitorConfig() if path is None else load_yaml_model(MonitorConfig, path)
