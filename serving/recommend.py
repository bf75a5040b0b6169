"""`forecasting recommend`: each customer's cheapest tariff among candidates, with how sure.

Every customer's usage is billed under every tariff in a folder by the bill engine (the same
bills `forecasting bill` writes, to the penny), not once but over sample paths of usage:

- **Sample paths given** (`forecasting impute --samples`: a `sample` column): each is a path.
- **Quantiles given** (`predict`'s or `impute`'s p10/p50/p90): paths drawn through the
  quantiles (linear between them in normal scores, beyond the outer ones on their slope,
  never below 0); one normal score per customer, path and week, made of a part common to the
  whole path (`common_share` of the variance: a year that runs high or low) and a part of
  its own each week. Assumed, not learned: stated in summary.json.
- **One path** (readings or a point forecast): paths by moving each week of the year by up
  to `shift_weeks` weeks either way (the same hours of the week, the customer's own usage):
  "next year looks like the last one, give or take which weeks fell where".

Path 0 is always the usage as given (the P50 column for quantiles): its bills are the
point bills. The recommendation is the tariff with the lowest mean bill over the paths; the
saving is against the customer's current tariff (`--current NAME` for all, or a column of
the static table), with its P10-P90 over the paths and the probability that it saves at all
(more than half a penny); `p_cheapest_<tariff>`: the share of paths on which each tariff is
the cheapest.

With a schedule config (`--schedule`), the appliances it lists are added to every customer's
usage twice, started at once each day and planned each day at least cost under each tariff
(the MILP of `forecasting schedule`), and the recommendation is made again with the planned
load: what choosing a tariff and shifting those appliances is worth.

What OUTPUT holds: `recommendations.csv`, `bills.csv` (customer, tariff: point bill, mean,
P10, P90 over the paths), `errors.csv`, `quarantine.csv` (rows the bill job would refuse),
`summary.json`, `report.html`.
"""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from forecasting.data.readers import file_columns, read_table, resolve_inputs
from forecasting.data.schema import SERIES, TIME
from forecasting.errors import InputError
from forecasting.folders import write_json
from forecasting.optimise.report import html_table
from forecasting.schedule.config import ScheduleConfig
from forecasting.tariffs.calendar import utc_ns
from forecasting.tariffs.engine import BillEngine, infer_step
from forecasting.tariffs.spec import load_tariff
from serving.bill import check_rows, usage_column
from serving.tables import utc_stamps

QUANTILE = re.compile(r"^p(\d{1,2})$")
WEEK = pd.Timedelta(days=7)
CELLS = 20_000_000  # matrix cells (customer-paths x intervals) billed at once


def load_tariffs(paths: list[Path]) -> list[BillEngine]:
    """Every tariff YAML named, or in a folder named (at least two; names must differ)."""
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files += sorted([*p.glob("*.yaml"), *p.glob("*.yml")])
        elif p.is_file():
            files.append(p)
        else:
            raise InputError(f"--tariffs {p}: not found (a tariff YAML or a folder of them)")
    if len(files) < 2:
        raise InputError(
            f"--tariffs: {len(files)} tariff file(s) found; give at least two to compare"
        )
    engines = [BillEngine(load_tariff(f)) for f in files]
    names = [e.tariff.name for e in engines]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(f"--tariffs: tariff names must differ: {', '.join(twice)} appear twice")
    currencies = {e.tariff.currency for e in engines}
    if len(currencies) > 1:
        raise InputError(
            f"--tariffs: tariffs in different currencies ({', '.join(sorted(currencies))})"
        )
    return engines


