"""Benchmark: seasonal naive backtests, every origin at once (`SeasonalNaive.forecast` on a
[series, time] grid) against one origin at a time (`predict`, the path before), same run.

Two years of hourly load (one series, PJM-sized values, seeded noise) and 80 households x one
year, daily origins with four weeks of history; the forecasts of the two paths are compared
row by row, so the speed-up is never bought with a different answer.

    .venv/bin/python -m benchmarks.baseline_backtest

Writes benchmarks/results/baseline_backtest.{md,json}.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from forecasting.evaluation.backtest import RollingOrigin, backtest
from forecasting.models.baselines import SeasonalNaive

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def frame(series: int, start: str, end: str, level: float, seed: int) -> pd.DataFrame:
    t = pd.date_range(start, end, freq="h", tz="UTC", inclusive="left")
    rng = np.random.default_rng(seed)
    parts = []
    for i in range(series):
        daily = np.sin(np.arange(len(t)) * 2 * np.pi / 24 + i)
        y = level * (1 + 0.2 * daily) + rng.normal(0, 0.05 * level, len(t))
        parts.append(pd.DataFrame({"series_id": f"S{i:03d}", "timestamp": t, "target": y}))
    out = pd.concat(parts, ignore_index=True)
    out["series_id"] = out["series_id"].astype("string")
    return out


def timed(
    model: SeasonalNaive, data: pd.DataFrame, splitter: RollingOrigin
) -> tuple[float, pd.DataFrame]:
    t0 = time.perf_counter()
    fc = backtest(model, data, splitter)
    return time.perf_counter() - t0, fc


def main() -> None:
    cases = {
        "one series, 2 years hourly": (frame(1, "2016-01-01", "2018-01-01", 30_000.0, 0),
                                       "2016-02-01", "2017-12-30"),
        "80 households, 1 year hourly": (frame(80, "2013-01-01", "2014-01-01", 0.4, 1),
                                         "2013-02-01", "2013-12-30"),
    }  # fmt: skip
    rows = []
    for name, (data, start, end) in cases.items():
        splitter = RollingOrigin(horizon=24, lookback=672, start=start, end=end)
        loop_s, loop = timed(SeasonalNaive(), data, splitter)
        grid_s, grid = timed(SeasonalNaive(horizon=24), data, splitter)
        keys = ["series_id", "origin", "timestamp"]
        a = loop.sort_values(keys).reset_index(drop=True)
        b = grid.sort_values(keys).reset_index(drop=True)[a.columns]
        diff = float(np.nanmax(np.abs(a["p50"].to_numpy() - b["p50"].to_numpy())))
        rows.append({
            "case": name, "origins": int(a["origin"].nunique()), "rows": len(a),
            "one_origin_at_a_time_s": round(loop_s, 2), "all_origins_at_once_s": round(grid_s, 2),
            "speedup": round(loop_s / grid_s, 1), "max_abs_diff_p50": diff,
        })  # fmt: skip
        print(rows[-1])
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "baseline_backtest.json").write_text(json.dumps(rows, indent=2) + "\n")
    lines = [
        "# Seasonal naive backtest: all origins at once vs one at a time",
        "",
        "| case | origins | rows | one at a time s | all at once s | speed-up | max abs diff P50 |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {r['case']} | {r['origins']:,} | {r['rows']:,} | {r['one_origin_at_a_time_s']} | "
            f"{r['all_origins_at_once_s']} | x{r['speedup']} | {r['max_abs_diff_p50']:.1e} |"
            for r in rows
        ),
        "",
        "Daily origins at 00:00 UTC, 24 steps, four weeks of history, one-week season; both "
        "paths in the same run on the same frame.",
    ]
    (RESULTS / "baseline_backtest.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
