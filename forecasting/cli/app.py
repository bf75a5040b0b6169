"""Command tree. Each command imports what it needs when it runs, so `--help` stays fast."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="Smart-meter forecasting: validate and prepare meter data, forecast, export, bill.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
data_app = typer.Typer(help="Validate, prepare and generate meter data.", no_args_is_help=True)
app.add_typer(data_app, name="data")

ConfigOpt = Annotated[
    Path, typer.Option("--config", "-c", help="data config YAML (configs/data/*.yaml)")
]


@data_app.command("validate")
def validate(
    config: ConfigOpt,
    input: Annotated[
        str | None, typer.Argument(help="file, folder or glob; defaults to the config's path")
    ] = None,
    quarantine: Annotated[
        Path | None, typer.Option(help="write rejected rows here (parquet)")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print the full report as JSON")] = False,
) -> None:
    """Check INPUT against CFG and print the report.

    Exit 0 when clean, 1 when rows were quarantined or gaps remain, 2 when unusable.
    """
    import json

    from forecasting.config.data import load_data_config
    from forecasting.data.prepare import prepare, write_quarantine
    from forecasting.data.report import render_report

    cfg = load_data_config(config)
    prepared = prepare(cfg, input)
    if quarantine is not None:
        write_quarantine(prepared.quarantine, quarantine)
    if json_out:
        typer.echo(json.dumps(prepared.report, indent=2, default=str))
    else:
        typer.echo(render_report(prepared.report, cfg.calendar.timezone))
        if quarantine is not None:
            typer.echo(f"\nquarantine: {len(prepared.quarantine):,} rows written to {quarantine}")
        verdict = {0: "clean", 1: "issues found (rows quarantined or gaps remain)"}[
            prepared.exit_code
        ]
        typer.echo(f"result: {verdict}")
    raise typer.Exit(prepared.exit_code)


@data_app.command("prepare")
def prepare_cmd(
    config: ConfigOpt,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="folder for frame, static, report")
    ],
    input: Annotated[
        str | None, typer.Option("--input", "-i", help="override the config's input path")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Write the canonical hourly frame, static table, quarantine and report (JSON) to OUTPUT."""
    from forecasting.config.data import load_data_config
    from forecasting.data.prepare import prepare, write_prepared
    from forecasting.data.report import render_report

    cfg = load_data_config(config)
    prepared = prepare(cfg, input)
    paths = write_prepared(prepared, output)
    if not quiet:
        typer.echo(render_report(prepared.report, cfg.calendar.timezone))
        typer.echo("")
    typer.echo(
        f"wrote {len(prepared.frame):,} rows x {prepared.frame.shape[1]} columns for "
        f"{prepared.report['series']:,} series to {paths['frame']}"
    )
    for key in ("static", "quarantine", "gaps", "report", "dataset"):
        typer.echo(f"  {key:<10} {paths[key]}")


@data_app.command("synth")
def synth(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="folder for the raw files and data.yaml")
    ],
    households: Annotated[int, typer.Option(min=1, help="number of households")] = 40,
    days: Annotated[int, typer.Option(min=2, help="days of half-hourly data")] = 180,
    start: Annotated[str, typer.Option(help="first day (local time)")] = "2023-10-15",
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    faults: Annotated[bool, typer.Option(help="inject faults (bad rows, gaps, anomalies)")] = True,
) -> None:
    """Generate a synthetic smart-meter dataset (raw files with dirt, plus its data config)."""
    from forecasting.data.synthetic import SyntheticSpec, write_synthetic

    spec = SyntheticSpec(households=households, days=days, start=start, seed=seed, faults=faults)
    paths = write_synthetic(spec, output)
    for key, path in paths.items():
        typer.echo(f"{key:<10} {path}")


@app.command("demo")
def demo(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="folder for everything the demo writes")
    ] = Path("demo_output"),
    config: Annotated[Path, typer.Option("--config", "-c", help="demo config")] = Path(
        "configs/demo/demo.yaml"
    ),
) -> None:
    """Run the whole path on generated data and print what happened at each step."""
    from forecasting.cli.demo import run_demo

    run_demo(config, output)


@app.command("version")
def version() -> None:
    """Print the package version."""
    from forecasting import __version__

    typer.echo(__version__)
