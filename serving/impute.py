"""`forecasting impute`: hourly profiles for customers who only have monthly (or quarterly) totals.

A thin adapter over an exported bundle, torch-free (onnxruntime, numpy, pandas):

1. **Assign** each customer to the bundle's load-shape archetypes (`archetypes.json`, fitted
   on the smart-meter customers at export): a posterior from the archetype's share, its
   members' static values (tariff, ACORN group, ...) and how well its seasonal curve
   explains the customer's monthly totals. The probabilities are kept in `assignments.csv`.
2. **Shape**: a template hour by hour: the archetypes' local-hour shares for that month and
   day type, weekend days weighted by the weekend ratio, mixed by the probabilities.
3. **Model**: the bundle forecasts every day of each period from the template as history,
   with the weather and calendar of those days: the weather response of the trained model.
4. **Scale** each period to the recorded total, exactly (P10/P90 scaled by the same factor).
5. **Sample** (`--samples N`): paths drawn by archetype and correlated noise within the
   P10-P90 band, each rescaled to the totals.

What OUTPUT holds: `profiles.parquet` (series_id, period, timestamp UTC, p10, p50, p90;
p50 sums to each period's total), `assignments.csv`, `errors.csv` (customers that could not
be imputed, with the reason), `summary.json`, and `samples.parquet` with --samples.

Batches of customers run here, on worker processes or on Ray (`serving.engines`), each into its
own parts; a run stopped part way resumes from the batches done (`serving.job_folder`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from forecasting.bundle_format import MANIFEST, sha256
from forecasting.config.data import CovariateSource
from forecasting.data.covariates import covariates_by_time
from forecasting.data.numbers import parse_number_text
from forecasting.data.readers import describe_columns, file_columns, read_table, resolve_inputs
from forecasting.data.schema import SERIES, TARGET, TIME
from forecasting.errors import BundleError, InputError
from forecasting.folders import write_json
from serving.engines import engine_summary, worker_stamp
from serving.job_folder import JobFolder, frame_fingerprint, text_fingerprint
from serving.load import load_bundle
from serving.parts import join_parquet, write_table_atomic
from serving.stream import files_fingerprint
from serving.tables import read_time_table

ARCHETYPES = "archetypes.json"
ALPHA = 1.0  # Laplace smoothing of the static value counts
MAX_MONTHS = 12  # the longest read a period may cover


@dataclass
class Periods:
    """One customer's reads: UTC start/end of each period (local month boundaries), kWh."""

    sid: str
    labels: list[str]
    starts: pd.DatetimeIndex
    ends: pd.DatetimeIndex
    kwh: np.ndarray
    months: list[list[int]]  # calendar months (1-12) each period covers


def _source_summary(report: dict[str, Any]) -> dict[str, Any]:
    keep = ("path", "rows_in", "rows_used", "rows_quarantined", "quarantined_by_reason",
            "first", "last", "filled_intervals")  # fmt: skip
    return {k: report[k] for k in keep if k in report}


