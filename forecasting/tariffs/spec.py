"""Tariffs as YAML files validated by pydantic (`configs/tariffs/*.yaml`).

A tariff is a fixed charge per day, one energy charge (flat, blocks per billing period,
time-of-use bands, or a dynamic price signal of levels mapped to rates), and optionally a
demand charge, a feed-in credit, taxes on named components and a minimum charge per billing
period. Money amounts are in the tariff's `currency`, or in its minor unit (pence, cents)
when `amounts: minor`; bills are always in major units.

Time-of-use windows are local wall-clock time in the tariff's `timezone` (DST-correct: a
band from 16:00 to 19:00 is 16:00-19:00 on the clock every day of the year). The bands of a
tariff must cover every minute of every day type and month exactly once: `load_tariff`
rejects a tariff that leaves time uncovered or covers it twice, naming the hours.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from forecasting.config.base import StrictModel, load_yaml_model
from forecasting.config.data import HolidaySpec, TimezoneName
from forecasting.config.values import ConfigPath, Frequency, Zone

DAY_TYPES = ("weekday", "weekend", "holiday")
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
MINUTES = 24 * 60
DayKind = Literal["weekday", "weekend", "holiday", "all"]
COMPONENTS = ("fixed", "energy", "demand", "feed_in", "minimum")


def parse_clock(text: str) -> int:
    """'HH:MM' -> minutes after local midnight ('24:00' is 1440)."""
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", text.strip())
    if not m or int(m.group(2)) > 59 or int(m.group(1)) * 60 + int(m.group(2)) > MINUTES:
        raise ValueError(f"{text!r} is not a time of day HH:MM between 00:00 and 24:00")
    return int(m.group(1)) * 60 + int(m.group(2))


def format_clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _month(token: str) -> int:
    t = token.strip().lower()
    if t.isdigit() and 1 <= int(t) <= 12:
        return int(t)
    if t[:3] in MONTHS:
        return MONTHS.index(t[:3]) + 1
    raise ValueError(f"{token!r} is not a month (1-12 or a name such as Jun)")


def parse_months(value: Any) -> list[int]:
    """[6, 7, 8], 'Jun-Sep', 'Nov-Feb' (wraps), '6-9' or 'Jun' -> sorted month numbers."""
    if isinstance(value, int):
        value = [value]
    if isinstance(value, list):
        months = [_month(str(v)) for v in value]
    elif isinstance(value, str):
        parts = value.split("-")
        if len(parts) == 1:
            months = [_month(parts[0])]
        elif len(parts) == 2:
            a, b = _month(parts[0]), _month(parts[1])
            months = list(range(a, b + 1)) if a <= b else [*range(a, 13), *range(1, b + 1)]
        else:
            raise ValueError(f"{value!r} is not a month range such as Jun-Sep")
    else:
        raise ValueError(f"months must be a list or a range such as Jun-Sep, got {value!r}")
    return sorted(set(months))


class Window(StrictModel):
    """When a band applies: local times [start, end) on some day types, in some months.

    `start` after `end` wraps past midnight (22:00-07:00). `days` takes weekday, weekend,
    holiday or all; `months` a list or a range such as Jun-Sep (default all year)."""

    days: list[DayKind] = Field(default_factory=lambda: list[DayKind](["all"]))
    start: str = "00:00"
    end: str = "24:00"
    months: list[int] | str | None = None

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, v: str) -> str:
        parse_clock(v)
        return v

    @field_validator("months")
    @classmethod
    def _months(cls, v: Any) -> list[int] | None:
        return None if v is None else parse_months(v)

    @model_validator(mode="after")
    def _not_empty(self) -> Window:
        if parse_clock(self.start) == parse_clock(self.end):
            raise ValueError(f"window {self.start}-{self.end} is empty")
        return self

    def day_types(self, holidays: bool) -> list[str]:
        kinds = DAY_TYPES if holidays else DAY_TYPES[:2]
        return list(kinds) if "all" in self.days else [d for d in self.days if d in kinds]

    def minutes(self) -> list[tuple[int, int]]:
        a, b = parse_clock(self.start), parse_clock(self.end)
        return [(a, b)] if a < b else [(a, MINUTES), (0, b)]

    def month_list(self) -> list[int]:
        return list(self.months) if isinstance(self.months, list) else list(range(1, 13))


class Band(StrictModel):
    """A named rate (per kWh) over some windows of local time."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_]+$")]
    rate: float
    windows: list[Window] = Field(min_length=1)


