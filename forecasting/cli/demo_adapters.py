"""Demo steps 11-15: bills under two tariffs, hourly profiles from monthly totals, a tariff
chosen for a trial's households from their measured price response, drift watched, and the
flexibility jobs (a schedule, tariff advice, signal targeting)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer

# the example tariffs shipped beside the package, so the demo runs from any working directory
TARIFFS = Path(__file__).resolve().parents[2] / "configs" / "tariffs"
FLAT = TARIFFS / "uk_flat_example.yaml"
TOU = TARIFFS / "uk_tou_demand_example.yaml"


def shown(path: Path) -> Path:
    """`path` as the user would type it: relative to the working directory when inside it."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def bills_step(output: Path, data_config: Path, static: Path) -> None:
    """Bill every household's half-hourly readings (import and PV export) under the example
    flat and TOU tariffs, compare by the households' current tariff; then bill tomorrow's
    hourly forecasts (P50) from step 9 under the flat tariff."""
    import pandas as pd

    from forecasting.cli.adapters import bill_with_config
    from forecasting.tariffs.engine import BillEngine
    from forecasting.tariffs.spec import load_tariff
    from serving.bill import BillJob
    from serving.tables import read_static

    t = time.perf_counter()
    tou, flat = BillEngine(load_tariff(TOU)), BillEngine(load_tariff(FLAT))
    out = output / "bills"
    job = BillJob(tou, str(data_config), out, flat, export="export_kwh",
                  static=read_static(static), group_by=["tariff"])  # fmt: skip
    s = bill_with_config(job, data_config, None)
    typer.echo(
        f"    forecasting bill --tariff {shown(TOU)} --baseline {shown(FLAT)} --usage <raw readings> "
        f"--data-config {data_config} --export-column export_kwh --static {static} "
        f"--group-by tariff --output {out}"
    )
    typer.echo(
        f"    {s['rows_billed']:,} half-hourly readings of {s['customers_billed']} households -> "
        f"{s['bills']} monthly bills ({s['partial_bills']} partial months) in "
        f"{time.perf_counter() - t:.1f} s"
    )
    bills = pd.read_parquet(out / "bills.parquet")
    one = bills[bills["series_id"] == bills["series_id"].min()].iloc[1]
    items = [c for c in bills.columns if c in ("fixed", "demand", "feed_in", "minimum_topup")
             or c.startswith(("energy", "tax_"))]  # fmt: skip
    typer.echo(
        f"    e.g. {one['series_id']} {one['period']}: {one['kwh']:.1f} kWh, "
        + ", ".join(f"{c} {one[c]:.2f}" for c in items)
        + f" = {one['total']:.2f} {one['currency']}"
    )
    md = (out / "summary.md").read_text("utf-8").split("## ")[-1].splitlines()
    typer.echo("    " + "\n    ".join(line for line in md[2:] if line.strip()))
    fc = pd.read_parquet(output / "predictions" / "forecasts")
    # hourly forecasts: the flat tariff (the TOU one has a 30-minute demand charge, which hourly
    # usage cannot resolve: the engine refuses rather than guess)
    ahead = flat.bill(fc.rename(columns={"p50": "kwh"})[["series_id", "timestamp", "kwh"]])
    typer.echo(
        f"    tomorrow's forecast (P50, step 9) under {flat.tariff.name}: "
        f"{ahead['total'].sum():.2f} {flat.tariff.currency} for {ahead['series_id'].nunique()} "
        f"households (mean {ahead['total'].mean():.2f}, incl. one day's standing charge)"
    )


