"""Benchmark: customer-years of hourly usage billed per second, 1k / 10k / 100k customers.

Tariff: `configs/tariffs/uk_tou_demand_example.yaml` (standing charge, peak/shoulder/off-peak
bands by local time and day type with GB holidays, a demand charge on winter weekday
evenings, feed-in bands, VAT, minimum charge) with the demand measured over 1 hour, since
the usage is hourly. A customer-year is 8,760 hourly readings (2023, Europe/London).

Usage is generated in chunks of 1,000 customers (a daily shape with evening peak, winter
level, random level per customer, gamma noise) and billed chunk by chunk, so memory stays
that of one chunk. Timed: the bill engine only (generation is timed apart). Two inputs:
- long: a long frame per chunk (series_id, timestamp, kwh), as read from a file: the engine
  pivots it to a matrix itself;
- wide: the matrix (customers x hours) directly.
Baseline in the same run: the same bills computed the plain pandas way (per-row band and
period by a join on timestamp, groupby sums and maxima) on the 1k size, as a ratio.
Each size runs in a fresh process; its peak RSS is `ru_maxrss`.

    .venv/bin/python benchmarks/billing_throughput.py [--sizes 1000 10000 100000] [--workers 2]

With --workers N, each size's long frames are also billed by N processes side by side, each
with its share of the customers, as `forecasting bill --workers N` does with its groups.

Writes benchmarks/results/billing_throughput.{md,json}.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parents[1]
TARIFF = ROOT / "configs" / "tariffs" / "uk_tou_demand_example.yaml"
CHUNK = 1000
HOURS = pd.date_range("2023-01-01", "2024-01-01", freq="1h", inclusive="left", tz="Europe/London")


def engine() -> Any:
    from forecasting.tariffs.engine import BillEngine
    from forecasting.tariffs.spec import load_tariff

    tariff = load_tariff(TARIFF)
    assert tariff.demand is not None
    tariff.demand.interval = "1h"
    return BillEngine(tariff)


def generate(first: int, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(ids, kWh matrix customers x hours) of a plausible household year."""
    local = HOURS
    hour = local.hour.to_numpy()
    shape = (
        0.25 + 0.35 * np.exp(-((hour - 19) ** 2) / 6.0) + 0.15 * np.exp(-((hour - 8) ** 2) / 3.0)
    )
    winter = 1.0 + 0.35 * np.cos(2 * np.pi * (local.dayofyear.to_numpy() - 15) / 365.0)
    level = rng.lognormal(0.0, 0.45, size=(n, 1))
    usage = level * (shape * winter)[None, :] * rng.gamma(4.0, 0.25, size=(n, len(local)))
    ids = np.array([f"C{i:07d}" for i in range(first, first + n)], dtype=object)
    return ids, usage


def naive_bills(frame: pd.DataFrame, eng: Any) -> pd.DataFrame:
    """The plain pandas way: per-timestamp facts joined onto every row, then groupbys."""
    grid = pd.DatetimeIndex(frame["timestamp"].unique()).sort_values()
    f = eng.calendar.facts(grid[0], len(grid), pd.Timedelta("1h"))
    facts = pd.DataFrame(
        {"timestamp": grid, "period": f.period, "band": f.energy_item, "date": f.date,
         "window": f.demand_in_window[: len(grid)]}
    )  # fmt: skip
    rows = frame.merge(facts, on="timestamp", how="left")
    rates = pd.Series(eng.rates * eng.tariff.scale)
    rows["cost"] = rows["kwh"] * rows["band"].map(rates)
    by = rows.groupby(["series_id", "period"])
    out = pd.DataFrame(
        {
            "energy": by["cost"].sum(),
            "days": by["date"].nunique(),
            "demand_kw": rows[rows["window"]].groupby(["series_id", "period"])["kwh"].max(),
        }
    ).fillna({"demand_kw": 0.0})
    out["fixed"] = out["days"] * eng.tariff.fixed_per_day * eng.tariff.scale
    out["demand"] = out["demand_kw"] * eng.tariff.demand.rate * eng.tariff.scale
    out["total"] = (out["energy"] + out["fixed"] + out["demand"]) * 1.05
    return out.reset_index()


def one(size: int, path: str, offset: int = 0) -> dict[str, Any]:
    """Bill customers offset..offset+size in chunks; runs in its own process (peak RSS is this
    size's). Each chunk's usage is seeded by its first customer, so the customers are the same
    however the range is split between processes."""
    import resource

    eng = engine()
    gen = bill = 0.0
    bills = 0
    total = 0.0
    step = pd.Timedelta("1h")
    start = HOURS[0].tz_convert("UTC")
    for first in range(offset, offset + size, CHUNK):
        n = min(CHUNK, offset + size - first)
        t = time.perf_counter()
        ids, usage = generate(first, n, np.random.default_rng([7, first]))
        frame = None
        if path != "wide":
            frame = pd.DataFrame(
                {
                    "series_id": pd.array(np.repeat(ids, usage.shape[1]), dtype="string"),
                    "timestamp": pd.DatetimeIndex(np.tile(HOURS.as_unit("ns").asi8, n)).tz_localize(
                        "UTC"
                    ),
                    "kwh": usage.ravel(),
                }
            )
        gen += time.perf_counter() - t
        t = time.perf_counter()
        if path == "wide":
            out = eng.bill_wide(ids, start, step, usage)
        elif path == "long":
            out = eng.bill(frame, step=step)
        else:
            out = naive_bills(frame, eng)
        bill += time.perf_counter() - t
        bills += len(out)
        total += float(out["total"].sum())
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "customers": size,
        "path": path,
        "bill_seconds": round(bill, 3),
        "generate_seconds": round(gen, 3),
        "customer_years_per_second": round(size / bill, 1),
        "bills": bills,
        "total_billed": round(total, 2),
        "peak_rss_mib": round(rss, 1),
    }


