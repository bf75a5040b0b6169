"""Rolling-origin backtests with no leakage.

At each origin the model sees the history strictly before the origin (targets and all
covariates) and, for the horizon, only the known-future covariates: the target and observed
covariates of the horizon are removed before the model is called, and kept aside for scoring.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import pandas as pd

from forecasting.config.values import parse_timezone
from forecasting.data.schema import SERIES, TARGET, TIME
from forecasting.data.timestamps import standard_offset
from forecasting.errors import InputError


class Forecaster(Protocol):
    quantiles: list[float]
    lookback: int  # intervals of history predict() wants

    def predict(
        self, history: pd.DataFrame, future: pd.DataFrame, static: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        """Forecast every series in `future` (rows: series_id, timestamp, known-future covariates).

        Returns series_id, origin, timestamp, horizon and one column per quantile.
        """
        ...


@dataclass(frozen=True)
class Window:
    origin: pd.Timestamp
    history: pd.DataFrame  # timestamp < origin, at most `lookback` intervals
    future: pd.DataFrame  # the horizon, with targets (for scoring only)


@dataclass(frozen=True)
class RollingOrigin:
    """Origins every `step` intervals, forecasting `horizon` intervals from `lookback` of history.

    `origin_hour` aligns origins to that local hour in `timezone` (e.g. 0 for daily origins at
    local midnight; a tuple such as (0, 12) for several a day); daily data has one origin a
    day whatever the hour. Origins lie on the data's grid. `start`/`end` bound the origins;
    the horizon of the last origin must end by the data's end.
    """

    horizon: int = 24
    lookback: int = 168
    step: int = 24
    freq: str = "1h"
    start: str | pd.Timestamp | None = None
    end: str | pd.Timestamp | None = None
    origin_hour: int | tuple[int, ...] | None = 0
    timezone: str = "UTC"

    def _bound(self, value: str | pd.Timestamp | None, daily: bool) -> pd.Timestamp | None:
        """A bound as UTC; a local date or time in `timezone`, in its standard time for daily
        data (whose days start at local midnight in standard time all year)."""
        if value is None:
            return None
        t = pd.Timestamp(value)
        if t.tz is not None:
            return t.tz_convert("UTC")
        zone: Any = self.timezone
        if daily:
            zone = dt.timezone(standard_offset(parse_timezone(self.timezone)).to_pytimedelta())
        return t.tz_localize(zone).tz_convert("UTC")

    def origins(self, frame: pd.DataFrame) -> pd.DatetimeIndex:
        step = pd.Timedelta(self.freq)
        t0 = frame[TIME].min() + self.lookback * step
        t1 = frame[TIME].max() - (self.horizon - 1) * step
        daily = step >= pd.Timedelta("1D")
        lo, hi = self._bound(self.start, daily), self._bound(self.end, daily)
        t0 = max(t0, lo) if lo is not None else t0
        t1 = min(t1, hi) if hi is not None else t1
        if t0 > t1:
            return pd.DatetimeIndex([], tz="UTC")
        base = frame[TIME].min()  # on the data's grid (days may start at 14:00 UTC)
        t0 = base + -((base - t0) // step) * step  # the first grid point at or after t0
        candidates = pd.date_range(t0, t1, freq=self.freq)
        if self.origin_hour is not None and not daily:
            local = candidates.tz_convert(self.timezone)
            hours = (self.origin_hour,) if isinstance(self.origin_hour, int) else self.origin_hour
            candidates = candidates[local.hour.isin(hours) & (local.minute == 0)]
            if len(candidates) == 0:
                return candidates
            per_day = max(1, int(pd.Timedelta("1D") / step))  # intervals in a day of the data
            if self.step % per_day == 0:  # count local days, so origins stay on the hour at DST
                local_days = candidates.tz_convert(self.timezone).normalize()
                keep = (local_days - local_days[0]).days % (self.step // per_day) == 0
            else:
                keep = ((candidates - candidates[0]) / step) % self.step == 0
            return candidates[keep]
        return candidates[:: self.step]

    def split(self, frame: pd.DataFrame) -> Iterator[Window]:
        step = pd.Timedelta(self.freq)
        for origin in self.origins(frame):
            hist = frame[(frame[TIME] < origin) & (frame[TIME] >= origin - self.lookback * step)]
            fut = frame[(frame[TIME] >= origin) & (frame[TIME] < origin + self.horizon * step)]
            yield Window(origin, hist, fut)


def check_horizon_reads(model: Any, frame: pd.DataFrame, known_future: list[str] | None) -> None:
    """Refuse a model that reads, at the target times, a covariate of `frame` outside
    `known_future` (a measured one): the backtest would hand it the future."""
    features = getattr(model, "features", None)
    if known_future is None or features is None:
        return
    reads = [c for c in features.horizon_covariates if c in frame.columns]
    leaking = [c for c in reads if c not in known_future]
    if leaking:
        raise InputError(
            f"the model reads covariate(s) {leaking} at the target times, but the data declares "
            f"them measured (known-future here: {known_future or 'none'}): the backtest would "
            "hand it their future; declare them known_future in the data config only if their "
            "horizon is really known, or retrain with them as observed covariates"
        )


def backtest(
    model: Forecaster,
    frame: pd.DataFrame,
    splitter: RollingOrigin,
    known_future: list[str] | None = None,
    static: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Forecasts for every origin, with the `actual` target joined for scoring.

    Models with a vectorised `forecast(frame, origins, static)` (the window models, which by
    construction read no target at or after an origin; a test perturbs the future to check)
    forecast all origins in one call; others are called once per origin with the history and
    the target-free future.
    """
    actual = frame[[SERIES, TIME, TARGET]].rename(columns={TARGET: "actual"})
    # models with a horizon of their own forecast every origin in one call
    forecast = getattr(model, "forecast", None) if getattr(model, "horizon", None) else None
    if forecast is not None:
        check_horizon_reads(model, frame, known_future)
        origins = splitter.origins(frame)
        if len(origins) == 0:
            return pd.DataFrame()
        fc = forecast(frame, origins, static)
        return fc.merge(actual, on=[SERIES, TIME], how="left")
    keep = [SERIES, TIME, *(known_future or [])]
    parts = []
    for w in splitter.split(frame):
        if w.future.empty or w.history.empty:
            continue
        fc = model.predict(w.history, w.future[keep].copy(), static)
        got = w.future[[SERIES, TIME, TARGET]].rename(columns={TARGET: "actual"})
        parts.append(fc.merge(got, on=[SERIES, TIME], how="left"))
    if not parts:
        return pd.DataFrame()
    return pd.concat(parts, ignore_index=True)
