"""Demo steps 11-14: bills under two tariffs, hourly profiles from monthly totals, a tariff
chosen for a trial's households from their measured price response, and drift watched."""

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
