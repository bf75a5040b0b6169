"""`forecasting data init FILE`: look at a file and write a starting data config to edit.

From a sample of the rows it finds the timestamp column and its format, a series-id column (or
a one-series file), the target (by name: kwh, demand, load, price, ...; else the first numeric
column), the reading interval, per-series text columns (static) and the other numeric columns
(covariates: `known_future: true` only for names that say forecast, the rest measured), and
what the clock looks like: offsets in the text, a daylight-saving signature, or 24 hours on
every day. The config it writes passes `data validate`; every guess is commented, so the user
knows what to check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from forecasting.data.clocks import clock_of, observed_changes
from forecasting.data.readers import (
    SUFFIXES,
    describe_columns,
    detect_format,
    file_columns,
    read_table,
    resolve_inputs,
)
from forecasting.data.schema import format_freq
from forecasting.errors import InputError

SAMPLE_ROWS = 500_000
FORMATS = (None, "%d-%m-%Y %H:%M", "%d/%m/%Y %H:%M", "%m/%d/%Y %H:%M", "%d.%m.%Y %H:%M")
FORECAST = re.compile(r"forecast|schedule|plan", re.IGNORECASE)
TARGET_NAMES = (
    "kwh",
    "wh",
    "consumption",
    "demand",
    "load",
    "price",
    "mw",
    "kw",
    "energy",
    "value",
)


@dataclass
class Guess:
    """What `inspect_file` found, and a comment per key saying how it was found."""

    path: Path
    timestamp: str
    timestamp_format: str | None
    series_id: str | None
    target: str
    kind: str
    frequency: str
    timezone: str = "UTC"
    label: str | None = None  # told from the clock changes; None: not known
    static: list[str] = field(default_factory=list)
    covariates: dict[str, bool] = field(default_factory=dict)  # name -> known_future
    notes: dict[str, str] = field(default_factory=dict)


def inspect_file(path: str | Path) -> Guess:
    """Guess the layout of one readings file (or the first file of a folder or glob)."""
    first = resolve_inputs(path, "input")[0]
    if first.suffix.lower() not in SUFFIXES:  # never read back what is not named as a table
        raise InputError(f"{first}: {describe_columns(first, [])}")
    columns = file_columns(first)
    sample = read_table(first, columns, what="input").drop(columns=["_file", "_row"])
    sample = sample.head(SAMPLE_ROWS)
    ts_col, fmt, stamps = _timestamp(sample)
    parsed = {c: pd.to_numeric(sample[c], errors="coerce") for c in sample.columns if c != ts_col}
    numeric = {c: v for c, v in parsed.items() if v.notna().mean() > 0.95}
    text = [c for c in sample.columns if c != ts_col and c not in numeric]
    sid = _series_id(sample, text, stamps)
    target = _target(list(numeric))
    g = Guess(first, ts_col, fmt, sid, target, _kind(target, numeric[target]), "auto")
    g.frequency = _interval(stamps, sample[sid] if sid else None)
    g.notes["frequency"] = "the most common step between readings of a series"
    g.notes["target"] = f"numeric column named like a target ({target!r}); check it"
    if sid is None:
        g.notes["series_id_value"] = "one series: no text column repeats like an id"
    if sid is not None:
        per = sample.groupby(sid)[[c for c in text if c != sid]].nunique()
        g.static = [c for c in per.columns if (per[c] <= 1).all()]
    for c in numeric:
        if c != target:
            g.covariates[c] = bool(FORECAST.search(c))
    g.timezone, g.notes["timezone"], g.label = _clock(
        sample[ts_col], stamps, sample[sid] if sid else None, g.frequency
    )
    return g


def _timestamp(sample: pd.DataFrame) -> tuple[str, str | None, pd.Series]:
    best: tuple[float, str, str | None, pd.Series] | None = None
    for col in sample.columns:
        values = sample[col]
        if pd.api.types.is_datetime64_any_dtype(values):
            return col, None, pd.Series(pd.to_datetime(values))
        text = values.astype("string").str.strip()
        if text.str.fullmatch(r"-?\d+(\.\d+)?").mean() > 0.5:
            continue  # numbers, not times
        for fmt in FORMATS:
            kw = {"format": fmt} if fmt else {"format": "ISO8601"}
            parsed = pd.to_datetime(text, errors="coerce", utc=True, **kw)
            share = float(parsed.notna().mean())
            if share > 0.95 and (best is None or share > best[0]):
                best = (share, col, fmt, parsed)
    if best is None:
        raise InputError("no column of the file reads as timestamps (ISO 8601 or day-first)")
    return best[1], best[2], best[3]


def _series_id(sample: pd.DataFrame, text: list[str], stamps: pd.Series) -> str | None:
    dup = stamps.duplicated().mean()
    for col in text:
        n = sample[col].nunique()
        if 1 < n < max(2, len(sample) // 10) and dup > 0.5:
            key = pd.DataFrame({"s": sample[col], "t": stamps})
            if key.duplicated().mean() < 0.01:  # (id, time) is unique: an id column
                return col
    return None


def _target(numeric: list[str]) -> str:
    if not numeric:
        raise InputError("no numeric column to forecast in the file")
    measured = [c for c in numeric if not FORECAST.search(c)] or numeric  # a forecast is an input
    for name in TARGET_NAMES:
        for col in measured:
            if name in col.lower():
                return col
    return measured[0]


def _kind(target: str, values: pd.Series) -> str:
    name = target.lower()
    if "price" in name:
        return "price"
    if "temp" in name:
        return "temperature"
    if "wh" in name:
        return "energy"
    if re.search(r"(?:^|[^a-z])[kmg]w(?:$|[^a-z])", name):
        return "power"  # MW, kW, GW: average power over the interval
    return "energy" if (values.dropna() >= 0).all() else "generic"


def _interval(stamps: pd.Series, sid: pd.Series | None) -> str:
    frame = pd.DataFrame({"s": sid if sid is not None else "x", "t": stamps}).dropna()
    frame = frame.sort_values(["s", "t"])
    steps = frame.groupby("s")["t"].diff().dropna()
    steps = steps[steps > pd.Timedelta(0)]
    if steps.empty:
        return "auto"
    return format_freq(steps.mode().iloc[0])


def _clock(
    raw: pd.Series, stamps: pd.Series, sid: pd.Series | None, frequency: str
) -> tuple[str, str, str | None]:
    """(zone, how it was found, interval label when the clock changes tell it)."""
    text = raw.astype("string")
    if text.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True).mean() > 0.95:
        return "UTC", "the timestamps carry their offsets: read as the instants they name", None
    step = pd.Timedelta(frequency) if frequency != "auto" else None
    changes = observed_changes(stamps, sid, step) if step else None
    clock = clock_of(changes, step) if step else None
    if clock is not None:
        return clock.zone, ("CHECK: " if clock.ambiguous else "") + clock.describe(), clock.label
    repeats = pd.DataFrame({"s": sid if sid is not None else "x", "t": stamps}).duplicated()
    # no zone fits, yet clocks change on Sundays for every series at once: a Sunday where most
    # series have an hour more or less (a gap in one meter on a weekday is not a clock change)
    seen = [*changes.spring, *changes.autumn] if changes is not None else []
    if repeats.any() or any(day.weekday() == 6 for day in seen):
        return "UTC", (
            "CHECK: the file shows daylight-saving changes (a day with an hour more or less, or "
            "repeated times): set the clock's zone, e.g. Europe/London or America/New_York"
        ), None  # fmt: skip
    return "UTC", "every day has the same number of readings: a clock without daylight saving", None


def write_config(g: Guess, output: Path, name: str | None = None) -> str:
    """The starting data config as commented YAML (returned and written to `output`)."""
    name = name or re.sub(r"[^A-Za-z0-9_]+", "_", g.path.stem).strip("_").lower() or "data"
    q = _quote
    lines = [
        f"# Starting config for {g.path.name}, written by `forecasting data init`: check the",
        "# lines marked CHECK, then `forecasting data validate --config THIS`. Every key:",
        "# docs/data-config.md",
        f"name: {name}",
        "input:",
        f"  path: {q(str(g.path))}",
        f"  format: {detect_format(g.path)}",
    ]
    if g.series_id is not None:
        lines.append(f"  series_id: {q(g.series_id)}")
    else:
        lines.append(f"  series_id_value: {q(name)}   # {g.notes['series_id_value']}")
    lines.append(f"  timestamp: {q(g.timestamp)}")
    if g.timestamp_format:
        lines.append(f"  timestamp_format: {q(g.timestamp_format)}")
    lines += [
        f"  timezone: {g.timezone}   # {g.notes['timezone']}",
        f"  label: {g.label}   # told from the clock changes"
        if g.label
        else "  label: start   # CHECK: `end` if a timestamp closes its interval (hour-ending)",
        f"  target: {q(g.target)}   # {g.notes['target']}",
    ]
    if g.static:
        lines.append(f"  static_columns: [{', '.join(q(c) for c in g.static)}]")
    if g.covariates:
        lines.append("  covariates:   # CHECK known_future: true only if the horizon is known")
        for col, known in g.covariates.items():
            key = re.sub(r"[^A-Za-z0-9_]+", "_", col).strip("_").lower() or "covariate"
            lines.append(
                f"    {key}: {{column: {q(col)}, aggregate: mean, "
                f"known_future: {str(known).lower()}}}"
            )
    lines += [
        "target:",
        f"  kind: {g.kind}   # CHECK: energy, power, price, temperature or generic",
        *_unit_line(g),
        f"frequency: {g.frequency}   # {g.notes['frequency']}",
        f"output_frequency: {g.frequency if g.frequency != 'auto' else '1h'}",
        "calendar:",
        f"  timezone: {g.timezone}   # CHECK: the local zone of calendar features and origins",
        "gaps: {method: none}",
    ]
    text = "\n".join(lines) + "\n"
    output.write_text(text, encoding="utf-8")
    return text


UNITS = {u.lower(): u for u in ("Wh", "kWh", "MWh", "GWh", "kW", "MW", "GW")}


def _unit_line(g: Guess) -> list[str]:
    """`unit:` when the target's name says it (MW, kW, GW, MWh, kWh)."""
    words = re.split(r"[^a-z]+", g.target.lower())
    named = [UNITS[w] for w in words if w in UNITS]
    return [f"  unit: {named[0]}   # from the column's name"] if named else []


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
