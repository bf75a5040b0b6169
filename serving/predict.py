"""`forecasting predict`: any amount of meter data through a bundle, in constant memory, resumable.

What OUTPUT holds when the job is done:

    forecasts/part-00000.parquet ...  forecasts, long format: series_id, origin, timestamp,
                            horizon, one column per quantile (read the folder as one table)
    peaks/part-00000.parquet ...      with --peaks: each series' daily peak per origin and
                            local day: day, intervals (of the day forecast), peak_p10,
                            peak_p50, peak_p90 (target units in the peak interval), peak_time
                            (UTC) and peak_hour (local): the median peak interval of the
                            paths; likeliest_time, the interval most paths peak in, and
                            likeliest_probability, their share; see
                            forecasting/forecasts/peaks.py
    errors.csv              every series (and origin) that could not be forecast, with the reason
    summary.json            counts and timings
    _job/                   plan, ledger and per-group error files (kept: they make a re-run a
                            no-op and say how the output was made)

The job runs in three passes, each restartable:
1. scan: count the distinct series (the `series_id` column only) to size the groups, about
   `batch_size` series each;
2. partition: stream the input in record batches and write each row to its group's folder
   (group = a stable hash of `series_id`), so a group holds whole histories however the input
   is ordered. Written beside and renamed: whole or absent. The static table (--static) is
   split into the same groups, so no process holds all of it;
3. forecast: per group, check each series, build features with the shared feature code, run
   onnxruntime, write the part (temp file, fsync, rename), then append the group to the
   ledger (fsync). Memory is bounded by one record batch and one group, not by the input
   (nor by the static table).

A job killed at any point and started again with the same arguments skips what is done; a
group whose part was written but is not yet in the ledger is redone, with the same result.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecasting.bundle_format import MANIFEST, sha256
from forecasting.data.schema import SERIES, TARGET, TIME, format_freq
from forecasting.errors import BundleError, InputError
from forecasting.folders import write_atomic, write_json
from serving.engines import worker_stamp
from serving.job_folder import JOB, PLAN, JobFolder
from serving.kinds import BUNDLE_KINDS, bundle_kind
from serving.load import load_bundle
from serving.parts import write_frame_atomic
from serving.stream import (
    BAD,
    FILE,
    ROW,
    Source,
    open_source,
    read_group,
)
from serving.tables import partition_static

FORECASTS, STATIC, PEAKS = "forecasts", "static", "peaks"
ERRORS_FILE, SUMMARY = "errors.csv", "summary.json"


def covariates_needed(manifest: dict[str, Any]) -> list[str]:
    """Covariate columns the bundle's features read from the input."""
    f = manifest["model"]["features"]
    cols = [*f.get("known_future", []), *f.get("observed", [])]
    names = manifest["model"].get("feature_names", [])
    if f.get("temperature") and "hdh" in names:
        cols.append(f["temperature"])
    return list(dict.fromkeys(cols))


def check_job_folder(output: Path) -> None:
    """Refuse an --output that is neither a predict job's folder nor empty or new."""
    if (output / JOB / PLAN).is_file():
        return
    if output.exists() and any(p.name != JOB for p in output.iterdir()):
        raise InputError(
            f"{output} exists and is not a predict job's folder; choose an empty or new --output"
        )


