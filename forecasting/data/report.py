"""Plain-text rendering of a preparation report (what `forecasting data validate` prints)."""

from __future__ import annotations

from typing import Any

import pandas as pd


def _n(x: float | int) -> str:
    return f"{x:,}" if isinstance(x, int) else f"{x:,.1f}"


def _local(ts_text: str, tz: str | None) -> str:
    t = pd.Timestamp(ts_text)
    utc = t.strftime("%Y-%m-%d %H:%M UTC")
    if tz and tz.upper() != "UTC":
        return f"{utc} ({t.tz_convert(tz).strftime('%H:%M %Z')})"
    return utc


_DST_LINES = [  # (what, report key of the count, report key of the examples)
    (
        "autumn repeated hours, resolved to distinct UTC hours",
        "autumn_repeats_resolved",
        "autumn_repeat_examples",
    ),
    (
        "spring hours that never existed, present in input (quarantined)",
        "nonexistent_in_input",
        "nonexistent_examples",
    ),
    (
        "spring hours that never existed, absent as expected (not gaps)",
        "spring_slots_absent_as_expected",
        "spring_slot_examples",
    ),
    (
        "ambiguous hours seen once (taken as daylight time)",
        "ambiguous_seen_once",
        "ambiguous_seen_once_examples",
    ),
]


def render_report(r: dict[str, Any], calendar_tz: str | None = None) -> str:
    lines: list[str] = []
    add = lines.append
    add(
        f"dataset {r['dataset']}: {', '.join(r['input'][:3])}{' ...' if len(r['input']) > 3 else ''}"
    )
    ok = "identity holds" if r["identity_holds"] else "IDENTITY BROKEN"
    add(
        f"rows: {_n(r['rows_in'])} in = {_n(r['rows_out'])} out + {_n(r['rows_quarantined'])} quarantined  [{ok}]"
    )
    add(
        f"frequency: {r['source_frequency']} -> {r['output_frequency']}, unit {r['unit']}, source clock {r['timezone']}"
    )
    g = r["gaps"]
    add(
        f"series: {_n(r['series'])}; output intervals: {_n(r['output_rows'])} "
        f"({_n(r['observed_intervals'])} observed, {_n(g['filled_intervals'])} filled, "
        f"{_n(g['remaining_missing_intervals'])} missing)"
    )
    for note in r.get("notes", []):
        add(f"note: {note}")

    dst = r.get("dst", {})
    if dst.get("timezone_has_dst"):
        add("")
        add(f"daylight saving ({r['timezone']}, timestamps mark interval {dst['label']}s):")
        for text, count, examples in _DST_LINES:
            add(f"  {text}: {dst[count]}" + _eg(dst[examples]))
        if dst.get("hint"):
            add(f"  hint: {dst['hint']}")
    elif dst.get("hint"):
        add("")
        add(f"clock ({r['timezone']}, no daylight saving):")
        add(f"  hint: {dst['hint']}")
    d = r["duplicates"]
    add("")
    add(
        f"true duplicates (same series and UTC time, rejected): {d['identical'] + d['conflicting']} "
        f"(identical {d['identical']}, conflicting {d['conflicting']})"
    )
    add(f"unsorted rows in input (sorted on output): {_n(r['unsorted_rows'])}")
    add(f"output intervals missing some source readings: {_n(r['incomplete_intervals'])}")

    add("")
    add("quarantine by reason:" if r["quarantined_by_reason"] else "quarantine: none")
    for reason, count in sorted(r["quarantined_by_reason"].items(), key=lambda kv: -kv[1]):
        add(f"  {reason:<24} {_n(count):>10}")
        for ex in r["quarantine_examples"].get(reason, [])[:2]:
            add(
                f"      e.g. {ex['source_file']} row {ex['source_row']}: series={ex['series_id']!s} "
                f"timestamp={ex['timestamp']!s} value={ex['value']!s} ({ex['detail']})"
            )

    add("")
    pol = g["fill_policy"]
    longest = pol["max_length"]
    longest = f"{longest} intervals" if isinstance(longest, int) else longest
    policy = "none" if pol["method"] == "none" else f"{pol['method']} up to {longest}"
    add(f"gaps (fill policy: {policy}):")
    add(
        f"  found: {_n(g['gaps_found'])} gaps, {_n(g['missing_intervals_found'])} missing intervals in "
        f"{_n(g['series_with_gaps'])} series; longest {g['longest_gap_hours']:.1f} h"
    )
    add(
        f"  remaining after fill: {_n(g['remaining_gaps'])} gaps, {_n(g['remaining_missing_intervals'])} intervals"
    )
    if g.get("remaining_gaps_at_clock_change"):
        add(
            f"  of which {g['remaining_gaps_at_clock_change']} cover an autumn repeated hour "
            "(the file lacks every reading of that hour)"
        )
    for ex in g.get("remaining_gap_examples", [])[:5]:
        add(
            f"      e.g. {ex['series_id']} from {_local(ex['start'], calendar_tz)} for {ex['hours']:.1f} h"
        )

    covs = r.get("covariates", {})
    if covs:
        add("")
        add("covariates:")
        for name, c in covs.items():
            cov = ", ".join(f"{k} {v:.1%}" for k, v in c.get("coverage", {}).items())
            add(
                f"  {name}: {_n(c['rows_in'])} rows in = {_n(c['rows_used'])} used + "
                f"{_n(c['rows_quarantined'])} quarantined; coverage {cov}"
            )
            if c.get("unknown_levels"):
                add(f"      unknown levels (left missing): {c['unknown_levels']}")
    st = r.get("static", {})
    if st.get("conflicting_values") or st.get("file", {}).get("series_without_static_row"):
        add("")
        add("static attributes:")
        for col, per in st.get("conflicting_values", {}).items():
            add(
                f"  {col}: {len(per)} series with more than one value (most frequent kept), e.g. {next(iter(per.items()))}"
            )
        f = st.get("file", {})
        if f.get("series_without_static_row"):
            add(
                f"  {f['series_without_static_row']} series have no row in {f['path']}, "
                f"e.g. {', '.join(f['series_without_static_row_examples'])}"
            )
    return "\n".join(lines)


def _eg(examples: list[str]) -> str:
    return f"   e.g. {'; '.join(examples)}" if examples else ""
