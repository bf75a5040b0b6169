"""`forecasting schedule`: one home or many, their appliances over a day at least cost.

Prices per slot come from a tariff (`BillEngine.unit_rates`: flat, time-of-use bands or the
dynamic signal) or from a price forecast (`forecasting predict` on a price bundle: the P50
path, or the P90 path for a plan that guards against prices turning out high). Homes come
from readings or load forecasts (`series_id`, `timestamp`, kWh per interval): each home's own
load shares the site limit with its appliances. Without homes, one home with no load of its
own is planned.

What OUTPUT holds:

    plan.csv      each home's appliances: first slot, end, slots, kWh, cost
    homes.csv     each home: cost of the MILP's plan, of starting at once, of the greedy rule,
                  savings, peak draw, solve seconds
    slots.csv     one home only: every slot's price and each appliance on (1) or off (0)
    errors.csv    homes that could not be planned, with the reason (the batch goes on)
    summary.json  prices' source, totals and medians, timings
    report.html   the price path and the plan (one home) or the savings' spread (many)
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecasting.data.numbers import parse_numbers
from forecasting.data.readers import ROW_COL, file_columns, read_table, resolve_inputs
from forecasting.data.schema import SERIES, TIME
from forecasting.errors import InputError
from forecasting.folders import write_json
from forecasting.optimise.report import html_table
from forecasting.schedule.batch import Problem, solve_homes
from forecasting.schedule.config import ScheduleConfig
from forecasting.tariffs.calendar import utc_ns
from forecasting.tariffs.engine import BillEngine, infer_step
from serving.bill import usage_column
from serving.tables import utc_stamps

ONE_HOME = "home"
MISSING_SHARE = 0.25  # a home may miss at most this share of the day's readings (filled)
PRICE_UNITS = {"per-kwh": 1.0, "per-mwh": 0.001}


def day_slots(date: str, cfg: ScheduleConfig, timezone: str) -> pd.DatetimeIndex:
    """The local start of every slot of the scheduled day (from the config's day_start)."""
    try:
        start = pd.Timestamp(f"{date} {cfg.day_start}").tz_localize(timezone, nonexistent="shift_forward", ambiguous=False)  # fmt: skip
    except (ValueError, TypeError) as exc:
        raise InputError(f"--date {date!r} with --timezone {timezone!r}: {exc}") from None
    return pd.date_range(start, periods=cfg.horizon, freq=cfg.slot.span)


def tariff_prices(engine: BillEngine, times: pd.DatetimeIndex) -> np.ndarray:
    step = times[1] - times[0] if len(times) > 1 else pd.Timedelta(days=1)
    return engine.unit_rates(times[0].tz_convert("UTC"), len(times), step)


def forecast_prices(
    path: str | Path, column: str, unit: str, times: pd.DatetimeIndex
) -> np.ndarray:
    """Each slot's price from a price forecast (`predict`'s output, or any table of
    `timestamp` and `column`): the value of the last row at or before the slot's start (an
    hourly price holds for its hour); where several origins forecast a time, the latest made
    before the day starts. Converted to per kWh by `unit` (per-kwh or per-mwh)."""
    if unit not in PRICE_UNITS:
        raise InputError(f"--price-unit {unit!r}: use one of {', '.join(PRICE_UNITS)}")
    present = file_columns(resolve_inputs(path, "prices")[0])
    extra = [c for c in ("origin", SERIES) if c in present]
    if column not in present:
        raise InputError(f"{path}: no price column {column!r} (name it with --price-column); "
                         f"the file has {', '.join(map(repr, present))}")  # fmt: skip
    table = read_table(path, [TIME, column, *extra], what="prices")
    if SERIES in table and table[SERIES].nunique() > 1:
        raise InputError(f"{path}: prices of {table[SERIES].nunique()} series "
                         f"({', '.join(map(str, table[SERIES].unique()[:3]))}, ...): give one market's")  # fmt: skip
    t = utc_ns(utc_stamps(table, f"prices {path}"))
    values, unparseable, nonfinite = parse_numbers(
        table[column], f"prices {path}: column {column!r}"
    )
    if (unparseable | nonfinite).any():
        i = int(np.flatnonzero(unparseable | nonfinite)[0])
        raise InputError(f"prices {path} row {table[ROW_COL].iloc[i]}: column {column!r} value "
                         f"{table[column].iloc[i]!r} is not a finite number")  # fmt: skip
    v = values.to_numpy(float)
    made = (
        utc_ns(utc_stamps(table, f"prices {path}", "origin"))
        if "origin" in table
        else np.zeros(len(t), "int64")
    )
    usable = made <= utc_ns(times)[0]
    if not usable.any():
        raise InputError(f"{path}: every forecast was made after the day starts ({times[0]})")
    t, v, made = t[usable], v[usable], made[usable]
    order = np.lexsort((made, t))
    t, v = t[order], v[order]
    last = np.r_[t[1:] != t[:-1], True]  # the latest origin of each timestamp
    t, v = t[last], v[last]
    slots = utc_ns(times)
    at = np.searchsorted(t, slots, side="right") - 1
    step = int(np.diff(t).min()) if len(t) > 1 else 0
    if at[0] < 0 or slots[-1] >= t[-1] + step:
        raise InputError(f"{path}: prices from {pd.Timestamp(t[0], tz='UTC')} to "
                         f"{pd.Timestamp(t[-1], tz='UTC')} do not cover the day "
                         f"{times[0]} to {times[-1]}")  # fmt: skip
    return v[at] * PRICE_UNITS[unit]


def home_loads(path: str | Path, column: str | None, times: pd.DatetimeIndex,
               slot: pd.Timedelta) -> tuple[list[str], np.ndarray, pd.DataFrame]:  # fmt: skip
    """(home ids, [home, slot] kW of their own load, homes refused with the reason). A slot
    takes the mean power of the reading interval it falls in; a home missing up to a quarter
    of the day's readings has them filled with its mean over the day, more is refused."""
    usage = usage_column(path, column)
    frame = read_table(path, [SERIES, TIME, usage], what="homes")
    frame[TIME] = utc_stamps(frame, f"homes {path}")
    t = utc_ns(frame[TIME])
    step = infer_step(frame[[SERIES, TIME]])
    lo, hi = utc_ns(times)[0], utc_ns(times)[-1] + int(slot / pd.Timedelta(1, "ns"))
    day = frame[(t >= lo - int(step / pd.Timedelta(1, "ns")) + 1) & (t < hi)]
    ids = pd.Index(pd.unique(frame[SERIES].astype(str)))
    refused: list[tuple[str, str]] = []
    if day.empty:
        raise InputError(f"{path}: no readings in the scheduled day {times[0]} to "
                         f"{times[-1] + slot}")  # fmt: skip
    kw = np.full((len(ids), len(times)), np.nan)
    pos = ids.get_indexer(day[SERIES].astype(str))
    tt = utc_ns(day[TIME])
    ns = int(step / pd.Timedelta(1, "ns"))
    value = pd.to_numeric(day[usage], errors="coerce").to_numpy(float) / (
        step / pd.Timedelta(hours=1)
    )
    slot_ns = utc_ns(times)
    for k, s in enumerate(slot_ns):  # the reading whose interval holds the slot's start
        hit = (tt <= s) & (s < tt + ns)
        kw[pos[hit], k] = value[hit]
    keep = []
    for i, home in enumerate(ids):
        row = kw[i]
        miss = np.isnan(row) | (row < 0)
        if miss.mean() > MISSING_SHARE:
            refused.append((home, f"readings cover {(~miss).sum()} of the day's {len(row)} "
                                  f"slots (at least {1 - MISSING_SHARE:.0%} needed)"))  # fmt: skip
            continue
        row[miss] = row[~miss].mean()
        keep.append(i)
    errors = pd.DataFrame(refused, columns=[SERIES, "reason"])
    return [ids[i] for i in keep], kw[keep], errors


@dataclass
class ScheduleJob:
    cfg: ScheduleConfig
    times: pd.DatetimeIndex
    prices: np.ndarray
    price_source: str
    currency: str
    output: Path
    homes: list[str]
    loads: np.ndarray  # [home, slot] kW
    refused: pd.DataFrame | None = None
    workers: int = 1

    def run(self, echo: Callable[[str], None] | None = None) -> dict[str, Any]:
        requests = self.cfg.requests()
        slot = self.times[1] - self.times[0]
        slot_h = slot / pd.Timedelta(hours=1)
        problem = Problem(requests, len(self.times), slot_h, self.cfg.site_limit_kw)
        every = max(len(self.homes) // 10, 1000)

        def progress(done: int) -> None:
            if echo and len(self.homes) > 1000 and (done % every < 200 or done == len(self.homes)):
                echo(f"  {done:,} of {len(self.homes):,} homes planned")

        t0 = time.perf_counter()
        results = list(
            solve_homes(problem, self.prices, self.loads, self.workers, progress=progress)
        )
        wall = time.perf_counter() - t0
        failed = [r for r in results if r.on is None]
        if len(failed) == len(results):  # nothing to write: say why, in one line
            why = failed[0].error
            raise InputError(why if len(results) == 1 else f"no home could be planned: "
                             f"{self.homes[0]}: {why}")  # fmt: skip
        power = np.array([r.power_kw for r in requests])
        label = self.times.strftime("%Y-%m-%d %H:%M")
        ends = (self.times + slot).strftime("%Y-%m-%d %H:%M")
        plan_rows, home_rows = [], []
        errors = [
            self.refused if self.refused is not None else pd.DataFrame(columns=[SERIES, "reason"])
        ]
        for res in results:
            home = self.homes[res.index]
            if res.on is None:
                errors.append(pd.DataFrame({SERIES: [home], "reason": [res.error]}))
                continue
            for r, on in zip(requests, res.on, strict=True):
                s = np.flatnonzero(on)
                plan_rows.append((home, r.name, label[s[0]], ends[s[-1]], len(s),
                                  r.power_kw * slot_h * len(s),
                                  float(r.power_kw * slot_h * self.prices[s].sum())))  # fmt: skip
            peak = float((self.loads[res.index] + power @ res.on).max())
            home_rows.append((home, res.cost, res.at_once, res.greedy, res.at_once - res.cost,
                              res.greedy - res.cost, res.comfort, peak, res.seconds))  # fmt: skip
        plan = pd.DataFrame(plan_rows, columns=[SERIES, "appliance", "first_slot", "last_slot_ends", "slots", "kwh", "cost"])  # fmt: skip
        homes = pd.DataFrame(home_rows, columns=[SERIES, "cost", "cost_start_at_once", "cost_greedy", "saving_vs_start_at_once", "saving_vs_greedy", "comfort_cost", "peak_kw", "solve_seconds"])  # fmt: skip
        refused = pd.concat(errors, ignore_index=True)
        out = self.output
        out.mkdir(parents=True, exist_ok=True)
        plan.to_csv(out / "plan.csv", index=False)
        homes.to_csv(out / "homes.csv", index=False)
        refused.to_csv(out / "errors.csv", index=False)
        written = ["plan.csv", "homes.csv", "errors.csv", "summary.json", "report.html"]
        if len(self.homes) == 1 and results[0].on is not None:
            slots = pd.DataFrame(results[0].on.T, columns=[r.name for r in requests])
            slots.insert(0, "price", self.prices)
            slots.insert(0, "time", label)
            slots.to_csv(out / "slots.csv", index=False)
            written.insert(2, "slots.csv")
        summary = _summary(self, homes, refused, wall, written)
        write_json(out / "summary.json", summary)
        first = next((r.on for r in results if r.on is not None), None)
        (out / "report.html").write_text(_report(self, summary, plan, homes, first), "utf-8")
        return summary


def _summary(job: ScheduleJob, homes: pd.DataFrame, refused: pd.DataFrame, wall: float,
             written: list[str]) -> dict[str, Any]:  # fmt: skip
    def total(col: str) -> float:
        return float(homes[col].sum())

    secs = homes["solve_seconds"].to_numpy()
    return {
        "date": str(job.times[0].date()), "start": str(job.times[0]),
        "end": str(job.times[-1] + (job.times[1] - job.times[0])),
        "slots": len(job.times), "prices": job.price_source, "currency": job.currency,
        "site_limit_kw": job.cfg.site_limit_kw,
        "homes": {"given": len(job.homes) + (0 if job.refused is None else len(job.refused)), "planned": len(homes),
                  "refused": len(refused)},
        "costs": {"MILP": total("cost"), "start at once": total("cost_start_at_once"),
                  "greedy": total("cost_greedy")},
        "saving_vs_start_at_once": total("saving_vs_start_at_once"),
        "saving_vs_greedy": total("saving_vs_greedy"),
        "median_saving_vs_start_at_once": float(homes["saving_vs_start_at_once"].median()) if len(homes) else None,
        "greedy_failed": int(homes["cost_greedy"].isna().sum()),
        "solve_seconds": {"median": float(np.median(secs)) if len(secs) else None,
                          "p95": float(np.quantile(secs, 0.95)) if len(secs) else None},
        "wall_seconds": wall, "homes_per_second": len(homes) / wall if wall > 0 else None,
        "workers": job.workers, "files": written,
    }  # fmt: skip


def _report(job: ScheduleJob, s: dict[str, Any], plan: pd.DataFrame, homes: pd.DataFrame,
            first: np.ndarray | None) -> str:  # fmt: skip
    cur = html.escape(s["currency"])
    refused = f"; {s['homes']['refused']} refused (errors.csv)" if s["homes"]["refused"] else ""
    lead = (f"{s['homes']['planned']} home(s) planned for {s['start']} to {s['end']} under "
            f"{html.escape(s['prices'])}: the plan costs {s['costs']['MILP']:.2f} {cur} against "
            f"{s['costs']['start at once']:.2f} starting every appliance at once and "
            f"{s['costs']['greedy']:.2f} by the greedy cheapest-slot rule{refused}.")  # fmt: skip
    chart = _svg_day(job, first) if first is not None else "<p>(the first home was not planned)</p>"
    table = (
        html_table(plan.head(60))
        if len(job.homes) == 1
        else html_table(homes.describe().T.reset_index().rename(columns={"index": "per home"}))
    )
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Schedule {html.escape(s["date"])}</title>
<style>body{{font-family:sans-serif;max-width:1000px;margin:2em auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:2px 7px;font-size:90%}}</style></head><body>
<h1>Appliance schedule, {html.escape(s["date"])}</h1><p>{lead}</p>
<h2>Prices and the plan{"" if len(job.homes) == 1 else f" of {html.escape(job.homes[0])}"}</h2>{chart}
<h2>{"The plan" if len(job.homes) == 1 else "Per home"}</h2>{table}</body></html>"""


def _svg_day(job: ScheduleJob, on: np.ndarray) -> str:
    """Price per slot as a step line; below it a lane per appliance, its slots filled."""
    w, top, lane = 900, 160, 18
    n, p = len(job.times), job.prices
    x = np.linspace(90, w - 10, n + 1)
    lo, hi = float(min(p.min(), 0)), float(max(p.max(), 0)) or 1.0
    y = top - 10 - (p - lo) / (hi - lo or 1) * (top - 30)
    path = "".join(f"{'M' if i == 0 else 'L'}{x[i]:.1f},{y[i]:.1f}L{x[i + 1]:.1f},{y[i]:.1f}"
                   for i in range(n))  # fmt: skip
    parts = [f'<path d="{path}" stroke="#c33" fill="none"/>',
             f'<text x="2" y="24" font-size="10">{hi:.4g}</text>',
             f'<text x="2" y="{top - 10}" font-size="10">{lo:.4g}</text>']  # fmt: skip
    parts += [f'<text x="{x[i]:.1f}" y="{top + 5}" font-size="10">{job.times[i]:%H:%M}</text>'
              for i in range(0, n, max(n // 8, 1))]  # fmt: skip
    for k, (r, row) in enumerate(zip(job.cfg.requests(), on, strict=True)):
        yy = top + 12 + k * lane
        parts.append(f'<text x="2" y="{yy + lane - 7}" font-size="11">{html.escape(r.name)}</text>')
        parts += [f'<rect x="{x[i]:.1f}" y="{yy}" width="{x[i + 1] - x[i]:.1f}" '
                  f'height="{lane - 4}" fill="#4a7"/>' for i in np.flatnonzero(row)]  # fmt: skip
    height = top + 20 + lane * len(on)
    return (
        f'<svg width="{w}" height="{height}" xmlns="http://www.w3.org/2000/svg">'
        f"{''.join(parts)}</svg>"
    )