@dataclass
class Usage:
    """Customers' usage on one grid of intervals (`base[customer, interval]` kWh, NaN where
    there is no reading) and how its paths are made; `paths(lo, hi)` draws those of a block
    of customers, the same on every call (seeded by the block)."""

    ids: np.ndarray
    start: pd.Timestamp
    step: pd.Timedelta
    base: np.ndarray
    kind: str
    samples: int = 0
    seed: int = 0
    given: np.ndarray | None = None  # [customer, path, interval]: sample paths read
    quantiles: np.ndarray | None = None  # [quantile, customer, interval]
    scores: np.ndarray | None = None  # the quantiles' normal scores
    common_share: float = 0.5
    shift_weeks: int = 4

    @property
    def n_paths(self) -> int:
        return self.given.shape[1] if self.given is not None else 1 + self.samples

    def subset(self, keep: np.ndarray) -> Usage:
        return dataclasses.replace(
            self, ids=self.ids[keep], base=self.base[keep],
            given=None if self.given is None else self.given[keep],
            quantiles=None if self.quantiles is None else self.quantiles[:, keep],
        )  # fmt: skip

    def paths(self, lo: int, hi: int) -> np.ndarray:
        if self.given is not None:
            return self.given[lo:hi]
        rng = np.random.default_rng([self.seed, lo])
        base = self.base[lo:hi]
        if self.quantiles is not None:
            assert self.scores is not None
            week = ((np.arange(base.shape[1]) * self.step) // WEEK).astype(int)
            return _quantile_paths(self.quantiles[:, lo:hi], self.scores, base, self.samples,
                                   week, self.common_share, rng)  # fmt: skip
        return _shifted_paths(base, self.samples, int(WEEK / self.step), self.shift_weeks, rng)


def read_usage(path: str, column: str | None, samples: int, seed: int, common_share: float,
               shift_weeks: int) -> tuple[Usage, pd.DataFrame]:  # fmt: skip
    """(usage paths, quarantined rows). See the module docstring for the three kinds."""
    present = file_columns(resolve_inputs(path, "usage")[0])
    quantiles = sorted((int(m.group(1)), c) for c in present if (m := QUANTILE.match(c)))
    if "sample" in present:
        col = usage_column(path, column)
        frame = read_table(path, [SERIES, TIME, "sample", col], what="usage")
        kind = "sample paths"
    elif column is None and len(quantiles) >= 2 and any(q == 50 for q, _ in quantiles):
        col = "p50"
        frame = read_table(path, [SERIES, TIME, *[c for _, c in quantiles]], what="usage")
        kind = f"paths through the quantiles {', '.join(c for _, c in quantiles)}"
    else:
        col = usage_column(path, column)
        frame = read_table(path, [SERIES, TIME, col], what="usage")
        kind = f"weeks moved by up to {shift_weeks} either way"
    frame[TIME] = utc_stamps(frame, f"usage {path}")
    frame[SERIES] = frame[SERIES].astype(str)
    if "sample" in frame:  # one "series" per (customer, sample) for the row checks
        sample = pd.to_numeric(frame["sample"], errors="coerce")
        if sample.isna().any() or (sample < 0).any():
            i = int(np.flatnonzero((sample.isna() | (sample < 0)).to_numpy())[0])
            raise InputError(f"usage {path} row {frame['_row'].iloc[i]}: sample "
                             f"{frame['sample'].iloc[i]!r} is not a path number (0, 1, ...)")  # fmt: skip
        frame["_key"] = frame[SERIES] + "\x1f" + sample.astype(int).astype(str)
        keyed = frame.rename(columns={SERIES: "_customer", "_key": SERIES})
        ok, quarantined = check_rows(keyed, col, None)
        ok = ok.rename(columns={SERIES: "_key", "_customer": SERIES})
    else:
        ok, quarantined = check_rows(frame, col, None)
    if ok.empty:
        raise InputError(f"usage {path}: no row could be billed ({quarantined['reason'].iloc[0]})")
    step = infer_step(ok[[SERIES, TIME]])
    t = utc_ns(ok[TIME])
    ns = int(step / pd.Timedelta(1, "ns"))
    t0 = int(t.min())
    if ((t - t0) % ns).any():
        raise InputError(f"usage {path}: timestamps are not on one grid of {step} intervals")
    k = (t - t0) // ns
    n = int(k.max()) + 1
    ids, pos = np.unique(ok[SERIES].to_numpy(), return_inverse=True)
    start = pd.Timestamp(t0, tz="UTC")
    if "sample" in ok:
        labels, spos = np.unique(pd.to_numeric(ok["sample"]).astype(int), return_inverse=True)
        given = np.full((len(ids), len(labels), n), np.nan)
        given[pos, spos, k] = ok[col].to_numpy(float)
        return Usage(ids, start, step, given[:, 0], kind, given=given), quarantined
    base = np.full((len(ids), n), np.nan)
    base[pos, k] = ok[col].to_numpy(float)
    usage = Usage(ids, start, step, base, kind, samples, seed, common_share=common_share,
                  shift_weeks=shift_weeks)  # fmt: skip
    if kind.startswith("paths through"):
        usage.quantiles = np.full((len(quantiles), len(ids), n), np.nan)
        for j, (_, c) in enumerate(quantiles):
            usage.quantiles[j, pos, k] = ok[c].to_numpy(float)
        usage.scores = np.array([NormalDist().inv_cdf(q / 100) for q, _ in quantiles])
    return usage, quarantined


def _quantile_paths(qs: np.ndarray, z: np.ndarray, p50: np.ndarray, samples: int, week: np.ndarray,
                    common_share: float, rng: np.random.Generator) -> np.ndarray:  # fmt: skip
    """[customer, 1 + samples, interval]: path 0 the P50, then paths whose normal score per
    week mixes a common part and its own."""
    n_cust, n = p50.shape
    weeks = int(week.max()) + 1
    common = rng.standard_normal((n_cust, samples, 1))
    own = rng.standard_normal((n_cust, samples, weeks))
    score = (np.sqrt(common_share) * common + np.sqrt(1 - common_share) * own)[:, :, week]
    qs = np.sort(qs, axis=0)  # crossing quantiles put in order
    out = np.empty((n_cust, samples, n))
    below = score < z[0]
    above = score > z[-1]
    for j in range(len(z) - 1):  # linear between neighbouring quantiles
        inside = (score >= z[j]) & (score <= z[j + 1])
        w = (score - z[j]) / (z[j + 1] - z[j])
        out = np.where(inside, qs[j][:, None] + w * (qs[j + 1] - qs[j])[:, None], out)
    lo_slope = (qs[1] - qs[0]) / (z[1] - z[0])
    hi_slope = (qs[-1] - qs[-2]) / (z[-1] - z[-2])
    out = np.where(below, qs[0][:, None] + (score - z[0]) * lo_slope[:, None], out)
    out = np.where(above, qs[-1][:, None] + (score - z[-1]) * hi_slope[:, None], out)
    out = np.maximum(out, 0.0)
    return np.concatenate([p50[:, None], out], axis=1)


def _shifted_paths(base: np.ndarray, samples: int, per_week: int, shift_weeks: int,
                   rng: np.random.Generator) -> np.ndarray:  # fmt: skip
    """[customer, 1 + samples, interval]: each week of a path is the customer's week moved by
    a draw from -shift_weeks..shift_weeks (kept inside the data), hour of week kept."""
    n_cust, n = base.shape
    out = np.empty((n_cust, samples + 1, n))
    out[:, 0] = base
    weeks = -(-n // per_week)
    idx = np.arange(n)
    for s in range(1, samples + 1):
        move = rng.integers(-shift_weeks, shift_weeks + 1, size=(n_cust, weeks))
        src = idx[None, :] + move[:, idx // per_week] * per_week
        bad = (src < 0) | (src >= n)
        src = np.where(bad, idx[None, :], src)
        out[:, s] = np.take_along_axis(base, src, axis=1)
    return out


def bill_all(engines: list[BillEngine], usage: Usage,
             extras: dict[str, list[np.ndarray | None]]) -> dict[str, np.ndarray]:  # fmt: skip
    """Bills [customer, tariff, path] for each variant: `extras[variant][tariff]` is kWh per
    interval added to every path under that tariff (None: the usage as it is). Paths are
    drawn once per block of customers and billed under every tariff and variant."""
    n_cust, n = usage.base.shape
    n_path = usage.n_paths
    out = {v: np.empty((n_cust, len(engines), n_path)) for v in extras}
    per = max(1, CELLS // max(n * n_path, 1))
    for lo in range(0, n_cust, per):
        block = usage.paths(lo, lo + per)
        flat = block.reshape(-1, n)
        ids = np.repeat(usage.ids[lo : lo + per], n_path)
        for v, adds in extras.items():
            for j, (engine, add) in enumerate(zip(engines, adds, strict=True)):
                u = flat if add is None else flat + add[None, :]
                total = engine.totals_wide(ids, usage.start, usage.step, u)["total"]
                out[v][lo : lo + per, j] = total.reshape(len(block), n_path)
    return out


@dataclass
class Recommendation:
    """Bills [customer, tariff, path] and what follows from them."""

    ids: np.ndarray
    names: list[str]
    bills: np.ndarray
    current: np.ndarray  # index of each customer's current tariff

    def table(self, suffix: str = "") -> pd.DataFrame:
        mean = self.bills.mean(axis=2)
        best = mean.argmin(axis=1)
        rows = np.arange(len(self.ids))
        saving = self.bills[rows, self.current] - self.bills[rows, best]  # [customer, path]
        cheapest = self.bills.argmin(axis=1)  # [customer, path]
        odds = {f"p_cheapest_{n}{suffix}": (cheapest == j).mean(axis=1)
                for j, n in enumerate(self.names)}  # fmt: skip
        return pd.DataFrame({
            SERIES: self.ids,
            "current": [self.names[i] for i in self.current],
            f"recommended{suffix}": [self.names[i] for i in best],
            f"bill_current{suffix}": mean[rows, self.current],
            f"bill_recommended{suffix}": mean[rows, best],
            f"expected_saving{suffix}": saving.mean(axis=1),
            f"saving_p10{suffix}": np.quantile(saving, 0.1, axis=1),
            f"saving_p90{suffix}": np.quantile(saving, 0.9, axis=1),
            f"probability_saves{suffix}": (saving > 0.005).mean(axis=1),
            **odds,
        })  # fmt: skip

    def long(self) -> pd.DataFrame:
        c, t = np.meshgrid(np.arange(len(self.ids)), np.arange(len(self.names)), indexing="ij")
        b = self.bills
        return pd.DataFrame({
            SERIES: self.ids[c.ravel()], "tariff": np.array(self.names)[t.ravel()],
            "bill": b[:, :, 0].ravel(), "mean": b.mean(axis=2).ravel(),
            "p10": np.quantile(b, 0.1, axis=2).ravel(), "p90": np.quantile(b, 0.9, axis=2).ravel(),
        })  # fmt: skip


def check_current(names: list[str], current: str | None, column: str | None) -> None:
    """What customers pay today must be said one way, and a named tariff must be a candidate."""
    if (current is None) == (column is None):
        raise InputError("say what customers pay today: --current NAME (all) or --current-column "
                         "COLUMN of --static (each)")  # fmt: skip
    if current is not None and current not in names:
        raise InputError(f"--current {current!r} is not one of the tariffs: {', '.join(names)}")


def current_tariffs(ids: np.ndarray, names: list[str], current: str | None,
                    static: pd.DataFrame | None, column: str | None) -> tuple[np.ndarray, pd.DataFrame]:  # fmt: skip
    """(index of each customer's current tariff, customers set aside with the reason)."""
    check_current(names, current, column)
    if current is not None:
        return np.full(len(ids), names.index(current)), pd.DataFrame(columns=[SERIES, "reason"])
    if static is None:
        raise InputError("--current-column needs the static table: give --static")
    if column not in static.columns:
        raise InputError(f"--static has no column {column!r}: it has {', '.join(static.columns)}")
    paid = static.set_index(SERIES)[column].astype(str).reindex(ids)
    idx = np.array([names.index(v) if v in names else -1 for v in paid.fillna("").to_numpy()])
    why = ["no row in --static" if pd.isna(p) else f"current tariff {p!r} is not in --tariffs"
           for p in paid[idx < 0].to_numpy()]  # fmt: skip
    return idx, pd.DataFrame({SERIES: ids[idx < 0], "reason": why})


def write_report(path: Path, summary: dict[str, Any], table: pd.DataFrame) -> None:
    s = summary
    share = pd.DataFrame(
        {"tariff": list(s["recommended"]), "customers": list(s["recommended"].values())}
    )
    cur = html.escape(s["currency"])
    lead = (f"{s['customers']} customers, {len(s['tariffs'])} tariffs, {s['paths']} usage paths each "
            f"({html.escape(s['paths_kind'])}). {s['switch']} would save by switching (expected "
            f"{s['expected_saving_total']:,.2f} {cur} in all); {s['switch_sure']} of them save with a "
            f"probability of at least 0.9.")  # fmt: skip
    top = table.sort_values("expected_saving", ascending=False).head(30)
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>Tariff advice</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}table{{border-collapse:collapse;margin:.5em 0 1.5em}}
td,th{{border:1px solid #ccc;padding:2px 7px;font-size:90%}}</style></head><body>
<h1>Cheapest-tariff advice</h1><p>{lead}</p>
<h2>Recommended tariffs</h2>{html_table(share)}
<h2>The largest expected savings</h2>{html_table(top, 2)}</body></html>"""
    path.write_text(page, "utf-8")


def run_recommend(engines: list[BillEngine], usage: Usage, current: np.ndarray,
                  refused: pd.DataFrame, quarantined: pd.DataFrame, output: Path,
                  shift: Callable[[BillEngine, Usage], tuple[np.ndarray, np.ndarray]] | None = None,
                  echo: Callable[[str], None] | None = None) -> dict[str, Any]:  # fmt: skip
    names = [e.tariff.name for e in engines]
    keep = current >= 0
    usage, current = usage.subset(keep), current[keep]
    extras: dict[str, list[np.ndarray | None]] = {"as is": [None] * len(engines)}
    if shift is not None:
        plans = [shift(e, usage) for e in engines]
        extras["at once"] = [p[0] for p in plans]
        extras["planned"] = [p[1] for p in plans]
    bills = bill_all(engines, usage, extras)
    rec = Recommendation(usage.ids, names, bills["as is"], current)
    table, long = rec.table(), rec.long()
    shifted: dict[str, Any] = {}
    if shift is not None:
        with_plan = Recommendation(usage.ids, names, bills["planned"], current)
        table = table.merge(with_plan.table("_with_shift").drop(columns="current"), on=SERIES)
        worth = (bills["at once"] - bills["planned"]).mean(axis=2)  # [customer, tariff]
        for j, (n, p) in enumerate(zip(names, plans, strict=True)):
            shifted[n] = {"appliance_kwh": float(p[1].sum()),
                          "shifting_worth_mean": float(worth[:, j].mean())}  # fmt: skip
    output.mkdir(parents=True, exist_ok=True)
    table.to_csv(output / "recommendations.csv", index=False)
    long.to_csv(output / "bills.csv", index=False)
    refused.to_csv(output / "errors.csv", index=False)
    quarantined.to_csv(output / "quarantine.csv", index=False)
    switch = table["recommended"] != table["current"]
    summary = {
        "customers": len(table), "refused": len(refused), "rows_quarantined": len(quarantined),
        "tariffs": names, "currency": engines[0].tariff.currency,
        "paths": usage.n_paths, "paths_kind": usage.kind,
        "start": str(usage.start), "intervals": int(usage.base.shape[1]), "step": str(usage.step),
        "recommended": table["recommended"].value_counts().to_dict(),
        "switch": int(switch.sum()), "switch_sure": int((switch & (table["probability_saves"] >= 0.9)).sum()),
        "expected_saving_total": float(table.loc[switch, "expected_saving"].sum()),
        "load_shift": shifted or None,
        "files": ["recommendations.csv", "bills.csv", "errors.csv", "quarantine.csv", "summary.json", "report.html"],
    }  # fmt: skip
    write_json(output / "summary.json", summary)
    write_report(output / "report.html", summary, table)
    return summary


def appliance_load(
    cfg: ScheduleConfig, timezone: str
) -> Callable[[BillEngine, Usage], tuple[np.ndarray, np.ndarray]]:
    """For `--schedule`: a function giving, under one tariff, the appliances' kWh per usage
    interval over the usage's whole span, (started at once each day, planned each day at
    least cost under the tariff's prices), the home's own load aside (no site limit)."""
    from forecasting.schedule.solve import Scheduler, at_once
    from serving.schedule import day_slots

    requests = cfg.requests()
    slot = cfg.slot.span
    slot_h = slot / pd.Timedelta(hours=1)
    scheduler = Scheduler(requests, cfg.horizon, slot_h)
    power = np.array([r.power_kw for r in requests])

    def load(engine: BillEngine, usage: Usage) -> tuple[np.ndarray, np.ndarray]:
        if slot > usage.step or usage.step % slot:
            raise InputError(f"--schedule: its slot ({cfg.slot}) must divide the usage interval "
                             f"({usage.step})")  # fmt: skip
        n = usage.base.shape[1]
        end = usage.start + n * usage.step
        first = (usage.start.tz_convert(timezone) - pd.Timedelta(days=1)).date()
        once, plan = np.zeros(n), np.zeros(n)
        for day in pd.date_range(first, end.tz_convert(timezone).date(), freq="D"):
            times = day_slots(day.strftime("%Y-%m-%d"), cfg, timezone)
            if times[-1] < usage.start or times[0] >= end:
                continue
            k = ((times.tz_convert("UTC") - usage.start) // usage.step).to_numpy()
            inside = (k >= 0) & (k < n)
            price = engine.unit_rates(times[0].tz_convert("UTC"), len(times), slot)
            for out, on in ((once, at_once(requests, price, slot_h).on),
                            (plan, scheduler.solve(price).on)):  # fmt: skip
                np.add.at(out, k[inside], (power @ on * slot_h)[inside])
        return once, plan

    return load
