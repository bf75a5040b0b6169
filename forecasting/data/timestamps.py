"""Timestamps: parse text, move interval-end labels to interval starts, and localise to UTC.

Local clocks with daylight saving need care, and each case is told apart:
- a wall time that occurs twice at the autumn change (ambiguous) and appears twice for a series
  is legitimate: the first occurrence (in file order) is daylight time, the second standard time;
- a wall time that never existed (the spring gap) is rejected as `nonexistent_local_time`;
- the wall-clock slots of the spring gap that are absent from the file are expected, not gaps.
Timestamps that carry their own UTC offset (`2023-10-15T00:00+01:00`, `...Z`, an aware parquet
column) name an instant: they are taken as that instant and never localised again.
The canonical timestamp is the *start* of each interval, in UTC.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecasting.errors import InputError

# an ISO time of day followed by a UTC offset: `...T00:00+01:00`, `... 00:00:00Z`, `...00:00+0100`
_OFFSET_SUFFIX = r"\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$"

# status codes for `localize`
OK, NONEXISTENT, AMBIG_FIRST, AMBIG_SECOND, AMBIG_EXTRA, AMBIG_SINGLE = range(6)


@dataclass(frozen=True)
class ParsedTimes:
    """Parsed timestamps: `values` are naive datetimes (NaT where unparseable).

    When `instants` is true every value carried its own UTC offset (text with `+01:00` or `Z`,
    a timezone-aware parquet column) and `values` are UTC: the configured clock does not apply.
    Otherwise `values` are wall-clock times of the configured clock.
    """

    values: pd.Series
    instants: bool


def _offset_format(fmt: str | None) -> bool | None:
    """Whether a strptime format reads an offset; None for ISO (decided per value)."""
    if fmt is None:
        return None
    return "%z" in fmt or "%Z" in fmt


def parse_timestamps(
    raw: pd.Series, fmt: str | None, where: str = "timestamp", rows: pd.Series | None = None
) -> ParsedTimes:
    """Parse a timestamp column; aware values are taken as the instants they name.

    A column mixing values with and without a UTC offset is refused (`InputError`): which clock
    the naive ones are in cannot be known. `rows` (provenance text per value) names examples.
    """
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        utc = raw.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[us]")
        return ParsedTimes(utc, True)
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        return ParsedTimes(raw.astype("datetime64[us]"), False)
    text = raw.astype("string").str.strip()
    present = text.notna() & (text != "")
    declared = _offset_format(fmt)
    if declared is None:
        with_offset = text.str.contains(_OFFSET_SUFFIX, regex=True).fillna(False) & present
        instants = bool(with_offset.any())
        if instants and not with_offset[present].all():
            # text that is not a date at all is quarantined later; naive dates are a conflict
            rest = text.where(present & ~with_offset)
            naive = pd.to_datetime(rest, format="ISO8601", errors="coerce").notna()
            if naive.any():
                _refuse_mixed(text, with_offset, naive, where, rows)
    else:
        instants = declared
    kwargs: dict[str, object] = {"errors": "coerce", "format": fmt if fmt else "ISO8601"}
    if instants:
        parsed = pd.to_datetime(text, utc=True, **kwargs)
        return ParsedTimes(parsed.dt.tz_localize(None).astype("datetime64[us]"), True)
    parsed = pd.to_datetime(text, **kwargs)
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):  # pragma: no cover - defensive
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    return ParsedTimes(parsed.astype("datetime64[us]"), False)


def _refuse_mixed(
    text: pd.Series,
    with_offset: pd.Series,
    naive: pd.Series,
    where: str,
    rows: pd.Series | None,
) -> None:
    def example(mask: pd.Series) -> str:
        i = int(np.flatnonzero(mask.to_numpy())[0])
        at = f"{rows.iloc[i]}: " if rows is not None else f"row {i + 1}: "
        return f"{at}{text.iloc[i]!r}"

    raise InputError(
        f"{where}: timestamps with a UTC offset ({example(with_offset)}) and without one "
        f"({example(naive)}) are mixed; write every timestamp with its offset, "
        "or none (then input.timezone says their clock)"
    )


def has_dst(tz: dt.tzinfo) -> bool:
    return not isinstance(tz, dt.timezone)


DAY = pd.Timedelta(days=1)
UTC_GRID = pd.Timedelta(0)  # the anchor of a grid that starts at UTC midnight


def standard_offset(tz: dt.tzinfo) -> pd.Timedelta:
    """The zone's UTC offset without daylight saving (+01:00 for Europe/Brussels)."""
    offsets = [dt.datetime(2021, m, 15, tzinfo=tz).utcoffset() for m in (1, 7)]
    return pd.Timedelta(min(o for o in offsets if o is not None))


def grid_anchor(step: pd.Timedelta, tz: dt.tzinfo) -> pd.Timedelta:
    """Where intervals of `step` start, as an offset from UTC midnight, so that they begin on
    the local clock's boundaries in standard time: a day at local midnight (14:00 UTC for
    +10:00), an hour on the local hour in a +05:30 zone; 0 for UTC, and for whole-hour zones
    at hourly and finer steps (so most grids are the plain UTC one)."""
    return (-standard_offset(tz)) % min(step, DAY)


