"""The `forecasting optimise-tariff` config (`configs/optimise/*.yaml`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from forecasting.config.base import StrictModel, load_yaml_model
from forecasting.config.values import ConfigPath
from forecasting.optimise.solve import EXACT_LIMIT
from forecasting.response.config import StaticFlag


class ResponseConfig(StrictModel):
    """Where the price response comes from: an elasticity file (`forecasting elasticity`),
    or one elasticity for rises and one for cuts, for every band and customer."""

    file: ConfigPath | None = None
    detail: Literal["level", "band", "group", "band x group"] = Field(
        "band", description="the finest estimates used: per band, per group, or both"
    )
    group_by: str | None = Field(None, description="static column matching the file's groups")
    up_level: str = Field("High", description="the file's level for price rises")
    down_level: str = Field("Low", description="the file's level for price cuts")
    up: float | None = Field(None, le=0, description="elasticity for rises (without a file)")
    down: float | None = Field(None, le=0, description="elasticity for cuts (without a file)")
    shift: float = Field(
        0.0,
        ge=0,
        le=2,
        description="substitution elasticity between bands: "
        "energy moves toward cheaper bands, the total kept (0: no shifting)",
    )

    @model_validator(mode="after")
    def _one_source(self) -> ResponseConfig:
        if self.file is None and (self.up is None or self.down is None):
            raise ValueError("give an elasticity `file`, or both `up` and `down`")
        return self


class GoalsConfig(StrictModel):
    w_peak: float = Field(1.0, ge=0, description="weight of the peak (relative to today's)")
    w_dispersion: float = Field(1.0, ge=0, description="weight of the spread of bill changes")
    w_revenue: float = Field(1.0, ge=0, description="weight of the revenue's distance to target")
    revenue_target: float | None = Field(None, gt=0, description="major units; default: today's")
    revenue_share: float = Field(0.95, gt=0, le=1.5)
    robust: bool = Field(True, description="the revenue floor in every scenario, else on average")
    increase: float = Field(0.10, ge=0, description="a vulnerable customer's increase that counts")
    delta: float = Field(0.05, ge=0, le=1, description="share of them allowed over `increase`")
    group_by: str | None = Field(None, description="static column for revenue neutrality")
    group_tolerance: float | None = Field(None, ge=0, le=1)
    exact_limit: int = Field(
        EXACT_LIMIT,
        ge=0,
        description="vulnerable customers solved exactly (MILP); a surrogate LP beyond",
    )


class MonthlyOnly(StrictModel):
    """Customers known only by their monthly totals, given hours by `forecasting impute` on a
    bundle with archetypes: the base scenario takes the P50 profile, each other scenario one
    sample path (so the imputation's uncertainty reaches the constraints). `share` strips that
    share of the smart-meter customers to their monthly totals (a study of what monthly-only
    customers do to the answer); `monthly` adds other customers' totals (series_id, month,
    kwh), with their static rows in the data config's static table."""

    bundle: ConfigPath
    share: float = Field(0.0, ge=0, le=1)
    monthly: ConfigPath | None = None
    seed: int = 0
    min_coverage: float = Field(
        0.9, gt=0, le=1, description="a month's readings needed to take its total (share)"
    )


class WeatherYears(StrictModel):
    """Other years' weather, through an exported bundle (serving/weather_scenarios.py):
    scenario k takes shift k-1 (in turn), e.g. -364 days is last year's weather with the
    weekdays kept."""

    bundle: ConfigPath
    columns: list[str] = Field(min_length=1, description="the covariates that are weather")
    shifts_days: list[int] = Field(default_factory=lambda: [-364], min_length=1)


class ScenariosConfig(StrictModel):
    count: int = Field(1, ge=1, le=1000, description="scenarios, the base included")
    weather_years: WeatherYears | None = None
    seed: int = 0
    elasticity_draws: bool = True
    ev_share: float = Field(0.0, ge=0, le=1)
    pv_share: float = Field(0.0, ge=0, le=1)


class OptimiseConfig(StrictModel):
    template: ConfigPath = Field(description="tariff template: the structure, prices as ranges")
    current: ConfigPath = Field(description="the customers' current tariff (their bills today)")
    data: ConfigPath = Field(description="data config of the customers' interval readings")
    response: ResponseConfig
    vulnerable: StaticFlag | None = None
    goals: GoalsConfig = Field(default_factory=lambda: GoalsConfig.model_validate({}))
    scenarios: ScenariosConfig = Field(default_factory=lambda: ScenariosConfig.model_validate({}))
    monthly_only: MonthlyOnly | None = None
    frontier: int = Field(0, ge=0, le=25, description="Pareto points (weight sweep); 0: none")
    breakdown: list[str] = Field(default_factory=list, description="static columns for KPIs")
    timezone: str | None = Field(None, description="local time of the scenarios (EV, PV)")


def load_optimise_config(path: str | Path) -> OptimiseConfig:
    return load_yaml_model(OptimiseConfig, path)
