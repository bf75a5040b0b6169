"""The data config (`configs/data/*.yaml`): where the raw readings are and how to read them.

Paths are expanded for `${VAR}` / `${VAR:-default}` and, when relative, resolved from the
current working directory (the project root for the commands in the README).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
from pydantic import Field, field_validator, model_validator

from forecasting.config.base import StrictModel, load_yaml_model
from forecasting.config.values import ConfigPath, Duration, Frequency, Span, Zone, steps

TimezoneName = Zone  # a validated zone name that carries its tzinfo
Aggregate = Literal["mean", "sum", "min", "max", "first", "last"]


# a column of the file as its header names it; "" is the column whose header cell is empty
# (the index pandas writes to CSV)
ColumnName = Annotated[str, Field(description="a column of the file ('' for an unnamed one)")]


class ColumnSpec(StrictModel):
    """A covariate column: where it comes from and how it becomes an hourly value."""

    column: ColumnName
    aggregate: Aggregate = "mean"
    values: dict[str, float] | None = Field(
        default=None, description="map text levels to numbers, e.g. {Low: -1, Normal: 0, High: 1}"
    )


def _declared_known_future(data: Any, what: str) -> None:
    """Refuse a covariate whose role is not declared: a default could leak the future."""
    if isinstance(data, dict) and "known_future" not in data:
        raise ValueError(
            f"say whether {what} is known for the forecast horizon: `known_future: true` for "
            "forecasts, schedules and calendars (the horizon's values are read), `known_future: "
            "false` for measurements (only values before the forecast origin are read)"
        )


class InputCovariate(ColumnSpec):
    """A covariate column of the readings file (a meter's export, a submeter, a flag)."""

    known_future: bool = Field(description="known for the forecast horizon (true) or measured")

    @model_validator(mode="before")
    @classmethod
    def _role(cls, data: Any) -> Any:
        _declared_known_future(data, "this covariate of the readings file")
        return data


class FillPolicy(StrictModel):
    """How missing values are filled. `none` leaves them missing (and reported)."""

    method: Literal["none", "linear", "seasonal", "zero", "ffill"] = "none"
    max_length: Span = Field(
        default=0, description="longest gap filled: output intervals, or a duration ('2h')"
    )
    season: Span = Field(
        default=Duration("7D"), description="lag for 'seasonal': intervals or a duration"
    )
    outside: float | None = Field(
        default=None, description="value used outside the covariate file's time range"
    )

    @model_validator(mode="after")
    def _length_needed(self) -> FillPolicy:
        if isinstance(self.max_length, int) and self.max_length < 0:
            raise ValueError(f"max_length must not be negative, got {self.max_length}")
        if isinstance(self.season, int) and self.season < 1:
            raise ValueError(f"season must be at least 1 interval, got {self.season}")
        if self.method != "none" and self.max_length == 0:
            raise ValueError(
                f"fill method '{self.method}' needs max_length > 0 (intervals, or a duration "
                "such as '2h')"
            )
        return self

    def in_intervals(self, step: pd.Timedelta) -> tuple[int, int]:
        """(longest gap filled, seasonal lag) in intervals of `step`."""
        longest = steps(self.max_length, step, "max_length") if self.max_length else 0
        return longest, steps(self.season, step, "season")


class NumberFormatFields(StrictModel):
    """How the file writes numbers (one policy for every text reader, see `data/numbers.py`)."""

    decimal: Literal[".", ","] = Field(default=".", description="decimal separator")
    thousands: Literal[",", ".", " ", "'", "_"] | None = Field(
        default=None, description="thousands separator (digits grouped by three), or none"
    )

    @model_validator(mode="after")
    def _separators_differ(self) -> NumberFormatFields:
        if self.thousands == self.decimal:
            raise ValueError(
                f"thousands separator {self.thousands!r} cannot also be the decimal separator"
            )
        return self


class InputSpec(NumberFormatFields):
    """The main file(s) of meter readings in long format."""

    path: ConfigPath = Field(description="file, folder of files, or glob of CSV/parquet")
    format: Literal["auto", "csv", "parquet"] = "auto"
    delimiter: str = ","
    encoding: str = "utf-8"
    series_id: ColumnName | None = Field(default=None, description="column naming the series")
    series_id_value: str | None = Field(default=None, description="id when the file is one series")
    timestamp: ColumnName
    timestamp_format: str | None = Field(default=None, description="strptime format; None = ISO")
    timezone: TimezoneName = Field(
        default=Zone("UTC"), description="clock of the timestamps in the file"
    )
    label: Literal["start", "end"] = Field(
        default="start",
        description="whether a timestamp marks the start or the end of its interval",
    )
    target: ColumnName
    quantity: Literal["energy", "power"] = Field(
        default="energy", description="energy per interval, or average power over the interval"
    )
    unit: str = Field(
        default="kWh", description="unit of the target as read (not given: kW for power)"
    )
    scale: float = Field(default=1.0, gt=0, description="multiplier applied to target values")
    static_columns: list[str] = Field(default_factory=list)
    covariates: dict[str, InputCovariate] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _id(self) -> InputSpec:
        if (self.series_id is None) == (self.series_id_value is None):
            raise ValueError(
                "set exactly one of series_id (a column) or series_id_value (a constant)"
            )
        return self


TargetKind = Literal["energy", "power", "price", "temperature", "generic"]
# the unit a report names when neither `target.unit` nor `input.unit` is given
DEFAULT_UNITS = {
    "energy": "kWh", "power": "kW", "price": "(unit not given)", "temperature": "°C",
    "generic": "(unit not given)",
}  # fmt: skip


class TargetSpec(StrictModel):
    """What the target is. `energy` (kWh per interval) is summed into output intervals and
    negatives are quarantined; `power` (average kW over the interval) becomes energy per
    interval; `price`, `temperature` and `generic` values are averaged and may be negative."""

    kind: TargetKind = Field(default="energy", description="what the values measure")
    unit: str | None = Field(
        default=None,
        description="unit for reports; default input.unit, else by kind (kWh, kW, °C)",
    )
    negative: Literal["quarantine", "allowed"] | None = Field(
        default=None,
        description="negative values: quarantined (default for energy and power) or allowed "
        "(default for price, temperature and generic)",
    )
    resample: Literal["sum", "mean"] | None = Field(
        default=None,
        description="how source intervals become an output interval: sum (energy and power) or "
        "mean (the others)",
    )


@dataclass(frozen=True)
class TargetRules:
    """The target's kind and handling, from `target` or the older `input.quantity` and
    `validation.allow_negative` keys."""

    kind: str
    unit: str
    allow_negative: bool
    resample: str
    negative_key: str  # the key a user sets to allow negatives

    @property
    def to_energy(self) -> bool:
        return self.kind == "power"


class ValidationSpec(StrictModel):
    allow_negative: bool = Field(default=False, description="net metering with export")
    max_value: float | None = Field(
        default=None, gt=0, description="largest plausible target per source interval (source unit)"
    )
    robust_z: float | None = Field(
        default=None, gt=0, description="reject values this many robust SDs above the series median"
    )
    duplicates: Literal["first", "last", "drop"] = Field(
        default="first", description="which of conflicting duplicate readings to keep"
    )
    partial_intervals: Literal["quarantine", "scale"] = Field(
        default="quarantine", description="output intervals missing some source readings"
    )


class HolidaySpec(StrictModel):
    country: str | None = Field(default=None, description="ISO code for the `holidays` package")
    subdivision: str | None = None
    file: ConfigPath | None = Field(default=None, description="CSV with one date per row")
    date_column: str | None = None


class CalendarSpec(StrictModel):
    timezone: TimezoneName = Field(
        default=Zone("UTC"), description="local time for calendar features and origins"
    )
    holidays: HolidaySpec = Field(default_factory=HolidaySpec)


class StaticSpec(StrictModel):
    path: ConfigPath
    id_column: ColumnName
    columns: list[str] = Field(default_factory=list, description="empty = all other columns")
    delimiter: str = ","


class CovariateSource(NumberFormatFields):
    """A time series shared by all series (weather, a price signal), joined on time."""

    name: str
    path: ConfigPath
    timestamp: ColumnName
    timestamp_format: str | None = None
    timezone: TimezoneName = Zone("UTC")
    label: Literal["start", "end"] = "start"
    delimiter: str = ","
    columns: dict[str, ColumnSpec]
    known_future: bool = Field(
        description="known for the forecast horizon (forecasts, schedules) or measured"
    )
    fill: FillPolicy = Field(default_factory=FillPolicy)

    @model_validator(mode="before")
    @classmethod
    def _role(cls, data: Any) -> Any:
        name = data.get("name") if isinstance(data, dict) else None
        _declared_known_future(data, f"covariate source {name!r}" if name else "this source")
        return data


class DataConfig(StrictModel):
    """Everything needed to turn raw readings into the canonical hourly frame."""

    name: str
    description: str = ""
    input: InputSpec
    frequency: Literal["auto"] | Frequency = Field(
        default="auto", description="source interval, or 'auto' to infer it from the data"
    )
    output_frequency: Frequency = Frequency("1h")
    calendar: CalendarSpec = Field(default_factory=CalendarSpec)
    validation: ValidationSpec = Field(default_factory=ValidationSpec)
    gaps: FillPolicy = Field(default_factory=FillPolicy)
    static: StaticSpec | None = None
    covariates: list[CovariateSource] = Field(default_factory=list)
    target: TargetSpec | None = Field(
        default=None, description="what the target is (kind, unit, negatives, resampling)"
    )

    @field_validator("frequency", mode="before")
    @classmethod
    def _freq(cls, v: object) -> object:
        # one message for a bad value, not one per member of the union
        return v if v == "auto" or not isinstance(v, str) else Frequency(v)

    @property
    def source_step(self) -> pd.Timedelta | None:
        """The configured source interval; None for 'auto' (inferred from the data)."""
        return self.frequency.step if isinstance(self.frequency, Frequency) else None

    @model_validator(mode="after")
    def _target_said_once(self) -> DataConfig:
        t = self.target
        if t is None:
            return self
        # an older key at its default says nothing (older run folders hold every key)
        said = [
            key
            for key, where, field, default in (
                ("input.quantity", self.input, "quantity", "energy"),
                ("validation.allow_negative", self.validation, "allow_negative", False),
            )
            if field in where.model_fields_set and getattr(where, field) != default
        ]
        if said:
            raise ValueError(
                f"{', '.join(said)} and the `target` section both describe the target; keep "
                "`target` (kind, unit, negative, resample) and remove the older key"
            )
        return self

    @property
    def target_rules(self) -> TargetRules:
        """How the target is read, checked and resampled (see `TargetSpec`)."""
        t = self.target
        given = self.input.unit if "unit" in self.input.model_fields_set else None
        if t is None:
            kind = self.input.quantity
            return TargetRules(
                kind, given or DEFAULT_UNITS[kind], self.validation.allow_negative, "sum",
                "validation.allow_negative: true",
            )  # fmt: skip
        summed = t.kind in ("energy", "power")
        negative = t.negative or ("quarantine" if summed else "allowed")
        return TargetRules(
            t.kind, t.unit or given or DEFAULT_UNITS[t.kind], negative == "allowed",
            t.resample or ("sum" if summed else "mean"), "target.negative: allowed",
        )  # fmt: skip

    @model_validator(mode="after")
    def _names_unique(self) -> DataConfig:
        seen: dict[str, str] = {}
        for name in self.input.covariates:
            seen[name] = "input.covariates"
        for cov in self.covariates:
            for name in cov.columns:
                if name in seen:
                    raise ValueError(
                        f"covariate '{name}' is defined twice ({seen[name]}, {cov.name})"
                    )
                seen[name] = cov.name
        reserved = {"series_id", "timestamp", "target", "filled"}
        clash = reserved & set(seen)
        if clash:
            raise ValueError(
                f"covariate names {sorted(clash)} are reserved for the canonical frame"
            )
        return self


def load_data_config(path: str | Path) -> DataConfig:
    return load_yaml_model(DataConfig, path)
