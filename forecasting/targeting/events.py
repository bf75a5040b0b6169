"""Signal events and each treated household's observed response to them.

An **event** is a run of consecutive intervals at one signal level other than the reference
(a High evening, a Low night). A treated household's **response** to an event is its
weighted relative change against a counterfactual built from the control group:

    counterfactual[h, t] = ratio[h, cell(t)] * control_mean[t]
    ratio[h, c]          = sum of h's kWh / sum of control_mean, over the reference-level
                           intervals in cell c (local hour x weekday/weekend) of the
                           `baseline_days` days before the event's day (what a retailer
                           knows then; the ratio follows the seasons)
    response[h, e]       = sum_t w_t (kWh[h, t] - cf[h, t]) / sum_t w_t cf[h, t],  t in e

so a household that uses 20% more than the control group on ordinary evenings is not read
as responding on a High evening. Its **noise** on that event is the spread of the same
statistic over placebo events: the event's hours moved by whole days (up to `placebo_days`
either way) onto days without any event at those hours.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecasting.errors import InputError
from forecasting.response.config import parse_band


@dataclass
class Events:
    level: np.ndarray  # [event] level name
    start: np.ndarray  # [event] first interval
    stop: np.ndarray  # [event] one past the last interval
    when: pd.DatetimeIndex  # [event] UTC start time

    def __len__(self) -> int:
        return len(self.level)


def find_events(levels: np.ndarray, times: pd.DatetimeIndex, reference: str) -> Events:
    """Runs of one non-reference level in the signal on the grid `times`."""
    change = np.r_[True, levels[1:] != levels[:-1]]
    first = np.flatnonzero(change)
    last = np.r_[first[1:], len(levels)]
    keep = levels[first] != reference
    return Events(levels[first][keep], first[keep], last[keep], times[first[keep]])


def hour_weights(
    times: pd.DatetimeIndex, levels: np.ndarray, rules: list, timezone: str
) -> np.ndarray:
    """Weight of each interval: the product of the rules that match its level and local time."""
    w = np.ones(len(times))
    local = times.tz_convert(timezone)
    minute = np.asarray(local.hour * 60 + local.minute)
    for rule in rules:
        inside = np.zeros(len(times), bool)
        for band in parse_band(rule.level, rule.hours):
            inside |= (minute >= band.start) & (minute < band.end)
        w[inside & (levels == rule.level)] *= rule.weight
    return w


@dataclass
class Responses:
    """Observed responses: `y[h, e]` relative change, `noise[h, e]` its placebo sd, `base[h,
    e]` the weighted counterfactual kWh (what a relative change multiplies); NaN where the
    household's readings do not cover the event."""

    ids: np.ndarray
    groups: np.ndarray
    events: Events
    y: np.ndarray
    noise: np.ndarray
    base: np.ndarray


