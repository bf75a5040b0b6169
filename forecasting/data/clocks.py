"""Which clock a file of wall-clock timestamps follows, told from the data.

A file written in local time with daylight saving has, per series, one hour fewer on each spring
change day (the wall hour that never existed) and, unless the writer dropped it, one hour twice
on each autumn day. Those days and wall hours are the zone's fingerprint: `clock_of` compares
them with every IANA zone's changes over the file's span and names the zones that fit, and
whether the timestamps mark interval starts or ends (an hour-ending file misses the hour *after*
the gap's start: 03:00 where New York skipped 02:00-03:00).

Used by `data init` (to write the zone) and by ingestion (a hint when a file read in UTC or a
fixed offset shows a zone's changes). A single meter's missing hour is a gap, not a clock
change: a zone is named only when at least 80% of its changes inside the data are seen.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

HOUR = pd.Timedelta(hours=1)
MIN_SHARE = 0.8  # of a zone's changes inside the data that must be seen to name it
SHOWN = 4  # zones named when the wall clock cannot tell them apart
DENSE_CELLS = 20_000_000  # (series x days) counted in one array up to this size, else sorted
# shown first when several zones keep the same clock (the markets and meters people meet most)
PREFERRED = (
    "Europe/London", "Europe/Berlin", "Europe/Paris", "Europe/Brussels", "Europe/Amsterdam",
    "Europe/Madrid", "Europe/Rome", "Europe/Oslo", "Europe/Helsinki", "Europe/Athens",
    "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles",
    "America/Toronto", "Australia/Sydney", "Australia/Melbourne", "Australia/Adelaide",
    "Pacific/Auckland", "America/Santiago", "America/Sao_Paulo", "Asia/Jerusalem",
)  # fmt: skip
_SKIP = (
    "Etc/",
    "SystemV/",
    "Antarctica/",
    "US/",
    "Canada/",
    "Mexico/",
    "Brazil/",
    "Chile/",
    "posix",
    "right/",
)


@dataclass(frozen=True)
class Changes:
    """Clock changes as wall-clock days: day -> time of day of the first affected slot (the
    first missing wall time on a spring day, the first repeated one on an autumn day)."""

    spring: dict[dt.date, pd.Timedelta]
    autumn: dict[dt.date, pd.Timedelta]
    days: frozenset[dt.date]  # the days the data covers


@dataclass(frozen=True)
class Clock:
    """The zones whose clock changes a file follows."""

    zones: list[str]  # best first; one per distinct UTC offset history when `ambiguous`
    label: str  # "start" or "end": what the timestamps mark
    ambiguous: bool  # the wall clock alone cannot tell these zones' offsets apart
    seen: int  # the zone's spring changes seen in the data (a missing wall hour)
    expected: int  # the zone's spring changes inside the data's span
    repeats: int  # the zone's autumn changes seen as a repeated wall hour
    also: int  # other zones with the same clock as zones[0]

    @property
    def zone(self) -> str:
        return self.zones[0]

    def describe(self) -> str:
        """One sentence: what was seen and which zone(s) it fits."""
        said = (
            f"its clock changes on the days and wall hours {self.zone}'s does ({self.seen} of "
            f"{self.expected} spring changes inside the data, {self.repeats} autumn repeats"
        )
        said += f"; {self.also} other zones keep the same clock)" if self.also else ")"
        if self.ambiguous:
            more = len(self.zones) - SHOWN
            said += (
                f"; the wall clock alone cannot tell {', '.join(self.zones[:SHOWN])}"
                + (f" (and {more} more)" if more > 0 else "")
                + " apart: choose the meter's zone"
            )
        if self.label == "end":
            said += (
                "; the slot missing on spring days is the one after the skipped hour: the "
                "timestamps mark interval ends"
            )
        return said


def observed_changes(wall: pd.Series, sid: pd.Series | None, step: pd.Timedelta) -> Changes | None:
    """Days where most series have one hour fewer (spring) or one hour more (autumn) wall-clock
    readings than a usual day; None when the step is not a fraction of an hour or days are not
    whole."""
    if step <= pd.Timedelta(0) or step > HOUR or HOUR % step:
        return None
    per_hour = int(HOUR / step)
    stamps = pd.to_datetime(wall)
    if getattr(stamps.dt, "tz", None) is not None:  # wall times parsed as UTC: drop the label
        stamps = stamps.dt.tz_localize(None)
    t = stamps.to_numpy(dtype="datetime64[ns]")
    codes = pd.factorize(sid.to_numpy())[0] if sid is not None else np.zeros(len(t), np.int64)
    ok = ~np.isnat(t) & (codes >= 0)
    t, codes = t[ok], codes[ok].astype(np.int64)
    if not len(t):
        return None
    # readings per (series, day), counted on integer keys (files have millions of rows)
    day = t.astype("datetime64[D]").astype(np.int64)
    d0 = int(day.min())
    n_days = int(day.max()) - d0 + 1
    key = codes * n_days + (day - d0)
    if (int(codes.max()) + 1) * n_days <= DENSE_CELLS:
        dense = np.bincount(key)
        pairs = np.flatnonzero(dense)
        n = dense[pairs]
    else:
        pairs, n = np.unique(key, return_counts=True)
    s_of, d_of = np.divmod(pairs, n_days)
    new_series = np.r_[True, s_of[1:] != s_of[:-1]]
    inner = ~(new_series | np.r_[new_series[1:], True])  # a series' first and last day: partial
    s_of, d_of, n = s_of[inner], d_of[inner], n[inner]
    if not len(n) or int(np.bincount(n).argmax()) != 24 * per_hour:
        return None
    usual = 24 * per_hour
    per_day = np.bincount(d_of, minlength=n_days)

    def change_days(count: int, slot: str) -> dict[dt.date, pd.Timedelta]:
        hit = n == count
        share = np.bincount(d_of[hit], minlength=n_days) / np.maximum(per_day, 1)
        days = np.flatnonzero(share >= 0.5)
        chosen = hit & np.isin(d_of, days)
        if not chosen.any():
            return {}
        rows = np.isin(key, s_of[chosen] * n_days + d_of[chosen])
        when = t[rows]
        part = pd.DataFrame({"s": codes[rows], "d": day[rows] - d0,
                             "k": (when - when.astype("datetime64[D]")) // step})  # fmt: skip
        out: dict[dt.date, pd.Timedelta] = {}
        for d, g in part.groupby("d"):
            firsts = g.groupby("s")["k"].apply(
                _first_missing if slot == "missing" else _first_repeated
            )
            first = Counter(firsts.dropna().astype(int)).most_common(1)
            if first:
                date = (np.datetime64(d0 + int(d), "D")).astype(dt.date)
                out[date] = first[0][0] * step
        return out

    covered = np.flatnonzero(per_day)
    days = frozenset((np.datetime64(d0 + int(d), "D")).astype(dt.date) for d in covered)
    return Changes(change_days(usual - per_hour, "missing"), change_days(usual + per_hour,
                   "repeated"), days)  # fmt: skip


def _first_missing(slots: pd.Series) -> float:
    present = np.unique(slots.to_numpy())
    gaps = np.setdiff1d(np.arange(present.max() + 2), present)
    return float(gaps[0]) if len(gaps) else np.nan


def _first_repeated(slots: pd.Series) -> float:
    values, n = np.unique(slots.to_numpy(), return_counts=True)
    return float(values[n > 1][0]) if (n > 1).any() else np.nan


def clock_of(changes: Changes | None, step: pd.Timedelta) -> Clock | None:
    """The zones whose daylight-saving changes inside the data match the observed ones (spring
    days with their missing wall slot; autumn days when the file repeats the hour), or None."""
    if changes is None or not changes.spring:
        return None
    first, last = min(changes.days), max(changes.days)
    best: tuple[int, int, str] | None = None
    fits: list[str] = []
    for zone in _zones():
        spring, autumn = _zone_changes(zone, first, last)
        spring = {d: t for d, t in spring.items() if d in changes.days}
        if not spring:
            continue
        for label, shift in (("start", pd.Timedelta(0)), ("end", step)):
            seen = sum(changes.spring.get(d) == t + shift for d, t in spring.items())
            if seen < MIN_SHARE * len(spring):
                continue
            # an autumn day without the repeat is no evidence (writers often drop it)
            repeats = sum(changes.autumn.get(d) == t + shift for d, t in autumn.items())
            key = (seen + repeats, -len(spring), label)
            if best is None or key[:2] > best[:2]:
                best, fits, score = key, [zone], (seen, len(spring), repeats)
            elif key[:2] == best[:2] and label == best[2]:
                fits.append(zone)
    if best is None:
        return None
    ordered = sorted(fits, key=lambda z: (PREFERRED.index(z) if z in PREFERRED else 99, z))
    by_offsets: dict[tuple[float, ...], str] = {}
    for zone in ordered:
        by_offsets.setdefault(_offsets(zone, first, last), zone)
    shown = list(by_offsets.values())
    return Clock(shown, best[2], len(shown) > 1, *score, len(fits) - 1)


@functools.cache
def _zones() -> tuple[str, ...]:
    names = zoneinfo.available_timezones()
    return tuple(sorted(n for n in names if "/" in n and not n.startswith(_SKIP)))


def _days(first: dt.date, last: dt.date) -> pd.DatetimeIndex:
    return pd.date_range(pd.Timestamp(first) - pd.Timedelta(days=1),
                         pd.Timestamp(last) + pd.Timedelta(days=2), freq="D", tz="UTC")  # fmt: skip


@functools.cache
def _offsets(zone: str, first: dt.date, last: dt.date) -> tuple[float, ...]:
    """The zone's UTC offset (hours) at 12:00 UTC of each day of the span."""
    days = _days(first, last) + pd.Timedelta(hours=12)
    local = days.tz_convert(zone).tz_localize(None)
    return tuple(((local - days.tz_localize(None)) / HOUR).tolist())


@functools.cache
def _zone_changes(
    zone: str, first: dt.date, last: dt.date
) -> tuple[dict[dt.date, pd.Timedelta], dict[dt.date, pd.Timedelta]]:
    """The zone's changes in the span as wall-clock (day, time of day): spring, the first wall
    time that never existed; autumn, the first wall time that happened twice."""
    offsets = np.asarray(_offsets(zone, first, last))
    spring: dict[dt.date, pd.Timedelta] = {}
    autumn: dict[dt.date, pd.Timedelta] = {}
    days = _days(first, last) + pd.Timedelta(hours=12)
    for i in np.flatnonzero(np.diff(offsets)) + 1:
        fine = pd.date_range(days[i - 1], days[i], freq="15min")
        off = fine.tz_convert(zone).tz_localize(None) - fine.tz_localize(None)
        j = int(np.argmax(off != off[0]))
        instant = fine[j].tz_localize(None)
        before, after = off[0], off[j]
        wall = instant + (before if after > before else after)
        target = spring if after > before else autumn
        target[wall.date()] = wall - wall.normalize()
    return spring, autumn
