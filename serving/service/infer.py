"""The API's forecasts and profiles, in process: request bodies in, response bodies out, the
same bundle code as `forecasting predict` and `forecasting impute` (no second feature path).

A series that cannot be used (off the bundle's grid, a covariate missing, too short) is an
error of that series with the reason; the others are forecast.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from forecasting.data.schema import SERIES, TARGET, TIME, format_freq
from forecasting.errors import InputError
from forecasting.evaluation.metrics import quantile_column
from serving.impute import ARCHETYPES, Archetypes, ImputeJob, Periods
from serving.predict import covariates_needed
from serving.service.registry import Model
from serving.service.schemas import (
    AnomalyEvent,
    AnomalyRequest,
    AnomalyResponse,
    BundleRef,
    ForecastRequest,
    ForecastResponse,
    ProfileRequest,
    ProfileResponse,
    SeriesAnomalies,
    SeriesError,
    SeriesForecast,
    SeriesIn,
)


def bundle_ref(model: Model) -> BundleRef:
    return BundleRef(name=model.name, version=model.version, sha=model.sha,
                     kind=str(model.bundle.manifest["kind"]))  # fmt: skip


def static_value(value: Any, categories: list[str] | None) -> str:
    """A JSON static value as the static tables hold it (text); a number matches the
    bundle's category written as a number (`5` is the `5.0` the training table had)."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float) and categories:
        for c in categories:
            try:
                if float(c) == float(value):
                    return c
            except ValueError:
                continue
    return str(value)


def _utc(ts: Any) -> pd.Timestamp:
    return pd.Timestamp(ts).tz_convert("UTC")


class SeriesFrames:
    """Canonical rows of each usable series (history, then the horizon's known-future rows),
    the static table, each series' origin, and the errors of the rest."""

    def __init__(self, model: Model, series: list[SeriesIn], future: bool = True) -> None:
        m = model.bundle.manifest
        self.step = pd.Timedelta(m["freq"])
        self.horizon = int(m["horizon"]) if future else 0  # no rows after the last reading
        needed = covariates_needed(m)
        static_cols = list(model.bundle.features.static)
        cats = m["model"].get("categories", {})
        frames, statics, self.origins, self.errors = [], [], {}, []
        seen: set[str] = set()
        for s in series:
            why = self._check(s, needed, static_cols, seen)
            if why:
                self.errors.append(SeriesError(customer_id=s.customer_id, reason=why))
                continue
            seen.add(s.customer_id)
            n = len(s.values)
            start = _utc(s.start)
            times = pd.date_range(start, periods=n + self.horizon, freq=self.step)
            cols: dict[str, Any] = {SERIES: s.customer_id, TIME: times,
                                    TARGET: _floats(s.values, n + self.horizon)}  # fmt: skip
            for c in needed:
                cols[c] = _floats(s.covariates[c], n + self.horizon)
            frames.append(pd.DataFrame(cols))
            self.origins[s.customer_id] = start + n * self.step
            if static_cols:
                statics.append({SERIES: s.customer_id, **{
                    c: static_value(s.static[c], cats.get(c)) for c in static_cols}})  # fmt: skip
        # ids stay plain text (object): the feature code factorises them itself
        self.frame = pd.concat(frames, ignore_index=True) if frames else None
        self.static = pd.DataFrame(statics) if statics else None

    def _check(self, s: SeriesIn, needed: list[str], static_cols: list[str],
               seen: set[str]) -> str | None:  # fmt: skip
        if s.customer_id in seen:
            return "customer_id given twice in one request"
        start = _utc(s.start)
        if start.value % self.step.value:
            return f"start {start} is not on the bundle's {format_freq(self.step)} grid"
        n = len(s.values)
        extra = sorted(set(s.covariates) - set(needed))
        if extra:
            return f"covariates {extra} are not ones the bundle reads ({needed or 'none'})"
        for c in needed:
            got = s.covariates.get(c)
            if got is None:
                return f"covariate {c!r} is missing (the bundle reads {needed})"
            if len(got) not in (n, n + self.horizon):
                return (f"covariate {c!r} has {len(got)} values; give {n} (as many as values) or "
                        f"{n + self.horizon} (with the {self.horizon} of the horizon)")  # fmt: skip
        missing = [c for c in static_cols if c not in s.static]
        if missing:
            return f"static {missing} missing (the bundle reads {static_cols})"
        return None


def _floats(values: list[float | None], length: int) -> np.ndarray:
    out = np.full(length, np.nan)
    out[: len(values)] = np.array([np.nan if v is None else v for v in values], dtype=float)
    return out