def measure_responses(kwh: np.ndarray, treated: np.ndarray, ids: np.ndarray, groups: np.ndarray,
                      times: pd.DatetimeIndex, levels: np.ndarray, reference: str,
                      weights: np.ndarray, timezone: str, placebo_days: int = 14,
                      min_coverage: float = 0.5, baseline_days: int = 28,
                      matched: int = 10) -> Responses:  # fmt: skip
    """Responses of the treated households (rows of `kwh[household, interval]` where
    `treated`) to every event, against the control households (the other rows)."""
    if treated.all() or not treated.any():
        raise InputError(f"the trial needs treated and control households: {int(treated.sum())} "
                         f"treated, {int((~treated).sum())} control")  # fmt: skip
    k, kc = kwh[treated], kwh[~treated]
    local = times.tz_convert(timezone)
    cell = np.asarray(local.hour) * 2 + (np.asarray(local.dayofweek) >= 5)
    per_day = int(pd.Timedelta(days=1) / (times[1] - times[0]))
    quiet = levels == reference  # no event at t
    events = find_events(levels, times, reference)
    n_h, n_e = len(k), len(events)
    y, noise, base = (np.full((n_h, n_e), np.nan) for _ in range(3))
    for e in range(n_e):
        span = np.arange(events.start[e], events.stop[e])
        first = (span[0] // per_day - baseline_days) * per_day
        if first < 0:  # too early in the data to know the household's usual ratio
            continue
        window = np.arange(first, first + baseline_days * per_day)
        model = _Counterfactual(k, kc, window[quiet[window]], cell, matched, per_day)
        y[:, e], base[:, e] = _weighted_change(k, model.at(span), span, weights[span], min_coverage)
        placebo = []
        for d in [*range(-placebo_days, 0), *range(1, placebo_days + 1)]:
            moved = span + d * per_day
            if moved[0] < 0 or moved[-1] >= len(times) or not quiet[moved].all():
                continue
            placebo.append(
                _weighted_change(k, model.at(moved), moved, weights[span], min_coverage)[0]
            )
        if len(placebo) >= 3:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                noise[:, e] = np.nanstd(np.array(placebo), axis=0, ddof=1)
    # an event with too few placebo days borrows the household's median noise
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fill = np.nanmedian(noise, axis=1)
    noise = np.where(np.isfinite(noise), noise, fill[:, None])
    noise = np.maximum(noise, 1e-3)
    return Responses(ids[treated], groups[treated], events, y, noise, base)


class _Counterfactual:
    """Each treated household's counterfactual from the `matched` control households whose
    daily kWh over the baseline window correlate best with its own (a heating home is
    compared with heating homes), times its ratio to their mean by cell."""

    def __init__(self, k: np.ndarray, kc: np.ndarray, window: np.ndarray, cell: np.ndarray,
                 matched: int, per_day: int) -> None:  # fmt: skip
        self.kc = kc
        day = (window - window[0]) // per_day if len(window) else window
        n_days = int(day.max()) + 1 if len(window) else 0

        def daily(m: np.ndarray) -> np.ndarray:
            out = np.zeros((len(m), n_days))
            for d in range(n_days):
                out[:, d] = np.nanmean(m[:, window[day == d]], axis=1) if (day == d).any() else 0
            return np.nan_to_num(out)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            dt, dc = daily(k), daily(kc)
        zt = (dt - dt.mean(axis=1, keepdims=True)) / (dt.std(axis=1, keepdims=True) + 1e-9)
        zc = (dc - dc.mean(axis=1, keepdims=True)) / (dc.std(axis=1, keepdims=True) + 1e-9)
        corr = zt @ zc.T / max(n_days, 1)
        m = min(matched, len(kc))
        self.top = np.argpartition(-corr, m - 1, axis=1)[:, :m]  # [treated, matched]
        mean_w = self._mean(window)
        both = np.isfinite(k[:, window]) & np.isfinite(mean_w)
        num = np.zeros((len(k), 48))
        den = np.zeros((len(k), 48))
        for h in range(len(k)):
            c = cell[window]
            num[h] = np.bincount(c, np.where(both[h], k[h, window], 0), 48)
            den[h] = np.bincount(c, np.where(both[h], mean_w[h], 0), 48)
        self.ratio = np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
        self.cell = cell

    def _mean(self, span: np.ndarray) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmean(self.kc[:, span][self.top], axis=1)

    def at(self, span: np.ndarray) -> np.ndarray:
        return self.ratio[:, self.cell[span]] * self._mean(span)


def _weighted_change(k: np.ndarray, cc: np.ndarray, span: np.ndarray, ww: np.ndarray,
                     min_coverage: float) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(relative change, counterfactual kWh weighted and scaled to the whole span) per row,
    over the intervals `span` weighted by `ww`, `cc` the counterfactual there."""
    kk = k[:, span]
    ok = np.isfinite(kk) & np.isfinite(cc)
    num = np.where(ok, ww * (kk - cc), 0).sum(axis=1)
    den = np.where(ok, ww * cc, 0).sum(axis=1)
    covered = ok.mean(axis=1) >= min_coverage
    good = covered & (den > 0)
    return (np.where(good, num / np.where(good, den, 1), np.nan),
            np.where(good, den / np.maximum(ok.mean(axis=1), 1e-9), np.nan))  # fmt: skip
