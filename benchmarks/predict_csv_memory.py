"""Benchmark: `forecasting predict`'s peak memory on CSV input against parquet, 2,000 to 20,000 series.

One LightGBM bundle (trained on generated households and exported). Inputs per size: every
series has 8 days of hourly history and the next day's weather, written once as a parquet file
and once as a CSV file of the same rows (series in time order, not grouped). Each run is a
fresh `forecasting predict` process; its peak RSS comes from the OS (`ru_maxrss` of the child).
The figure that matters is the growth from the smallest to the largest size: flat means the
job streams (memory bounded by a record batch and a group of series, not by the file).

    .venv/bin/python -m benchmarks.predict_csv_memory [--sizes 2000 20000]

Writes benchmarks/results/predict_csv_memory.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results"

MEASURE = """
import resource, subprocess, sys, time
t = time.perf_counter()
r = subprocess.run(sys.argv[1:], capture_output=True, text=True)
if r.returncode:
    sys.exit(r.stderr)
print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def measure(cmd: list[str]) -> tuple[float, float]:
    out = subprocess.run([sys.executable, "-c", MEASURE, *cmd], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed: {out.stderr[-2000:]}")
    wall, rss = out.stdout.split()
    return float(wall), float(rss) / 1024


def inputs(base: pd.DataFrame, static: pd.DataFrame, n: int, folder: Path) -> dict[str, Path]:
    """`n` series copied from the generated households at other levels, time-ordered."""
    ids = base["series_id"].unique()
    parts, statics = [], []
    for k in range(int(np.ceil(n / len(ids)))):
        parts.append(base.assign(series_id=base["series_id"] + f"_{k:05d}",
                                 target=base["target"] * (0.5 + (k % 17) / 10)))  # fmt: skip
        statics.append(static.assign(series_id=static["series_id"] + f"_{k:05d}"))
    frame = pd.concat(parts, ignore_index=True)
    keep = frame["series_id"].isin(frame["series_id"].unique()[:n])
    frame = frame[keep].sort_values("timestamp", kind="stable")
    out = {"parquet": folder / f"in_{n}.parquet", "csv": folder / f"in_{n}.csv",
           "static": folder / f"static_{n}.parquet"}  # fmt: skip
    frame.to_parquet(out["parquet"], index=False)
    frame.to_csv(out["csv"], index=False, date_format="%Y-%m-%dT%H:%M:%SZ")
    pd.concat(statics).to_parquet(out["static"], index=False)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000])
    args = ap.parse_args()
    from tests.cli.corpus import workspace

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        w = workspace(root / "ws")
        frame = pd.read_parquet(w["canonical"])
        last = frame["timestamp"].max().floor("D")
        hist = frame[(frame["timestamp"] >= last - pd.Timedelta(days=8))
                     & (frame["timestamp"] < last + pd.Timedelta(days=1))].copy()  # fmt: skip
        hist.loc[hist["timestamp"] >= last, "target"] = np.nan  # tomorrow: weather only
        static = pd.read_csv(w["static"], dtype=str)
        rows = []
        for n in args.sizes:
            files = inputs(hist, static, n, root)
            for fmt in ("parquet", "csv"):
                out = root / f"out_{fmt}_{n}"
                cmd = [sys.executable, "-m", "forecasting", "predict", "--bundle", str(w["bundle"]),
                       "--input", str(files[fmt]), "--output", str(out), "--static",
                       str(files["static"]), "--no-progress", "--origin", last.isoformat()]  # fmt: skip
                wall, rss = measure(cmd)
                summary = json.loads((out / "summary.json").read_text())
                rows.append({"series": n, "format": fmt, "mib_on_disk": round(files[fmt].stat().st_size / 2**20, 1),
                             "rows": summary["rows_read"], "series_forecast": summary["series_forecast"],
                             "seconds": round(wall, 1), "peak_rss_mib": round(rss)})  # fmt: skip
                print(rows[-1], flush=True)
    lo, hi = min(args.sizes), max(args.sizes)
    growth = {
        fmt: round(next(r["peak_rss_mib"] for r in rows if r["format"] == fmt and r["series"] == hi)
                   / next(r["peak_rss_mib"] for r in rows if r["format"] == fmt and r["series"] == lo), 2)
        for fmt in ("parquet", "csv")
    }  # fmt: skip
    doc = {"rows": rows, "rss_growth_smallest_to_largest": growth, "sizes": args.sizes,
           "measured": time.strftime("%Y-%m-%d")}  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "predict_csv_memory.json").write_text(json.dumps(doc, indent=2))
    lines = [
        f"# predict: peak RSS on CSV vs parquet, {lo:,} to {hi:,} series",
        "",
        "| series | format | MiB on disk | rows | forecast | seconds | peak RSS MiB |",
        "|---:|---|---:|---:|---:|---:|---:|",
        *[f"| {r['series']:,} | {r['format']} | {r['mib_on_disk']} | {r['rows']:,} | "
          f"{r['series_forecast']:,} | {r['seconds']} | {r['peak_rss_mib']} |" for r in rows],
        "",
        f"Peak RSS growth {lo:,} -> {hi:,} series: parquet x{growth['parquet']}, "
        f"CSV x{growth['csv']} (1.0 is flat).",
    ]  # fmt: skip
    (RESULTS / "predict_csv_memory.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
