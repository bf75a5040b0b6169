"""`forecasting optimise-tariff`: choose the prices of a tariff template for a customer base.

Reads the customers' interval readings through a data config (real readings only: nothing is
filled or resampled), their static table, the price response, builds the scenarios, solves
(forecasting/optimise/solve.py), writes the chosen tariff as an ordinary tariff YAML, re-bills
it with the bill engine in every scenario, and writes:

    tariff.yaml        the chosen tariff (`forecasting bill --tariff` reads it)
    kpis.csv           per scenario: peak before/after (kW, %), revenue, predicted vs engine,
                       bill changes (mean, median, counts over 5/10/20%), Gini of bills
    breakdown.csv      bill changes by vulnerable flag and each `breakdown` column
    load_shape.csv     the base scenario's mean system load by local time of day, before/after
    bills.parquet      every customer's bill before/after (engine) and predicted, per scenario
    checks.json        each constraint re-checked on the engine's bills
    iterations.csv     the prices and objective at each expansion
    frontier.csv/.png  with `frontier: N`: one tariff per weight of the peak (frontier/*.yaml)
    summary.json       all of the above in one file
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecasting.config.data import load_data_config
from forecasting.data.ingest import ingest
from forecasting.data.static import join_static_file
from forecasting.errors import InputError
from forecasting.optimise.check import breakdown, check
from forecasting.optimise.config import OptimiseConfig
from forecasting.optimise.model import CustomerBase, Slots, template_slots
from forecasting.optimise.scenarios import InMemory, Scenarios, ScenarioSpec
from forecasting.optimise.solve import Goals, Solution, solve
from forecasting.optimise.summarise import summarise
from forecasting.response.config import parse_band
from forecasting.response.file import load_elasticities
from forecasting.tariffs.calendar import utc_ns
from forecasting.tariffs.spec import load_tariff, window_table
from forecasting.tariffs.template import TariffTemplate, load_template, write_tariff

HOLD_BYTES = 1 << 30  # scenarios up to this size are built once and held in memory


def load_customers(config: OptimiseConfig) -> tuple[np.ndarray, pd.Timestamp, pd.Timedelta,
                                                     np.ndarray, pd.DataFrame, dict[str, Any]]:  # fmt: skip
    """(ids, grid start, step, usage [customer, interval] kWh with NaN where no reading,
    static table, facts) from the data config's readings."""
    data = load_data_config(config.data.expanded)
    ing = ingest(data, None)
    r = ing.readings
    codes, ids = pd.factorize(r["series_id"].astype(str), sort=True)
    t = utc_ns(r["timestamp"])
    step = ing.frequency
    ns = int(step / pd.Timedelta(1, unit="ns"))
    t0 = int(t.min()) - int(t.min()) % ns
    col = (t - t0) // ns
    U = np.full((len(ids), int(col.max()) + 1), np.nan)
    U[codes, col] = r["target"].to_numpy(dtype="float64")
    cols = list(data.input.static_columns)
    static = r.groupby("series_id", sort=True)[cols].first().reset_index() if cols else (
        pd.DataFrame({"series_id": np.asarray(ids)}))  # fmt: skip
    if data.static is not None:
        static, _ = join_static_file(static, data.static)
    static["series_id"] = static["series_id"].astype(str)
    facts = {"customers": len(ids), "readings": len(r), "interval": str(step),
             "rows_quarantined": int(sum(ing.quarantine.counts().values())),
             "first": str(pd.Timestamp(t0, unit="ns", tz="UTC")),
             "intervals": int(U.shape[1])}  # fmt: skip
    return (
        np.asarray(ids, dtype=object),
        pd.Timestamp(t0, unit="ns", tz="UTC"),
        step,
        U,
        static,
        facts,
    )


