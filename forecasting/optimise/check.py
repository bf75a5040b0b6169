"""The chosen tariff checked by the bill engine, and the KPIs a regulator reads.

The optimiser's bills are its own model of them. Here the chosen tariff (as the YAML it was
written to) bills each scenario's responded load through `BillEngine`, the customers' hourly
usage read again block by block: per-line rounding, days on supply and taxes as a customer's
bill has them. The predicted and engine revenue are
compared, and every constraint is checked again on the engine's bills.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from forecasting.optimise.model import CustomerBase, Slots, factors, system_load
from forecasting.optimise.solve import Goals, Solution
from forecasting.tariffs.engine import BillEngine
from forecasting.tariffs.spec import Tariff


def gini(values: np.ndarray) -> float:
    """Gini coefficient of non-negative values (0: all equal, 1: one holds everything)."""
    v = np.sort(np.asarray(values, dtype=float))
    if len(v) == 0 or v.sum() <= 0:
        return 0.0
    n = len(v)
    return float((2 * np.arange(1, n + 1) - n - 1) @ v / (n * v.sum()))


def load_shape(base: CustomerBase, before: np.ndarray, after: np.ndarray, tz: str
               ) -> list[dict[str, Any]]:  # fmt: skip
    """The base scenario's mean system load (kW) by local time of day, before and after."""
    local = pd.date_range(base.start, periods=len(before), freq=base.step).tz_convert(tz)
    key = np.asarray(local.hour * 60 + local.minute)
    frame = pd.DataFrame({"minute": key, "before_kw": before, "after_kw": after})
    g = frame.groupby("minute", sort=True).mean().reset_index()
    g.insert(0, "time", [f"{m // 60:02d}:{m % 60:02d}" for m in g["minute"]])
    return g.drop(columns="minute").round(3).to_dict(orient="records")


