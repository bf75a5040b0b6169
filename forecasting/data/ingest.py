"""Validate raw meter readings row by row, at the source frequency.

Output: the accepted readings (`series_id`, UTC interval start, energy per interval, main-file
covariates and static columns) plus the quarantine of every rejected row and DST facts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from forecasting.config.data import DataConfig
from forecasting.data import timestamps as ts
from forecasting.data.clocks import clock_of, observed_changes
from forecasting.data.numbers import NumberFormat, parse_numbers
from forecasting.data.quarantine import Quarantine
from forecasting.data.readers import FILE_COL, RAGGED_COL, ROW_COL, read_table
from forecasting.data.schema import format_freq
from forecasting.errors import InputError


@dataclass
class Ingested:
    # series_id, timestamp (UTC start), target, covariates..., statics..., _idx, _file, _row
    readings: pd.DataFrame
    quarantine: Quarantine
    frequency: pd.Timedelta
    unit: str
    dst: dict[str, Any] = field(default_factory=dict)
    duplicates: dict[str, int] = field(default_factory=dict)
    unsorted_rows: int = 0
    notes: list[str] = field(default_factory=list)
    anchor: pd.Timedelta = ts.UTC_GRID  # the readings' grid: offset from UTC midnight


def ingest(config: DataConfig, input_path: str | None = None) -> Ingested:
    spec = config.input
    path = input_path or spec.path
    cov_cols = {name: c.column for name, c in spec.covariates.items()}
    wanted = [c for c in [spec.series_id, spec.timestamp, spec.target] if c is not None]
    for c in [*cov_cols.values(), *spec.static_columns]:
        if c not in wanted:
            wanted.append(c)
    raw = read_table(path, wanted, spec.format, spec.delimiter, spec.encoding, ragged="mark")
    q = Quarantine(raw, spec.series_id, spec.timestamp, [spec.target], spec.series_id_value)
    ragged = raw.pop(RAGGED_COL)
    q.reject(ragged.notna().to_numpy(), "ragged_row", ragged.to_numpy())
    notes: list[str] = []

    # series id
    if spec.series_id is not None:
        sid = raw[spec.series_id].astype("string").str.strip()
        q.reject(sid.isna() | (sid == ""), "missing_series_id", "empty series id")
        sid = sid.fillna("")
    else:
        sid = pd.Series(spec.series_id_value, index=raw.index, dtype="string")

    # timestamps (naive wall clock of the source)
    parsed = ts.parse_timestamps(
        raw[spec.timestamp], spec.timestamp_format, f"column '{spec.timestamp}'", _where(raw)
    )
    wall = parsed.values
    fmt = spec.timestamp_format or "ISO 8601"
    q.reject(wall.isna().to_numpy(), "unparseable_timestamp", f"does not match {fmt}")

    # target values
    values, unparseable, nonfinite = parse_numbers(
        raw[spec.target], f"{path}: column '{spec.target}'", NumberFormat.declared(spec)
    )
    q.reject(
        unparseable,
        "unparseable_target",
        f"column '{spec.target}' is not a number ({NumberFormat.declared(spec).describe()})",
    )
    q.reject(nonfinite, "non_finite_target", f"column '{spec.target}' is empty, NaN or infinite")
    rules = config.target_rules
    if not rules.allow_negative:
        negative = q.reject(
            (values < 0).to_numpy(),
            "negative_target",
            f"negative {rules.kind} (legitimate? set {rules.negative_key})",
        )
        if negative:
            notes.append(
                f"{negative:,} rows ({negative / max(len(raw), 1):.1%}) have a negative "
                f"'{spec.target}' and were quarantined as negative {rules.kind}: if negative "
                f"values are legitimate (export, net metering), set `{rules.negative_key}`; "
                "for a price, a temperature or another quantity set `target.kind`"
            )

    # frequency and localisation
    configured = config.source_step
    if configured is None:
        freq = ts.infer_frequency(sid[q.alive], wall[q.alive])
        if freq is None:
            raise InputError(
                f"{path}: cannot infer the data frequency (fewer than two readings per series); set 'frequency'"
            )
        notes.append(f"inferred source frequency {format_freq(freq)}")
    else:
        freq = configured
    tz = spec.timezone.tzinfo
    if freq >= ts.DAY and ts.has_dst(tz) and not parsed.instants:
        # a day's reading is dated, not timed: at local midnight in standard time, so that the
        # days stay 24 hours apart in UTC
        notes.append(
            f"daily readings in {spec.timezone}: placed at local midnight in standard time "
            f"(UTC{_standard_offset(tz)})"
        )
        tz = dt.timezone(ts.standard_offset(tz).to_pytimedelta())
    shift = freq if spec.label == "end" else pd.Timedelta(0)
    wall_start = wall - shift
    alive_now = q.alive
    if parsed.instants:  # each timestamp carried its offset: already UTC, no clock applies
        utc = wall_start.where(alive_now).dt.tz_localize("UTC")
        status = np.full(len(wall_start), ts.OK, dtype=np.int8)
    else:
        utc, status = ts.localize(wall_start.where(alive_now), sid, tz)
    q.reject(
        status == ts.NONEXISTENT, "nonexistent_local_time", f"not a valid time in {spec.timezone}"
    )
    q.reject(
        status == ts.AMBIG_EXTRA, "duplicate_timestamp", "ambiguous local time seen more than twice"
    )
    dst = (
        {"timezone_has_dst": False, "instants": True}
        if parsed.instants
        else _dst_facts(
            status, raw[spec.timestamp], sid, wall_start, alive_now, tz, freq, shift, spec.label
        )
    )
    if parsed.instants:
        notes.append("timestamps carry UTC offsets: taken as instants (input.timezone not applied)")

    utc = utc.dt.tz_localize(None)  # naive UTC from here on: fast numpy datetime64 work
    anchor = ts.common_anchor(utc[q.alive], freq)  # 14:00 UTC for days at midnight +10:00
    on_grid = (ts.floor_to_grid(utc, freq, anchor) == utc).fillna(True).to_numpy()
    where = f" (intervals start {_hhmm(anchor)} UTC)" if anchor else ""
    q.reject(~on_grid, "off_grid_timestamp", f"not on the {format_freq(freq)} grid{where}")

    # spikes (in the file's own unit)
    vmax = config.validation.max_value
    if vmax is not None:
        q.reject((values > vmax).to_numpy(), "spike", f"value above max_value {vmax:g}")
    if config.validation.robust_z is not None:
        _reject_robust_spikes(q, sid, values, config.validation.robust_z)

    # duplicates of (series, UTC time) among what is left
    duplicates = _reject_duplicates(q, sid, utc, values, config.validation.duplicates)

    alive = q.alive
    unsorted = _count_unsorted(sid[alive], utc[alive])
    scale = spec.scale * (freq / pd.Timedelta(hours=1) if rules.to_energy else 1.0)
    out = pd.DataFrame(
        {
            "series_id": sid[alive].astype("string").to_numpy(),
            "timestamp": utc[alive].to_numpy(),
            "target": values[alive].to_numpy() * scale,
        }
    )
    out["timestamp"] = out["timestamp"].astype("datetime64[us]").dt.tz_localize("UTC")
    for name, col in cov_cols.items():
        mapping = spec.covariates[name].values
        out[name] = _covariate_values(
            raw.loc[alive, col], mapping, f"{path}: column '{col}'", NumberFormat.declared(spec)
        )
    for col in spec.static_columns:
        out[col] = raw.loc[alive, col].astype("string").to_numpy()
    out["_idx"] = np.flatnonzero(alive)
    out[FILE_COL] = raw.loc[alive, FILE_COL].to_numpy()
    out[ROW_COL] = raw.loc[alive, ROW_COL].to_numpy()
    out = out.sort_values(["series_id", "timestamp"], kind="stable", ignore_index=True)
    unit = f"{rules.unit}h" if rules.to_energy else rules.unit
    return Ingested(out, q, freq, unit, dst, duplicates, unsorted, notes, anchor)


def _where(raw: pd.DataFrame) -> pd.Series:
    """`file row N` for each raw row, to name examples in messages."""
    return raw[FILE_COL].astype("string") + " row " + raw[ROW_COL].astype("string")


def _covariate_values(
    raw: pd.Series, mapping: dict[str, float] | None, where: str, fmt: NumberFormat
) -> np.ndarray:
    if mapping is not None:
        return raw.astype("string").str.strip().map(mapping).astype("float64").to_numpy()
    values, _, _ = parse_numbers(raw, where, fmt)
    return values.to_numpy()


def _reject_robust_spikes(q: Quarantine, sid: pd.Series, values: pd.Series, z: float) -> None:
    alive = q.alive
    df = pd.DataFrame({"s": sid.to_numpy(), "v": values.where(alive).to_numpy()})
    med = df.groupby("s")["v"].transform("median")
    mad = (df["v"] - med).abs().groupby(df["s"]).transform("median") * 1.4826
    score = (df["v"] - med) / mad.where(mad > 0)
    over = (score > z).fillna(False).to_numpy()
    detail = np.where(
        over, "robust z-score " + score.round(1).astype("string").fillna("") + f" > {z:g}", None
    )
    q.reject(over, "spike", detail)


def _reject_duplicates(
    q: Quarantine, sid: pd.Series, utc: pd.Series, values: pd.Series, policy: str
) -> dict[str, int]:
    idx = np.flatnonzero(q.alive)
    df = pd.DataFrame(
        {"s": sid.to_numpy()[idx], "t": utc.to_numpy()[idx], "v": values.to_numpy()[idx], "i": idx}
    )
    df["row"] = q.raw[ROW_COL].to_numpy()[idx]
    dup = df.duplicated(["s", "t"], keep=False)
    facts = {"identical": 0, "conflicting": 0, "groups": 0}
    if not dup.any():
        return facts
    d = df[dup]
    g = d.groupby(["s", "t"], sort=False)
    n_values = g["v"].transform("nunique")
    occ = g.cumcount()
    size = g["v"].transform("size")
    identical = n_values == 1
    if policy == "first":
        conflict_keep = occ == 0
    elif policy == "last":
        conflict_keep = occ == size - 1
    else:
        conflict_keep = pd.Series(False, index=d.index)
    keep = (identical & (occ == 0)) | (~identical & conflict_keep)
    kept_row = d["row"].where(keep).groupby([d["s"], d["t"]], sort=False).transform("first")
    kept_val = d["v"].where(keep).groupby([d["s"], d["t"]], sort=False).transform("first")
    reject = ~keep
    detail = np.where(
        identical,
        "same value as row " + kept_row.astype("Int64").astype("string").fillna("?"),
        np.where(
            kept_row.notna(),
            "conflicts with kept row "
            + kept_row.astype("Int64").astype("string").fillna("?")
            + " (value "
            + kept_val.map(lambda v: f"{v:g}", na_action="ignore").astype("string").fillna("?")
            + ")",
            f"conflicting readings, none kept (duplicates: {policy})",
        ),
    )
    mask = np.zeros(len(q.raw), dtype=bool)
    mask[d["i"].to_numpy()[reject.to_numpy()]] = True
    full_detail = np.empty(len(q.raw), dtype=object)
    full_detail[d["i"].to_numpy()] = detail
    q.reject(mask, "duplicate_timestamp", full_detail)
    facts["groups"] = int(g.ngroups)
    facts["identical"] = int((reject & identical).sum())
    facts["conflicting"] = int((reject & ~identical).sum())
    return facts


def _count_unsorted(sid: pd.Series, utc: pd.Series) -> int:
    """Rows whose timestamp is earlier than the previous row of the same series, in file order."""
    df = pd.DataFrame({"s": sid.to_numpy(), "t": utc.to_numpy()})
    prev = df.groupby("s", sort=False)["t"].shift()
    return int((df["t"] < prev).sum())


def _dst_facts(
    status: np.ndarray,
    labels: pd.Series,
    sid: pd.Series,
    wall_start: pd.Series,
    alive: np.ndarray,
    tz: Any,
    freq: pd.Timedelta,
    shift: pd.Timedelta,
    label: str,
) -> dict[str, Any]:
    if not ts.has_dst(tz):
        facts: dict[str, Any] = {"timezone_has_dst": False}
        clock = clock_of(observed_changes((wall_start + shift)[alive], sid[alive], freq), freq)
        if clock is not None:  # a wall clock with daylight saving read as UTC or an offset
            facts["hint"] = (
                f"the file looks like local time with daylight saving, not {tz}: "
                f"{clock.describe()}; set `input.timezone: {clock.zone}`"
                + (f" and `input.label: {clock.label}`" if clock.label != label else "")
            )
        return facts

    def examples(mask: np.ndarray, n: int = 3) -> list[str]:
        return [f"{sid.iloc[i]} {labels.iloc[i]}" for i in np.flatnonzero(mask)[:n]]

    second = status == ts.AMBIG_SECOND
    spans = (
        pd.DataFrame({"s": sid[alive].to_numpy(), "w": wall_start[alive].to_numpy()})
        .dropna()
        .groupby("s")["w"]
        .agg(first="min", last="max")
    )
    gap = ts.spring_gap_slots(spans, tz, freq, shift)
    facts = {
        "timezone_has_dst": True,
        "label": label,
        "autumn_repeats_resolved": int(second.sum()),
        "autumn_repeat_examples": examples(second),
        "ambiguous_seen_once": int((status == ts.AMBIG_SINGLE).sum()),
        "ambiguous_seen_once_examples": examples(status == ts.AMBIG_SINGLE),
        "ambiguous_excess": int((status == ts.AMBIG_EXTRA).sum()),
        "nonexistent_in_input": int((status == ts.NONEXISTENT).sum()),
        "nonexistent_examples": examples(status == ts.NONEXISTENT),
        "spring_slots_absent_as_expected": max(
            int(gap.per_series.sum()) - int((status == ts.NONEXISTENT).sum()), 0
        ),
        "spring_slot_examples": gap.examples,
    }
    if label == "start" and facts["nonexistent_in_input"] > 0:
        # Interval-ending files put a label in the spring gap's *next* slot, not in the gap.
        bad = status == ts.NONEXISTENT
        present = pd.MultiIndex.from_arrays([sid[alive], wall_start[alive]])
        following = pd.MultiIndex.from_arrays([sid[bad], wall_start[bad] + freq])
        missing_next = int((~following.isin(present)).sum())
        if missing_next >= 0.8 * bad.sum():
            facts["hint"] = (
                "timestamps fall in the spring gap while the slot after it is missing: the file "
                "looks interval-ending (e.g. hour-ending); try `input.label: end`"
            )
    if (
        "hint" not in facts
        and facts["nonexistent_in_input"] > 0
        and facts["ambiguous_seen_once"] > 0
        and facts["autumn_repeats_resolved"] == 0
    ):
        # every hour once on both change days: a clock without daylight saving
        facts["hint"] = (
            f"the file has every hour on the clock-change days (spring hours {tz} never had, "
            "autumn hours once): its clock keeps no daylight saving; set `input.timezone` to "
            f"'UTC' or the standard offset '{_standard_offset(tz)}', and keep "
            f"`calendar.timezone: {tz}` for local calendar features"
        )
    return facts


def _standard_offset(tz: Any) -> str:
    """The zone's offset without daylight saving as text ('+01:00' for Europe/Brussels)."""
    offset = ts.standard_offset(tz)
    return ("+" if offset >= pd.Timedelta(0) else "-") + _hhmm(abs(offset))


def _hhmm(span: pd.Timedelta) -> str:
    """'14:00' for 14 hours; '05:30' for 5.5 hours."""
    minutes = int(span.total_seconds() // 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