def _minute_weights(template: TariffTemplate) -> list[np.ndarray]:
    """Per template band: how often each local minute of the day falls in it (all months and
    day types counted)."""
    probe = template.tariff_with({d.name: d.low for d in template.decisions})
    energy = probe.energy
    if not hasattr(energy, "bands"):
        return [np.ones(1440)]
    return [window_table(b.windows, False).sum(axis=(0, 1)).astype(float) for b in energy.bands]


def response_arrays(config: OptimiseConfig, template: TariffTemplate, static: pd.DataFrame,
                    ids: np.ndarray, B: int) -> tuple[tuple[np.ndarray, np.ndarray],
                                                      tuple[np.ndarray, np.ndarray], dict[str, Any]]:  # fmt: skip
    """((up, up se), (down, down se), how each template band was matched) per customer and
    band, from the elasticity file or the constants."""
    rc = config.response
    n = len(ids)
    if rc.file is None:
        assert rc.up is not None and rc.down is not None
        zero = np.zeros((n, B))
        return (
            (np.full((n, B), rc.up), zero),
            (np.full((n, B), rc.down), zero),
            {"source": "config"},
        )
    f = load_elasticities(rc.file.expanded)
    weights = _minute_weights(template)
    file_bands = {name: np.zeros(1440, bool) for name in f.bands}
    for name, text in f.bands.items():
        for piece in parse_band(name, text):
            file_bands[name][piece.start : piece.end] = True
    use_band = "band" in rc.detail
    use_group = "group" in rc.detail
    matched = [max(file_bands, key=lambda k, w=w: float(w[file_bands[k]].sum())) for w in weights]  # type: ignore[misc]
    group_col = rc.group_by or f.group_by
    if use_group and (group_col is None or group_col not in static):
        raise InputError(f"response.detail {rc.detail!r} needs the customers' {group_col!r} "
                         f"column, which the static table does not have")  # fmt: skip
    groups = (static.set_index("series_id")[group_col].reindex(ids.astype(str)).astype("string")
              .fillna("all").to_numpy() if use_group else np.full(n, "all"))  # fmt: skip
    out = {}
    for which, level in (("up", rc.up_level), ("down", rc.down_level)):
        e, se = np.zeros((n, B)), np.zeros((n, B))
        for g in np.unique(groups):
            rows = groups == g
            for b in range(B):
                est = f.lookup(level, matched[b] if use_band else "all", str(g))
                if est.elasticity is None:
                    raise InputError(f"{rc.file}: the estimate for {level} has no elasticity "
                                     "(the tariff it came from gave no price for it)")  # fmt: skip
                e[rows, b] = est.elasticity
                lo, hi = est.elasticity_ci_low, est.elasticity_ci_high
                se[rows, b] = (hi - lo) / 3.92 if lo is not None and hi is not None else 0.0
        out[which] = (e, se)
    info = {"source": str(rc.file), "bands_matched": dict(zip(template.band_names(), matched, strict=True)),
            "detail": rc.detail, "group_by": group_col if use_group else None}  # fmt: skip
    return out["up"], out["down"], info


def _flags(config: OptimiseConfig, static: pd.DataFrame, ids: np.ndarray) -> np.ndarray:
    """The vulnerable flag of each customer (all False without `vulnerable`)."""
    v = config.vulnerable
    if v is None:
        return np.zeros(len(ids), bool)
    if v.column not in static:
        raise InputError(f"vulnerable.column {v.column!r} is not a static column "
                         f"(have: {', '.join(static.columns[1:])})")  # fmt: skip
    flag = static.set_index("series_id")[v.column].reindex(ids.astype(str)).astype("string")
    return flag.isin(v.values()).fillna(False).to_numpy(dtype=bool)


