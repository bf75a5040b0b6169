"""The chosen tariff checked by the bill engine, and the KPIs a regulator reads.

The optimiser's bills are its own model of them. Here the chosen tariff (as the YAML it was
written to) bills each scenario's responded load through `BillEngine`: per-line rounding,
days on supply and taxes as a customer's bill has them. The predicted and engine revenue are
compared, and every constraint is checked again on the engine's bills.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from forecasting.optimise.model import CustomerBase, Slots, annual_bills, responded_usage
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


def check(base: CustomerBase, slots: Slots, tariff: Tariff, sol: Solution, goals: Goals,
          scale: float) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:  # fmt: skip
    """(per customer and scenario bills, per scenario KPIs, summary with every re-check)."""
    engine = BillEngine(tariff)
    hours = base.step / pd.Timedelta(hours=1)
    rows, per_scenario, shape = [], [], None
    for s, sc in enumerate(base.scenarios):
        responded = responded_usage(base, slots, sol.x, s, scale)
        after = annual_bills(engine, base, responded)["total"].to_numpy()
        before = base.current_bills[s]
        change = np.where(before > 0, after / np.maximum(before, 1e-9) - 1, 0.0)
        rows.append(pd.DataFrame({"scenario": sc.name, "series_id": base.ids.astype(str),
                                  "bill_before": before, "bill_after": after,
                                  "bill_predicted": sol.predicted_bills[s], "change": change,
                                  "vulnerable": base.vulnerable}))  # fmt: skip
        load_before = np.nansum(sc.usage, axis=0) / hours
        load_after = np.nansum(responded, axis=0) / hours
        if s == 0:
            shape = load_shape(base, load_before, load_after, tariff.timezone)
        vul = base.vulnerable
        per_scenario.append({
            "scenario": sc.name,
            "peak_before_kw": float(load_before.max()), "peak_after_kw": float(load_after.max()),
            "peak_reduction_kw": float(load_before.max() - load_after.max()),
            "peak_reduction_pct": float(100 * (1 - load_after.max() / load_before.max())),
            "revenue_before": float(before.sum()), "revenue_after": float(after.sum()),
            "revenue_predicted": float(sol.predicted_bills[s].sum()),
            "predicted_vs_engine_pct": float(100 * (sol.predicted_bills[s].sum() / after.sum() - 1)),
            "revenue_vs_target_pct": float(100 * (after.sum() / sol.target - 1)),
            "kwh_before": float(np.nansum(sc.usage)), "kwh_after": float(np.nansum(responded)),
            "mean_change_pct": float(100 * change.mean()),
            "median_change_pct": float(100 * np.median(change)),
            **{f"over_{k}pct": int((change > k / 100).sum()) for k in (5, 10, 20)},
            "vulnerable_over_increase": int((change[vul] > goals.increase + 1e-9).sum()),
            "gini_bills_before": gini(before), "gini_bills_after": gini(after),
        })  # fmt: skip
    bills = pd.concat(rows, ignore_index=True)
    kpis = pd.DataFrame(per_scenario)
    nv = int(base.vulnerable.sum())
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
               "load_shape": shape}  # fmt: skip
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
