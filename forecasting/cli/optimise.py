"""`forecasting optimise-tariff`: the prices of a tariff template for a whole customer base."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from forecasting.cli.extras import progress_printer


def optimise_tariff_cmd(
    config: Annotated[
        Path, typer.Option("--config", "-c", help="optimiser config (configs/optimise)")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="folder for the tariff and KPIs")],
    scenarios: Annotated[
        int | None, typer.Option(min=1, max=1000, help="Monte Carlo scenarios, the base included")
    ] = None,
    frontier: Annotated[
        int | None, typer.Option(min=0, max=25, help="Pareto points to sweep (0: none)")
    ] = None,
) -> None:
    """Choose the prices of a tariff template (fixed charge, band rates within their bounds)
    that trade the system peak against bill-change spread and revenue, with the revenue
    floor in every scenario and few vulnerable customers over a 10% increase. The chosen
    tariff is re-billed by the bill engine and every constraint checked again."""
    from forecasting.optimise.config import load_optimise_config
    from serving.optimise import run_optimise

    cfg = load_optimise_config(config)
    if scenarios is not None:
        cfg.scenarios.count = scenarios
    if frontier is not None:
        cfg.frontier = frontier
    s = run_optimise(cfg, output, progress_printer())
    prices = ", ".join(f"{k} {v:.3f}" for k, v in s["prices"].items())
    k = s["kpis"]
    typer.echo(f"chosen ({s['method']}, {s['iterations']} expansions, "
               f"{s['seconds']['total']:.1f} s): {prices}")  # fmt: skip
    typer.echo(
        f"peak {k['peak_before_kw']['base']:,.1f} -> {k['peak_after_kw']['base']:,.1f} kW "
        f"({k['peak_reduction_pct']['base']:+.1f}%; across {s['scenarios']} scenarios "
        f"{k['peak_reduction_pct']['p05']:+.1f} to {k['peak_reduction_pct']['p95']:+.1f}%)"
    )
    typer.echo(
        f"revenue {k['revenue_vs_target_pct']['base']:+.2f}% against target "
        f"(scenarios {k['revenue_vs_target_pct']['p05']:+.2f} to "
        f"{k['revenue_vs_target_pct']['p95']:+.2f}%); engine vs optimiser "
        f"{s['checks']['checks']['predicted vs engine revenue']['largest_gap_pct']:.3f}% at most"
    )
    lm = s["checks"]["load_model"]
    typer.echo(f"load model: {max(lm['classes'])} response classes at most per scenario, "
               + ("exact" if lm["exact"] else f"merged: its peak within {lm['largest_peak_gap_pct']:.3f}% "
                  "of the exact one"))  # fmt: skip
    typer.echo(f"bill change: mean {k['mean_change_pct']['base']:+.1f}%, median "
               f"{k['median_change_pct']['base']:+.1f}%, over 10%: {k['over_10pct']['base']:.0f} "
               f"customers; vulnerable over {100 * cfg.goals.increase:.0f}%: "
               f"{k['vulnerable_over_increase']['base']:.0f} of {s['vulnerable']}")  # fmt: skip
    for name, c in s["checks"]["checks"].items():
        typer.echo(f"  check {name}: {'holds' if c['holds'] else 'FAILS'}")
    typer.echo(f"wrote {output}/ (tariff.yaml, kpis.csv, breakdown.csv, load_shape.csv, bills.parquet, "
               "checks.json, iterations.csv, summary.json"
               + (", frontier.csv, frontier/" if cfg.frontier else "") + ")")  # fmt: skip
    if not s["checks"]["all_hold"]:
        raise typer.Exit(1)


def tariff_report_cmd(
    run: Annotated[Path, typer.Option("--run", "-r", help="an optimise-tariff output folder")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="folder for the report (default: RUN)")
    ] = None,
) -> None:
    """A regulator's report of a tariff study: one self-contained HTML page (the chosen
    tariff, checks, KPIs across scenarios, bill changes by group, load shapes, the frontier,
    the elasticities and assumptions) and an Excel workbook with the same tables."""
    from forecasting.optimise.report import read_run, tables, write_excel, write_html

    data = read_run(run)
    sheets = tables(data)
    out = output or run
    out.mkdir(parents=True, exist_ok=True)
    page = write_html(data, sheets, out / "tariff_report.html")
    book = write_excel(sheets, out / "tariff_report.xlsx")
    typer.echo(f"wrote {page} ({len(sheets)} tables, plots inside) and {book} "
               f"({len(sheets)} sheets: {', '.join(sheets)})")  # fmt: skip


def register(app: typer.Typer) -> None:
    app.command("optimise-tariff")(optimise_tariff_cmd)
    app.command("tariff-report")(tariff_report_cmd)