def impute_step(output: Path, prepared: Any, households: int = 8) -> None:
    """Take some households' monthly totals only, rebuild their hours with the LightGBM
    bundle (and its archetypes), and compare with their real hourly load."""
    import numpy as np
    import pandas as pd

    from serving.impute import ImputeJob

    t = time.perf_counter()
    tz = "Europe/London"
    frame = prepared.frame
    ids = sorted(frame["series_id"].unique())[-households:]
    f = frame[frame["series_id"].isin(ids)]
    f = f.assign(month=f["timestamp"].dt.tz_convert(tz).dt.strftime("%Y-%m"))
    g = f.groupby(["series_id", "month"])["target"].agg(["count", "sum"]).reset_index()
    monthly = g[g["count"] >= 24 * 28].rename(columns={"sum": "kwh"})[["series_id", "month", "kwh"]]
    d = output / "impute"
    d.mkdir(parents=True, exist_ok=True)
    monthly.to_csv(d / "monthly.csv", index=False)
    weather = frame.drop_duplicates("timestamp")[["timestamp", "temperature", "cloud_cover"]]
    weather.assign(export_kwh=0.0).to_csv(d / "weather.csv", index=False)  # no meter: no export
    job = ImputeJob(str(output / "bundle_lightgbm"), str(d / "monthly.csv"), prepared.static,
                    d / "out", str(d / "weather.csv"), samples=20)  # fmt: skip
    s = job.run()
    typer.echo(
        f"    forecasting impute --bundle {output / 'bundle_lightgbm'} --monthly {d / 'monthly.csv'} "
        f"--static <households> --weather {d / 'weather.csv'} --samples 20 --output {d / 'out'}"
    )
    prof = pd.read_parquet(d / "out" / "profiles.parquet")
    sums = prof.groupby(["series_id", "period"])["p50"].sum()
    want = monthly.set_index(["series_id", "month"])["kwh"].loc[sums.index]
    both = prof.merge(f[["series_id", "timestamp", "target"]], on=["series_id", "timestamp"])
    flat = both.groupby(["series_id", "period"])["target"].transform("mean")
    mae, mae_flat = (
        (both["p50"] - both["target"]).abs().mean(),
        (flat - both["target"]).abs().mean(),
    )
    inside = ((both["target"] >= both["p10"]) & (both["target"] <= both["p90"])).mean()
    typer.echo(
        f"    {s['customers_imputed']} households x {len(monthly) // max(1, s['customers_imputed'])} "
        f"months from {len(monthly)} monthly totals ({s['archetypes']} archetypes), "
        f"{time.perf_counter() - t:.1f} s: largest |sum - total| {np.abs(sums - want).max():.1e} kWh; "
        f"hourly MAE {mae:.3f} kWh vs {mae_flat:.3f} for a flat profile; "
        f"{inside:.0%} of real hours inside P10-P90 (households the bundle saw in training; "
        "benchmarks/imputation.py holds them out)"
    )


CONFIGS = TARIFFS.parent


