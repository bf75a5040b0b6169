"""`forecasting monitor`: recent data against the reference a bundle stored at export.

Exit codes, for schedulers: 0 no drift, 1 warning, 2 drift beyond the thresholds; 4 the
input cannot be used (the other commands' 2, moved so that it never reads as drift); 3 a bug.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

INPUT_ERROR_EXIT = 4


def monitor_cmd(
    bundle: Annotated[
        Path, typer.Option("--bundle", "-b", help="an exported bundle with its reference.json")
    ],
    data_config: Annotated[Path, typer.Option("--data-config", help="how to read the data")],
    output: Annotated[Path, typer.Option("--output", "-o", help="folder for the report")],
    input_path: Annotated[
        str | None, typer.Option("--input", "-i", help="readings instead of the data config's")
    ] = None,
    end: Annotated[
        str | None, typer.Option(help="last local day of the window (default: the data's last)")
    ] = None,
    thresholds: Annotated[
        Path | None, typer.Option(help="thresholds YAML (configs/monitor/thresholds.yaml)")
    ] = None,
    window_days: Annotated[
        int | None, typer.Option(min=3, max=366, help="days in the recent window (default 14)")
    ] = None,
    reference_end: Annotated[
        str | None,
        typer.Option(
            help="build the reference from the data through this local date instead "
            "of the bundle's (e.g. the same weeks a year before)"
        ),
    ] = None,
    reference_days: Annotated[
        int, typer.Option(min=7, max=366, help="days in a --reference-end reference")
    ] = 28,
    exit_on: Annotated[
        str, typer.Option(help="which checks set the exit code: any, data or model (error)")
    ] = "any",
) -> None:
    """Compare the last days of the data with the reference the bundle stored at export: the
    distributions that make up the load shape (PSI, KS), the households' load-shape
    archetype shares, the response to cold, and the bundle's forecast error and interval
    coverage. --exit-on model exits on the model's checks alone (retrain when the error moves,
    whatever the data does); data on the data's. --reference-end takes the data checks' reference from the data itself (the
    same weeks a year before, when the seasons move the load: spring). Writes monitor.json,
    report.html (and monitor.png); exits 0 (no drift), 1 (warning) or 2 (drift), 4 when the
    input cannot be used."""
    from forecasting.errors import ForecastingError

    try:
        summary = _run(bundle, data_config, output, input_path, end, thresholds, window_days,
                       reference_end, reference_days, exit_on)  # fmt: skip
    except ForecastingError as exc:
        exc.exit_code = INPUT_ERROR_EXIT  # never read as drift by a scheduler
        raise
    for c in summary["checks"]:
        if c["level"] != "none" or c.get("note"):
            flag = "" if c["counted"] else " (context)"
            note = f" ({c['note']})" if c.get("note") else ""
            typer.echo(f"  {c['level']:<8}{c['check']}: {c['feature']}{flag}{note}")
    lv = summary["levels"]
    typer.echo(f"data: {lv['data']}, model: {lv['model']}; level ({exit_on}): {summary['level']} "
               f"(exit {summary['exit_code']}); wrote {', '.join(summary['files'])} to {output}")  # fmt: skip
    raise typer.Exit(summary["exit_code"])


def _run(bundle_dir: Path, data_config: Path, output: Path, input_path: str | None,
         end: str | None, thresholds: Path | None, window_days: int | None,
         reference_end: str | None = None, reference_days: int = 28,
         exit_on: str = "any") -> dict[str, Any]:  # fmt: skip
    from forecasting.config.data import load_data_config
    from forecasting.config.monitor import load_monitor_config
    from forecasting.data.prepare import prepare
    from serving.load import load_bundle
    from serving.monitor import monitor, reference_from, stored_reference, write_monitor_report

    cfg = load_monitor_config(thresholds)
    if window_days is not None:
        cfg.window_days = window_days
    loaded = load_bundle(bundle_dir)  # checks every file's checksum, the reference's too
    reference = stored_reference(loaded)
    data = load_data_config(data_config)
    prepared = prepare(data, input_path)
    tz = data.calendar.timezone
    if reference_end is not None:  # the data checks against the chosen weeks of the data
        reference = reference_from(prepared.frame, tz, reference_end, reference_days, reference)
    summary = monitor(reference, prepared.frame, tz, cfg, end, loaded, prepared.static, exit_on)
    summary["bundle"] = str(bundle_dir)
    write_monitor_report(output, summary, reference)
    return summary


def register(app: typer.Typer) -> None:
    app.command("monitor")(monitor_cmd)
