"""`forecasting elasticity`: price response measured on a trial of treated and control homes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from forecasting.cli.extras import progress_printer


def elasticity_cmd(
    config: Annotated[
        Path, typer.Option("--config", "-c", help="elasticity config (configs/elasticity)")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="folder for the file and report")],
    input_path: Annotated[
        str | None, typer.Option("--input", "-i", help="readings instead of the data config's")
    ] = None,
    bootstrap: Annotated[
        int | None, typer.Option(min=0, max=20_000, help="bootstrap replicates (0: analytic CI)")
    ] = None,
    group_by: Annotated[
        str | None, typer.Option("--group-by", "-g", help="static column to break down by")
    ] = None,
) -> None:
    """Measure the price response of a trial: treated households on a dynamic tariff against
    control households, by price level, time-of-day band and group (panel
    difference-in-differences with 95% CIs). Writes elasticity.json (read by the tariff
    optimiser), estimates.csv, responders.csv, by_time_of_day.csv and report.html."""
    import time

    from forecasting.response.config import load_elasticity_config
    from forecasting.response.job import run_elasticity
    from forecasting.response.report import estimate_table, write_report

    cfg = load_elasticity_config(config)
    if bootstrap is not None:
        cfg.bootstrap = bootstrap
    if group_by is not None:
        cfg.group_by = group_by
    t0 = time.perf_counter()
    result, doc = run_elasticity(cfg, config, output, input_path, progress_printer())
    write_report(result, doc, output)
    src = doc["source"]
    typer.echo(f"price response from {src['rows_used']:,} readings: "
               f"{doc['facts']['treated_households']} treated, "
               f"{doc['facts']['control_households']} control households "
               f"({time.perf_counter() - t0:.1f} s)")  # fmt: skip
    table = estimate_table(result.estimates)
    pooled = table[table["spec"].isin(["level", "level x band"])]
    cols = ["level", "band", "change"] + (["elasticity"] if "elasticity" in table else [])
    typer.echo(pooled[cols].to_string(index=False))
    for level, v in doc["responders"].items():
        typer.echo(f"responders at {level}: {v['responders']} of {v['households']} "
                   f"({v['share']:.0%})")  # fmt: skip
    typer.echo(
        f"wrote {output}/ (elasticity.json, estimates.csv, responders.csv, "
        "by_time_of_day.csv, report.html)"
    )


def register(app: typer.Typer) -> None:
    app.command("elasticity")(elasticity_cmd)