def read_monthly(path: str | Path, timezone: str) -> tuple[dict[str, Periods], dict[str, str]]:
    """Customers' periods from `series_id, month (YYYY-MM), kwh[, months]`, and the customers
    whose rows cannot be used, with the reason (the rest go on)."""
    first = resolve_inputs(path, "monthly totals")[0]
    present = file_columns(first)
    need = [SERIES, "month", "kwh"]
    missing = [c for c in need if c not in present]
    if missing:
        raise InputError(
            f"{path}: missing column(s) {missing}; monthly totals need series_id, month "
            f"(YYYY-MM, the first month of the read), kwh and optionally months (1 or 3); "
            + describe_columns(first, present)
        )
    cols = need + (["months"] if "months" in present else [])
    raw = read_table(path, cols, what="monthly totals")
    raw[SERIES] = raw[SERIES].astype("string").str.strip()
    month = pd.to_datetime(
        raw["month"].astype("string").str.strip(), format="%Y-%m", errors="coerce"
    )
    kwh = parse_number_text(raw["kwh"])
    span = parse_number_text(raw["months"]) if "months" in raw else pd.Series(1, index=raw.index)
    errors: dict[str, str] = {}
    where = str(path)
    whole = span.notna() & (span == span.round()) & (span >= 1) & (span <= MAX_MONTHS)
    problems = [
        (month.isna(), "month must be YYYY-MM"),
        (~np.isfinite(kwh.fillna(np.inf)), "kwh must be a finite number"),
        (~whole, f"months must be a whole number of months from 1 to {MAX_MONTHS}"),
    ]
    for mask, why in problems:
        for i in np.flatnonzero(mask.to_numpy()):
            sid = str(raw[SERIES].iloc[i])
            shown = ", ".join(f"{c}={raw[c].iloc[i]!r}" for c in cols)
            errors.setdefault(sid, f"{where} row {raw['_row'].iloc[i]}: {shown}: {why}")
    for i in np.flatnonzero((kwh < 0).to_numpy()):
        sid = str(raw[SERIES].iloc[i])
        errors.setdefault(
            sid, f"{where} row {raw['_row'].iloc[i]}: month {raw['month'].iloc[i]} has a "
            f"negative total ({kwh.iloc[i]} kWh)"
        )  # fmt: skip
    out: dict[str, Periods] = {}
    frame = pd.DataFrame({SERIES: raw[SERIES], "month": month, "kwh": kwh, "span": span})
    for sid, g in frame.groupby(SERIES, sort=True):
        sid = str(sid)
        if sid in errors:
            continue
        g = g.sort_values("month")
        first = g["month"].dt.tz_localize(timezone)
        last = [
            m + pd.DateOffset(months=int(s)) for m, s in zip(g["month"], g["span"], strict=True)
        ]
        ends = pd.DatetimeIndex(last).tz_localize(timezone)
        if (first.to_numpy()[1:] < ends.to_numpy()[:-1]).any():
            errors[sid] = "reads overlap: a period starts before the previous one ends"
            continue
        covered = [
            [(m.month - 1 + j) % 12 + 1 for j in range(int(s))]
            for m, s in zip(g["month"], g["span"], strict=True)
        ]
        out[sid] = Periods(
            sid,
            [m.strftime("%Y-%m") for m in g["month"]],
            pd.DatetimeIndex(first).tz_convert("UTC"),
            ends.tz_convert("UTC"),
            g["kwh"].to_numpy(dtype=float),
            covered,
        )
    return out, errors


class Archetypes:
    """The bundle's archetypes as arrays: profile (K, 12, 2, 24), weekend ratio (K, 12), ..."""

    def __init__(self, doc: dict[str, Any]) -> None:
        arch = doc["archetypes"]
        self.doc = doc
        self.timezone = doc["timezone"]
        self.k = len(arch)
        self.profile = np.array([a["profile"] for a in arch])
        self.weekend = np.array([a["weekend_ratio"] for a in arch])
        self.seasonal = np.array([a["seasonal"] for a in arch])
        self.sigma = np.array([a["seasonal_sigma"] for a in arch])
        self.prior = np.array([a["prior"] for a in arch])
        self.members = np.array([a["members"] for a in arch])
        self.static = [a["static"] for a in arch]
        self.static_columns: list[str] = doc.get("static_columns", [])

    def posterior(self, p: Periods, static_row: dict[str, Any]) -> tuple[np.ndarray, list[str]]:
        """Archetype probabilities of a customer, and notes (static values never seen)."""
        logp = np.log(self.prior.clip(1e-9))
        notes = []
        for col in self.static_columns:
            value = static_row.get(col)
            if value is None or pd.isna(value):
                continue
            counts = np.array([s.get(col, {}).get(str(value), 0) for s in self.static], float)
            if counts.sum() == 0:
                notes.append(f"{col}={value!r} unseen in training: not used")
                continue
            values = {v for s in self.static for v in s.get(col, {})}
            logp += np.log((counts + ALPHA) / (self.members + ALPHA * len(values)))
        days = np.array(
            [(e - s).total_seconds() / 86400 for s, e in zip(p.starts, p.ends, strict=True)]
        )
        rate = p.kwh / days
        ok = rate > 0
        if ok.sum() >= 2:
            x = np.log(rate[ok])
            x = x - x.mean()
            y = np.log(np.array([[self.seasonal[k, [m - 1 for m in ms]].mean() for ms in p.months]
                                 for k in range(self.k)])[:, ok].clip(1e-3))  # fmt: skip
            y = y - y.mean(axis=1, keepdims=True)
            sig = self.sigma[:, None]
            logp += (-((x[None, :] - y) ** 2) / (2 * sig**2) - np.log(sig)).sum(axis=1)
        post = np.exp(logp - logp.max())
        return post / post.sum(), notes

    def shares(self, hours: pd.DatetimeIndex) -> np.ndarray:
        """(K, hours): each archetype's unnormalised weight of every hour (UTC index)."""
        local = hours.tz_convert(self.timezone)
        m = local.month.to_numpy() - 1
        w = (local.dayofweek.to_numpy() >= 5).astype(int)
        h = local.hour.to_numpy()
        day_weight = np.where(w[None, :] == 1, self.weekend[:, m], 1.0)
        return self.profile[:, m, w, h] * day_weight


