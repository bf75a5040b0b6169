"""What features to build, as a typed config that travels with every fitted model and bundle."""

from __future__ import annotations

from pydantic import Field

from forecasting.config.base import StrictModel


class FeatureConfig(StrictModel):
    """Feature recipe. Lags and windows are in intervals of the canonical frame (hours)."""

    lags: list[int] = Field(default_factory=lambda: [1, 24, 168])
    rolling_windows: list[int] = Field(default_factory=lambda: [24, 168])
    rolling_stats: list[str] = Field(default_factory=lambda: ["mean", "std", "max"])
    rolling_shift: int = Field(default=1, ge=1, description="windows end this many intervals back")
    calendar: bool = True
    timezone: str = Field(default="UTC", description="local time for calendar features")
    holidays: dict[str, object] = Field(
        default_factory=dict, description="HolidayCalendar.to_dict()"
    )
    temperature: str | None = Field(default="temperature", description="column for degree hours")
    heating_base: float = 15.5
    cooling_base: float = 22.0
    known_future: list[str] = Field(default_factory=list, description="covariates known ahead")
    observed: list[str] = Field(default_factory=list, description="covariates only known up to now")
    static: list[str] = Field(default_factory=list)
