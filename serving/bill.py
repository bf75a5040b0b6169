"""`forecasting bill`: bills of any number of customers, streamed in constant memory.

Usage comes in the long format (`series_id`, `timestamp` UTC interval start, a kWh column,
optionally an export kWh column): meter readings, a prepared frame (`target`) or forecasts
(`p50`). The input is partitioned by a stable hash of the series id (whole customers per
group), then each group is checked and billed under one tariff, or under a new tariff and a
baseline to compare. Rows that cannot be billed go to `quarantine.csv` with the reason:
rows in = rows billed + rows quarantined.

What OUTPUT holds:

    bills.parquet            one row per customer and billing period: series_id, period,
                             period_start/end (local dates), days, kWh, one column per line
                             item, total (major currency units)
    bills_baseline.parquet   the same under --baseline
    changes.csv              per customer: baseline total, new total, change, change %, groups
    summary.json / .md       counts, totals, and the bill changes overall and by group
    quarantine.csv           every row not billed, with file, row and reason
    _job/                    while it runs: plan, partition, parts and ledger, so a run
                             stopped part way resumes (`serving.job_folder`); removed at the end
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from forecasting.data.readers import describe_columns, file_columns, resolve_inputs
from forecasting.data.schema import SERIES, TIME
from forecasting.errors import InputError
from forecasting.folders import write_json
from forecasting.tariffs.engine import BillEngine, infer_step
from serving.engines import engine_summary, run_in_process, worker_stamp
from serving.job_folder import JobFolder, text_fingerprint
from serving.parts import join_parquet, write_table_atomic
from serving.stream import BAD, FILE, ROW, Source, open_source, read_group

USAGE_COLUMNS = ("kwh", "target", "p50")
QUARANTINE_COLUMNS = ["source_file", "source_row", "reason", "detail", SERIES, TIME, "value"]
THRESHOLDS = (5, 10, 20)
NO_STATIC = "(no static data)"


def usage_column(path: str | Path, column: str | None) -> str:
    """The kWh column to bill: `column`, else the first of kwh, target, p50 in the file."""
    first = resolve_inputs(path, "usage")[0]
    present = file_columns(first)
    if column is not None:
        if column not in present:
            raise InputError(f"{path}: no column {column!r}; {describe_columns(first, present)}")
        return column
    for name in USAGE_COLUMNS:
        if name in present:
            return name
    raise InputError(
        f"{path}: no usage column: expected one of {list(USAGE_COLUMNS)} (or name it with "
        f"--column); {describe_columns(first, present)}"
    )


def check_rows(
    rows: pd.DataFrame, usage: str, export: str | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rows to bill, quarantined rows with reasons) of one partition group."""
    why = rows[BAD].astype("object").to_numpy().copy() if BAD in rows else np.full(len(rows), None)
    u = rows[usage].to_numpy(dtype="float64")
    free = pd.isna(why)
    why[free & np.isnan(u)] = f"{usage} is missing"
    free = pd.isna(why)
    neg = free & (u < 0)
    why[neg] = (
        f"{usage} is negative: imported energy must be >= 0 (give exported energy in the "
        "export column)"
    )
    if export is not None:
        x = rows[export].to_numpy(dtype="float64")
        free = pd.isna(why)
        why[free & (x < 0)] = f"{export} is negative"
    free = pd.isna(why)
    dup = np.zeros(len(rows), dtype=bool)
    if free.any():
        ok = rows[free]
        dup[np.flatnonzero(free)] = ok.duplicated([SERIES, TIME], keep="first").to_numpy()
    why[dup] = "duplicate reading: the same series_id and timestamp appeared earlier"
    bad = ~pd.isna(why)
    q = rows[bad]
    quarantined = pd.DataFrame(
        {
            "source_file": q[FILE].to_numpy() if FILE in q else "",
            "source_row": q[ROW].to_numpy() if ROW in q else 0,
            "reason": why[bad].astype(str),
            "detail": "",
            SERIES: q[SERIES].astype("string").to_numpy(),
            TIME: q[TIME].astype("string").to_numpy(),
            "value": q[usage].astype("string").to_numpy(),
        }
    )
    return rows[~bad], quarantined


