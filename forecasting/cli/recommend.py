"""`forecasting recommend`: each customer's cheapest tariff among candidates, with how sure."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def recommend_cmd(
    tariffs: Annotated[
        list[Path], typer.Option(help="candidate tariffs: YAML files or folders of them (repeat)")
    ],
    usage: Annotated[
        str,
        typer.Option(help="usage: readings, forecasts (p10/p50/p90) or impute's samples"),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="folder for the advice")],
    current: Annotated[
        str | None, typer.Option(help="the tariff (by name) every customer pays today")
    ] = None,
    static: Annotated[str | None, typer.Option(help="per-customer table")] = None,
    current_column: Annotated[
        str | None, typer.Option(help="column of --static naming each customer's tariff")
    ] = None,
    column: Annotated[
        str | None, typer.Option(help="the kWh column (default: kwh, target or p50)")
    ] = None,
    samples: Annotated[
        int, typer.Option(min=0, max=2000, help="usage paths drawn beside the given one")
    ] = 100,
    seed: Annotated[int, typer.Option(help="seed of the drawn paths")] = 0,
    common_share: Annotated[
        float,
        typer.Option(min=0.0, max=1.0, help="quantile paths: share of a score common to a path"),
    ] = 0.5,
    shift_weeks: Annotated[
        int, typer.Option(min=0, max=26, help="one path given: weeks moved by up to this")
    ] = 4,
    schedule: Annotated[
        Path | None,
        typer.Option(help="appliances (configs/schedule) shifted under each tariff: the change"),
    ] = None,
    timezone: Annotated[
        str, typer.Option(help="--schedule: the homes' time zone")
    ] = "Europe/London",
) -> None:
    """Bill every customer under every tariff in --tariffs over sample paths of their usage;
    recommend the tariff with the lowest expected bill, with the expected saving against the
    current tariff, its P10-P90 and the probability that it saves. With --schedule, again
    with the appliances planned under each tariff (the worth of shifting them). Writes
    recommendations.csv, bills.csv, errors.csv, quarantine.csv, summary.json, report.html."""
    from forecasting.schedule.config import load_schedule_config
    from serving.recommend import (
        appliance_load,
        check_current,
        current_tariffs,
        load_tariffs,
        read_usage,
        run_recommend,
    )
    from serving.tables import read_static

    engines = load_tariffs(tariffs)
    names = [e.tariff.name for e in engines]
    check_current(names, current, current_column)
    shift = appliance_load(load_schedule_config(schedule), timezone) if schedule else None
    table = read_static(static) if static else None
    paths, quarantined = read_usage(usage, column, samples, seed, common_share, shift_weeks)
    index, refused = current_tariffs(paths.ids, names, current, table, current_column)
    s = run_recommend(engines, paths, index, refused, quarantined, output, shift)
    typer.echo(f"{s['customers']} customers, {len(names)} tariffs, {s['paths']} paths each "
               f"({s['paths_kind']}): recommended {s['recommended']}; {s['switch']} would save by "
               f"switching ({s['switch_sure']} with probability >= 0.9), "
               f"{s['expected_saving_total']:,.2f} {s['currency']} expected in all; "
               f"{s['refused']} set aside, {s['rows_quarantined']} rows quarantined; "
               f"wrote {', '.join(s['files'])} to {output}")  # fmt: skip


def register(app: typer.Typer) -> None:
    app.command("recommend")(recommend_cmd)
