"""Public holidays as a serialisable calendar: a country (via the `holidays` package) plus dates.

The calendar travels in `dataset.json` and in model bundles, so serving computes the same
holiday flags as training without the original files.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from forecasting.config.data import HolidaySpec
from forecasting.data.readers import file_columns, read_table, resolve_inputs
from forecasting.errors import ConfigError, InputError


@functools.lru_cache(maxsize=256)
def _country_holidays(
    country: str, subdivision: str | None, years: tuple[int, ...]
) -> tuple[tuple[dt.date, str], ...]:
    """A country's holidays in those years (kept: serving asks for the same ones per request)."""
    import holidays

    try:
        days = holidays.country_holidays(country, subdiv=subdivision, years=list(years))
    except NotImplementedError:
        raise ConfigError(f"calendar.holidays.country: unknown country code {country!r}") from None
    except ValueError as exc:
        raise ConfigError(f"calendar.holidays: {exc}") from None
    return tuple(sorted(days.items()))


@dataclass(frozen=True)
class HolidayCalendar:
    country: str | None = None
    subdivision: str | None = None
    dates: tuple[str, ...] = field(default_factory=tuple)  # ISO dates, local calendar

    @classmethod
    def from_spec(cls, spec: HolidaySpec) -> HolidayCalendar:
        dates: tuple[str, ...] = ()
        if spec.file:
            path = resolve_inputs(spec.file, "holiday file")[0]
            column = spec.date_column or file_columns(path)[0]
            raw = read_table(path, [column], what="holiday file")[column]
            parsed = pd.to_datetime(
                raw.astype("string").str.strip(), errors="coerce", format="ISO8601"
            )
            if parsed.isna().any():
                bad = raw[parsed.isna()].iloc[0]
                row = int(np.flatnonzero(parsed.isna().to_numpy())[0]) + 1
                raise InputError(f"{path}: row {row}: {column}={bad!r} is not a date (YYYY-MM-DD)")
            dates = tuple(sorted({d.date().isoformat() for d in parsed}))
        if spec.country:
            cls._country_holidays(spec.country, spec.subdivision, [2020])
        return cls(spec.country, spec.subdivision, dates)

    @staticmethod
    def _country_holidays(
        country: str, subdivision: str | None, years: list[int]
    ) -> dict[dt.date, str]:
        return dict(_country_holidays(country, subdivision, tuple(years)))

    def holiday_dates(self, years: list[int]) -> set[dt.date]:
        out = {dt.date.fromisoformat(d) for d in self.dates}
        if self.country:
            out |= {d for d, _ in _country_holidays(self.country, self.subdivision, tuple(years))}
        return out

    def flags(self, local_days: pd.Series | pd.DatetimeIndex) -> np.ndarray:
        """True where the local calendar day (datetime-like, any time of day) is a holiday."""
        days = pd.DatetimeIndex(pd.to_datetime(local_days)).normalize()
        if days.empty:
            return np.zeros(0, dtype=bool)
        years = sorted({int(y) for y in days.year.dropna().unique()})
        hol = self.holiday_dates(years)
        if not hol:
            return np.zeros(len(days), dtype=bool)
        hol_idx = pd.DatetimeIndex(sorted(pd.Timestamp(d) for d in hol))
        naive = days.tz_localize(None) if days.tz is not None else days
        return np.asarray(naive.isin(hol_idx))

    def to_dict(self) -> dict[str, Any]:
        return {"country": self.country, "subdivision": self.subdivision, "dates": list(self.dates)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> HolidayCalendar:
        return cls(d.get("country"), d.get("subdivision"), tuple(d.get("dates", ())))