@dataclass
class PredictJob:
    """One `forecasting predict` run; see the module doc."""

    bundle_dir: Path
    input: str
    output: Path
    origins: list[pd.Timestamp] | None = None
    batch_size: int = 1000
    static: str | None = None
    threads: int | None = None
    session_batch: int | None = None
    progress: bool | None = None
    int8: bool = False
    peaks: bool = False
    echo: Callable[[str], None] = print
    engine: Any = None  # None: groups in this process; else an engine with `run_groups` (Ray)
    bundle: Any = field(init=False)  # a Bundle or an EnsembleBundle
    source: Source = field(init=False)

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise InputError(f"--batch-size must be at least 1 series, got {self.batch_size}")
        self.bundle = load_bundle(self.bundle_dir, self.threads, self.int8)
        if not bundle_kind(self.bundle.kind).forecasts:
            forecasters = [k for k, v in BUNDLE_KINDS.items() if v.forecasts]
            raise BundleError(
                f"{self.bundle_dir}: a {self.bundle.kind!r} bundle scores anomalies; predict "
                f"runs forecasters ({', '.join(forecasters)})"
            )
        self.step = pd.Timedelta(self.bundle.manifest["freq"])
        self.source = open_source(self.input, covariates_needed(self.bundle.manifest))
        self.folder = JobFolder(self.output)
        self.job = self.folder.path
        if self.origins:
            self.origins = sorted({pd.Timestamp(o) for o in self.origins})
            off = [o for o in self.origins if (o - self.origins[0]) % self.step]
            if off:
                raise InputError(
                    f"--origin {off[0]} is not on the bundle's {self.step} grid of {self.origins[0]}"
                )

    def worker_spec(self) -> dict[str, Any]:
        """What another process needs to build this same job (an engine's worker)."""
        kwargs = {"bundle_dir": self.bundle_dir, "input": self.input, "output": self.output,
                  "origins": self.origins, "batch_size": self.batch_size, "static": self.static,
                  "session_batch": self.session_batch, "int8": self.int8,
                  "peaks": self.peaks}  # fmt: skip
        return {"build": "serving.predict:PredictWorker", "kwargs": kwargs}

    # ---- plan and ledger -------------------------------------------------------------------

    def _args(self) -> dict[str, Any]:
        static = Path(self.static) if self.static else None
        return {
            "bundle": sha256(self.bundle_dir / MANIFEST),
            "input": self.source.fingerprint(),
            "static": sha256(static) if static and static.is_file() else self.static,
            "origins": [o.isoformat() for o in self.origins] if self.origins else "end of input",
            "batch_size": self.batch_size,
            "int8": self.int8,
            **({"peaks": True} if self.peaks else {}),  # a plan of an earlier release still reads
        }

    def _check_plan(self) -> None:
        args = self._args()  # once: it hashes the bundle and the static table
        if self.folder.changed(args) is None:
            check_job_folder(self.output)
        self.folder.refuse_other(args)

    def _ledger(self) -> dict[int, dict[str, Any]]:
        def whole(e: dict[str, Any]) -> bool:
            parts = [FORECASTS, PEAKS] if self.peaks else [FORECASTS]
            return all((self.output / d / _part_name(e["group"])).is_file() for d in parts)

        return self.folder.finished(whole)

    def _origins(self, meta: dict[str, Any]) -> pd.DatetimeIndex:
        if self.origins:
            return pd.DatetimeIndex(self.origins).as_unit("ns")
        if meta["last_reading"] is None:
            raise InputError(f"{self.input}: no usable reading to place the forecast origin after")
        # ns whether the meta came from this run or from JSON on a resume: parts stay alike
        return pd.DatetimeIndex([pd.Timestamp(meta["last_reading"]) + self.step]).as_unit("ns")

    def run(self) -> dict[str, Any]:
        """Run (or finish) the job; return its summary."""
        t0 = time.perf_counter()
        self._static_columns()  # a missing --static is said before any work
        new = not self.output.exists()
        self.output.mkdir(parents=True, exist_ok=True)
        self._check_plan()
        if (self.output / SUMMARY).is_file():
            summary = dict(json.loads((self.output / SUMMARY).read_text("utf-8")))
            summary["already_done"] = True
            return summary
        scan = self.folder.scan(self.source, self.batch_size)
        try:
            self._partition_static(scan["groups"])
        except InputError:
            if new:  # a refused command leaves nothing behind
                shutil.rmtree(self.output, ignore_errors=True)
            raise
        meta = self.folder.partition(self.source, scan["groups"], self.engine, TARGET, self.step)
        origins = self._origins(meta)
        done = self._ledger()
        todo = [g for g in range(scan["groups"]) if g not in done]
        (self.job / "errors").mkdir(exist_ok=True)
        (self.output / FORECASTS).mkdir(exist_ok=True)
        if self.peaks:
            (self.output / PEAKS).mkdir(exist_ok=True)
        if done:
            self.echo(f"resuming: {len(done)} of {scan['groups']} groups already done")
        if self.engine is None:
            entries: Iterable[dict[str, Any]] = (self.process_group(g, origins) for g in todo)
        else:  # the same groups on another engine's workers: entries as they finish
            iso = [o.isoformat() for o in origins]
            entries = self.engine.run_groups(self.worker_spec(), [(g, iso) for g in todo])
        with _Progress(scan["series"], self.progress, self.echo) as bar:
            bar.advance(sum(e["series"] for e in done.values()), 0)
            for entry in entries:
                self.folder.record(entry)  # the ledger is written here, by this process alone
                done[entry["group"]] = entry
                bar.advance(entry["series"], entry["rows_in"])
        return self._finish(scan, meta, origins, done, time.perf_counter() - t0)

    def process_group(self, g: int, origins: pd.DatetimeIndex) -> dict[str, Any]:
        """Forecast group `g` and write its part and error file (each whole or absent); its
        ledger entry, which the caller records. The same on every engine and every retry."""
        t = time.perf_counter()
        frame = self._read_group(g)
        forecasts, errors = self.forecast_group(frame, origins, self._static_group(g))
        unknown = self._future_gaps(frame, forecasts)
        write_frame_atomic(self.job / "errors" / f"g={g:05d}.parquet", errors)
        peak_days = None
        if self.peaks:
            peaks = self.daily_peaks(forecasts)
            write_frame_atomic(self.output / PEAKS / _part_name(g), peaks)
            peak_days = len(peaks)
        write_frame_atomic(self.output / FORECASTS / _part_name(g), forecasts)
        return {
            "group": g,
            "series": int(frame[SERIES].nunique()),
            "rows_in": len(frame),
            "rows_out": len(forecasts),
            "forecast_series": int(forecasts[SERIES].nunique()),
            "error_series": int(errors[SERIES].nunique()),
            "rows_without_future_covariates": unknown,
            "seconds": round(time.perf_counter() - t, 3),
            **({"peak_days": peak_days} if peak_days is not None else {}),
            **worker_stamp(),
        }

    def daily_peaks(self, forecasts: pd.DataFrame) -> pd.DataFrame:
        """The daily peak product of a group's forecasts (copula paths through the calibrated
        quantiles; independent hours when the bundle measured no path correlation)."""
        from forecasting.forecasts.peaks import daily_peaks

        m, cal = self.bundle.manifest, self.bundle.calibration
        return daily_peaks(forecasts, self.bundle.quantiles, m["timezone"],
                           self.path_correlation(), bool(m["nonnegative"]),
                           None if cal is None else cal.peak_factors)  # fmt: skip

    def path_correlation(self) -> np.ndarray | None:
        cal = self.bundle.calibration
        return None if cal is None else cal.correlation

    def _finish(
        self,
        scan: dict[str, Any],
        meta: dict[str, Any],
        origins: pd.DatetimeIndex,
        done: dict[int, dict[str, Any]],
        seconds: float,
    ) -> dict[str, Any]:
        errs = [pd.read_parquet(self.job / "errors" / f"g={g:05d}.parquet") for g in sorted(done)]
        errors = pd.concat(errs, ignore_index=True) if errs else _no_errors()
        errors = errors.sort_values([SERIES, "origin"], na_position="first", kind="stable")
        write_atomic(self.output / ERRORS_FILE, lambda p: errors.to_csv(p, index=False))
        rows_out = sum(e["rows_out"] for e in done.values())
        summary = {
            "bundle": str(self.bundle_dir),
            "kind": self.bundle.kind,
            "input": self.input,
            "origins": [o.isoformat() for o in origins],
            "series": scan["series"],
            "groups": scan["groups"],
            "rows_read": meta["rows"],
            "rows_unreadable": meta["bad_rows"],
            "series_forecast": sum(e["forecast_series"] for e in done.values()),
            "series_with_errors": int(errors[SERIES].nunique()),
            "forecast_rows": rows_out,
            "forecast_rows_without_future_covariates": sum(
                e["rows_without_future_covariates"] for e in done.values()
            ),
            "parts": len(done),
            "engine": getattr(self.engine, "name", "local"),
            "seconds_this_run": round(seconds, 2),
            "seconds_forecasting": round(sum(e["seconds"] for e in done.values()), 2),
        }
        if self.peaks:
            summary["peak_days"] = sum(e.get("peak_days", 0) for e in done.values())
            summary["peak_paths"] = ("copula with the correlation measured at training"
                                     if self.path_correlation() is not None else
                                     "independent hours: the bundle measured no correlation "
                                     "(export it from a run trained with a validation period)")  # fmt: skip
        summary["series_per_s"] = round(summary["series"] / max(seconds, 1e-9), 1)
        write_json(self.output / SUMMARY, summary)
        self.folder.drop_folder()
        self.folder.drop_folder(STATIC)
        return summary

    # ---- one group -------------------------------------------------------------------------

    def _read_group(self, g: int) -> pd.DataFrame:
        rows = read_group(self.folder.grouped(), g)
        return _empty_rows(self.source.columns) if rows is None else rows

    def _static_columns(self) -> list[str]:
        """The static columns the bundle reads (then --static is required)."""
        needed = list(self.bundle.features.static)
        if needed and not self.static:
            raise InputError(
                f"the bundle uses static columns {needed}; give them with --static "
                f"(a table with {SERIES} and those columns)"
            )
        return needed

    def _partition_static(self, groups: int) -> None:
        """The static table split into the input's groups (`_job/static`, once per job): a
        process holds one group's customers at a time, not the whole table."""
        needed = self._static_columns()
        if needed:
            self.folder.written_once(
                STATIC, lambda tmp: partition_static(str(self.static), needed, groups, tmp)
            )

    def _static_group(self, g: int) -> pd.DataFrame | None:
        """The static rows of group `g`'s customers; a series absent from the table gets no
        value (the features' 'unknown')."""
        needed = self._static_columns()
        if not needed:
            return None
        rows = read_group(self.folder.grouped(STATIC), g)
        if rows is None:
            rows = pd.DataFrame({c: pd.Series([], dtype="string") for c in [SERIES, *needed]})
        return rows.astype({SERIES: "string"})[[SERIES, *needed]]

    def forecast_group(
        self, frame: pd.DataFrame, origins: pd.DatetimeIndex, static: pd.DataFrame | None
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(forecasts, errors) for the series in `frame`; one bad series never stops the rest."""
        good, errors = self._check_series(frame, origins)
        try:
            forecasts, skipped = self._forecast(good, origins, static)
        except Exception:  # isolate the series that breaks the group, keep the others
            parts, skips = [], []
            for sid, one in good.groupby(SERIES, sort=True, observed=True):
                try:
                    f, s = self._forecast(one, origins, static)
                    parts.append(f)
                    skips.append(s)
                except Exception as exc:
                    skips.append(_errors([str(sid)], [pd.NaT], [f"{type(exc).__name__}: {exc}"]))
            forecasts = pd.concat(parts, ignore_index=True) if parts else self._no_forecasts()
            skipped = pd.concat(skips, ignore_index=True) if skips else _no_errors()
        errors = pd.concat([errors, _errors_frame(skipped)], ignore_index=True)
        forecasts, non_finite = self._drop_non_finite(forecasts, good)
        errors = pd.concat([errors, non_finite], ignore_index=True)
        # pairs with no forecast and no reason yet: no readings anywhere near the origin
        have = pd.MultiIndex.from_frame(forecasts[[SERIES, "origin"]].drop_duplicates())
        told = pd.MultiIndex.from_frame(errors[[SERIES, "origin"]].dropna())
        ids = good[SERIES].unique()
        want = pd.MultiIndex.from_product([pd.Index(ids, dtype="string"), origins])
        lost = want.difference(have).difference(told)
        lost = lost[~lost.get_level_values(0).isin(errors.loc[errors["origin"].isna(), SERIES])]
        if len(lost):
            lb = self.bundle.manifest["lookback"]
            errors = pd.concat(
                [errors, _errors(lost.get_level_values(0), lost.get_level_values(1),
                                 [f"no readings in the {lb} intervals before the origin"] * len(lost))],
                ignore_index=True,
            )  # fmt: skip
        forecasts = forecasts.sort_values([SERIES, "origin", "horizon"], kind="stable")
        return forecasts.reset_index(drop=True), errors.reset_index(drop=True)

    def _drop_non_finite(
        self, forecasts: pd.DataFrame, frame: pd.DataFrame
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """A forecast that is NaN or infinite is an error of its (series, origin), never a
        result: it comes from a history far outside what the model was trained on."""
        cols = [c for c in forecasts.columns if c not in (SERIES, "origin", TIME, "horizon")]
        values = forecasts[cols].to_numpy(dtype="float64")
        bad = ~np.isfinite(values).all(axis=1)
        if not bad.any():
            return forecasts, _no_errors()
        pairs = forecasts.loc[bad, [SERIES, "origin"]].drop_duplicates()
        key = pd.MultiIndex.from_frame(forecasts[[SERIES, "origin"]])
        drop = key.isin(pd.MultiIndex.from_frame(pairs))
        top = frame.groupby(SERIES, observed=True)[TARGET].max()
        reasons = [
            f"the model gave a non-finite forecast (NaN or infinite); the history's largest "
            f"value is {float(top.get(sid, np.nan)):.6g}, far outside what it was trained on"
            for sid in pairs[SERIES]
        ]
        return forecasts[~drop], _errors(pairs[SERIES], pairs["origin"], reasons)

    def _no_forecasts(self) -> pd.DataFrame:
        from forecasting.evaluation.metrics import quantile_column

        out = pd.DataFrame({SERIES: pd.array([], dtype="string")})
        out["origin"] = pd.DatetimeIndex([], tz="UTC")
        out[TIME] = pd.DatetimeIndex([], tz="UTC")
        out["horizon"] = np.zeros(0, dtype="int64")
        for q in self.bundle.quantiles:
            out[quantile_column(q)] = np.zeros(0, dtype="float32")
        return out

    def _future_gaps(self, frame: pd.DataFrame, forecasts: pd.DataFrame) -> int:
        """Forecast rows whose known-future covariates (weather forecasts...) the input lacks;
        the features fill those with the training mean, so the user should know."""
        observed = self.bundle.features.observed
        future = [c for c in covariates_needed(self.bundle.manifest) if c not in observed]
        if not future or forecasts.empty:
            return 0
        rows = frame.loc[frame[BAD].isna(), [SERIES, TIME, *future]]
        rows = rows.drop_duplicates([SERIES, TIME])
        m = forecasts[[SERIES, TIME]].merge(rows, on=[SERIES, TIME], how="left")
        return int(m[future].isna().any(axis=1).sum())

    def _forecast(
        self, frame: pd.DataFrame, origins: pd.DatetimeIndex, static: pd.DataFrame | None
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        canonical = frame.drop(columns=[FILE, ROW, BAD])
        if static is not None:
            static = static[static[SERIES].isin(frame[SERIES].unique())]
        return self.bundle.forecast(canonical, origins, static, self.session_batch)

    def _check_series(
        self, frame: pd.DataFrame, origins: pd.DatetimeIndex
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(rows of usable series, series-level errors naming the file and row)."""
        files = self.source.files
        reasons: dict[str, str] = {}

        def note(rows: pd.DataFrame, text: Callable[[pd.Series], str]) -> None:
            for sid, r in rows.groupby(SERIES, sort=True, observed=True):
                if sid not in reasons:
                    first = r.iloc[0]
                    where = f"{files[int(first[FILE])].name} row {int(first[ROW])}"
                    more = f" (and {len(r) - 1} more rows)" if len(r) > 1 else ""
                    reasons[str(sid)] = f"{where}: {text(first)}{more}"

        note(frame[frame[BAD].notna()], lambda r: str(r[BAD]))
        ok = frame[frame[BAD].isna()]
        dup = ok[ok.duplicated([SERIES, TIME], keep=False)]
        note(dup, lambda r: f"timestamp {r[TIME]} appears more than once")
        off = ok[((ok[TIME] - origins[0]) % self.step) != pd.Timedelta(0)]
        note(
            off,
            lambda r: f"timestamp {r[TIME]} is not on the bundle's {format_freq(self.step)} grid",
        )
        bad_ids = pd.Index(sorted(reasons), dtype="string")
        good = frame[~frame[SERIES].isin(bad_ids)]
        errors = _errors(list(reasons), [pd.NaT] * len(reasons), list(reasons.values()))
        return good, errors


class PredictWorker:
    """An engine's worker: the job built once (bundle sessions with `threads`), forecasting
    the groups it is given (each with its customers' static rows)."""

    def __init__(self, threads: int, **spec: Any) -> None:
        self.job = PredictJob(**spec, threads=threads, progress=False, echo=lambda _: None)

    def group(self, g: int, origins: list[str]) -> dict[str, Any]:
        index = pd.DatetimeIndex([pd.Timestamp(o) for o in origins]).as_unit("ns")
        return self.job.process_group(g, index)


def _part_name(g: int) -> str:
    return f"part-{g:05d}.parquet"


def _errors(ids: Any, origins: Any, reasons: Any) -> pd.DataFrame:
    return pd.DataFrame(
        {
            SERIES: pd.array(list(ids), dtype="string"),
            "origin": pd.DatetimeIndex(list(origins), tz="UTC"),
            "reason": pd.array(list(reasons), dtype="string"),
        }
    )


def _no_errors() -> pd.DataFrame:
    return _errors([], [], [])


def _errors_frame(skipped: pd.DataFrame) -> pd.DataFrame:
    return _errors(skipped[SERIES].astype(str), skipped["origin"], skipped["reason"].astype(str))


def _empty_rows(columns: list[str]) -> pd.DataFrame:
    out = pd.DataFrame({SERIES: pd.array([], dtype="string")})
    out[TIME] = pd.DatetimeIndex([], tz="UTC")
    for c in columns[2:]:
        out[c] = np.zeros(0, dtype="float64")
    out[FILE], out[ROW] = np.zeros(0, dtype="int32"), np.zeros(0, dtype="int64")
    out[BAD] = pd.array([], dtype="string")
    return out


class _Progress:
    """Series and rows per second: a live bar on a terminal, a line every 10 s otherwise."""

    def __init__(self, total: int, enabled: bool | None, echo: Callable[[str], None]) -> None:
        self.total, self.echo = total, echo
        self.tty = sys.stderr.isatty() if enabled is None else enabled
        self.quiet = enabled is False
        self.series = self.rows = 0
        self.t0 = self.last = time.perf_counter()
        self.bar: Any = None

    def __enter__(self) -> _Progress:
        if self.tty and not self.quiet:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(
                TextColumn("forecasting"), BarColumn(), MofNCompleteColumn(),
                TextColumn("series  {task.fields[rate]}"), TimeRemainingColumn(),
                transient=True,
            )  # fmt: skip
            self.bar.start()
            self.task = self.bar.add_task("", total=self.total, rate="")
        return self

    def advance(self, series: int, rows: int) -> None:
        self.series += series
        self.rows += rows
        now = time.perf_counter()
        dt = max(now - self.t0, 1e-9)
        rate = f"{self.series / dt:,.0f} series/s, {self.rows / dt:,.0f} rows/s"
        if self.bar is not None:
            self.bar.update(self.task, completed=self.series, rate=rate)
        elif not self.quiet and now - self.last > 10:
            self.echo(f"  {self.series:,}/{self.total:,} series ({rate})")
            self.last = now

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