def run_child(size: int, path: str) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--one", str(size), "--path", path]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
    if r.returncode:
        raise SystemExit(f"{path} {size}: {r.stderr[-2000:]}")
    return dict(json.loads(r.stdout.strip().splitlines()[-1]))


def run_processes(size: int, path: str, workers: int) -> dict[str, Any]:
    """The customers split between `workers` processes billing side by side (as `forecasting
    bill --workers N` splits its groups): the bill time is the slowest process's, each one
    timed while the others run; the peak RSS is the largest process's."""
    edges = np.linspace(0, size, workers + 1).astype(int) // CHUNK * CHUNK
    edges[-1] = size
    cmds = [
        [sys.executable, __file__, "--one", str(b - a), "--offset", str(a), "--path", path]
        for a, b in itertools.pairwise(edges)
    ]
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True, "cwd": ROOT}
    procs = [subprocess.Popen(cmd, **pipes) for cmd in cmds]  # type: ignore[call-overload]
    parts = []
    for p in procs:
        out, err = p.communicate()
        if p.returncode:
            raise SystemExit(f"{path} {size} x{workers}: {err[-2000:]}")
        parts.append(json.loads(out.strip().splitlines()[-1]))
    bill = max(r["bill_seconds"] for r in parts)
    return {
        "customers": size,
        "path": f"{path}, {workers} processes",
        "bill_seconds": bill,
        "generate_seconds": max(r["generate_seconds"] for r in parts),
        "customer_years_per_second": round(size / bill, 1),
        "bills": sum(r["bills"] for r in parts),
        "total_billed": round(sum(r["total_billed"] for r in parts), 2),
        "peak_rss_mib": max(r["peak_rss_mib"] for r in parts),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    ap.add_argument("--baseline-size", type=int, default=1000)
    ap.add_argument(
        "--workers", type=int, default=0,
        help="also bill each size's long frames split between this many processes",
    )  # fmt: skip
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--offset", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--path", default="long", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.path, args.offset)))
        return
    rows = []
    for size in args.sizes:
        for path in ("long", "wide"):
            r = run_child(size, path)
            rows.append(r)
            print(json.dumps(r), flush=True)
        if args.workers > 1:
            r = run_processes(size, "long", args.workers)
            rows.append(r)
            print(json.dumps(r), flush=True)
    if args.baseline_size not in args.sizes:  # the baseline is compared at a size of the run
        rows.append(run_child(args.baseline_size, "long"))
        print(json.dumps(rows[-1]), flush=True)
    base = run_child(args.baseline_size, "naive")
    print(json.dumps(base), flush=True)
    same = next(r for r in rows if r["customers"] == args.baseline_size and r["path"] == "long")
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "tariff": TARIFF.name + " (demand interval 1h)",
        "chunk_customers": CHUNK,
        "runs": rows,
        "baseline": base,
        "speedup_long_vs_pandas": round(base["bill_seconds"] / same["bill_seconds"], 1),
        "target": "100k customer-years from long frames in under 30 s on 2 cores, memory flat",
    }
    big = [r for r in rows if r["customers"] == 100000]
    if big:
        result["target_met"] = {r["path"]: r["bill_seconds"] < 30 for r in big}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "billing_throughput.json").write_text(json.dumps(result, indent=2), "utf-8")
    (RESULTS / "billing_throughput.md").write_text(markdown(result), "utf-8")
    print(markdown(result))


def markdown(r: dict[str, Any]) -> str:
    lines = [
        "# Billing throughput",
        "",
        f"{r['machine']}; tariff {r['tariff']}; chunks of {r['chunk_customers']:,} customers.",
        "",
        "| customers | input | bill s | customer-years/s | bills | peak RSS MiB |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for x in [*r["runs"], r["baseline"]]:
        name = "pandas baseline" if x["path"] == "naive" else x["path"]
        lines.append(
            f"| {x['customers']:,} | {name} | {x['bill_seconds']:.2f} | "
            f"{x['customer_years_per_second']:,.0f} | {x['bills']:,} | {x['peak_rss_mib']:.0f} |"
        )
    lines += [
        "",
        f"Long-input engine vs the pandas baseline: {r['speedup_long_vs_pandas']}x faster.",
    ]
    if "target_met" in r:
        lines.append(f"Target ({r['target']}): {r['target_met']}.")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
