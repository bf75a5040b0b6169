"""Honest baselines in the forecaster interface: seasonal naive (same hour last week),
yesterday's profile and the mean weekday-hour profile.

`SeasonalNaive` repeats the value one season back (default the same hour last week) and
draws its quantiles from the empirical distribution of that season's changes in the history
(per series), so its intervals are calibrated on each series' own past.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from forecasting.config.values import Duration, steps
from forecasting.data.schema import SERIES, TARGET, TIME
from forecasting.errors import InputError
from forecasting.evaluation.metrics import quantile_column


def intervals_in(span: str, freq: str | pd.Timedelta) -> int:
    """How many intervals of `freq` make `span` ('1D', '7D')."""
    return steps(Duration(span), pd.Timedelta(freq), "season")


class SeasonalNaive:
    """P50 = y(t - season); other quantiles add that quantile of the series' past seasonal
    differences y(s) - y(s - season) within the history."""

    kind = "seasonal_naive"

    def __init__(
        self,
        season: int | None = None,
        quantiles: list[float] | None = None,
        freq: str = "1h",
        nonnegative: bool = True,
        history: int | None = None,
        horizon: int | None = None,
    ):
        """`season` and `history` are intervals of `freq`; by default one week and four
        weeks at that interval (168 and 672 hourly, 336 and 1,344 half-hourly). With a
        `horizon`, `forecast` serves every origin at once (backtests use it)."""
        self.horizon = horizon
        self.season = season or intervals_in("7D", freq)
        self.quantiles = quantiles or [0.1, 0.5, 0.9]
        self.freq = freq
        self.nonnegative = nonnegative
        history = history or intervals_in("28D", freq)
        self.lookback = max(history, self.season)  # intervals of history predict() wants

    def fit(self, frame: pd.DataFrame) -> SeasonalNaive:
        return self  # nothing to learn globally: everything comes from each series' history

    def predict(
        self, history: pd.DataFrame, future: pd.DataFrame, static: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        step = pd.Timedelta(self.freq)
        origin = future[TIME].min()
        hist = history[[SERIES, TIME, TARGET]]
        # value one season before each future timestamp, from history only (horizon <= season)
        lookup = hist.rename(columns={TIME: "_src", TARGET: "_base"})
        fut = future[[SERIES, TIME]].copy()
        fut["_src"] = fut[TIME] - self.season * step
        fut = fut.merge(lookup, on=[SERIES, "_src"], how="left")
        fut.loc[fut["_src"] >= origin, "_base"] = np.nan  # never reach into the horizon
        # per-series empirical quantiles of seasonal differences within the history
        h = hist.sort_values([SERIES, TIME])
        prev = h.rename(columns={TIME: "_t0", TARGET: "_y0"})
        h = h.assign(_t0=h[TIME] - self.season * step).merge(prev, on=[SERIES, "_t0"], how="left")
        h["_d"] = h[TARGET] - h["_y0"]
        qs = h.groupby(SERIES)["_d"].quantile(self.quantiles).unstack()
        qs.columns = [quantile_column(q) for q in qs.columns]
        fut = fut.merge(qs, left_on=SERIES, right_index=True, how="left")
        return _finish(fut, "_base", self.quantiles, origin, step, self.nonnegative)

    def forecast(
        self, frame: pd.DataFrame, origins: pd.DatetimeIndex, static: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        """Every origin at once on a [series, time] grid: the rows `predict` gives for each
        origin's window (the frame's rows in the horizon of windows with history), without a
        pandas merge per origin. `backtest` uses it. Like the other global models it reads its
        own `lookback` of history (four weeks by default), whatever a splitter would cut."""
        step = pd.Timedelta(self.freq)
        origins = pd.DatetimeIndex(origins)
        cols = [SERIES, "origin", TIME, "horizon", *(quantile_column(q) for q in self.quantiles)]
        if frame.empty or len(origins) == 0:
            return pd.DataFrame(columns=cols)
        if self.horizon is None:
            raise InputError("seasonal naive forecasts all origins at once only with a horizon")
        L, S, H = self.lookback, self.season, self.horizon
        codes, series = pd.factorize(frame[SERIES], sort=True)
        t0 = min(frame[TIME].min(), origins.min() - L * step)
        t1 = max(frame[TIME].max(), origins.max() + H * step)
        n_t = int((t1 - t0) / step) + 1
        ti = ((frame[TIME] - t0) / step).to_numpy().astype(np.int64)
        present = np.zeros((len(series), n_t), dtype=bool)
        present[codes, ti] = True
        y = np.full((len(series), n_t), np.nan)
        y[codes, ti] = frame[TARGET].to_numpy(dtype="float64")
        oi = ((origins - t0) / step).to_numpy().astype(np.int64)
        parts = []
        for o, at in zip(origins, oi, strict=True):
            past, ahead = present[:, at - L : at], present[:, at : at + H]
            if not past.any() or not ahead.any():
                continue  # `backtest` skips a window without history or future
            hist = np.where(past, y[:, at - L : at], np.nan)
            base = np.full((len(series), H), np.nan)
            h = np.arange(H)
            inside = h < S  # the value one season back lies in the history
            base[:, inside] = hist[:, L - S + h[inside]]
            diffs = hist[:, S:] - hist[:, :-S] if L > S else np.full((len(series), 0), np.nan)
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # a series without diffs: NaN
                spread = np.nanquantile(diffs, self.quantiles, axis=1) if diffs.shape[1] else (
                    np.full((len(self.quantiles), len(series)), np.nan)
                )  # fmt: skip
            s_idx, k = np.nonzero(ahead)
            values = []
            for i, q in enumerate(self.quantiles):
                add = 0.0 if q == 0.5 else np.nan_to_num(spread[i][s_idx], nan=0.0)
                v = base[s_idx, k] + add
                values.append(np.clip(v, 0, None) if self.nonnegative else v)
            block = np.sort(np.column_stack(values), axis=1)
            part = pd.DataFrame({
                SERIES: series[s_idx], "origin": o, TIME: o + k * step, "horizon": k + 1,
            })  # fmt: skip
            for i, q in enumerate(self.quantiles):
                part[quantile_column(q)] = block[:, i]
            parts.append(part)
        if not parts:
            return pd.DataFrame(columns=cols)
        out = pd.concat(parts, ignore_index=True)
        out[SERIES] = out[SERIES].astype(frame[SERIES].dtype)
        out["horizon"] = out["horizon"].astype("int64")
        return out[cols]


def _finish(
    fut: pd.DataFrame,
    point: str,
    quantiles: list[float],
    origin: pd.Timestamp,
    step: pd.Timedelta,
    nonnegative: bool,
) -> pd.DataFrame:
    """Long output from a point forecast column plus per-quantile spread columns (p10, ...)."""
    out = fut[[SERIES, TIME]].copy()
    out.insert(1, "origin", origin)
    out["horizon"] = ((out[TIME] - origin) / step).astype("int64") + 1
    for q in quantiles:
        col = quantile_column(q)
        spread = fut[col].fillna(0.0) if q != 0.5 else 0.0
        values = fut[point] + spread
        out[col] = values.clip(lower=0) if nonnegative else values
    cols = [quantile_column(q) for q in quantiles]
    out[cols] = np.sort(out[cols].to_numpy(), axis=1)  # no crossing
    return out.reset_index(drop=True)


class Yesterday(SeasonalNaive):
    """Yesterday's profile: seasonal naive with a one-day season at the data's interval."""

    kind = "yesterday"

    def __init__(self, quantiles: list[float] | None = None, freq: str = "1h", **kw: object):
        super().__init__(intervals_in("1D", freq), quantiles, freq, **kw)  # type: ignore[arg-type]


class WeekdayHourProfile:
    """Mean by local weekday and time of day over the last `weeks` of history (per series);
    quantiles add that quantile of the profile's residuals in the same history."""

    kind = "profile"

    def __init__(
        self,
        weeks: int = 4,
        quantiles: list[float] | None = None,
        freq: str = "1h",
        timezone: str = "UTC",
        nonnegative: bool = True,
    ):
        self.weeks = weeks
        self.quantiles = quantiles or [0.1, 0.5, 0.9]
        self.freq = freq
        self.timezone = timezone
        self.nonnegative = nonnegative
        self.lookback = weeks * intervals_in("7D", freq)

    def fit(self, frame: pd.DataFrame) -> WeekdayHourProfile:
        return self

    def _slot(self, t: pd.Series) -> pd.Series:
        local = t.dt.tz_convert(self.timezone)
        return local.dt.dayofweek * 1440 + local.dt.hour * 60 + local.dt.minute

    def predict(
        self, history: pd.DataFrame, future: pd.DataFrame, static: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        step = pd.Timedelta(self.freq)
        origin = future[TIME].min()
        h = history.loc[history[TIME] >= origin - self.lookback * step, [SERIES, TIME, TARGET]]
        h = h.assign(_slot=self._slot(h[TIME]))
        prof = h.groupby([SERIES, "_slot"], as_index=False)[TARGET].mean()
        prof = prof.rename(columns={TARGET: "_profile"})
        h = h.merge(prof, on=[SERIES, "_slot"], how="left")
        h["_r"] = h[TARGET] - h["_profile"]
        qs = h.groupby(SERIES)["_r"].quantile(self.quantiles).unstack()
        qs.columns = [quantile_column(q) for q in qs.columns]
        fut = future[[SERIES, TIME]].assign(_slot=lambda d: self._slot(d[TIME]))
        fut = fut.merge(prof, on=[SERIES, "_slot"], how="left")
        fut = fut.merge(qs, left_on=SERIES, right_index=True, how="left")
        return _finish(fut, "_profile", self.quantiles, origin, step, self.nonnegative)
