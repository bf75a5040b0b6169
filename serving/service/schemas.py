"""Request and response bodies of the HTTP API (`/v1/...`), with the examples the OpenAPI
document shows. Every time is ISO 8601 with its offset; every series is a start and values
at a fixed interval (compact and quick to read for a year of half-hours)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

Id = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f]+$")]
Name = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
Value = Annotated[float, Field(ge=-1e9, le=1e9)]
Values = Annotated[list[Value | None], Field(min_length=1, max_length=200_000)]
Interval = Annotated[int, Field(ge=1, le=1_440, description="minutes per value")]
Static = dict[
    Annotated[str, Field(max_length=100)], Annotated[str, Field(max_length=200)] | Value | bool
]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


EXAMPLE_START = "2023-12-24T00:00:00Z"


class SeriesIn(Body):
    customer_id: Id
    start: AwareDatetime = Field(description="the first value's interval start")
    values: Values = Field(description="kWh (or price) per interval of the bundle, oldest first")
    covariates: dict[Name, Values] = Field(
        default_factory=dict,
        description="each covariate the bundle reads: as many values as `values`, or that many "
        "plus the horizon (known-future covariates such as weather forecasts)",
    )
    static: Static = Field(default_factory=dict)


class ForecastRequest(Body):
    bundle: Name
    version: Name | None = Field(default=None, description="default: the newest served")
    series: list[SeriesIn] = Field(min_length=1)

    model_config = ConfigDict(
        extra="forbid", allow_inf_nan=False,
        json_schema_extra={"examples": [{"bundle": "household_lgb", "series": [{
            "customer_id": "H0001", "start": EXAMPLE_START, "values": [0.42] * 168,
            "covariates": {"temperature": [6.5] * 192},
            "static": {"heating": "gas", "has_ev": False}}]}]},
    )  # fmt: skip


class BundleRef(BaseModel):
    name: str
    version: str
    sha: str
    kind: str


class SeriesForecast(BaseModel):
    customer_id: str
    origin: datetime
    timestamps: list[datetime]
    quantiles: dict[str, list[float]] = Field(description="p10, p50, p90 ... per timestamp")


class SeriesError(BaseModel):
    customer_id: str
    reason: str


class ForecastResponse(BaseModel):
    bundle: BundleRef
    forecasts: list[SeriesForecast]
    errors: list[SeriesError]


class AnomalyRequest(Body):
    bundle: Name = Field(description="an autoencoder (anomaly) bundle")
    version: Name | None = None
    series: list[SeriesIn] = Field(min_length=1)
    start: AwareDatetime | None = Field(
        default=None, description="score from here (default: after the bundle's lookback)"
    )


class AnomalyEvent(BaseModel):
    start: datetime
    end: datetime
    intervals: int
    peak_score: float


class SeriesAnomalies(BaseModel):
    customer_id: str
    timestamps: list[datetime]
    scores: list[float] = Field(
        description="standardised: 1 is the calibration's false-alarm level"
    )
    flags: list[bool]
    events: list[AnomalyEvent] = Field(description="runs of flagged intervals")


class AnomalyResponse(BaseModel):
    bundle: BundleRef
    threshold: float
    series: list[SeriesAnomalies]
    errors: list[SeriesError]


class MonthTotal(Body):
    month: Annotated[str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]
    kwh: Annotated[float, Field(ge=0, le=1e7)]
    months: Annotated[int, Field(ge=1, le=12)] = 1


class Weather(Body):
    start: AwareDatetime
    values: dict[Name, Values] = Field(description="hourly values by covariate name")


class ProfileRequest(Body):
    bundle: Name
    version: Name | None = None
    customer_id: Id
    totals: list[MonthTotal] = Field(min_length=1, max_length=120)
    static: Static = Field(default_factory=dict)
    weather: Weather | None = None

    model_config = ConfigDict(
        extra="forbid", allow_inf_nan=False,
        json_schema_extra={"examples": [{"bundle": "household_lgb", "customer_id": "M001",
            "totals": [{"month": "2023-11", "kwh": 310.5}],
            "static": {"heating": "gas", "has_ev": False}}]},
    )  # fmt: skip


class ProfileResponse(BaseModel):
    bundle: BundleRef
    customer_id: str
    timestamps: list[datetime]
    periods: list[str] = Field(description="the period (first month of the read) of each hour")
    p10: list[float]
    p50: list[float]
    p90: list[float]
    totals: dict[str, float] = Field(description="kWh of each period: p50 sums to it")
    archetypes: dict[str, float] = Field(description="the load-shape archetypes' probabilities")


class TariffChoice(Body):
    tariff: Name | None = Field(default=None, description="a tariff the server holds")
    tariff_body: dict[str, Any] | None = Field(
        default=None, description="or a tariff as its YAML would read (no dynamic signal file)"
    )


class UsageSeries(Body):
    customer_id: Id
    start: AwareDatetime
    interval_minutes: Interval = 60
    values: Values = Field(description="kWh imported per interval")


class BillRequest(TariffChoice):
    usage: list[UsageSeries] = Field(min_length=1)

    model_config = ConfigDict(
        extra="forbid", allow_inf_nan=False,
        json_schema_extra={"examples": [{"tariff": "uk_flat_example", "usage": [{
            "customer_id": "H0001", "start": "2024-01-01T00:00:00Z", "interval_minutes": 60,
            "values": [0.4] * 744}]}]},
    )  # fmt: skip


class Bill(BaseModel):
    customer_id: str
    period_start: str
    period_end: str
    kwh: float
    quantities: dict[str, float] = Field(description="kWh by band, peak demand kW ...")
    lines: dict[str, float] = Field(description="charges (currency): they sum to the total")
    total: float
    partial: bool


class BillResponse(BaseModel):
    tariff: str
    currency: str
    bills: list[Bill]
    errors: list[SeriesError]


class SavingsRequest(Body):
    current: Name = Field(description="the tariff the customers are on")
    candidates: list[Name] = Field(min_length=1, max_length=50)
    usage: list[UsageSeries] = Field(min_length=1)


class CustomerSavings(BaseModel):
    customer_id: str
    totals: dict[str, float]
    cheapest: str
    saving: float = Field(description="current total less the cheapest's (currency)")


class SavingsResponse(BaseModel):
    currency: str
    customers: list[CustomerSavings]
    errors: list[SeriesError]


class PricePath(Body):
    start: AwareDatetime
    interval_minutes: Interval = 60
    values: Values = Field(description="price per kWh (per MWh with unit per-mwh)")
    unit: Literal["per-kwh", "per-mwh"] = "per-kwh"


class OptimalTimesRequest(TariffChoice):
    prices: PricePath | None = Field(default=None, description="or a price path")
    earliest: AwareDatetime
    latest: AwareDatetime = Field(description="the run must end by then")
    duration_minutes: Annotated[int, Field(ge=1, le=7 * 1440)]
    count: Annotated[int, Field(ge=1, le=50)] = 3
    power_kw: Annotated[float, Field(gt=0, le=1000)] = 1.0

    model_config = ConfigDict(
        extra="forbid", allow_inf_nan=False,
        json_schema_extra={"examples": [{"tariff": "uk_tou_demand_example",
            "earliest": "2024-01-10T18:00:00Z", "latest": "2024-01-11T08:00:00Z",
            "duration_minutes": 120, "count": 3, "power_kw": 2.0}]},
    )  # fmt: skip


class Window(BaseModel):
    start: datetime
    end: datetime
    mean_price: float
    cost: float = Field(description="for power_kw over the window")


class OptimalTimesResponse(BaseModel):
    windows: list[Window]
    currency: str | None


class ScheduleRequest(TariffChoice):
    appliances: Name | None = Field(default=None, description="an appliance set the server holds")
    appliances_body: dict[str, Any] | None = Field(
        default=None, description="or the appliance set as its YAML would read"
    )
    date: Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")]
    timezone: Annotated[str, Field(max_length=64)] = "Europe/London"
    prices: PricePath | None = Field(default=None, description="or a price path")
    home_load_kw: Values | None = Field(default=None, description="the home's own load per slot")


class PlannedRun(BaseModel):
    appliance: str
    first_slot: str
    last_slot_ends: str
    slots: int
    kwh: float
    cost: float


class ScheduleResponse(BaseModel):
    plan: list[PlannedRun]
    cost: float
    cost_start_at_once: float
    cost_greedy: float
    currency: str | None


class JobRequest(Body):
    config: Name = Field(description="a config the server holds (by file name, no .yaml)")
    overrides: dict[Name, Any] = Field(
        default_factory=dict, description="top-level keys of the config to replace"
    )


class Job(BaseModel):
    id: str
    kind: str
    status: Literal["queued", "running", "done", "failed", "cancelled"]
    progress: str
    created: str
    started: str | None = None
    finished: str | None = None
    config: str
    result: dict[str, Any] | None = None
    error: str | None = None


class ErrorBody(BaseModel):
    error: str
    request_id: str | None = None
