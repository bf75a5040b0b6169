"""What the tariff says about each interval of a time grid: billing period, day type, band.

Everything here is per timestamp, never per customer: a grid of a year of half-hours is
17,520 lookups however many customers share it. Local time is the tariff's timezone, so a
band boundary at 16:00 is 16:00 on the clock on both sides of a DST change, and a billing
month runs from local midnight to local midnight.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecasting.data.holidays import HolidayCalendar
from forecasting.data.readers import read_table, resolve_inputs
from forecasting.data.schema import format_freq
from forecasting.errors import ConfigError, InputError
from forecasting.tariffs.spec import (
    DAY_TYPES,
    MINUTES,
    Band,
    Dynamic,
    Tariff,
    TimeOfUse,
    band_counts,
    format_clock,
    window_table,
)


def utc_ns(values: object) -> np.ndarray:
    """int64 nanoseconds since the epoch of timestamps (tz-aware, or naive meaning UTC)."""
    idx = pd.DatetimeIndex(values)
    idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
    per_ns = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}[idx.unit]
    return np.asarray(idx.asi8) * per_ns


@dataclass(frozen=True)
class Cycle:
    """Billing periods: `months` long (1 monthly, 3 quarterly), starting on local day `day`."""

    months: int = 1
    day: int = 1

    def __post_init__(self) -> None:
        if self.months not in (1, 2, 3, 4, 6, 12):
            raise ConfigError(f"billing cycle of {self.months} months: use 1, 2, 3, 4, 6 or 12")
        if not 1 <= self.day <= 28:
            raise ConfigError(f"billing cycle day {self.day}: use a day of the month from 1 to 28")

    def period_index(self, local_dates: np.ndarray) -> np.ndarray:
        """Period number (months since year 0, at the period's first month) of each local date."""
        shifted = pd.DatetimeIndex(local_dates) - pd.Timedelta(days=self.day - 1)
        ym = shifted.year.to_numpy() * 12 + shifted.month.to_numpy() - 1
        return (ym // self.months * self.months).astype("int64")

    def start(self, period: np.ndarray) -> np.ndarray:
        """First local date (datetime64[D]) of each period number."""
        months = (np.asarray(period, dtype="int64") - 1970 * 12).astype("datetime64[M]")
        return months.astype("datetime64[D]") + np.timedelta64(self.day - 1, "D")

    def end(self, period: np.ndarray) -> np.ndarray:
        """Last local date (inclusive) of each period number."""
        return self.start(np.asarray(period) + self.months) - np.timedelta64(1, "D")

    def label(self, period: np.ndarray) -> np.ndarray:
        starts = self.start(period)
        if self.day == 1 and self.months == 1:
            return np.datetime_as_string(starts.astype("datetime64[M]"))
        return np.datetime_as_string(starts)


@dataclass
class GridFacts:
    """Per-interval facts of a regular UTC grid under one tariff and cycle."""

    period: np.ndarray  # int64 period number of each interval
    date: np.ndarray  # datetime64[D] local date of each interval
    energy_item: np.ndarray  # int index into tariff.energy_items(), -1: signal does not cover
    demand_in_window: np.ndarray | None  # bool per demand interval (see demand_grid)
    feed_in_band: np.ndarray | None  # int per interval when feed-in has bands


class PriceSignal:
    """A dynamic tariff's level series, read once: UTC interval starts and level codes."""

    def __init__(self, spec: Dynamic) -> None:
        s = spec.signal
        files = resolve_inputs(s.path, "price signal")
        raw = read_table(s.path, [s.timestamp, s.column], what="price signal")
        where = str(files[0]) if len(files) == 1 else s.path
        text = raw[s.timestamp].astype("string").str.strip()
        ts = pd.to_datetime(text, errors="coerce", format="ISO8601")
        if ts.isna().any():
            i = int(np.flatnonzero(ts.isna().to_numpy())[0])
            raise InputError(
                f"{where}: row {raw['_row'].iloc[i]}: {s.timestamp}={text.iloc[i]!r} is not a date-time"
            )
        if ts.dt.tz is None:
            try:
                ts = ts.dt.tz_localize(s.timezone.tzinfo, ambiguous="infer", nonexistent="raise")
            except (ValueError, TypeError) as exc:  # pandas' DST errors subclass ValueError
                raise InputError(
                    f"{where}: local times of the signal cannot be placed in {s.timezone} "
                    f"({str(exc).splitlines()[0]}); write them in UTC or with their offset"
                ) from None
        ts = ts.dt.tz_convert("UTC")
        levels = raw[s.column].astype("string").str.strip()
        names = list(spec.rates)
        unknown = ~levels.isin(names).to_numpy()
        if unknown.any():
            i = int(np.flatnonzero(unknown)[0])
            raise InputError(
                f"{where}: row {raw['_row'].iloc[i]}: {s.column}={levels.iloc[i]!r} is not a level "
                f"of the tariff (levels: {', '.join(names)}); {int(unknown.sum())} such rows"
            )
        order = np.argsort(utc_ns(ts), kind="stable")
        times = pd.DatetimeIndex(ts.iloc[order])
        if len(times) < 2:
            raise InputError(f"{where}: a price signal needs at least two rows")
        dup = np.flatnonzero(np.diff(utc_ns(times)) == 0)
        if len(dup):
            raise InputError(f"{where}: timestamp {times[dup[0]]} appears twice")
        self.step = pd.Timedelta(int(pd.Series(np.diff(utc_ns(times))).mode().iloc[0]), unit="ns")
        if s.label == "end":
            times = times - self.step
        self.times = utc_ns(times)
        self.codes = np.array([names.index(v) for v in levels.to_numpy()[order]], dtype="int64")
        self.where = where
        self.default = names.index(spec.default) if spec.default is not None else -1

    def levels(self, grid: pd.DatetimeIndex, step: pd.Timedelta) -> np.ndarray:
        """Level code of each grid interval; -1 where the signal does not cover it."""
        if step > self.step or self.step % step != pd.Timedelta(0):
            raise InputError(
                f"usage at {step} intervals cannot be billed under the {self.step} price signal "
                f"of {self.where} (each usage interval must fall inside one signal interval): "
                "give usage at the signal's interval or finer"
            )
        t, times = utc_ns(grid), self.times
        i = np.searchsorted(times, t, side="right") - 1
        inside = (i >= 0) & (t - times[np.clip(i, 0, None)] < self.step.value)
        return np.where(inside, self.codes[np.clip(i, 0, None)], self.default)


class TariffCalendar:
    """Band tables and holiday days of a tariff, ready to label any grid."""

    def __init__(self, tariff: Tariff, cycle: Cycle | None = None) -> None:
        self.tariff = tariff
        self.cycle = cycle or Cycle()
        self.holidays = (
            HolidayCalendar.from_spec(tariff.holidays) if tariff.holidays is not None else None
        )
        e = tariff.energy
        self.energy_bands = self._band_index(e.bands) if isinstance(e, TimeOfUse) else None
        self.signal = PriceSignal(e) if isinstance(e, Dynamic) else None
        fi = tariff.feed_in
        self.feed_in_bands = self._band_index(fi.bands) if fi is not None and fi.bands else None
        d = tariff.demand
        self.demand_step = d.interval.step if d is not None else None
        self.demand_table = (
            window_table(d.windows, self.holidays is not None)
            if d is not None and d.windows
            else None
        )
        self._cache: dict[tuple[object, ...], GridFacts] = {}

    def _band_index(self, bands: list[Band]) -> np.ndarray:
        counts = band_counts(bands, self.holidays is not None)
        return np.argmax(counts, axis=0).astype("int64")  # coverage is exactly one (validated)

    def _day_kind(self, local: pd.DatetimeIndex) -> np.ndarray:
        kind = (local.dayofweek.to_numpy() >= 5).astype("int64")
        if self.holidays is not None:
            dates = local.tz_localize(None).normalize()
            years = sorted({int(y) for y in np.unique(local.year)})
            hol = pd.DatetimeIndex(
                sorted(pd.Timestamp(d) for d in self.holidays.holiday_dates(years))
            )
            kind = np.where(dates.isin(hol), DAY_TYPES.index("holiday"), kind)
        return kind

    def _lookup(self, table: np.ndarray, local: pd.DatetimeIndex, kind: np.ndarray) -> np.ndarray:
        minute = local.hour.to_numpy() * 60 + local.minute.to_numpy()
        return table[local.month.to_numpy() - 1, kind, minute]

    @staticmethod
    def _check_aligned(
        table: np.ndarray, local: pd.DatetimeIndex, step: pd.Timedelta, what: str
    ) -> None:
        """Each usage interval must lie inside one band: no band boundary inside an interval."""
        width = int(step / pd.Timedelta(minutes=1))
        if width <= 1:
            return
        starts = np.unique(local.hour.to_numpy() * 60 + local.minute.to_numpy())
        for m in starts:
            seg = table[..., m : min(m + width, MINUTES)]
            inside = (seg != seg[..., :1]).any(axis=(0, 1))
            if inside.any():
                at = m + int(np.flatnonzero(inside)[0])
                raise InputError(
                    f"{what}: a band boundary at {format_clock(at)} local time falls inside the "
                    f"{format_clock(m)} usage interval ({step} long): give usage at an interval "
                    "that divides the band boundaries"
                )

    def facts(self, start: pd.Timestamp, n: int, step: pd.Timedelta) -> GridFacts:
        """Facts of the grid `start + k * step`, k < n (start: UTC interval start)."""
        key = (start, n, step)
        if key in self._cache:
            return self._cache[key]
        grid = pd.date_range(start, periods=n, freq=step)
        local = grid.tz_convert(self.tariff.timezone)
        kind = self._day_kind(local)
        dates = local.tz_localize(None).normalize().to_numpy().astype("datetime64[D]")
        period = self.cycle.period_index(dates)
        if self.energy_bands is not None:
            self._check_aligned(self.energy_bands, local, step, "energy bands")
            energy = self._lookup(self.energy_bands, local, kind)
        elif self.signal is not None:
            energy = self.signal.levels(grid, step)
        else:
            energy = np.zeros(n, dtype="int64")
        feed = None
        if self.feed_in_bands is not None:
            self._check_aligned(self.feed_in_bands, local, step, "feed-in bands")
            feed = self._lookup(self.feed_in_bands, local, kind)
        demand = None
        if self.demand_step is not None:
            demand = self._demand_window(start, n, step)
        facts = GridFacts(period, dates, energy, demand, feed)
        if len(self._cache) > 8:
            self._cache.clear()
        self._cache[key] = facts
        return facts

    def demand_grid(self, start: pd.Timestamp, n: int, step: pd.Timedelta) -> tuple[int, int, int]:
        """(k usage intervals per demand interval, pad before, number of demand intervals)."""
        assert self.demand_step is not None
        if step > self.demand_step or self.demand_step % step != pd.Timedelta(0):
            raise InputError(
                f"the demand charge measures demand over {format_freq(self.demand_step)}, which "
                f"usage at {format_freq(step)} intervals cannot resolve: give usage at "
                f"{format_freq(self.demand_step)} or finer"
            )
        k = int(self.demand_step / step)
        epoch = pd.Timestamp("1970-01-01", tz="UTC")
        pad = int(((start - epoch) % self.demand_step) / step)
        count = -(-(pad + n) // k)
        return k, pad, count

    def _demand_window(self, start: pd.Timestamp, n: int, step: pd.Timedelta) -> np.ndarray:
        _, pad, count = self.demand_grid(start, n, step)
        if self.demand_table is None:
            return np.ones(count, dtype=bool)
        assert self.demand_step is not None
        first = start - pad * step
        local = pd.date_range(first, periods=count, freq=self.demand_step).tz_convert(
            self.tariff.timezone
        )
        self._check_aligned(self.demand_table, local, self.demand_step, "demand windows")
        return self._lookup(self.demand_table, local, self._day_kind(local)).astype(bool)

    def day_intervals(
        self, first: dt.date | np.datetime64, last: dt.date | np.datetime64, step: pd.Timedelta
    ) -> tuple[np.ndarray, np.ndarray]:
        """(local dates, intervals on each) from `first` to `last` inclusive: 46 or 50 half-hours
        on the DST change days of Europe/London, 48 on the others."""
        tz = self.tariff.timezone
        d0 = pd.Timestamp(first).tz_localize(tz)
        d1 = (pd.Timestamp(last) + pd.Timedelta(days=1)).tz_localize(tz)
        grid = pd.date_range(
            d0.tz_convert("UTC"), d1.tz_convert("UTC"), freq=step, inclusive="left"
        )
        dates = grid.tz_convert(tz).tz_localize(None).normalize().to_numpy().astype("datetime64[D]")
        days, counts = np.unique(dates, return_counts=True)
        return days, counts
