"""The `forecasting target-signals` config (`configs/targeting/*.yaml`), validated by pydantic.

trial: configs/elasticity/lcl.yaml   # readings, tariff, treated flag, groups, clock
learn_until: "2013-07-01"            # events before it teach the model, after it are simulated
target: {High: -0.05, Low: 0.05}     # wanted change of the population's mean in the event
max_signals: null                    # the most households signalled per event (null: all)
hour_weights:                        # hours that count more in the event's change
  - {level: High, hours: "16:00-20:00", weight: 2.0}
policy: {rule: thompson, confidence: 0.8}
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from forecasting.config.base import StrictModel, load_yaml_model
from forecasting.config.values import ConfigPath
from forecasting.response.config import parse_band


class HourWeight(StrictModel):
    level: str
    hours: str = Field(description="local time range, e.g. 16:00-20:00 (may wrap midnight)")
    weight: float = Field(gt=0, le=100)

    @model_validator(mode="after")
    def _hours(self) -> HourWeight:
        parse_band(self.level, self.hours)
        return self


class Policy(StrictModel):
    rule: Literal["thompson", "ucb", "expected"] = Field(
        default="thompson",
        description="how households are ranked: a posterior draw each (thompson), an upper "
        "confidence bound (ucb), or the expected contribution (expected)",
    )
    confidence: float = Field(
        default=0.8,
        gt=0,
        lt=1,
        description="send until the target is reached with this probability",
    )
    kappa: float = Field(
        default=1.0, ge=0, description="ucb: standard deviations added to the mean"
    )


class Grid(StrictModel):
    engagement: int = Field(
        default=21, ge=5, le=201, description="points of the engagement grid on 0-1"
    )
    response: int = Field(default=81, ge=11, le=401, description="points of the response grid")
    response_max: float = Field(
        default=0.8, gt=0, le=5, description="the response grid spans +-this"
    )


class TargetingConfig(StrictModel):
    trial: ConfigPath = Field(description="elasticity config: readings, tariff, treated, groups")
    learn_until: dt.date = Field(description="local date: events before it teach the model")
    target: dict[str, float] = Field(
        description="per signal level: the wanted relative change of the population's mean"
    )
    max_signals: int | None = Field(default=None, ge=1, description="the most households per event")
    hour_weights: list[HourWeight] = Field(default_factory=list)
    policy: Policy = Field(default_factory=lambda: Policy())
    grid: Grid = Field(default_factory=lambda: Grid())
    placebo_days: int = Field(
        default=14, ge=3, le=60, description="days either side for placebo events"
    )
    random_repeats: int = Field(default=20, ge=1, le=1000, description="draws of the random policy")
    min_coverage: float = Field(
        default=0.5, gt=0, le=1, description="share of an event's readings needed"
    )
    seed: int = 0

    @model_validator(mode="after")
    def _targets(self) -> TargetingConfig:
        for level, change in self.target.items():
            if change == 0 or abs(change) >= 1:
                raise ValueError(f"target for {level!r}: {change} is not a relative change "
                                 "between -1 and 1 (and not 0)")  # fmt: skip
        return self


def load_targeting_config(path: str | Path) -> TargetingConfig:
    return load_yaml_model(TargetingConfig, path)