def forecast(model: Model, req: ForecastRequest) -> ForecastResponse:
    frames = SeriesFrames(model, req.series)
    out: list[SeriesForecast] = []
    errors = list(frames.errors)
    if frames.frame is not None:
        names = [quantile_column(q) for q in model.bundle.quantiles]
        by_origin: dict[pd.Timestamp, list[str]] = {}
        for sid, o in frames.origins.items():
            by_origin.setdefault(o, []).append(sid)
        for origin, ids in by_origin.items():
            one = len(by_origin) == 1  # the usual case: every series ends at the same time
            rows = frames.frame if one else frames.frame[frames.frame[SERIES].isin(ids)]
            static = frames.static
            if static is not None and not one:
                static = static[static[SERIES].isin(ids)]
            fc, skipped = model.bundle.forecast(rows, pd.DatetimeIndex([origin]), static)
            told = set()
            for sid, why in zip(skipped.get(SERIES, []), skipped.get("reason", []), strict=False):
                if str(sid) not in told:
                    told.add(str(sid))
                    errors.append(SeriesError(customer_id=str(sid), reason=str(why)))
            # numpy over the whole answer: rows by series, then by step
            sids = fc[SERIES].to_numpy(dtype=object).astype(str)
            order = np.lexsort((fc["horizon"].to_numpy(), sids))
            sids, vals = sids[order], fc[names].to_numpy(dtype=float)[order]
            stamps = list(pd.DatetimeIndex(fc[TIME]).take(order))
            firsts = np.flatnonzero(np.r_[True, sids[1:] != sids[:-1]])
            for a, b in zip(firsts, [*firsts[1:], len(sids)], strict=True):
                sid = str(sids[a])
                told.add(sid)
                if not np.isfinite(vals[a:b]).all():
                    errors.append(SeriesError(customer_id=sid,
                                              reason="the model gave a non-finite forecast"))  # fmt: skip
                    continue
                out.append(SeriesForecast(
                    customer_id=sid, origin=origin.to_pydatetime(), timestamps=stamps[a:b],
                    quantiles={n: vals[a:b, i].tolist() for i, n in enumerate(names)}))  # fmt: skip
            for sid in ids:
                if sid not in told:
                    errors.append(SeriesError(customer_id=sid, reason="no forecast: too few "
                                              "readings before the origin for the bundle"))  # fmt: skip
    return ForecastResponse(bundle=bundle_ref(model), forecasts=out, errors=errors)


def archetypes_of(model: Model) -> Archetypes:
    path = model.folder / ARCHETYPES
    if ARCHETYPES not in model.bundle.manifest.get("files", {}) or not path.is_file():
        raise InputError(f"bundle {model.name!r} has no load-shape archetypes: it cannot "
                         "impute profiles from monthly totals")  # fmt: skip
    return Archetypes(json.loads(path.read_text("utf-8")))


def weather_frame(req: ProfileRequest) -> pd.DataFrame | None:
    if req.weather is None:
        return None
    w = req.weather
    n = max(len(v) for v in w.values.values()) if w.values else 0
    idx = pd.date_range(_utc(w.start), periods=n, freq="1h", name=TIME)
    return pd.DataFrame({c: _floats(v, n) for c, v in w.values.items()}, index=idx)


def hourly_profile(model: Model, req: ProfileRequest,
                   stored_weather: pd.DataFrame | None = None) -> ProfileResponse:  # fmt: skip
    """One customer's hourly kWh with P10/P90 from its monthly totals (`forecasting impute`'s
    method: archetypes, the bundle's weather response, scaled to each total exactly)."""
    arch = archetypes_of(model)
    tz = arch.timezone
    totals = sorted(req.totals, key=lambda t: t.month)
    starts, ends, covered = [], [], []
    for t in totals:
        first = pd.Timestamp(t.month + "-01")
        last = first + pd.DateOffset(months=t.months)
        starts.append(first.tz_localize(tz).tz_convert("UTC"))
        ends.append(last.tz_localize(tz).tz_convert("UTC"))
        covered.append([(first.month - 1 + j) % 12 + 1 for j in range(t.months)])
    if any(s < e for s, e in zip(starts[1:], ends[:-1], strict=False)):
        raise InputError("totals: periods overlap (a read starts before the previous one ends)")
    periods = Periods(req.customer_id, [t.month for t in totals], pd.DatetimeIndex(starts),
                      pd.DatetimeIndex(ends), np.array([t.kwh for t in totals], dtype=float),
                      covered)  # fmt: skip
    static_cols = list(model.bundle.features.static)
    missing = [c for c in static_cols if c not in req.static]
    if missing:
        raise InputError(f"static: {missing} missing (the bundle reads {static_cols})")
    cats = model.bundle.manifest["model"].get("categories", {})
    row = {c: static_value(v, cats.get(c)) for c, v in req.static.items()}
    static = pd.DataFrame([{SERIES: req.customer_id, **row}]).astype({SERIES: "string"})
    weather = weather_frame(req)
    if weather is None:
        weather = stored_weather
    job = ImputeJob(str(model.folder), "", static, model.folder)
    needed = _weather_columns(model)
    if needed and weather is None:
        raise InputError(f"weather: the bundle reads {needed}; give them hourly over the "
                         "periods and the week before")  # fmt: skip
    if weather is not None:
        absent = [c for c in needed if c not in weather.columns]
        if absent:
            raise InputError(f"weather: {absent} missing (the bundle reads {needed})")
        zero = [c for c in _observed_only(model) if c not in weather.columns]
        if zero:  # a copy: the store's weather is shared by every request
            weather = weather.assign(**dict.fromkeys(zero, 0.0))
    profiles, assigns, _ = job.impute_batch([periods], arch, {req.customer_id: row},
                                            model.bundle, weather)  # fmt: skip
    if job.errors:
        raise InputError(f"customer {req.customer_id}: {job.errors[req.customer_id]}")
    p = profiles[0]
    probs = {k: float(v) for k, v in assigns[0].items() if k.startswith("p_")}
    return ProfileResponse(
        bundle=bundle_ref(model), customer_id=req.customer_id,
        timestamps=list(p[TIME].dt.to_pydatetime()), periods=p["period"].astype(str).tolist(),
        p10=p["p10"].tolist(),
        p50=p["p50"].tolist(), p90=p["p90"].tolist(),
        totals={t.month: t.kwh for t in totals}, archetypes=probs,
    )  # fmt: skip