def period_index(p: Periods, hours: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    """(period of each hour, clipped to the nearest period; True where inside a period)."""
    t = hours.asi8
    starts, ends = p.starts.as_unit(hours.unit).asi8, p.ends.as_unit(hours.unit).asi8
    j = np.clip(np.searchsorted(starts, t, side="right") - 1, 0, len(starts) - 1)
    inside = (t >= starts[j]) & (t < ends[j])
    return j, inside


def scale_to_totals(
    values: np.ndarray, j: np.ndarray, inside: np.ndarray, totals: np.ndarray
) -> np.ndarray:
    """Scale `values` (..., hours) so each period's hours sum to its total; hours outside
    periods get their nearest period's factor. A period with no weight is spread flat."""
    sums = np.zeros((*values.shape[:-1], len(totals)))
    for q in range(len(totals)):
        sums[..., q] = values[..., inside & (j == q)].sum(axis=-1)
    flat = sums <= 0
    factor = np.where(flat, 0.0, totals / np.where(flat, 1.0, sums))
    out = values * factor[..., j]
    if flat.any():
        n = np.array([(inside & (j == q)).sum() for q in range(len(totals))])
        spread = np.where(flat, totals / np.maximum(n, 1), 0.0)[..., j]
        out = np.where(flat[..., j], spread, out)
    return out


@dataclass
class Band:
    """P10 / P50 / P90 over a plan's hours (0 outside its periods)."""

    p10: np.ndarray
    p50: np.ndarray
    p90: np.ndarray

    def scaled_to(self, plan: Plan, banded: bool) -> Band:
        """P50 scaled so each period sums to its total; P10/P90 by the same factor, kept
        around P50 (`banded`: a model band; otherwise the three are the scaled template)."""
        p, j, inside = plan.p, plan.j, plan.inside
        sums = np.array([self.p50[inside & (j == q)].sum() for q in range(len(p.kwh))])
        p50 = scale_to_totals(self.p50, j, inside, p.kwh)
        if not banded:
            return Band(p50, p50, p50)
        factor = np.divide(p.kwh, sums, out=np.zeros_like(p.kwh), where=sums > 0)[j]
        return Band(np.minimum(self.p10 * factor, p50), p50, np.maximum(self.p90 * factor, p50))


@dataclass
class Plan:
    """One customer's imputation before the model: its hours (with the model's lookback
    before the first period), the period of each hour, the archetype probabilities, each
    archetype's shape scaled to the totals (`per_k`, archetypes x hours) and their mix."""

    p: Periods
    hours: pd.DatetimeIndex
    j: np.ndarray
    inside: np.ndarray
    probs: np.ndarray
    per_k: np.ndarray
    template: np.ndarray
    notes: list[str]

    @property
    def assignment(self) -> dict[str, Any]:
        """The customer's row of `assignments.csv`."""
        return {
            SERIES: self.p.sid,
            "archetype": int(np.argmax(self.probs)),
            **{f"p_{k}": round(float(v), 6) for k, v in enumerate(self.probs)},
            "notes": "; ".join(self.notes),
        }

    def flat(self) -> Band:
        """The template itself as the band (imputation without the model)."""
        return Band(self.template, self.template, self.template)

    def profile(self, band: Band) -> pd.DataFrame:
        """The customer's rows of `profiles.parquet`: the hours inside its periods."""
        keep = self.inside
        return pd.DataFrame({
            SERIES: self.p.sid, "period": np.array(self.p.labels)[self.j[keep]],
            TIME: self.hours[keep], "p10": band.p10[keep], "p50": band.p50[keep],
            "p90": band.p90[keep],
        })  # fmt: skip


@dataclass
class BatchForecast:
    """The bundle's forecasts of one batch, indexed by (series_id, timestamp), and the reason
    the bundle gave for each customer it skipped."""

    table: pd.DataFrame | None
    reasons: dict[str, str]

    def band(self, plan: Plan, errors: dict[str, str]) -> Band | None:
        """The customer's forecast band, or None (and an error) where hours lack a forecast."""
        sid = plan.p.sid
        fc = None
        if self.table is not None and sid in self.table.index.get_level_values(0):
            fc = self.table.loc[sid].reindex(plan.hours[plan.inside])
        if fc is None or fc["p50"].isna().any():
            why = self.reasons.get(sid, "")
            errors[sid] = f"the bundle left hours of its periods without a forecast {why}".strip()
            return None
        lo, mid, hi = (np.zeros(len(plan.hours)) for _ in range(3))
        inside = plan.inside
        lo[inside], mid[inside], hi[inside] = (fc[q].to_numpy() for q in ("p10", "p50", "p90"))
        return Band(lo, mid, hi)


@dataclass
class ImputeJob:
    bundle_path: str
    monthly: str
    static: pd.DataFrame
    output: Path
    weather: str | None = None
    samples: int = 0
    # a data config's covariate sources (weather), read at the bundle's interval; --weather wins
    covariate_sources: list[CovariateSource] = field(default_factory=list)
    use_model: bool = True
    batch_size: int = 200
    seed: int = 0
    runner: Any = None  # None: batches in this process; else an engine (serving.engines)
    echo: Callable[[str], None] = print
    errors: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    sources: dict[str, Any] = field(default_factory=dict)  # what each covariate source gave

    def run(self) -> dict[str, Any]:
        bundle = load_bundle(self.bundle_path)
        path = Path(self.bundle_path) / ARCHETYPES
        if not path.is_file() or ARCHETYPES not in bundle.manifest.get("files", {}):
            why = bundle.manifest.get("archetypes", {}).get("skipped", "exported without data")
            raise BundleError(
                f"{self.bundle_path}: the bundle has no load-shape archetypes ({why}); export it "
                "on a machine where its training data can be read"
            )
        arch = Archetypes(json.loads(path.read_text("utf-8")))
        customers, self.errors = read_monthly(self.monthly, arch.timezone)
        n_in = len(customers) + len(self.errors)
        statics = self.static.set_index(SERIES).to_dict("index")
        for sid in list(customers):
            if sid not in statics:
                self.errors[sid] = "no static data for this customer in the static table"
                del customers[sid]
        weather = self._weather(bundle) if self.use_model else None  # checked here, first
        self.output.mkdir(parents=True, exist_ok=True)
        ids = sorted(customers)
        by_id = self.static.drop_duplicates(SERIES, keep="last").set_index(SERIES)
        tasks = []
        for b, a in enumerate(range(0, len(ids), self.batch_size)):
            batch = ids[a : a + self.batch_size]
            tasks.append((b, [customers[s] for s in batch], by_id.loc[batch].reset_index()))
        job = JobFolder(self.output, key="batch")
        job.open(self._args())
        parts = job.path / "parts"
        parts.mkdir(exist_ok=True)
        done = job.finished(lambda e: all((parts / n).is_file() for n in e["parts"]))
        if done:
            self.echo(f"resuming: {len(done)} of {len(tasks)} batches already imputed")
        todo = [t for t in tasks if t[0] not in done]
        if self.runner is None:  # this process: the bundle and weather already read
            worker = ImputeWorker.ready(self._worker_job(parts), bundle, arch, weather)
            entries: Iterable[dict[str, Any]] = (worker.group(*t) for t in todo)
        else:
            entries = self.runner.run_groups(self._worker_spec(parts), todo)
        for entry in entries:
            job.record(entry)  # by this process alone, on every engine
            done[entry["batch"]] = entry
        summary = self._write(parts, [done[b] for b in sorted(done)], arch, n_in)
        job.drop()  # joined and summed up: a new run imputes again
        return summary

    def _args(self) -> dict[str, Any]:
        """What a resumed run must share with the run it resumes."""
        bundle = Path(self.bundle_path)
        weather = (
            files_fingerprint(resolve_inputs(self.weather, "weather")) if self.weather else None
        )
        return {
            "bundle": sha256(bundle / MANIFEST),
            "monthly": files_fingerprint(resolve_inputs(self.monthly, "monthly totals")),
            "static": frame_fingerprint(self.static),
            "weather": weather,
            "covariate_sources": text_fingerprint(repr(self.covariate_sources)),
            "samples": self.samples,
            "model": self.use_model,
            "batch_size": self.batch_size,
            "seed": self.seed,
        }

    def _worker_job(self, parts: Path) -> ImputeJob:
        """This job as a worker holds it: no monthly totals, the static rows given per batch."""
        return ImputeJob(self.bundle_path, "", self.static.iloc[:0], parts, self.weather,
                         self.samples, self.covariate_sources, self.use_model,
                         self.batch_size, self.seed)  # fmt: skip

    def _worker_spec(self, parts: Path) -> dict[str, Any]:
        kwargs = {"bundle_path": self.bundle_path, "weather": self.weather, "samples": self.samples,
                  "covariate_sources": self.covariate_sources, "use_model": self.use_model,
                  "batch_size": self.batch_size, "seed": self.seed, "parts": parts}  # fmt: skip
        return {"build": "serving.impute:ImputeWorker", "kwargs": kwargs}

    def _weather(self, bundle: Any) -> pd.DataFrame | None:
        """Known-future covariates (weather) from --weather, or already read by time from a
        data config's covariate sources (`covariates`); observed-only covariates (such as a
        meter's export) that neither has are taken as 0 for customers without a smart meter,
        and said so in the summary."""
        f = bundle.manifest["model"]["features"]
        known = list(f.get("known_future", []))
        if f.get("temperature") and f["temperature"] not in known:
            known.append(f["temperature"])
        observed = [c for c in f.get("observed", []) if c not in known]
        if not known and not observed:
            return None
        given = None
        if self.weather is None and self.covariate_sources:
            step = pd.Timedelta(bundle.manifest["freq"])
            given, reports = covariates_by_time(self.covariate_sources, step)
            self.sources = {name: _source_summary(r) for name, r in reports.items()}
        if self.weather is None and given is None and known:
            raise InputError(
                f"the bundle's model reads covariates {known}: give them with --weather "
                "(or --data-config with covariate sources)"
            )
        first = resolve_inputs(self.weather, "weather")[0] if self.weather else None
        if first is not None:
            present = file_columns(first)
        else:
            present = [TIME, *(given.columns if given is not None else [])]
        missing = [c for c in [TIME, *known] if c not in present]
        if missing and first is not None:
            raise InputError(
                f"{self.weather}: missing column(s) {missing} the bundle needs; "
                + describe_columns(first, present)
            )
        if missing:
            raise InputError(
                f"the data config's covariate sources give {present[1:]}, not {missing} that "
                "the bundle's model reads"
            )
        zero = [c for c in observed if c not in present]
        where = "--weather" if first is not None else "the data config's covariates"
        self.notes += [f"observed covariate {c!r} not in {where}: taken as 0" for c in zero]
        cols = [c for c in [*known, *observed] if c in present]
        if first is not None:
            w = read_time_table(self.weather, cols, "weather")  # type: ignore[arg-type]
        elif given is not None:
            w = given[cols].copy()
        else:
            w = pd.DataFrame(index=pd.DatetimeIndex([], tz="UTC", name=TIME))
        for c in zero:
            w[c] = 0.0
        return w

    def impute_batch(
        self,
        batch: list[Periods],
        arch: Archetypes,
        statics: dict[str, Any],
        bundle: Any,
        weather: pd.DataFrame | None,
    ) -> tuple[list[pd.DataFrame], list[dict[str, Any]], list[pd.DataFrame]]:
        """(profiles, assignments, samples) of one batch of customers: every customer is
        planned from the archetypes, the batch is forecast by the bundle in one call, then each
        customer's band is scaled to its totals."""
        step = pd.Timedelta(bundle.manifest["freq"])
        lookback = int(bundle.manifest["lookback"]) if self.use_model else 0
        plans = [self._plan(p, arch, statics[p.sid], lookback, step) for p in batch]
        forecasts = self._forecast(plans, bundle, weather, step) if self.use_model else None
        out, samples = [], []
        rng = np.random.default_rng(self.seed)
        for plan in plans:
            if plan.p.sid in self.errors:
                continue
            band = forecasts.band(plan, self.errors) if forecasts is not None else plan.flat()
            if band is None:
                continue
            band = band.scaled_to(plan, banded=forecasts is not None)
            out.append(plan.profile(band))
            if self.samples:
                samples.append(self._samples(plan, band, rng))
        return out, [a.assignment for a in plans if a.p.sid not in self.errors], samples

    def _plan(
        self, p: Periods, arch: Archetypes, static_row: dict[str, Any], lookback: int,
        step: pd.Timedelta,
    ) -> Plan:  # fmt: skip
        """Assign one customer to the archetypes and mix their shapes into its template."""
        probs, notes = arch.posterior(p, static_row)
        hours = pd.date_range(
            p.starts[0] - lookback * step, p.ends[-1], freq=step, inclusive="left"
        )
        j, inside = period_index(p, hours)
        per_k = scale_to_totals(arch.shares(hours), j, inside, p.kwh)
        return Plan(p, hours, j, inside, probs, per_k, probs @ per_k, notes)

    def _forecast(
        self, plans: list[Plan], bundle: Any, weather: pd.DataFrame | None, step: pd.Timedelta
    ) -> BatchForecast:
        """The bundle's forecasts over every customer's periods, from its template as history
        and the weather of those hours (a customer the weather does not cover is an error)."""
        frames, origins = [], set()
        every = step * int(bundle.manifest["horizon"])
        for plan in plans:
            f = pd.DataFrame({SERIES: plan.p.sid, TIME: plan.hours, TARGET: plan.template})
            if weather is not None:
                cov = weather.reindex(plan.hours)
                if cov.isna().any().any():
                    gap = cov.index[cov.isna().any(axis=1)][0]
                    self.errors[plan.p.sid] = (
                        f"the weather does not cover {gap} (needed from {plan.hours[0]} "
                        f"to {plan.hours[-1]})"
                    )
                    continue
                f = pd.concat([f.reset_index(drop=True), cov.reset_index(drop=True)], axis=1)
            frames.append(f)
            for s, e in zip(plan.p.starts, plan.p.ends, strict=True):
                origins.update(pd.date_range(s, e, freq=every, inclusive="left"))
        if not frames:
            return BatchForecast(None, {})
        frame = pd.concat(frames, ignore_index=True)
        static = self.static[self.static[SERIES].isin(frame[SERIES].unique())]
        fc, skipped = bundle.forecast(frame, pd.DatetimeIndex(sorted(origins)), static)
        reasons: dict[str, str] = {}
        if len(skipped) and "reason" in skipped:
            first = skipped.drop_duplicates(SERIES)
            reasons = dict(zip(first[SERIES].astype(str), first["reason"].astype(str), strict=True))
        table = fc.drop_duplicates([SERIES, TIME], keep="first").set_index([SERIES, TIME])
        return BatchForecast(table.sort_index(), reasons)

    def _samples(self, plan: Plan, band: Band, rng: np.random.Generator) -> pd.DataFrame:
        """Paths: an archetype drawn by its probability reshapes the profile; AR(1) noise in
        log space with the P10-P90 width; each path rescaled to every period's total."""
        keep = plan.inside
        per_k, template, hours = plan.per_k[:, keep], plan.template[keep], plan.hours[keep]
        lo, p50, hi = band.p10[keep], band.p50[keep], band.p90[keep]
        n = self.samples
        ks = rng.choice(len(plan.probs), size=n, p=plan.probs)
        ratio = np.divide(
            per_k[ks],
            template[None, :],
            out=np.ones((n, len(template))),
            where=template[None, :] > 0,
        )
        sigma = np.log(np.maximum(hi, 1e-6) / np.maximum(lo, 1e-6)) / 2.563
        eps = rng.standard_normal((n, len(template)))
        for t in range(1, eps.shape[1]):
            eps[:, t] = 0.7 * eps[:, t - 1] + np.sqrt(1 - 0.49) * eps[:, t]
        paths = p50[None, :] * ratio * np.exp(sigma[None, :] * eps)
        paths = scale_to_totals(paths, plan.j[keep], np.ones(len(hours), dtype=bool), plan.p.kwh)
        return pd.DataFrame({
            SERIES: plan.p.sid, "sample": np.repeat(np.arange(n), len(hours)),
            TIME: np.tile(hours, n), "kwh": paths.ravel(),
        })  # fmt: skip

    def _write(
        self, parts: Path, done: list[dict[str, Any]], arch: Archetypes, n_in: int
    ) -> dict[str, Any]:
        """The output from the batches' parts, in batch order (one part in memory at a time)."""
        for e in done:
            self.errors.update(e["errors"])
        for name in ("profiles", "samples"):
            if name == "samples" and not self.samples:
                continue
            files = [parts / f"{name}-{e['batch']:05d}.parquet" for e in done]
            columns = PROFILE_COLUMNS if name == "profiles" else SAMPLE_COLUMNS
            join_parquet(files, self.output / f"{name}.parquet", columns)
        assigns = [a for e in done for a in e["assignments"]]
        pd.DataFrame(assigns).to_csv(self.output / "assignments.csv", index=False)
        errs = pd.DataFrame({SERIES: list(self.errors), "reason": list(self.errors.values())})
        errs.sort_values(SERIES).to_csv(self.output / "errors.csv", index=False)
        imputed = sum(e["customers"] for e in done)
        summary = {
            "bundle": self.bundle_path,
            "monthly": self.monthly,
            "customers_in": n_in,
            "customers_imputed": imputed,
            "customers_failed": len(self.errors),
            "archetypes": arch.k,
            "silhouette": arch.doc.get("silhouette"),
            "model": self.use_model,
            "hours": sum(e["hours"] for e in done),
            "kwh": float(sum(e["kwh"] for e in done)),
            "samples": self.samples,
            **engine_summary(self.runner, done),
            "notes": self.notes,
            **({"covariate_sources": self.sources} if self.sources else {}),
        }
        write_json(self.output / "summary.json", summary)
        return summary


PROFILE_COLUMNS = [SERIES, "period", TIME, "p10", "p50", "p90"]
SAMPLE_COLUMNS = [SERIES, "sample", TIME, "kwh"]


class ImputeWorker:
    """An engine's worker for `ImputeJob.run`: the bundle, archetypes and weather read once;
    each task is a batch of customers (their periods and static rows), imputed into the
    batch's parts (profiles, samples), each whole or absent. Its entry carries the batch's
    assignments, errors and counts."""

    def __init__(self, threads: int, parts: Path, **spec: Any) -> None:
        job = ImputeJob(monthly="", static=pd.DataFrame(), output=parts, **spec)
        bundle = load_bundle(job.bundle_path, threads)
        arch = Archetypes(json.loads((Path(job.bundle_path) / ARCHETYPES).read_text("utf-8")))
        self._set(job, bundle, arch, job._weather(bundle) if job.use_model else None)

    @classmethod
    def ready(
        cls, job: ImputeJob, bundle: Any, arch: Archetypes, weather: pd.DataFrame | None
    ) -> ImputeWorker:
        """A worker in this process, from what the driver has read already."""
        worker = cls.__new__(cls)
        worker._set(job, bundle, arch, weather)
        return worker

    def _set(
        self, job: ImputeJob, bundle: Any, arch: Archetypes, weather: pd.DataFrame | None
    ) -> None:
        self.job, self.bundle, self.arch, self.weather = job, bundle, arch, weather

    def group(self, b: int, batch: list[Periods], static: pd.DataFrame) -> dict[str, Any]:
        job = self.job
        job.static, job.errors = static, {}
        statics = static.set_index(SERIES).to_dict("index")
        out, assigns, samples = job.impute_batch(batch, self.arch, statics, self.bundle,
                                                 self.weather)  # fmt: skip
        written = []
        for name, frames in (("profiles", out), ("samples", samples)):
            if frames:
                table = pa.Table.from_pandas(pd.concat(frames, ignore_index=True),
                                             preserve_index=False)  # fmt: skip
                write_table_atomic(job.output / f"{name}-{b:05d}.parquet", table)
                written.append(f"{name}-{b:05d}.parquet")
        return {
            "batch": b, "assignments": assigns, "errors": dict(job.errors), "parts": written,
            "customers": len(out), "hours": sum(len(f) for f in out),
            "kwh": float(sum(f["p50"].sum() for f in out)), **worker_stamp(),
        }  # fmt: skip