@dataclass
class BillJob:
    """Bill `usage` under `tariff` (and `baseline`); see the module docstring for OUTPUT."""

    engine: BillEngine
    usage_path: str
    output: Path
    baseline: BillEngine | None = None
    column: str | None = None
    export: str | None = None
    static: pd.DataFrame | None = None
    group_by: list[str] = field(default_factory=list)
    batch_size: int = 2000
    runner: Any = None  # None: groups in this process; else an engine (serving.engines)
    echo: Callable[[str], None] = print

    def run(self) -> dict[str, Any]:
        """Partition the usage into groups of whole customers; bill each group (here or on the
        runner's workers) into its own part files; join the parts in group order, so the
        output is the same on every engine. Resumable (`serving.job_folder`): a run stopped
        part way and started again with the same arguments bills only the groups not done."""
        usage = usage_column(self.usage_path, self.column)
        values = (usage,) + ((self.export,) if self.export else ())
        source = open_source(self.usage_path, [], values)
        files = [str(f) for f in source.files]
        new = not self.output.exists()
        self.output.mkdir(parents=True, exist_ok=True)
        job = JobFolder(self.output)
        job.open(self._args(source, usage))
        scan = job.scan(source, self.batch_size)
        if scan["series"] == 0:
            job.drop()
            if new:  # a refused command writes nothing
                self.output.rmdir()
            raise InputError(f"{self.usage_path}: no data rows (header only)")
        groups = scan["groups"]
        meta = job.partition(source, groups, self.runner, usage, None)
        (job.path / "parts").mkdir(exist_ok=True)
        done = job.finished(lambda e: all((job.path / "parts" / n).is_file() for n in e["parts"]))
        if done:
            self.echo(f"resuming: {len(done)} of {groups} groups already billed")
        spec = {"build": "serving.bill:BillWorker", "kwargs": {
            "tariff": self.engine, "baseline": self.baseline, "usage": usage,
            "export": self.export, "work": job.path,
        }}  # fmt: skip
        tasks = [(g,) for g in range(groups) if g not in done]
        entries = (
            run_in_process(spec, tasks)
            if self.runner is None
            else self.runner.run_groups(spec, tasks)
        )
        for entry in entries:
            job.record(entry)  # by this process alone, on every engine
            done[entry["group"]] = entry
        job.drop_folder()
        self._join_parts(job.path / "parts", groups, files)
        entries_done = [done[g] for g in sorted(done)]
        quarantined = sum(e["quarantined"] for e in entries_done)
        billed_rows = meta["rows"] - quarantined
        ran = engine_summary(self.runner, entries_done)
        summary = self._finish(meta["rows"], billed_rows, quarantined, scan["series"], usage, ran)
        job.drop()  # joined and summed up: a new run bills again
        return summary

    def _args(self, source: Source, usage: str) -> dict[str, Any]:
        """What a resumed run must share with the run it resumes."""

        def tariff(engine: BillEngine | None) -> str | None:
            if engine is None:
                return None
            cycle = f"{engine.cycle.months}/{engine.cycle.day}"
            return text_fingerprint(engine.tariff.model_dump_json() + cycle)

        return {
            "usage": source.fingerprint(),
            "usage_column": usage,
            "export": self.export,
            "tariff": tariff(self.engine),
            "baseline": tariff(self.baseline),
            "batch_size": self.batch_size,
        }

    def _join_parts(self, parts: Path, groups: int, files: list[str]) -> None:
        """bills.parquet (and the baseline's) and quarantine.csv from the groups' parts, in
        group order, one part in memory at a time."""
        writer = Writers(self.output)  # clears what an earlier run left
        for name in ("bills", "bills_baseline"):
            names = [parts / f"{name}-{g:05d}.parquet" for g in range(groups)]
            join_parquet(names, self.output / f"{name}.parquet")
        for g in range(groups):
            path = parts / f"quarantine-{g:05d}.parquet"
            if path.is_file():
                q = pd.read_parquet(path)
                q["source_file"] = [files[int(i)] for i in q["source_file"]]
                writer.quarantine(q)

    def bill_frame(
        self, frame: pd.DataFrame, usage: str, quarantine: pd.DataFrame
    ) -> dict[str, Any]:
        """Bill an in-memory frame (read through a data config) already checked upstream."""
        self.output.mkdir(parents=True, exist_ok=True)
        writer = Writers(self.output)
        ok, q = check_rows(frame, usage, self.export)
        q = pd.concat([quarantine, q], ignore_index=True) if len(quarantine) else q
        if len(q):
            writer.quarantine(q[QUARANTINE_COLUMNS])
        ids = frame[SERIES].unique()
        for k in range(0, len(ids), self.batch_size):
            part = ok[ok[SERIES].isin(ids[k : k + self.batch_size])]
            self._bill(part, usage, writer)
        writer.close()
        rows_in = len(frame) + len(quarantine)
        return self._finish(rows_in, len(ok), len(q), len(ids), usage)

    def _bill(self, rows: pd.DataFrame, usage: str, writer: Writers) -> None:
        if rows.empty:
            return
        step = infer_step(rows)
        writer.bills("bills", self.engine.bill(rows, usage, self.export, step))
        if self.baseline is not None:
            writer.bills("bills_baseline", self.baseline.bill(rows, usage, self.export, step))

    def _finish(
        self,
        rows_in: int,
        billed: int,
        quarantined: int,
        n_series: int,
        usage: str,
        ran: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        if rows_in != billed + quarantined:
            raise AssertionError("row identity broken: rows in != billed + quarantined")  # a bug
        bills_path = self.output / "bills.parquet"
        bills = pd.read_parquet(bills_path) if bills_path.exists() else self.engine.empty()
        t = self.engine.tariff
        summary: dict[str, Any] = {
            "tariff": t.name,
            "currency": t.currency,
            "usage": self.usage_path,
            "usage_column": usage,
            "rows_in": rows_in,
            "rows_billed": billed,
            "rows_quarantined": quarantined,
            "customers_in": n_series,
            "customers_billed": int(bills[SERIES].nunique()),
            "bills": len(bills),
            "partial_bills": int(bills["partial"].sum()),
            "kwh": float(bills["kwh"].sum()),
            "total": round(float(bills["total"].sum()), t.decimals),
        }
        if self.baseline is not None:
            base = pd.read_parquet(self.output / "bills_baseline.parquet")
            changes = bill_changes(base, bills, self.static, self.group_by)
            changes.to_csv(self.output / "changes.csv", index=False)
            summary["baseline"] = self.baseline.tariff.name
            summary["comparison"] = compare_summary(changes, self.group_by)
        summary |= ran or {}
        write_json(self.output / "summary.json", summary)
        (self.output / "summary.md").write_text(render_summary(summary), "utf-8")
        return summary


class BillWorker:
    """An engine's worker for `BillJob.run`: reads a partition group, checks and bills it, and
    writes the group's parts (bills, baseline bills, quarantined rows), each whole or absent."""

    def __init__(
        self,
        threads: int,
        tariff: BillEngine,
        baseline: BillEngine | None,
        usage: str,
        export: str | None,
        work: Path,
    ) -> None:
        del threads  # billing is numpy on one thread
        self.tariff, self.baseline, self.usage, self.export = tariff, baseline, usage, export
        self.partition, self.parts = work / "partition", work / "parts"

    def group(self, g: int) -> dict[str, Any]:
        rows = read_group(self.partition, g)
        written: list[str] = []
        if rows is None:
            return {"group": g, "rows": 0, "quarantined": 0, "parts": [], **worker_stamp()}
        ok, q = check_rows(rows, self.usage, self.export)
        if len(q):
            written.append(
                self._write(f"quarantine-{g:05d}", pa.Table.from_pandas(q, preserve_index=False))
            )
        if not ok.empty:
            step = infer_step(ok)
            engines = [("bills", self.tariff), ("bills_baseline", self.baseline)]
            for name, engine in engines:
                if engine is not None:
                    bills = engine.bill(ok, self.usage, self.export, step)
                    written.append(self._write(f"{name}-{g:05d}", bills_table(bills)))
        return {"group": g, "rows": len(rows), "quarantined": len(q), "parts": written,
                **worker_stamp()}  # fmt: skip

    def _write(self, name: str, table: pa.Table) -> str:
        write_table_atomic(self.parts / f"{name}.parquet", table)
        return f"{name}.parquet"


def bills_table(frame: pd.DataFrame) -> pa.Table:
    """Bills as written: period start and end as local dates."""
    frame = frame.assign(
        period_start=frame["period_start"].astype("datetime64[s]").dt.date,
        period_end=frame["period_end"].astype("datetime64[s]").dt.date,
    )
    return pa.Table.from_pandas(frame, preserve_index=False)


class Writers:
    """Parquet writers opened on first use (the schema of the first part), and a CSV quarantine."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._open: dict[str, pq.ParquetWriter] = {}
        for name in ("bills.parquet", "bills_baseline.parquet", "quarantine.csv"):
            (folder / name).unlink(missing_ok=True)

    def bills(self, name: str, frame: pd.DataFrame) -> None:
        table = bills_table(frame)
        if name not in self._open:
            self._open[name] = pq.ParquetWriter(self.folder / f"{name}.parquet", table.schema)
        self._open[name].write_table(table.cast(self._open[name].schema))

    def quarantine(self, frame: pd.DataFrame) -> None:
        path = self.folder / "quarantine.csv"
        frame.to_csv(path, mode="a", header=not path.exists(), index=False)

    def close(self) -> None:
        for w in self._open.values():
            w.close()


def bill_changes(
    baseline: pd.DataFrame, new: pd.DataFrame, static: pd.DataFrame | None, group_by: list[str]
) -> pd.DataFrame:
    """Per customer: baseline and new totals over the same bills, the change and change %."""
    keys = [SERIES, "period"]
    both = baseline[[*keys, "total"]].merge(new[[*keys, "total"]], on=keys, suffixes=("_b", "_n"))
    per = both.groupby(SERIES, sort=True)[["total_b", "total_n"]].sum()
    out = pd.DataFrame(
        {
            SERIES: per.index.astype("string"),
            "bills": both.groupby(SERIES, sort=True).size().to_numpy(),
            "baseline_total": per["total_b"].round(6).to_numpy(),
            "new_total": per["total_n"].round(6).to_numpy(),
        }
    )
    out["change"] = (out["new_total"] - out["baseline_total"]).round(6)
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = np.where(
            out["baseline_total"] > 0, 100 * out["change"] / out["baseline_total"], np.nan
        )
    out["change_pct"] = pct
    for col in group_by:
        if static is None or col not in static:
            have = [] if static is None else [c for c in static.columns if c != SERIES]
            raise InputError(f"--group-by {col!r}: not a column of the static table ({have})")
        mapped = out[SERIES].map(static.set_index(SERIES)[col].astype("string"))
        out[col] = mapped.fillna(NO_STATIC)
    return out


def _stats(changes: pd.DataFrame) -> dict[str, Any]:
    pct = changes["change_pct"]
    out: dict[str, Any] = {
        "customers": len(changes),
        "mean_change": round(float(changes["change"].mean()), 4) if len(changes) else None,
        "median_change": round(float(changes["change"].median()), 4) if len(changes) else None,
        "mean_change_pct": round(float(pct.mean()), 3) if pct.notna().any() else None,
        "median_change_pct": round(float(pct.median()), 3) if pct.notna().any() else None,
    }
    for th in THRESHOLDS:
        n = int((pct > th).sum())
        out[f"increase_over_{th}pct"] = n
        out[f"share_over_{th}pct"] = round(n / len(changes), 4) if len(changes) else None
    return out


def compare_summary(changes: pd.DataFrame, group_by: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"all": _stats(changes)}
    for col in group_by:
        out[col] = {str(k): _stats(g) for k, g in changes.groupby(col, sort=True)}
    return out


def render_summary(summary: dict[str, Any]) -> str:
    c = summary["currency"]
    lines = [
        f"# Bills under {summary['tariff']}",
        "",
        f"- rows in {summary['rows_in']:,}: billed {summary['rows_billed']:,}, "
        f"quarantined {summary['rows_quarantined']:,}",
        f"- customers billed {summary['customers_billed']:,} of {summary['customers_in']:,}; "
        f"{summary['bills']:,} bills ({summary['partial_bills']:,} partial periods)",
        f"- {summary['kwh']:,.1f} kWh, total {summary['total']:,.2f} {c}",
    ]
    comp = summary.get("comparison")
    if comp:
        lines += ["", f"## Change from {summary['baseline']} to {summary['tariff']}", ""]
        head = "| group | customers | mean change | median change | mean % | >5% | >10% | >20% |"
        lines += [head, "|" + "---|" * 8]
        for col, groups in comp.items():
            items = [("all", groups)] if col == "all" else list(groups.items())
            for name, s in items:
                label = "all" if col == "all" else f"{col}={name}"
                pct = "" if s["mean_change_pct"] is None else f"{s['mean_change_pct']:+.1f}%"
                mean = "" if s["mean_change"] is None else f"{s['mean_change']:+.2f}"
                median = "" if s["median_change"] is None else f"{s['median_change']:+.2f}"
                lines.append(
                    f"| {label} | {s['customers']} | {mean} | {median} | {pct} | "
                    f"{s['increase_over_5pct']} | {s['increase_over_10pct']} | "
                    f"{s['increase_over_20pct']} |"
                )
    return "\n".join(lines) + "\n"
