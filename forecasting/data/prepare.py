"""`prepare`: raw readings -> validated canonical frame, static table, quarantine and report.

The canonical frame is long: `series_id` (string), `timestamp` (UTC start of the interval),
`target` (energy in the interval, NaN where missing), `filled` (value made by a configured
fill policy), then covariates. Each series sits on a regular grid from its first to its last
interval. Nothing is dropped silently: rows_in = rows_out + rows_quarantined, checked here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from forecasting import __version__
from forecasting.config.data import DataConfig
from forecasting.data import gaps as gap_tools
from forecasting.data.covariates import join_covariates, load_covariate
from forecasting.data.holidays import HolidayCalendar
from forecasting.data.ingest import Ingested, ingest
from forecasting.data.quarantine import concat_quarantine
from forecasting.data.readers import resolve_inputs
from forecasting.data.resample import output_anchor, regular_grid, to_output_frequency
from forecasting.data.schema import format_freq
from forecasting.data.static import from_readings, join_static_file
from forecasting.errors import InputError
from forecasting.folders import write_json


@dataclass
class Prepared:
    frame: pd.DataFrame
    static: pd.DataFrame
    quarantine: pd.DataFrame
    gaps: pd.DataFrame
    report: dict[str, Any]
    dataset: dict[str, Any]

    @property
    def exit_code(self) -> int:
        """0 clean, 1 when rows were quarantined or gaps remain."""
        r = self.report
        return (
            1
            if r["rows_quarantined"]
            or r["covariate_rows_quarantined"]
            or r["gaps"]["remaining_missing_intervals"]
            else 0
        )


def prepare(config: DataConfig, input_path: str | None = None) -> Prepared:
    ing = ingest(config, input_path)
    q = ing.quarantine
    out_freq = config.output_frequency.step
    anchor = output_anchor(ing.anchor, ing.frequency, out_freq, config.calendar.timezone.tzinfo)
    aggs = {name: spec.aggregate for name, spec in config.input.covariates.items()}
    frame, rs = to_output_frequency(
        ing.readings, ing.frequency, out_freq, aggs, q, config.validation.partial_intervals,
        config.target_rules.resample, anchor,
    )  # fmt: skip
    # input rows represented in the output: each live raw row once in the readings
    kept = ing.readings[q.alive[ing.readings["_idx"].to_numpy()]]
    rows_in, rows_out = len(q.raw), int(kept["_idx"].nunique())
    if rows_out != len(kept) or rows_in != rows_out + int((~q.alive).sum()):
        raise AssertionError("row identity broken: rows_in != rows_out + rows_quarantined")  # a bug
    if rows_out == 0:
        counts = q.counts()
        top = max(counts, key=lambda k: counts[k])
        ex = q.examples(1)[top][0]
        raise InputError(
            f"no usable rows: all {rows_in} rows were rejected; most often {top} ({counts[top]} rows), "
            f"e.g. {ex['source_file']} row {ex['source_row']}: {ex['detail']} (value {ex['value']!r}, "
            f"timestamp {ex['timestamp']!r})"
        )
    static, static_report = from_readings(kept, config.input.static_columns)
    if config.static is not None:
        static, file_report = join_static_file(static, config.static)
        static_report["file"] = file_report

    frame = regular_grid(frame, out_freq)
    gap_before = gap_tools.gap_table(frame, out_freq)
    values, took = gap_tools.fill(frame["target"], frame["series_id"], config.gaps, out_freq)
    frame["target"] = values.to_numpy()
    frame["filled"] = frame["filled"].to_numpy() | took
    gap_after = gap_tools.gap_table(frame, out_freq)

    cov_reports: dict[str, Any] = {}
    cov_quarantine = []
    for source in config.covariates:
        table = load_covariate(source, out_freq, anchor)
        frame = join_covariates(frame, table, source, out_freq)
        cov_reports[source.name] = table.report
        cov_quarantine.append(table.quarantine.frame())

    calendar = HolidayCalendar.from_spec(config.calendar.holidays)
    quarantine = concat_quarantine([q.frame(), *cov_quarantine])
    frame = frame.sort_values(["series_id", "timestamp"], ignore_index=True)
    frame["series_id"] = frame["series_id"].astype("string")
    frame["timestamp"] = frame["timestamp"].astype("datetime64[us, UTC]")
    static["series_id"] = static["series_id"].astype("string")

    report = _report(
        config,
        ing,
        rs,
        out_freq,
        rows_in,
        rows_out,
        q.counts(),
        q.examples(),
        gap_before,
        gap_after,
        frame,
        static_report,
        cov_reports,
        input_path,
    )
    dataset = _dataset(config, ing, frame, static, calendar)
    return Prepared(frame, static, quarantine, gap_after, report, dataset)


def _gap_summary(
    before: pd.DataFrame,
    after: pd.DataFrame,
    frame: pd.DataFrame,
    config: DataConfig,
    out_freq: pd.Timedelta,
) -> dict[str, Any]:
    worst = after.sort_values(["missing", "longest"], ascending=False).head(10)
    return {
        "fill_policy": config.gaps.model_dump(),
        "series_with_gaps": int((before["gaps"] > 0).sum()),
        "gaps_found": int(before["gaps"].sum()),
        "missing_intervals_found": int(before["missing"].sum()),
        "longest_gap_hours": float(before["longest_hours"].max()) if len(before) else 0.0,
        "filled_intervals": int(frame["filled"].sum()),
        "remaining_gaps": int(after["gaps"].sum()),
        "remaining_missing_intervals": int(after["missing"].sum()),
        "remaining_gap_examples": gap_tools.gap_examples(frame, out_freq),
        "remaining_gaps_at_clock_change": gap_tools.gaps_at_clock_change(
            frame, out_freq, config.input.timezone.tzinfo
        ),
        "worst_series": [
            {
                "series_id": str(r.series_id),
                "gaps": int(r.gaps),
                "missing_intervals": int(r.missing),
                "longest_gap_hours": float(r.longest_hours),
                "first_gap": None if pd.isna(r.first_gap) else str(r.first_gap),
            }
            for r in worst.itertuples()
            if r.gaps > 0
        ],
    }


def _report(
    config: DataConfig,
    ing: Ingested,
    rs: dict[str, int],
    out_freq: pd.Timedelta,
    rows_in: int,
    rows_out: int,
    counts: dict[str, int],
    examples: dict[str, list[dict[str, object]]],
    gap_before: pd.DataFrame,
    gap_after: pd.DataFrame,
    frame: pd.DataFrame,
    static_report: dict[str, Any],
    cov_reports: dict[str, Any],
    input_path: str | None,
) -> dict[str, Any]:
    cov_q = sum(r["rows_quarantined"] for r in cov_reports.values())
    return {
        "dataset": config.name,
        "input": [str(p) for p in resolve_inputs(input_path or config.input.path)],
        "rows_in": rows_in,
        "rows_out": rows_out,
        "rows_quarantined": rows_in - rows_out,
        "identity_holds": rows_in == rows_out + sum(counts.values()),
        "quarantined_by_reason": counts,
        "quarantine_examples": examples,
        "covariate_rows_quarantined": cov_q,
        "source_frequency": format_freq(ing.frequency),
        "output_frequency": str(config.output_frequency),
        "unit": ing.unit,
        "timezone": str(config.input.timezone),
        "dst": ing.dst,
        "duplicates": ing.duplicates,
        "unsorted_rows": ing.unsorted_rows,
        "incomplete_intervals": rs["incomplete_intervals"],
        "series": int(frame["series_id"].nunique()),
        "output_rows": len(frame),
        "observed_intervals": int((frame["target"].notna() & ~frame["filled"]).sum()),
        "gaps": _gap_summary(gap_before, gap_after, frame, config, out_freq),
        "static": static_report,
        "covariates": cov_reports,
        "notes": ing.notes,
    }


def _dataset(
    config: DataConfig,
    ing: Ingested,
    frame: pd.DataFrame,
    static: pd.DataFrame,
    calendar: HolidayCalendar,
) -> dict[str, Any]:
    known = {name: c.known_future for name, c in config.input.covariates.items()}
    for source in config.covariates:
        for name in source.columns:
            known[name] = source.known_future
    return {
        "format_version": 1,
        "package_version": __version__,
        "name": config.name,
        "frequency": str(config.output_frequency),
        "unit": ing.unit,
        "calendar_timezone": str(config.calendar.timezone),
        "holidays": calendar.to_dict(),
        "covariates": {name: {"known_future": k} for name, k in known.items()},
        "static_columns": [c for c in static.columns if c != "series_id"],
        "series": int(frame["series_id"].nunique()),
        "start": str(frame["timestamp"].min()),
        "end": str(frame["timestamp"].max()),
    }


def write_prepared(prepared: Prepared, out_dir: str | Path) -> dict[str, Path]:
    """Write frame, static table, quarantine, gaps and the JSON report/dataset description."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "frame": out / "frame.parquet",
        "static": out / "static.parquet",
        "quarantine": out / "quarantine.parquet",
        "gaps": out / "gaps.parquet",
        "report": out / "report.json",
        "dataset": out / "dataset.json",
    }
    prepared.frame.to_parquet(paths["frame"], index=False)
    prepared.static.to_parquet(paths["static"], index=False)
    write_quarantine(prepared.quarantine, paths["quarantine"])
    prepared.gaps.to_parquet(paths["gaps"], index=False)
    write_json(paths["report"], prepared.report)
    write_json(paths["dataset"], prepared.dataset)
    return paths


def write_quarantine(quarantine: pd.DataFrame, path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    quarantine.to_parquet(path, index=False)


def read_frame(path: str | Path) -> pd.DataFrame:
    """Read a canonical frame written by `write_prepared` (a folder or the parquet file)."""
    p = Path(path)
    if p.is_dir():
        p = p / "frame.parquet"
    if not p.exists():
        raise InputError(f"prepared frame not found: {p}")
    frame = pd.read_parquet(p)
    frame["series_id"] = frame["series_id"].astype("string")
    return frame


__all__ = ["Prepared", "prepare", "read_frame", "write_prepared", "write_quarantine"]