def common_anchor(utc: pd.Series, step: pd.Timedelta) -> pd.Timedelta:
    """The grid most of the instants in `utc` lie on (their offset from UTC midnight, modulo
    `step`); 0 when there are none."""
    t = pd.to_datetime(utc).dropna()
    if t.empty:
        return UTC_GRID
    return pd.Timedelta(((t - t.dt.normalize()) % min(step, DAY)).mode().iloc[0])


def floor_to_grid(values: pd.Series, step: pd.Timedelta, anchor: pd.Timedelta) -> pd.Series:
    """Each instant floored onto the grid of `step` that starts at `anchor` past midnight."""
    if anchor == UTC_GRID:
        return values.dt.floor(step)
    return (values - anchor).dt.floor(step) + anchor


def localize(
    wall_start: pd.Series, series: pd.Series, tz: dt.tzinfo
) -> tuple[pd.Series, np.ndarray]:
    """Convert naive wall-clock interval starts to UTC; return (utc, status code per row).

    Rows are assumed to be in file order: the first of two identical ambiguous wall times of a
    series is daylight time, the second standard time, a third or later is an excess repeat.
    """
    status = np.full(len(wall_start), OK, dtype=np.int8)
    if not has_dst(tz):
        offset = tz.utcoffset(None) or dt.timedelta(0)
        utc = (wall_start - pd.Timedelta(offset)).dt.tz_localize("UTC")
        return utc, status
    n = len(wall_start)
    as_dst = wall_start.dt.tz_localize(tz, ambiguous=np.ones(n, dtype=bool), nonexistent="NaT")
    as_std = wall_start.dt.tz_localize(tz, ambiguous=np.zeros(n, dtype=bool), nonexistent="NaT")
    valid = wall_start.notna().to_numpy()
    nonexistent = valid & as_dst.isna().to_numpy()
    status[nonexistent] = NONEXISTENT
    ambiguous = valid & ~nonexistent & (as_dst != as_std).to_numpy()
    use_std = np.zeros(n, dtype=bool)
    if ambiguous.any():
        idx = np.flatnonzero(ambiguous)
        key = pd.DataFrame({"s": series.to_numpy()[idx], "w": wall_start.to_numpy()[idx]})
        occ = key.groupby(["s", "w"], sort=False).cumcount().to_numpy()
        size = key.groupby(["s", "w"], sort=False)["w"].transform("size").to_numpy()
        codes = np.where(
            size == 1,
            AMBIG_SINGLE,
            np.where(occ == 0, AMBIG_FIRST, np.where(occ == 1, AMBIG_SECOND, AMBIG_EXTRA)),
        )
        status[idx] = codes
        use_std[idx[codes == AMBIG_SECOND]] = True
    local = as_dst.where(~use_std, as_std)
    return local.dt.tz_convert("UTC"), status


@dataclass
class SpringGapSlots:
    """Wall-clock slots that never existed, within the span of each series."""

    per_series: pd.Series  # series_id -> number of nonexistent slots inside its span
    examples: list[str]


def spring_gap_slots(
    first_last: pd.DataFrame, tz: dt.tzinfo, freq: pd.Timedelta, label_shift: pd.Timedelta
) -> SpringGapSlots:
    """Count the nonexistent wall-clock slots inside each series' span (`first`, `last` wall starts).

    These slots are correctly absent from a local-time file; they are not gaps.
    """
    if not has_dst(tz) or first_last.empty:
        return SpringGapSlots(pd.Series(0, index=first_last.index, dtype="int64"), [])
    lo, hi = first_last["first"].min(), first_last["last"].max()
    grid = pd.Series(pd.date_range(lo, hi, freq=freq))
    localized = grid.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    # ambiguous slots are NaT too with ambiguous="NaT": tell them apart by localising as DST
    as_dst = grid.dt.tz_localize(tz, ambiguous=np.ones(len(grid), dtype=bool), nonexistent="NaT")
    gap_slots = grid[localized.isna() & as_dst.isna()].to_numpy()
    first = np.searchsorted(gap_slots, first_last["first"].to_numpy(), side="left")
    last = np.searchsorted(gap_slots, first_last["last"].to_numpy(), side="right")
    counts = pd.Series(last - first, index=first_last.index, dtype="int64")
    labels = pd.DatetimeIndex(gap_slots) + label_shift
    examples = [str(t) for t in labels[:3]]
    return SpringGapSlots(counts, examples)


def infer_frequency(series: pd.Series, wall: pd.Series) -> pd.Timedelta | None:
    """The most common positive step between consecutive distinct timestamps of a series."""
    df = pd.DataFrame({"s": series.to_numpy(), "w": wall.to_numpy()}).dropna()
    if df.empty:
        return None
    df = df.drop_duplicates().sort_values(["s", "w"])
    steps = df.groupby("s", sort=False)["w"].diff().dropna()
    steps = steps[steps > pd.Timedelta(0)]
    if steps.empty:
        return None
    return pd.Timedelta(steps.mode().iloc[0])


def last_daily_origins(stamps: pd.Series, days: int) -> pd.DatetimeIndex:
    """`days` daily origins ending a day before the last of `stamps`, on their grid's day
    boundary (UTC midnight for hourly data, 14:00 UTC for days at midnight +10:00)."""
    t = pd.Series(pd.to_datetime(stamps).unique())
    anchor = (t - t.dt.normalize()).min()  # the earliest time of day on the grid
    end = floor_to_grid(pd.Series([t.max()]), DAY, anchor).iloc[0] - DAY
    return pd.date_range(end - (days - 1) * DAY, end, freq="1D")
