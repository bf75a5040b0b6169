"""`forecasting schedule`: when to run the appliances of one home or many on one day."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def schedule_cmd(
    config: Annotated[
        Path, typer.Option("--config", "-c", help="the appliances (configs/schedule)")
    ],
    date: Annotated[str, typer.Option(help="the local date the scheduled day starts on")],
    output: Annotated[Path, typer.Option("--output", "-o", help="folder for the plan")],
    tariff: Annotated[
        Path | None, typer.Option(help="follow this tariff's prices (TOU bands, dynamic signal)")
    ] = None,
    prices: Annotated[
        Path | None,
        typer.Option(help="or follow a price forecast (`predict` on a price bundle)"),
    ] = None,
    price_column: Annotated[
        str, typer.Option(help="the forecast's path to follow: p50, or p90 to guard against highs")
    ] = "p50",
    price_unit: Annotated[
        str, typer.Option(help="the forecast's unit: per-kwh or per-mwh")
    ] = "per-mwh",
    currency: Annotated[str, typer.Option(help="with --prices: the prices' currency")] = "EUR",
    homes: Annotated[
        Path | None,
        typer.Option(help="readings or load forecasts of the homes (series_id, timestamp, kWh)"),
    ] = None,
    column: Annotated[
        str | None, typer.Option(help="the homes' kWh column (default: kwh, target or p50)")
    ] = None,
    timezone: Annotated[str, typer.Option(help="the homes' time zone")] = "Europe/London",
    workers: Annotated[int, typer.Option(min=1, help="processes for many homes")] = 1,
) -> None:
    """Schedule appliances over one day (from the config's day_start) at least cost under a
    tariff's prices or a price forecast, within their windows and the site limit (a MILP on
    HiGHS, built once and re-solved per home); compare with starting everything at once and
    with a greedy cheapest-slot rule. With --homes, every home in the file, its own load
    sharing the site limit. Writes plan.csv, homes.csv, errors.csv, summary.json and
    report.html (and slots.csv for one home)."""
    import numpy as np

    from forecasting.errors import InputError
    from forecasting.schedule.config import load_schedule_config
    from forecasting.tariffs.engine import BillEngine
    from forecasting.tariffs.spec import load_tariff
    from serving.schedule import (
        ONE_HOME,
        ScheduleJob,
        day_slots,
        forecast_prices,
        home_loads,
        tariff_prices,
    )  # fmt: skip

    cfg = load_schedule_config(config)
    cfg.requests()  # each appliance checked before any file is read
    times = day_slots(date, cfg, timezone)
    if (tariff is None) == (prices is None):
        raise InputError("give the prices to follow: --tariff or --prices (one of them)")
    if tariff is not None:
        engine = BillEngine(load_tariff(tariff))
        path, source, cur = tariff_prices(engine, times), f"tariff {engine.tariff.name}", engine.tariff.currency  # fmt: skip
    else:
        assert prices is not None
        path = forecast_prices(prices, price_column, price_unit, times)
        source, cur = f"price forecast {prices.name} ({price_column})", currency
    if homes is None:
        ids, loads, refused = [ONE_HOME], np.zeros((1, len(times))), None
    else:
        ids, loads, refused = home_loads(homes, column, times, cfg.slot.span)
        if not ids:
            raise InputError(f"{homes}: no home has readings over the scheduled day "
                             f"({refused['reason'].iloc[0]})")  # fmt: skip
    job = ScheduleJob(cfg, times, path, source, cur, output, ids, loads, refused, workers)
    s = job.run(echo=typer.echo)
    if len(ids) == 1:
        import pandas as pd

        typer.echo(
            pd.read_csv(output / "plan.csv")
            .drop(columns="series_id")
            .round(3)
            .to_string(index=False)
        )
    c = s["costs"]
    typer.echo(f"{s['homes']['planned']} home(s): cost {c['MILP']:.2f} {cur} (MILP, median "
               f"{s['solve_seconds']['median']:.3f} s a home) against {c['start at once']:.2f} "
               f"starting at once and {c['greedy']:.2f} by the greedy rule; "
               f"{s['homes']['refused']} refused; wrote {', '.join(s['files'])} to {output}")  # fmt: skip


def register(app: typer.Typer) -> None:
    app.command("schedule")(schedule_cmd)
