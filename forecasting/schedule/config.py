"""Appliances in YAML (`configs/schedule/`), turned into requests on a grid of slots.

    slot: 15min               # the grid (any interval that divides a day)
    day_start: "12:00"        # the local time the scheduled day begins (noon: nights whole)
    site_limit_kw: 7.5        # optional: the most the home may draw
    appliances:
      - {name: washer, power_kw: 2.0, duration: 2h, earliest: "08:00", latest_end: "22:00"}
      - {name: ev, power_kw: 7.0, energy_kwh: 20, earliest: "18:00", latest_end: "07:00",
         interruptible: true, min_run: 30min, comfort: 0.0}

A window runs from `earliest` to `latest_end`, local clock times within the scheduled day
(24 hours from `day_start`; "07:00" after "18:00" is the next morning); the default,
"00:00" to "24:00", is the whole scheduled day. `energy_kwh` instead
of `duration`: it runs until it has drawn that much at `power_kw` (rounded up to whole
slots). `comfort`: the cost (in the price's currency) of each hour of delay.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

from pydantic import Field, model_validator

from forecasting.config.base import StrictModel, load_yaml_model
from forecasting.config.values import Duration
from forecasting.errors import InputError
from forecasting.schedule.solve import Request

CLOCK = r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$"
DAY_MINUTES = 24 * 60


class Appliance(StrictModel):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_. -]{1,60}$")]
    power_kw: float = Field(gt=0, le=100)
    duration: Duration | None = None
    energy_kwh: float | None = Field(default=None, gt=0)
    earliest: Annotated[str, Field(pattern=CLOCK)] = "00:00"
    latest_end: Annotated[str, Field(pattern=CLOCK)] = "24:00"
    interruptible: bool = False
    min_run: Duration | None = None
    comfort: float = Field(default=0.0, ge=0)

    @model_validator(mode="after")
    def _one_amount(self) -> Appliance:
        if (self.duration is None) == (self.energy_kwh is None):
            raise ValueError(f"appliance {self.name!r}: give one of duration or energy_kwh")
        if self.min_run is not None and not self.interruptible:
            raise ValueError(f"appliance {self.name!r}: min_run applies to interruptible ones")
        return self


class ScheduleConfig(StrictModel):
    slot: Duration = Duration("15min")
    day_start: Annotated[str, Field(pattern=CLOCK)] = "00:00"
    site_limit_kw: float | None = Field(default=None, gt=0)
    appliances: list[Appliance] = Field(min_length=1, max_length=100)

    @model_validator(mode="after")
    def _names_once(self) -> ScheduleConfig:
        names = [a.name for a in self.appliances]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"appliance names must differ: {', '.join(twice)} appear twice")
        return self

    @property
    def horizon(self) -> int:
        """Slots in the scheduled day."""
        return int(DAY_MINUTES // self._slot_minutes())

    def _slot_minutes(self) -> float:
        minutes = self.slot.span.total_seconds() / 60
        if minutes <= 0 or DAY_MINUTES % minutes:
            raise InputError(f"slot {self.slot} must divide a day (5min, 15min, 30min, 1h, ...)")
        return minutes

    def requests(self) -> list[Request]:
        """The appliances on the slot grid of the scheduled day."""
        m = self._slot_minutes()
        start = _minutes(self.day_start)
        out = []
        for a in self.appliances:
            first = (_minutes(a.earliest) - start) % DAY_MINUTES
            end = (_minutes(a.latest_end) - start) % DAY_MINUTES or DAY_MINUTES
            if _minutes(a.latest_end) - _minutes(a.earliest) == DAY_MINUTES:
                first, end = 0, DAY_MINUTES  # "00:00"-"24:00", the default: any time of the day
            if end <= first:
                raise InputError(f"appliance {a.name!r}: its window {a.earliest}-{a.latest_end} "
                                 f"does not fit in the day from {self.day_start}")  # fmt: skip
            if a.duration is not None:
                slots = math.ceil(a.duration.span.total_seconds() / 60 / m - 1e-9)
            else:
                assert a.energy_kwh is not None
                slots = math.ceil(a.energy_kwh / (a.power_kw * m / 60) - 1e-9)
            run = 1 if a.min_run is None else math.ceil(a.min_run.span.total_seconds() / 60 / m)
            out.append(Request(a.name, a.power_kw, slots, math.ceil(first / m),
                               int(end // m), a.interruptible, run, a.comfort * m / 60))  # fmt: skip
        return out


def _minutes(clock: str) -> int:
    h, mm = clock.split(":")
    return int(h) * 60 + int(mm)


def load_schedule_config(path: str | Path) -> ScheduleConfig:
    return load_yaml_model(ScheduleConfig, path)