def _weather_columns(model: Model) -> list[str]:
    f = model.bundle.manifest["model"]["features"]
    known = list(f.get("known_future", []))
    if f.get("temperature") and f["temperature"] not in known:
        known.append(f["temperature"])
    return known


def _observed_only(model: Model) -> list[str]:
    f = model.bundle.manifest["model"]["features"]
    return [c for c in f.get("observed", []) if c not in _weather_columns(model)]


def one_period(res: ProfileResponse, period: str) -> ProfileResponse:
    """The hours of one period of a profile."""
    keep = [i for i, p in enumerate(res.periods) if p == period]
    return res.model_copy(update={
        "timestamps": [res.timestamps[i] for i in keep], "periods": [period] * len(keep),
        "p10": [res.p10[i] for i in keep], "p50": [res.p50[i] for i in keep],
        "p90": [res.p90[i] for i in keep], "totals": {period: res.totals[period]}})  # fmt: skip


def anomalies(model: Model, req: AnomalyRequest) -> AnomalyResponse:
    """Each series' recent readings scored by an autoencoder bundle: every interval after the
    bundle's lookback (or from `start`), its score, and the flagged runs as events."""
    from serving.anomalies import score_bundle

    frames = SeriesFrames(model, req.series, future=False)
    errors = list(frames.errors)
    out: list[SeriesAnomalies] = []
    if frames.frame is not None:
        start = _utc(req.start) if req.start is not None else None
        scores, skipped = score_bundle(model.bundle, frames.frame, start)
        for sid, why in zip(skipped.get(SERIES, []), skipped.get("reason", []), strict=False):
            errors.append(SeriesError(customer_id=str(sid), reason=str(why)))
        step = frames.step
        for sid, g in scores.groupby(SERIES, sort=False, observed=True):
            g = g[g["score"].notna()]
            if g.empty:
                continue
            flags = g["flag"].to_numpy()
            times = pd.DatetimeIndex(g[TIME])
            events = []
            run_start = None
            for i, f in enumerate(flags):
                if f and run_start is None:
                    run_start = i
                if run_start is not None and (not f or i == len(flags) - 1):
                    last = i if f else i - 1
                    events.append(AnomalyEvent(start=times[run_start].to_pydatetime(),
                        end=(times[last] + step).to_pydatetime(), intervals=last - run_start + 1,
                        peak_score=float(g["score"].iloc[run_start : last + 1].max())))  # fmt: skip
                    run_start = None
            out.append(SeriesAnomalies(customer_id=str(sid), timestamps=list(times.to_pydatetime()),
                                       scores=g["score"].round(6).tolist(),
                                       flags=flags.astype(bool).tolist(), events=events))  # fmt: skip
        scored = {a.customer_id for a in out}
        told = {e.customer_id for e in errors}
        for sid in frames.origins:
            if sid not in scored and sid not in told:
                errors.append(SeriesError(customer_id=sid, reason="no interval to score: the "
                                          "bundle needs its lookback of readings first"))  # fmt: skip
    threshold = float(model.bundle.manifest["model"]["threshold"])
    return AnomalyResponse(bundle=bundle_ref(model), threshold=threshold, series=out, errors=errors)
