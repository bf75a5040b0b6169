"""`forecasting schedule`: when to run a home's appliances on one day under a tariff."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer


def schedule_cmd(
    config: Annotated[
        Path, typer.Option("--config", "-c", help="the appliances (configs/schedule)")
    ],
    tariff: Annotated[Path, typer.Option(help="the tariff whose prices to follow")],
    date: Annotated[str, typer.Option(help="the local date the scheduled day starts on")],
    output: Annotated[Path, typer.Option("--output", "-o", help="folder for the plan")],
    timezone: Annotated[str, typer.Option(help="the home's time zone")] = "Europe/London",
) -> None:
    """Schedule a home's appliances over one day (from the config's day_start) at least cost
    under a tariff's hourly prices, within their windows and the site limit (a MILP on
    HiGHS); compare with starting everything at once and with a greedy cheapest-slot rule.
    Writes plan.csv (every appliance's slots) and summary.json."""
    import numpy as np
    import pandas as pd

    from forecasting.errors import InputError
    from forecasting.folders import write_json
    from forecasting.schedule.config import load_schedule_config
    from forecasting.schedule.solve import Scheduler, at_once, greedy
    from forecasting.tariffs.engine import BillEngine
    from forecasting.tariffs.spec import load_tariff

    cfg = load_schedule_config(config)
    requests = cfg.requests()
    step = cfg.slot.span
    try:
        start = pd.Timestamp(f"{date} {cfg.day_start}").tz_localize(timezone, nonexistent="shift_forward", ambiguous=False)  # fmt: skip
    except (ValueError, TypeError) as exc:
        raise InputError(f"--date {date!r} with --timezone {timezone!r}: {exc}") from None
    engine = BillEngine(load_tariff(tariff))
    price = engine.unit_rates(start.tz_convert("UTC"), cfg.horizon, step)
    slot_h = step / pd.Timedelta(hours=1)
    t0 = time.perf_counter()
    best = Scheduler(requests, cfg.horizon, slot_h, cfg.site_limit_kw).solve(price)
    seconds = time.perf_counter() - t0
    plans = {"MILP": best, "start at once": at_once(requests, price, slot_h),
             "greedy": greedy(requests, price, slot_h, site_limit_kw=cfg.site_limit_kw)}  # fmt: skip
    times = pd.date_range(start, periods=cfg.horizon, freq=step)
    rows = []
    for r, on in zip(requests, best.on, strict=True):
        slots = np.flatnonzero(on)
        rows.append({"appliance": r.name, "first_slot": times[slots[0]].strftime("%Y-%m-%d %H:%M"),
                     "last_slot_ends": (times[slots[-1]] + step).strftime("%Y-%m-%d %H:%M"),
                     "slots": len(slots), "kwh": r.power_kw * slot_h * len(slots),
                     "cost": float(r.power_kw * slot_h * price[slots].sum())})  # fmt: skip
    output.mkdir(parents=True, exist_ok=True)
    plan = pd.DataFrame(rows)
    plan.to_csv(output / "plan.csv", index=False)
    on = pd.DataFrame(best.on.T, columns=[r.name for r in requests]).assign(
        time=times.strftime("%Y-%m-%d %H:%M"), price=price
    )
    on.to_csv(output / "slots.csv", index=False)
    currency = engine.tariff.currency
    summary = {
        "tariff": engine.tariff.name, "date": date, "timezone": timezone, "currency": currency,
        "costs": {k: p.cost for k, p in plans.items()}, "comfort_cost": best.comfort,
        "saving_vs_start_at_once": plans["start at once"].cost - best.cost,
        "saving_vs_greedy": plans["greedy"].cost - best.cost, "solve_seconds": seconds,
        "plan": rows,
    }  # fmt: skip
    write_json(output / "summary.json", summary)
    typer.echo(plan.round(3).to_string(index=False))
    typer.echo(f"cost {best.cost:.2f} {currency} (MILP, {seconds:.2f} s) against "
               f"{plans['start at once'].cost:.2f} starting at once and "
               f"{plans['greedy'].cost:.2f} by the greedy rule; wrote plan.csv, slots.csv, "
               f"summary.json to {output}")  # fmt: skip


def register(app: typer.Typer) -> None:
    app.command("schedule")(schedule_cmd)