class Flat(StrictModel):
    type: Literal["flat"]
    rate: float = Field(ge=0, description="per kWh")


class Block(StrictModel):
    up_to: float | None = Field(None, gt=0, description="kWh per billing period; null: the rest")
    rate: float = Field(ge=0)


class Blocks(StrictModel):
    """Tiered energy per billing period: the first `up_to` kWh at one rate, the next at another.

    With `prorate: true` the block sizes of a partial period shrink with its days."""

    type: Literal["blocks"]
    blocks: list[Block] = Field(min_length=1)
    prorate: bool = True

    @model_validator(mode="after")
    def _order(self) -> Blocks:
        sizes = [b.up_to for b in self.blocks]
        if sizes[-1] is not None or any(s is None for s in sizes[:-1]):
            raise ValueError("only the last block has `up_to: null` (and it must have it)")
        bounded = [s for s in sizes if s is not None]
        if bounded != sorted(bounded) or len(set(bounded)) != len(bounded):
            raise ValueError(f"block limits must increase: {bounded}")
        return self


class TimeOfUse(StrictModel):
    type: Literal["tou"]
    bands: list[Band] = Field(min_length=1)


class Signal(StrictModel):
    """A time series of price levels (a CSV or parquet file with a timestamp and a level)."""

    path: ConfigPath
    timestamp: str
    column: str
    timezone: TimezoneName = Zone("UTC")
    label: Literal["start", "end"] = "start"


class Dynamic(StrictModel):
    """A dynamic price signal: each interval's level (for example Low/Normal/High) sets its rate.

    `default` is the level of times the signal does not cover; without it such times are an
    error."""

    type: Literal["dynamic"]
    signal: Signal
    rates: dict[str, float] = Field(min_length=1)
    default: str | None = None

    @model_validator(mode="after")
    def _default_known(self) -> Dynamic:
        if self.default is not None and self.default not in self.rates:
            raise ValueError(f"default level {self.default!r} is not one of {list(self.rates)}")
        bad = [k for k in self.rates if not re.fullmatch(r"[A-Za-z0-9_]+", k)]
        if bad:
            raise ValueError(f"level names must be letters, digits or _: {bad}")
        return self


Energy = Annotated[Flat | Blocks | TimeOfUse | Dynamic, Field(discriminator="type")]


class Demand(StrictModel):
    """A charge per kW of the highest demand in each billing period, measured as the mean power
    over `interval` (energy in the interval / its length), within `windows` (default: always)."""

    rate: float = Field(ge=0, description="per kW per billing period")
    interval: Frequency = Frequency("30min")  # a positive step of at most a day
    windows: list[Window] | None = None


class FeedIn(StrictModel):
    """A credit per kWh exported: one `rate`, or `bands` by local time (covering all times)."""

    rate: float | None = Field(None, ge=0)
    bands: list[Band] | None = None

    @model_validator(mode="after")
    def _one(self) -> FeedIn:
        if (self.rate is None) == (self.bands is None):
            raise ValueError("give either `rate` or `bands`")
        return self


