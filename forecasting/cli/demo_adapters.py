"""Demo steps 11-12: bills under two tariffs, and hourly profiles from monthly totals."""

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