def tariff_step(output: Path, households: int = 40, days: int = 56, scenarios: int = 5) -> None:
    """A price trial with a planted response (the generator's ToU group), the response
    measured back, then a fixed charge and three band rates chosen for its households with
    Monte Carlo scenarios, checked by the bill engine, and a small Pareto frontier."""
    import json

    import pandas as pd
    import yaml

    from forecasting.optimise.config import OptimiseConfig
    from forecasting.response.config import load_elasticity_config
    from forecasting.response.job import run_elasticity
    from forecasting.response.report import write_report
    from forecasting.response.trial import TrialSpec, write_trial
    from serving.optimise import run_optimise

    t = time.perf_counter()
    trial = write_trial(TrialSpec(households=households, days=days, seed=7), output / "trial")
    el = output / "elasticity"
    result, doc = run_elasticity(load_elasticity_config(trial["config"]), trial["config"], el)
    write_report(result, doc, el)
    typer.echo(f"    forecasting elasticity --config {trial['config']} --output {el}")
    est = result.estimates
    truth = pd.DataFrame(json.loads(trial["truth"].read_text()))
    m = est[est["spec"] == "level x band x group"].merge(truth, on=["level", "band", "group"],
                                                         suffixes=("", "_planted"))  # fmt: skip
    inside = (
        (m["ci_low"] <= m["log_change_planted"]) & (m["log_change_planted"] <= m["ci_high"])
    ).sum()
    for r in est[est["spec"] == "level x band"].itertuples():
        planted = truth[(truth["level"] == r.level) & (truth["band"] == r.band)][
            "elasticity"
        ].mean()
        typer.echo(f"    {r.level:>4} {r.band:<8} {r.pct_change:+6.1f}% [{r.pct_ci_low:+.1f}, "
                   f"{r.pct_ci_high:+.1f}]  elasticity {r.elasticity:+.3f} "
                   f"[{r.elasticity_ci_low:+.3f}, {r.elasticity_ci_high:+.3f}]  "
                   f"(planted {planted:+.3f}, mean of the groups)")  # fmt: skip
    typer.echo(f"    the planted value is inside the 95% CI for {inside} of {len(m)} band x group "
               f"terms; responders at High: {doc['responders']['High']['responders']} of "
               f"{doc['responders']['High']['households']} ({time.perf_counter() - t:.1f} s)")  # fmt: skip
    t = time.perf_counter()
    opt = output / "optimise"
    cfg = {
        "template": str(CONFIGS / "tariff_templates" / "tou3_example.yaml"),
        "current": str(TARIFFS / "lcl_flat_2013.yaml"), "data": str(trial["data"]),
        "response": {"file": str(el / "elasticity.json")},
        "vulnerable": {"column": "group", "value": "B"},
        "goals": {"w_peak": 20.0, "revenue_share": 0.95, "delta": 0.25},
        "scenarios": {"count": scenarios, "seed": 0, "ev_share": 0.1, "pv_share": 0.1},
        "frontier": 3, "breakdown": ["group", "archetype"], "timezone": "Europe/London",
    }  # fmt: skip
    opt.mkdir(parents=True, exist_ok=True)
    (opt / "optimise.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    s = run_optimise(OptimiseConfig.model_validate(cfg), opt)
    k = s["kpis"]
    typer.echo(f"    forecasting optimise-tariff --config {opt / 'optimise.yaml'} --output {opt}")
    typer.echo(f"    chosen ({s['method']}, {s['iterations']} expansions): "
               + ", ".join(f"{n} {v:.2f}p" for n, v in s["prices"].items())
               + f" against today's flat 14.23p; written to {opt / 'tariff.yaml'}")  # fmt: skip
    typer.echo(f"    peak {k['peak_before_kw']['base']:.1f} -> {k['peak_after_kw']['base']:.1f} kW "
               f"({k['peak_reduction_pct']['base']:.1f}% lower; {k['peak_reduction_pct']['p05']:.1f} "
               f"to {k['peak_reduction_pct']['p95']:.1f}% across {s['scenarios']} scenarios); revenue "
               f"{k['revenue_vs_target_pct']['base']:+.2f}% of today's; engine vs optimiser "
               f"{s['checks']['checks']['predicted vs engine revenue']['largest_gap_pct']:.3f}%; "
               f"vulnerable over +10%: {k['vulnerable_over_increase']['base']:.0f} of {s['vulnerable']}; "
               f"every check on the engine's bills "
               f"{'holds' if s['checks']['all_hold'] else 'does NOT hold'}")  # fmt: skip
    f = pd.DataFrame(s["frontier"])
    if "peak_reduction_pct" in f:
        typer.echo("    frontier (peak weight: peak reduction, spread of bill changes): "
                   + "; ".join(f"{r.w_peak:g}: {r.peak_reduction_pct:.1f}%, {r.bill_change_mad_pct:.1f}%"
                               for r in f.itertuples()) + f" ({time.perf_counter() - t:.1f} s)")  # fmt: skip


def monitor_step(output: Path, synthetic: Any, data_config: Path) -> None:
    """Watch for drift: the last 14 days of the demo's data, and of a copy in which 30% of the
    homes without an EV gain one three weeks before the end (every earlier reading the
    same), each against the reference the LightGBM bundle stored at export."""
    from forecasting.config.data import load_data_config
    from forecasting.config.monitor import MonitorConfig
    from forecasting.data.prepare import prepare
    from forecasting.data.synthetic import SyntheticSpec, write_synthetic
    from serving.load import load_bundle
    from serving.monitor import monitor, stored_reference, write_monitor_report

    t = time.perf_counter()
    s = synthetic
    spec = SyntheticSpec(households=s.households, days=s.days, start=s.start, seed=s.seed,
                         drift="ev", drift_day=s.days - 21)  # fmt: skip
    drifted = write_synthetic(spec, output / "raw_with_evs")
    bundle_dir = output / "bundle_lightgbm"
    bundle = load_bundle(bundle_dir)
    reference = stored_reference(bundle)
    for name, config in (("as generated", data_config), ("with EVs", drifted["config"])):
        data = load_data_config(config)
        prepared = prepare(data)
        summary = monitor(reference, prepared.frame, data.calendar.timezone, MonitorConfig(),
                          bundle=bundle, static=prepared.static)  # fmt: skip
        folder = output / ("monitor" if name == "as generated" else "monitor_with_evs")
        write_monitor_report(folder, summary, reference)
        flagged = [f"{c['feature']} {c['level']}" for c in summary["checks"]
                   if c["counted"] and c["level"] != "none"]  # fmt: skip
        typer.echo(f"    {name:<13} level {summary['level']} (exit {summary['exit_code']}): "
                   f"{', '.join(flagged) or 'nothing flagged'} -> {shown(folder / 'report.html')}")  # fmt: skip
    typer.echo(f"    forecasting monitor --bundle {shown(bundle_dir)} --data-config "
               f"{shown(drifted['config'])} --output {shown(output / 'monitor_with_evs')} "
               f"({time.perf_counter() - t:.1f} s)")  # fmt: skip


def flexibility_step(output: Path, data_config: Path, timezone: str) -> None:
    """A schedule for one household's appliances on a late day under the TOU tariff (its own
    half-hourly load sharing the site limit), advice between the flat and TOU tariffs for
    three households from their half-hourly readings, and a targeting simulation on a
    generated ToU trial with planted engagement."""
    import pandas as pd
    import yaml

    from forecasting.config.data import load_data_config
    from forecasting.data.ingest import ingest
    from forecasting.response.trial import TrialSpec, write_trial
    from forecasting.schedule.config import load_schedule_config
    from forecasting.targeting.config import load_targeting_config
    from forecasting.targeting.job import run_targeting
    from forecasting.tariffs.engine import BillEngine
    from forecasting.tariffs.spec import load_tariff
    from serving.recommend import current_tariffs, load_tariffs, read_usage, run_recommend
    from serving.schedule import ScheduleJob, day_slots, home_loads, tariff_prices

    t = time.perf_counter()
    frame = ingest(load_data_config(data_config)).readings  # the real readings, half-hourly
    ids = sorted(frame["series_id"].unique())[:3]
    usage = frame[frame["series_id"].isin(ids)][["series_id", "timestamp", "target"]]
    usage = usage.rename(columns={"target": "kwh"})
    usage.to_parquet(output / "flex_usage.parquet", index=False)
    home = CONFIGS / "schedule" / "home_example.yaml"
    cfg = load_schedule_config(home)
    last = usage["timestamp"].max().tz_convert(timezone).normalize() - pd.Timedelta(days=2)
    date = last.strftime("%Y-%m-%d")
    times = day_slots(date, cfg, timezone)
    tou = BillEngine(load_tariff(TOU))
    one = output / "flex_home.parquet"
    usage[usage["series_id"] == ids[0]].to_parquet(one, index=False)
    homes, loads, refused = home_loads(one, "kwh", times, cfg.slot.span)
    job = ScheduleJob(cfg, times, tariff_prices(tou, times), f"tariff {tou.tariff.name}",
                      tou.tariff.currency, output / "schedule", homes, loads, refused)  # fmt: skip
    s = job.run()
    typer.echo(f"    forecasting schedule --config {shown(home)} --tariff {shown(TOU)} --date {date} "
               f"--homes <{ids[0]}'s readings> --output {output / 'schedule'}")  # fmt: skip
    c = s["costs"]
    typer.echo(f"    {ids[0]}'s six appliances: {c['MILP']:.2f} GBP planned against "
               f"{c['start at once']:.2f} starting at once ({c['greedy']:.2f} greedy), its own "
               f"load under the {cfg.site_limit_kw:g} kW limit; report.html draws the plan")  # fmt: skip
    engines = load_tariffs([FLAT, TOU])
    paths, quarantined = read_usage(str(output / "flex_usage.parquet"), "kwh", 50, 0, 0.5, 2)
    index, refused_ = current_tariffs(paths.ids, [e.tariff.name for e in engines],
                                      "uk_flat_example", None, None)  # fmt: skip
    run_recommend(engines, paths, index, refused_, quarantined, output / "advice")
    typer.echo(f"    forecasting recommend --tariffs {shown(FLAT)} --tariffs {shown(TOU)} --usage "
               f"<3 households> --current uk_flat_example --samples 50 --output {output / 'advice'}")  # fmt: skip
    rec = pd.read_csv(output / "advice" / "recommendations.csv")
    for r in rec.to_dict("records"):
        if r["recommended"] == r["current"]:
            typer.echo(f"    {r['series_id']}: stay on {r['current']} (the TOU tariff is the "
                       f"cheaper on {r['p_cheapest_uk_tou_demand_example']:.0%} of usage paths)")  # fmt: skip
        else:
            typer.echo(f"    {r['series_id']}: switch to {r['recommended']}, saving "
                       f"{r['expected_saving']:.2f} GBP (P10 {r['saving_p10']:.2f}, P90 "
                       f"{r['saving_p90']:.2f}), P(saves) {r['probability_saves']:.2f}")  # fmt: skip
    trial = write_trial(TrialSpec(households=120, days=168, start="2024-01-01", seed=3,
                                  engagement={0.97: 0.25, 0.75: 0.25, 0.45: 0.25, 0.0: 0.25}),
                        output / "targeting_trial")  # fmt: skip
    tcfg = {"trial": str(trial["config"]), "learn_until": "2024-03-25",
            "target": {"High": -0.02, "Low": 0.015}, "random_repeats": 10,
            "hour_weights": [{"level": "High", "hours": "16:00-20:00", "weight": 2.0}]}  # fmt: skip
    (output / "targeting_trial" / "targeting.yaml").write_text(yaml.safe_dump(tcfg))
    summary = run_targeting(load_targeting_config(output / "targeting_trial" / "targeting.yaml"),
                            output / "targeting")  # fmt: skip
    typer.echo(f"    forecasting target-signals --config {output / 'targeting_trial' / 'targeting.yaml'} "
               f"--output {output / 'targeting'}")  # fmt: skip
    pol = pd.DataFrame(summary["policies"])
    for p in pol[pol["level"] == "High"].itertuples():
        typer.echo(f"    High events, {p.policy:<22} {p.signals_per_event:6.1f} signals an event, "
                   f"reached the -2% target in {p.reached_share:.0%}")  # fmt: skip
    cover = ", ".join(f"{k} {v['coverage_90']:.0%}" for k, v in summary["calibration"].items())
    typer.echo(f"    the learned posterior's 90% intervals cover {cover} of later "
               f"responses ({time.perf_counter() - t:.1f} s for the step)")  # fmt: skip
