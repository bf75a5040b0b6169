"""The `forecasting elasticity` config (`configs/elasticity/*.yaml`), validated by pydantic."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator, model_validator

from forecasting.config.base import StrictModel, load_yaml_model
from forecasting.config.values import ConfigPath
from forecasting.response.estimate import ResponseBand
from forecasting.tariffs.spec import MINUTES, parse_clock

DEFAULT_BANDS = {"night": "00:00-07:00", "day": "07:00-16:00", "peak": "16:00-20:00",
                 "evening": "20:00-24:00"}  # fmt: skip


def parse_band(name: str, text: str) -> list[ResponseBand]:
    """'16:00-20:00' -> one band; '23:00-07:00' (wrapping midnight) -> two pieces."""
    parts = str(text).split("-")
    if len(parts) != 2:
        raise ValueError(f"band {name!r}: {text!r} is not a time range such as 16:00-20:00")
    a, b = parse_clock(parts[0]), parse_clock(parts[1])
    if a == b:
        raise ValueError(f"band {name!r}: {text!r} is empty")
    return [ResponseBand(name, a, b)] if a < b else [ResponseBand(name, a, MINUTES),
                                                    ResponseBand(name, 0, b)]  # fmt: skip


class StaticFlag(StrictModel):
    """Customers whose static `column` is one of `value` (the treated households of a trial,
    the vulnerable customers of a tariff study)."""

    column: str
    value: str | list[str]

    def values(self) -> list[str]:
        return [self.value] if isinstance(self.value, str) else list(self.value)


class ElasticityConfig(StrictModel):
    data: ConfigPath = Field(
        description="data config of the trial's readings (and static, weather)"
    )
    tariff: ConfigPath = Field(description="the dynamic tariff the treated households were on")
    treated: StaticFlag
    reference: str = Field("Normal", description="the level the others are measured against")
    group_by: str | None = Field(None, description="static column to break the response down by")
    weather: list[str] = Field(
        default_factory=list, description="covariates of the data config used as weather controls"
    )
    timezone: str | None = Field(None, description="clock of the bands (default: the calendar's)")
    bands: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_BANDS))
    zero_offset_kwh: float = Field(
        0.01, gt=0, description="added before the log, per half-hour (scaled to the interval)"
    )
    bootstrap: int = Field(499, ge=0, le=20_000, description="bootstrap replicates (0: analytic)")
    seed: int = 0
    min_readings: int = Field(30, ge=1, description="fewest treated readings to estimate a term")

    @field_validator("bands")
    @classmethod
    def _bands(cls, v: dict[str, str]) -> dict[str, str]:
        if not v:
            raise ValueError("give at least one band")
        pieces = [p for name, text in v.items() for p in parse_band(name, text)]
        cover = [0] * MINUTES
        for p in pieces:
            for m in range(p.start, p.end):
                cover[m] += 1
        if any(c != 1 for c in cover):
            bad = next(m for m, c in enumerate(cover) if c != 1)
            what = "no band covers" if cover[bad] == 0 else "two bands cover"
            raise ValueError(f"the bands must cover the day exactly once: {what} "
                             f"{bad // 60:02d}:{bad % 60:02d}")  # fmt: skip
        return v

    @model_validator(mode="after")
    def _names(self) -> ElasticityConfig:
        if len(set(self.weather)) != len(self.weather):
            raise ValueError(f"weather lists a covariate twice: {self.weather}")
        return self

    def response_bands(self) -> list[ResponseBand]:
        return [p for name, text in self.bands.items() for p in parse_band(name, text)]


def load_elasticity_config(path: str | Path) -> ElasticityConfig:
    """Read and validate; relative paths are taken from the working folder (as data configs)."""
    return load_yaml_model(ElasticityConfig, path)