def _goals(config: OptimiseConfig, slots: Slots, template: TariffTemplate, static: pd.DataFrame,
           ids: np.ndarray, w_peak: float | None = None) -> Goals:  # fmt: skip
    g = config.goals
    order = [(slots.names.index(a), slots.names.index(b))
             for a, b in zip(template.order, template.order[1:], strict=False)]  # fmt: skip
    groups = None
    if g.group_by is not None:
        if g.group_by not in static:
            raise InputError(f"goals.group_by {g.group_by!r} is not a static column "
                             f"(have: {', '.join(static.columns[1:])})")  # fmt: skip
        col = static.set_index("series_id")[g.group_by].reindex(ids.astype(str)).astype("string")
        groups = pd.factorize(col.fillna("(none)"))[0]
    return Goals(w_peak=g.w_peak if w_peak is None else w_peak, w_dispersion=g.w_dispersion,
                 w_revenue=g.w_revenue, revenue_target=g.revenue_target or 0.0,
                 revenue_share=g.revenue_share, robust=g.robust, increase=g.increase,
                 delta=g.delta, order=order, groups=groups, group_tolerance=g.group_tolerance,
                 exact_limit=g.exact_limit)  # fmt: skip


def run_optimise(config: OptimiseConfig, output: Path,
                 progress: Callable[[str], None] | None = None) -> dict[str, Any]:  # fmt: skip
    say = progress or (lambda _m: None)
    t0 = time.perf_counter()
    template = load_template(config.template.expanded)
    slots = template_slots(template)
    current = load_tariff(config.current.expanded)
    say("reading the customers")
    ids, start, step, usage, static, facts = load_customers(config)
    vulnerable = _flags(config, static, ids)
    tz = str(config.timezone or template.doc.get("timezone", "UTC"))
    sc = config.scenarios
    sampled = None
    if config.monthly_only is not None:
        say("imputing the monthly-only customers' hours")
        ids, usage, paths, static, facts["monthly_only"] = impute_monthly_only(
            config, load_data_config(config.data.expanded), ids, start, step, usage, static, tz,
            sc.count - 1, output)  # fmt: skip
        sampled = (np.array(facts["monthly_only"]["rows"], dtype=int), paths)
        vulnerable = _flags(config, static, ids)
    up, down, matched = response_arrays(config, template, static, ids, len(slots.bands))
    deltas = None
    if sc.weather_years is not None and sc.count > 1:
        from serving.weather_scenarios import weather_deltas

        wy = sc.weather_years
        say(f"forecasting every day under {len(wy.shifts_days)} other weather year(s)")
        deltas, facts["weather_years"] = weather_deltas(
            load_data_config(config.data.expanded), str(wy.bundle.expanded), static,
            wy.shifts_days, wy.columns, ids, start, step, usage.shape[1], tz)  # fmt: skip
        if sampled is not None:  # imputed customers have no real history to forecast from
            for d in deltas:
                d[sampled[0]] = 0.0
    scenarios = Scenarios(len(ids), usage.shape[1], lambda a, b: usage[a:b], up, down, start,
                          step, tz, ScenarioSpec(sc.count, sc.seed, sc.elasticity_draws,
                                                 sc.ev_share, sc.pv_share), sampled, deltas)  # fmt: skip
    source: Scenarios | InMemory = scenarios
    if sc.count * usage.size * 8 <= HOLD_BYTES:  # small: build the scenarios once, read them often
        source = scenarios.in_memory()
    say(f"billing {len(ids)} customers in {sc.count} scenario(s) under the current tariff")
    base = summarise(source, ids, start, step, vulnerable, static, template, current, slots,
                     shift=config.response.shift)  # fmt: skip
    t_prep = time.perf_counter()
    scale = template.tariff_with({d.name: d.low for d in template.decisions}).scale
    goals = _goals(config, slots, template, static, ids)
    sol = solve(base, slots, goals, scale, progress=lambda m: say(m))
    t_solve = time.perf_counter()
    output.mkdir(parents=True, exist_ok=True)
    values = {n: float(v) for n, v in zip(slots.names, sol.x, strict=True) if n in template.names}
    tariff = write_tariff(template, values, output / "tariff.yaml",
                          header=f"chosen by forecasting optimise-tariff ({sol.method}, "
                                 f"{sol.iterations} expansions)")  # fmt: skip
    bills, kpis, checked = check(base, slots, tariff, sol, goals, scale)
    by = breakdown(bills, static, [c for c in config.breakdown if c in static])
    bills.to_parquet(output / "bills.parquet", index=False)
    kpis.to_csv(output / "kpis.csv", index=False)
    by.to_csv(output / "breakdown.csv", index=False)
    pd.DataFrame(checked["load_shape"]).to_csv(output / "load_shape.csv", index=False)
    pd.DataFrame(sol.history).to_csv(output / "iterations.csv", index=False)
    (output / "checks.json").write_text(json.dumps(checked, indent=1))
    frontier = _frontier(config, base, slots, template, static, ids, scale, output, say) \
        if config.frontier else None  # fmt: skip
    summary = {
        "config": config.model_dump(mode="json"), "template": template.doc,
        "bounds": {n: [float(lo), float(hi)] for n, lo, hi in zip(slots.names, slots.low, slots.high, strict=True)},
        "prices": values, "method": sol.method, "iterations": sol.iterations,
        "objective": sol.objective, "revenue_target": sol.target, "customers": facts,
        "vulnerable": int(vulnerable.sum()), "scenarios": base.S, "response": matched,
        "checks": checked, "kpis": _spread(kpis), "frontier": frontier,
        "seconds": {"read_and_bill": t_prep - t0, "solve": t_solve - t_prep,
                    "total": time.perf_counter() - t0},
    }  # fmt: skip
    (output / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    return summary


def _spread(kpis: pd.DataFrame) -> dict[str, Any]:
    """Each KPI across scenarios: the base value, mean, 5th and 95th percentiles."""
    out = {}
    for c in kpis.columns.drop("scenario"):
        v = kpis[c].to_numpy(dtype=float)
        out[c] = {"base": float(v[0]), "mean": float(v.mean()), "p05": float(np.percentile(v, 5)),
                  "p95": float(np.percentile(v, 95))}  # fmt: skip
    return out


def _frontier(config: OptimiseConfig, base: CustomerBase, slots: Slots, template: TariffTemplate,
              static: pd.DataFrame, ids: np.ndarray, scale: float, output: Path,
              say: Callable[[str], None]) -> list[dict[str, Any]]:  # fmt: skip
    """One solution per weight of the peak (0 and geometric steps up to 32x the others'):
    peak reduction against revenue deviation and fairness; each point a tariff YAML."""
    folder = output / "frontier"
    folder.mkdir(exist_ok=True)
    weights = [0.0, *np.geomspace(0.25, 32, max(config.frontier - 1, 1))][: config.frontier]
    points = []
    for k, w in enumerate(weights):
        say(f"frontier point {k + 1}/{len(weights)}: peak weight {w:g}")
        goals = _goals(config, slots, template, static, ids, w_peak=float(w))
        try:
            sol: Solution = solve(base, slots, goals, scale)
        except InputError as exc:
            points.append({"point": k, "w_peak": float(w), "error": str(exc)})
            continue
        values = {
            n: float(v) for n, v in zip(slots.names, sol.x, strict=True) if n in template.names
        }
        tariff = write_tariff(template, values, folder / f"tariff_{k:02d}.yaml")
        bills, kpis, checked = check(base, slots, tariff, sol, goals, scale)
        b0 = bills[bills["scenario"] == "base"]
        points.append({"point": k, "w_peak": float(w), **values,
                       "peak_reduction_pct": float(kpis["peak_reduction_pct"].iloc[0]),
                       "revenue_deviation_pct": float(kpis["revenue_vs_target_pct"].iloc[0]),
                       "bill_change_mad_pct": float(100 * (b0["change"] - b0["change"].mean()).abs().mean()),
                       "over_10pct": int(kpis["over_10pct"].iloc[0]),
                       "all_checks_hold": checked["all_hold"]})  # fmt: skip
    frame = pd.DataFrame(points)
    frame.to_csv(output / "frontier.csv", index=False)
    ok = frame[frame["error"].isna()] if "error" in frame else frame
    if len(ok):
        _plot_frontier(ok, output)
    return points


def _plot_frontier(ok: pd.DataFrame, output: Path) -> None:
    try:
        import matplotlib
    except ImportError:  # the serving install has no matplotlib: the table is enough
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    sc = ax.scatter(ok["bill_change_mad_pct"], ok["peak_reduction_pct"], c=np.log1p(ok["w_peak"]),
                    cmap="viridis")  # fmt: skip
    for r in ok.itertuples():
        ax.annotate(f"{r.w_peak:g}", (r.bill_change_mad_pct, r.peak_reduction_pct), fontsize=8)
    ax.set_xlabel("spread of bill changes (mean absolute deviation, %)")
    ax.set_ylabel("peak reduction (%)")
    ax.set_title("Pareto frontier: peak weight annotated")
    fig.colorbar(sc, label="log(1 + peak weight)")
    fig.tight_layout()
    fig.savefig(output / "frontier.png", dpi=110)
    plt.close(fig)


def monthly_totals(ids: np.ndarray, start: pd.Timestamp, step: pd.Timedelta, usage: np.ndarray,
                   rows: np.ndarray, tz: str, min_coverage: float,
                   history: pd.Timedelta) -> pd.DataFrame:  # fmt: skip
    """series_id, month, kwh of `rows`' local calendar months that lie wholly inside the
    readings' span, at least `history` after its start (the model's lookback: impute needs
    the weather before the month), with `min_coverage` of their intervals read (the total
    scaled up by the share read)."""
    T = usage.shape[1]
    times = pd.date_range(start, periods=T, freq=step).tz_convert(tz)
    month = np.asarray(times.strftime("%Y-%m"))
    labels, code = np.unique(month, return_inverse=True)
    first = pd.DatetimeIndex([pd.Timestamp(f"{m}-01").tz_localize(tz) for m in labels])
    after = first + pd.offsets.MonthBegin(1)
    full = np.asarray(((after - first) / step).round(), dtype=int)
    inside = (first >= start + history) & (after <= start + T * step)
    out = []
    for i in rows:
        u = usage[i]
        seen = ~np.isnan(u)
        got = np.bincount(code[seen], minlength=len(labels))
        kwh = np.bincount(code[seen], weights=u[seen], minlength=len(labels))
        ok = inside & (got >= min_coverage * full) & (got > 0)
        out += [{"series_id": str(ids[i]), "month": labels[m], "kwh": kwh[m] * full[m] / got[m]}
                for m in np.flatnonzero(ok)]  # fmt: skip
    return pd.DataFrame(out, columns=["series_id", "month", "kwh"])


def impute_monthly_only(config: OptimiseConfig, data: Any, ids: np.ndarray, start: pd.Timestamp,
                        step: pd.Timedelta, usage: np.ndarray, static: pd.DataFrame, tz: str,
                        samples: int, output: Path
                        ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray], pd.DataFrame, dict[str, Any]]:  # fmt: skip
    """(ids, base usage, the monthly-only rows' usage in each further scenario, the static
    table with any new customers, facts with their row numbers under `rows`): the
    chosen smart-meter customers stripped to monthly totals and the `monthly` customers, their
    hours imputed on the bundle (P50 for the base, one sample path per further scenario),
    placed on the readings' grid. Customers impute cannot do are left out, with the reason."""
    from serving.impute import ImputeJob
    from serving.load import load_bundle

    mo = config.monthly_only
    assert mo is not None
    rng = np.random.default_rng(mo.seed)
    pick = np.sort(rng.choice(len(ids), size=round(mo.share * len(ids)), replace=False))
    manifest = load_bundle(str(mo.bundle.expanded)).manifest
    history = int(manifest.get("lookback", 0)) * pd.Timedelta(manifest.get("freq", "1h"))
    monthly = monthly_totals(ids, start, step, usage, pick, tz, mo.min_coverage, history)
    extra = pd.DataFrame(columns=["series_id", "month", "kwh"])
    if mo.monthly is not None:
        extra = pd.read_csv(mo.monthly.expanded, dtype={"series_id": str, "month": str})
    new_ids = sorted(set(extra["series_id"]) - set(map(str, ids)))
    if new_ids and data.static is not None:  # their static rows, from the static file
        more, _ = join_static_file(pd.DataFrame({"series_id": new_ids}), data.static)
        static = pd.concat([static, more.astype({"series_id": str})], ignore_index=True)
    folder = output / "monthly_only"
    folder.mkdir(parents=True, exist_ok=True)
    pd.concat([monthly, extra], ignore_index=True).to_csv(folder / "monthly.csv", index=False)
    job = ImputeJob(str(mo.bundle.expanded), str(folder / "monthly.csv"), static, folder / "imputed",
                    samples=samples, covariate_sources=list(data.covariates))  # fmt: skip
    s = job.run()
    prof = pd.read_parquet(folder / "imputed" / "profiles.parquet")
    all_ids = np.array([*map(str, ids), *new_ids], dtype=object)
    base = np.vstack([usage, np.full((len(new_ids), usage.shape[1]), np.nan)])
    imputed = sorted(set(prof["series_id"]))
    rows = np.array([list(all_ids).index(sid) for sid in imputed], dtype=int)
    base[rows] = _on_grid(prof, "p50", imputed, start, step, usage.shape[1])
    paths = []
    if samples:
        smp = pd.read_parquet(folder / "imputed" / "samples.parquet")
        for k in range(samples):
            one = smp[smp["sample"] == k]
            paths.append(_on_grid(one, "kwh", imputed, start, step, usage.shape[1]))
    failed = sorted((set(map(str, ids[pick])) | set(extra["series_id"])) - set(imputed))
    keep = np.array([sid not in failed for sid in all_ids])
    kept_rows = np.flatnonzero(keep)
    remap = {r: j for j, r in enumerate(kept_rows)}
    facts = {"bundle": str(mo.bundle), "stripped_to_monthly": len(pick),
             "from_monthly_file": len(new_ids), "imputed": len(imputed),
             "failed": {sid: job.errors.get(sid, "no complete month") for sid in failed},
             "months": len(monthly) + len(extra), "samples": samples,
             "archetypes": s.get("archetypes"), "rows": [remap[r] for r in rows if r in remap]}  # fmt: skip
    return all_ids[keep], base[keep], paths, static, facts


def _on_grid(frame: pd.DataFrame, column: str, order: list[str], start: pd.Timestamp,
             step: pd.Timedelta, T: int) -> np.ndarray:  # fmt: skip
    """[customer in `order`, interval] kWh from imputed rows at the bundle's interval, each
    spread evenly over the readings' intervals it covers (or summed when finer)."""
    out = np.full((len(order), T), np.nan)
    t = utc_ns(frame["timestamp"])
    row = pd.Index(order).get_indexer(frame["series_id"].astype(str))
    ns = step.value
    stamps = np.unique(t)
    their = int(np.diff(stamps).min()) if len(stamps) > 1 else ns
    v = frame[column].to_numpy(dtype="float64")
    if their >= ns:
        r = their // ns
        for k in range(r):
            col = (t - start.value) // ns + k
            ok = (col >= 0) & (col < T)
            out[row[ok], col[ok]] = v[ok] / r
    else:
        col = (t - start.value) // ns
        ok = (col >= 0) & (col < T)
        out[:, :] = 0.0
        np.add.at(out, (row[ok], col[ok]), v[ok])
    return out
