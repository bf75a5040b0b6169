"""The API's bills, savings, cheapest windows and appliance schedules, in process, on the same
engines as `forecasting bill` and `forecasting schedule`.

Tariffs are named (a YAML in the server's tariffs folder) or given as a body. A body may not
point at a dynamic signal file: the server reads no path a caller hands in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecasting.config.base import validate_mapping
from forecasting.data.schema import SERIES, TIME
from forecasting.errors import InputError
from forecasting.schedule.batch import Problem, solve_homes
from forecasting.schedule.config import ScheduleConfig, load_schedule_config
from forecasting.tariffs.engine import BillEngine
from forecasting.tariffs.spec import Dynamic, Tariff, load_tariff
from serving.schedule import day_slots
from serving.service.schemas import (
    Bill,
    BillRequest,
    BillResponse,
    CustomerSavings,
    OptimalTimesRequest,
    OptimalTimesResponse,
    PlannedRun,
    PricePath,
    SavingsRequest,
    SavingsResponse,
    ScheduleRequest,
    ScheduleResponse,
    SeriesError,
    TariffChoice,
    UsageSeries,
    Window,
)

LINE_SKIP = {SERIES, "period", "period_start", "period_end", "days", "period_days", "partial",
             "intervals", "missing_intervals", "kwh", "currency", "total"}  # fmt: skip
PRICE_UNITS = {"per-kwh": 1.0, "per-mwh": 0.001}


@dataclass
class Named:
    """YAML files of one kind in a server folder, read once each and kept."""

    folder: Path | None
    what: str
    load: Any
    cache: dict[str, Any] = field(default_factory=dict)

    def get(self, name: str) -> Any:
        if name in self.cache:
            return self.cache[name]
        path = self.folder / f"{name}.yaml" if self.folder is not None else None
        if path is None or not path.is_file():
            raise InputError(f"no {self.what} named {name!r} on this server (held: {self.names()})")
        self.cache[name] = self.load(path)
        return self.cache[name]

    def names(self) -> list[str]:
        if self.folder is None or not self.folder.is_dir():
            return []
        return sorted(p.stem for p in self.folder.glob("*.yaml"))


def engine_for(choice: TariffChoice, tariffs: Named) -> BillEngine:
    if (choice.tariff is None) == (choice.tariff_body is None):
        raise InputError("tariff: give one of tariff (a name) or tariff_body")
    if choice.tariff is not None:
        return BillEngine(tariffs.get(choice.tariff))
    tariff = validate_mapping(Tariff, choice.tariff_body or {}, "tariff_body")
    if isinstance(tariff.energy, Dynamic):
        raise InputError("tariff_body: a dynamic tariff reads a signal file; name a tariff the "
                         "server holds instead")  # fmt: skip
    return BillEngine(tariff)


def usage_frame(usage: list[UsageSeries]) -> tuple[pd.DataFrame, list[SeriesError]]:
    """Long usage of every series that can be billed, and why the others cannot."""
    parts, errors, seen = [], [], set()
    steps = {u.interval_minutes for u in usage}
    for u in usage:
        why = None
        if u.customer_id in seen:
            why = "customer_id given twice in one request"
        elif len(steps) > 1:
            why = f"series of one request share one interval; got {sorted(steps)} minutes"
        elif any(v is not None and v < 0 for v in u.values):
            i = next(i for i, v in enumerate(u.values) if v is not None and v < 0)
            why = f"values[{i}] = {u.values[i]}: imported energy must be >= 0"
        if why:
            errors.append(SeriesError(customer_id=u.customer_id, reason=why))
            continue
        seen.add(u.customer_id)
        times = pd.date_range(pd.Timestamp(u.start).tz_convert("UTC"), periods=len(u.values),
                              freq=pd.Timedelta(minutes=u.interval_minutes))  # fmt: skip
        kwh = np.array([np.nan if v is None else v for v in u.values], dtype=float)
        parts.append(pd.DataFrame({SERIES: u.customer_id, TIME: times, "kwh": kwh}).dropna())
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    return frame, errors


def bill(req: BillRequest, tariffs: Named) -> BillResponse:
    engine = engine_for(req, tariffs)
    frame, errors = usage_frame(req.usage)
    steps = {u.interval_minutes for u in req.usage}
    if frame.empty:
        return BillResponse(tariff=engine.tariff.name, currency=engine.tariff.currency, bills=[],
                            errors=errors)  # fmt: skip
    table = engine.bill(frame, "kwh", None, pd.Timedelta(minutes=min(steps)))
    cols = [c for c in table.columns if c not in LINE_SKIP]
    amounts = [c for c in cols if c.startswith("kwh") or c.endswith("_kw")]  # kWh by band, kW
    lines = [c for c in cols if c not in amounts]
    bills = [
        Bill(customer_id=str(r[SERIES]), period_start=str(r["period_start"])[:10],
             period_end=str(r["period_end"])[:10], kwh=float(r["kwh"]),
             quantities={c: float(r[c]) for c in amounts},
             lines={c: float(r[c]) for c in lines}, total=float(r["total"]),
             partial=bool(r["partial"]))
        for r in table.to_dict("records")
    ]  # fmt: skip
    return BillResponse(tariff=engine.tariff.name, currency=engine.tariff.currency, bills=bills,
                        errors=errors)  # fmt: skip


def savings(req: SavingsRequest, tariffs: Named) -> SavingsResponse:
    names = list(dict.fromkeys([req.current, *req.candidates]))
    engines = {n: BillEngine(tariffs.get(n)) for n in names}
    currencies = {e.tariff.currency for e in engines.values()}
    if len(currencies) > 1:
        raise InputError(f"candidates: tariffs in different currencies {sorted(currencies)}")
    frame, errors = usage_frame(req.usage)
    out: list[CustomerSavings] = []
    if not frame.empty:
        step = pd.Timedelta(minutes=req.usage[0].interval_minutes)
        totals = pd.DataFrame({n: e.bill(frame, "kwh", None, step).groupby(SERIES)["total"].sum()
                               for n, e in engines.items()})  # fmt: skip
        for sid, row in totals.iterrows():
            best = str(row.idxmin())
            out.append(CustomerSavings(customer_id=str(sid), totals={k: round(float(v), 6) for k, v in row.items()},
                                       cheapest=best, saving=float(row[req.current] - row[best])))  # fmt: skip
    return SavingsResponse(currency=currencies.pop(), customers=out, errors=errors)


def price_path(p: PricePath, times: pd.DatetimeIndex) -> np.ndarray:
    """The path's price (per kWh) in each slot of `times` (the slot's interval of the path)."""
    step = pd.Timedelta(minutes=p.interval_minutes)
    start = pd.Timestamp(p.start).tz_convert("UTC")
    idx = ((times.tz_convert("UTC") - start) // step).to_numpy()
    if (idx < 0).any() or (idx >= len(p.values)).any():
        raise InputError(f"prices: the path covers {start} to {start + step * len(p.values)}, "
                         f"not {times[0]} to {times[-1] + (times[1] - times[0] if len(times) > 1 else step)}")  # fmt: skip
    vals = np.array([np.nan if v is None else v for v in p.values], dtype=float)[idx]
    if np.isnan(vals).any():
        raise InputError(f"prices: no price at {times[int(np.flatnonzero(np.isnan(vals))[0])]}")
    return vals * PRICE_UNITS[p.unit]


def _prices(choice: Any, prices: PricePath | None, tariffs: Named,
            times: pd.DatetimeIndex) -> tuple[np.ndarray, str | None]:  # fmt: skip
    given = (choice.tariff is not None) + (choice.tariff_body is not None) + (prices is not None)
    if given != 1:
        raise InputError("give the prices to follow: one of tariff, tariff_body or prices")
    if prices is not None:
        return price_path(prices, times), None
    engine = engine_for(choice, tariffs)
    step = times[1] - times[0]
    return engine.unit_rates(times[0].tz_convert("UTC"), len(times), step), engine.tariff.currency


def optimal_times(req: OptimalTimesRequest, tariffs: Named) -> OptimalTimesResponse:
    """The `count` cheapest non-overlapping windows of the duration between earliest and
    latest, on a 15-minute grid (or the price path's interval when it is finer)."""
    if req.latest <= req.earliest:
        raise InputError("latest: must be after earliest")
    if req.latest - req.earliest > pd.Timedelta(days=31):
        raise InputError("latest: at most 31 days after earliest")
    grid = min(15, req.prices.interval_minutes) if req.prices else 15
    step = pd.Timedelta(minutes=grid)
    if req.duration_minutes % grid:
        raise InputError(f"duration_minutes: a multiple of {grid} (the price grid)")
    start = pd.Timestamp(req.earliest).tz_convert("UTC").ceil(step)
    times = pd.date_range(start, pd.Timestamp(req.latest).tz_convert("UTC"), freq=step,
                          inclusive="left")  # fmt: skip
    k = req.duration_minutes // grid
    if len(times) < k:
        raise InputError(f"duration_minutes: {req.duration_minutes} does not fit between "
                         f"{start} and {req.latest}")  # fmt: skip
    price, currency = _prices(req, req.prices, tariffs, times)
    sums = np.convolve(price, np.ones(k), mode="valid")  # window starting at each slot
    taken = np.zeros(len(price), dtype=bool)
    out: list[Window] = []
    for i in np.argsort(sums, kind="stable"):
        if len(out) == req.count:
            break
        if taken[i : i + k].any():
            continue
        taken[i : i + k] = True
        mean = float(sums[i] / k)
        out.append(Window(start=times[i].to_pydatetime(), end=(times[i] + step * k).to_pydatetime(),
                          mean_price=mean, cost=mean * req.power_kw * k * grid / 60))  # fmt: skip
    return OptimalTimesResponse(windows=out, currency=currency)


def schedule(req: ScheduleRequest, tariffs: Named, sets: Named) -> ScheduleResponse:
    if (req.appliances is None) == (req.appliances_body is None):
        raise InputError("appliances: give one of appliances (a name) or appliances_body")
    cfg: ScheduleConfig = (sets.get(req.appliances) if req.appliances is not None else
                           validate_mapping(ScheduleConfig, req.appliances_body or {}, "appliances_body"))  # fmt: skip
    requests = cfg.requests()
    try:
        times = day_slots(req.date, cfg, req.timezone)
    except InputError as exc:
        raise InputError(f"date/timezone: {str(exc).removeprefix('--date ')}") from None
    prices, currency = _prices(req, req.prices, tariffs, times)
    load = np.zeros(len(times))
    if req.home_load_kw is not None:
        if len(req.home_load_kw) != len(times):
            raise InputError(f"home_load_kw: {len(req.home_load_kw)} values; the day has "
                             f"{len(times)} slots of {cfg.slot}")  # fmt: skip
        load = np.array([0.0 if v is None else v for v in req.home_load_kw], dtype=float)
    slot_h = (times[1] - times[0]) / pd.Timedelta(hours=1)
    problem = Problem(requests, len(times), slot_h, cfg.site_limit_kw)
    res = next(iter(solve_homes(problem, prices, load[None, :])))
    if res.on is None:
        raise InputError(f"appliances: {res.error}")
    label = times.strftime("%Y-%m-%dT%H:%M%z")
    ends = (times + (times[1] - times[0])).strftime("%Y-%m-%dT%H:%M%z")
    plan = []
    for r, on in zip(requests, res.on, strict=True):
        s = np.flatnonzero(on)
        plan.append(PlannedRun(appliance=r.name, first_slot=label[s[0]], last_slot_ends=ends[s[-1]],
                               slots=len(s), kwh=r.power_kw * slot_h * len(s),
                               cost=float(r.power_kw * slot_h * prices[s].sum())))  # fmt: skip
    return ScheduleResponse(plan=plan, cost=res.cost, cost_start_at_once=res.at_once,
                            cost_greedy=res.greedy, currency=currency)  # fmt: skip


def named_tariffs(folder: Path | None) -> Named:
    return Named(folder, "tariff", load_tariff)


def named_appliance_sets(folder: Path | None) -> Named:
    return Named(folder, "appliance set", load_schedule_config)