def rebill(base: CustomerBase, tariff: Tariff, x: np.ndarray, scale: float
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Read every block of the base's scenarios again and bill the load responded to prices
    `x` with the bill engine: (bills [S, n] major units, system load before and after
    [S, interval] kWh). The response scales every interval of a band by one factor per
    customer, which the engine applies to the band's kWh in each billing period; a scenario
    differs from the base in some customers' rows, and only those are put on the calendar
    again."""
    engine = BillEngine(tariff)
    S, T = base.S, len(base.band_of)
    after = np.zeros((S, base.n))
    load_before, load_after = np.zeros((S, T)), np.zeros((S, T))
    pick = (np.maximum(base.band_of, 0), np.arange(T))
    priced = base.band_of >= 0
    for a, b, block in base.source.blocks(base.chunk):
        ids = base.ids[a:b]
        grid0 = engine.grid(ids, base.start, base.step, block.base)
        Z0 = np.where(np.isnan(block.base), 0.0, block.base)
        total0 = Z0.sum(axis=0)
        for s in range(S):
            h, _ = factors(base.customers[s].rows(a, b), x, scale, base.shift)
            grid, load_before[s], extra = grid0, load_before[s] + total0, None
            if s > 0:
                rows, U = block.changes(s)
                if len(rows):
                    sub = engine.grid(ids[rows], base.start, base.step, U)
                    grid = engine.with_rows(grid0, rows, sub)
                    extra = np.where(np.isnan(U), 0.0, U) - Z0[rows]
                    load_before[s] += extra.sum(axis=0)
            after[s, a:b] = engine.totals(grid, item_factors=h)["total"]
            scaled = h.T @ Z0 if extra is None else h.T @ Z0 + h[rows].T @ extra
            load_after[s] += np.where(priced, scaled[pick], 0.0)
    return after, load_before, load_after


def check(base: CustomerBase, slots: Slots, tariff: Tariff, sol: Solution, goals: Goals,
          scale: float) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:  # fmt: skip
    """(per customer and scenario bills, per scenario KPIs, summary with every re-check)."""
    hours = base.step / pd.Timedelta(hours=1)
    engine_bills, loads_before, loads_after = rebill(base, tariff, sol.x, scale)
    rows, per_scenario = [], []
    vul = base.vulnerable
    for s, name in enumerate(base.names):
        after = engine_bills[s]
        before = base.current_bills[s]
        change = np.where(before > 0, after / np.maximum(before, 1e-9) - 1, 0.0)
        rows.append(pd.DataFrame({"scenario": name, "series_id": base.ids.astype(str),
                                  "bill_before": before, "bill_after": after,
                                  "bill_predicted": sol.predicted_bills[s], "change": change,
                                  "vulnerable": vul}))  # fmt: skip
        load_before, load_after = loads_before[s] / hours, loads_after[s] / hours
        model_peak = system_load(base, sol.x, s, scale).max() / hours
        per_scenario.append({
            "scenario": name,
            "peak_before_kw": float(load_before.max()), "peak_after_kw": float(load_after.max()),
            "peak_reduction_kw": float(load_before.max() - load_after.max()),
            "peak_reduction_pct": float(100 * (1 - load_after.max() / load_before.max())),
            "peak_model_vs_exact_pct": float(100 * (model_peak / load_after.max() - 1)),
            "revenue_before": float(before.sum()), "revenue_after": float(after.sum()),
            "revenue_predicted": float(sol.predicted_bills[s].sum()),
            "predicted_vs_engine_pct": float(100 * (sol.predicted_bills[s].sum() / after.sum() - 1)),
            "revenue_vs_target_pct": float(100 * (after.sum() / sol.target - 1)),
            "kwh_before": float(loads_before[s].sum()), "kwh_after": float(loads_after[s].sum()),
            "mean_change_pct": float(100 * change.mean()),
            "median_change_pct": float(100 * np.median(change)),
            **{f"over_{k}pct": int((change > k / 100).sum()) for k in (5, 10, 20)},
            "vulnerable_over_increase": int((change[vul] > goals.increase + 1e-9).sum()),
            "gini_bills_before": gini(before), "gini_bills_after": gini(after),
        })  # fmt: skip
    shape = load_shape(base, loads_before[0] / hours, loads_after[0] / hours, tariff.timezone)
    bills = pd.concat(rows, ignore_index=True)
    kpis = pd.DataFrame(per_scenario)
    nv = int(vul.sum())
    allowed = int(np.floor(goals.delta * nv))
    floor = goals.revenue_share * sol.target
    revenue_ok = (kpis["revenue_after"] >= floor - 0.005).all() if goals.robust else (
        kpis["revenue_after"].mean() >= floor - 0.005)  # fmt: skip
    checks: dict[str, dict[str, Any]] = {
        "revenue floor": {"holds": bool(revenue_ok), "floor": floor,
                          "lowest": float(kpis["revenue_after"].min()),
                          "mode": "every scenario" if goals.robust else "on average"},
        "vulnerable increases": {"holds": bool((kpis["vulnerable_over_increase"] <= allowed).all()),
                                 "allowed": allowed, "vulnerable": nv,
                                 "most": int(kpis["vulnerable_over_increase"].max())},
        "order": {"holds": all(sol.x[a] >= sol.x[b] - 1e-9 for a, b in goals.order)},
        "bounds": {"holds": bool(((sol.x >= slots.low - 1e-9) & (sol.x <= slots.high + 1e-9)).all())},
        "predicted vs engine revenue": {
            "holds": bool(kpis["predicted_vs_engine_pct"].abs().max() <= 0.5),
            "largest_gap_pct": float(kpis["predicted_vs_engine_pct"].abs().max())},
    }  # fmt: skip
    summary = {"checks": checks, "all_hold": all(c["holds"] for c in checks.values()),
               "load_shape": shape,
               "load_model": {"exact": all(lc.exact for lc in base.loads),
                              "classes": [len(lc.members) for lc in base.loads],
                              "largest_peak_gap_pct": float(kpis["peak_model_vs_exact_pct"].abs().max())}}  # fmt: skip
    return bills, kpis, summary


def breakdown(bills: pd.DataFrame, static: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Bill changes by each static column (base scenario): customers, mean and median change,
    shares with increases over 5/10/20%."""
    base = bills[bills["scenario"] == bills["scenario"].iloc[0]].merge(
        static, on="series_id", how="left"
    )
    out = []
    for col in ["vulnerable", *by]:
        for value, g in base.groupby(col, dropna=False):
            out.append({"by": col, "value": str(value), "customers": len(g),
                        "mean_change_pct": 100 * g["change"].mean(),
                        "median_change_pct": 100 * g["change"].median(),
                        **{f"over_{k}pct_share": float((g["change"] > k / 100).mean())
                           for k in (5, 10, 20)}})  # fmt: skip
    return pd.DataFrame(out)