class Tax(StrictModel):
    """A tax at `rate` (0.05 is 5%) on the sum of the named components: fixed, energy, demand,
    feed_in, minimum, or an energy band/level/block name."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_]+$")]
    rate: float = Field(ge=0)
    applies_to: list[str] = Field(min_length=1)


class Tariff(StrictModel):
    name: str
    description: str = ""
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    amounts: Literal["major", "minor"] = "major"
    minor_per_major: int = Field(100, ge=1, description="minor units in one major unit")
    decimals: int = Field(2, ge=0, le=6)
    timezone: str
    holidays: HolidaySpec | None = None
    fixed_per_day: float = Field(0.0, ge=0)
    energy: Energy
    demand: Demand | None = None
    feed_in: FeedIn | None = None
    taxes: list[Tax] = Field(default_factory=list)
    minimum_charge: float | None = Field(None, ge=0, description="per billing period")

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {v!r}: use an IANA name, e.g. Europe/London"
            ) from None
        return v

    @property
    def scale(self) -> float:
        """Multiply tariff amounts by this to get major currency units."""
        return 1.0 / self.minor_per_major if self.amounts == "minor" else 1.0

    def energy_items(self) -> list[str]:
        """Names of the energy line items, in bill column order."""
        e = self.energy
        if isinstance(e, Flat):
            return ["energy"]
        if isinstance(e, Blocks):
            return [f"block{i + 1}" for i in range(len(e.blocks))]
        if isinstance(e, TimeOfUse):
            return [b.name for b in e.bands]
        return list(e.rates)

    @model_validator(mode="after")
    def _check(self) -> Tariff:
        uses_holidays = any("holiday" in w.days for w in _windows(self) if w is not None)
        if uses_holidays and self.holidays is None:
            raise ValueError("windows name `holiday` days but the tariff has no `holidays:`")
        if isinstance(self.energy, TimeOfUse):
            check_coverage(self.energy.bands, self.holidays is not None, "energy.bands")
        if self.feed_in is not None and self.feed_in.bands:
            check_coverage(self.feed_in.bands, self.holidays is not None, "feed_in.bands")
        names = self.energy_items()
        if len(set(names)) != len(names):
            raise ValueError(f"energy band names repeat: {names}")
        known = set(COMPONENTS) | set(names)
        for tax in self.taxes:
            unknown = [c for c in tax.applies_to if c not in known]
            if unknown:
                raise ValueError(
                    f"tax {tax.name!r} applies to unknown component(s) {unknown}; "
                    f"known: {sorted(known)}"
                )
        return self


def _windows(t: Tariff) -> list[Window]:
    out: list[Window] = []
    if isinstance(t.energy, TimeOfUse):
        out += [w for b in t.energy.bands for w in b.windows]
    if t.feed_in is not None and t.feed_in.bands:
        out += [w for b in t.feed_in.bands for w in b.windows]
    if t.demand is not None and t.demand.windows:
        out += t.demand.windows
    return out


def window_table(windows: list[Window], holidays: bool) -> Any:
    """Bool array [month 0-11, day type, minute of day]: where any of `windows` applies."""
    import numpy as np

    kinds = DAY_TYPES if holidays else DAY_TYPES[:2]
    table = np.zeros((12, len(kinds), MINUTES), dtype=bool)
    for w in windows:
        for d in w.day_types(holidays):
            for m in w.month_list():
                for a, b in w.minutes():
                    table[m - 1, kinds.index(d), a:b] = True
    return table


def band_counts(bands: list[Band], holidays: bool) -> Any:
    """Int array [band, month, day type, minute]: how often each band covers each minute."""
    import numpy as np

    return np.stack([window_table(b.windows, holidays) for b in bands]).astype("int8")


def _ranges(mask: Any) -> list[tuple[int, int]]:
    import numpy as np

    edges = np.diff(np.concatenate([[0], mask.astype("int8"), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def _month_text(months: list[int]) -> str:
    if months == list(range(1, 13)):
        return "all months"
    return ", ".join(MONTHS[m - 1].capitalize() for m in months)


def check_coverage(bands: list[Band], holidays: bool, where: str) -> None:
    """Raise ValueError naming the local hours no band covers, or that two bands cover."""
    kinds = DAY_TYPES if holidays else DAY_TYPES[:2]
    counts = band_counts(bands, holidays)
    total = counts.sum(axis=0)
    problems: dict[tuple[str, str], list[int]] = {}
    for mi in range(12):
        for di, day in enumerate(kinds):
            for a, b in _ranges(total[mi, di] == 0):
                key = (f"{day}s {format_clock(a)}-{format_clock(b)}", "no band covers")
                problems.setdefault(key, []).append(mi + 1)
            for a, b in _ranges(total[mi, di] > 1):
                names = [bands[k].name for k in range(len(bands)) if counts[k, mi, di, a:b].any()]
                key = (f"{day}s {format_clock(a)}-{format_clock(b)}", f"bands {names} overlap on")
                problems.setdefault(key, []).append(mi + 1)
    if problems:
        lines = [f"{what} {span} ({_month_text(ms)})" for (span, what), ms in problems.items()]
        shown = "; ".join(lines[:6]) + (f"; and {len(lines) - 6} more" if len(lines) > 6 else "")
        raise ValueError(f"{where}: every local time must be in exactly one band: {shown}")


def load_tariff(path: str | Path) -> Tariff:
    """Read and validate a tariff YAML; errors name the file, line and key.

    A relative signal path is taken from the working folder when it exists there, else from
    the tariff file's folder."""
    tariff = load_yaml_model(Tariff, path)
    if isinstance(tariff.energy, Dynamic):
        sig = tariff.energy.signal
        given = sig.path.expanded
        beside = Path(path).parent / given
        if not given.is_absolute() and not given.exists() and beside.exists():
            sig.path = ConfigPath(str(beside))
    return tariff
