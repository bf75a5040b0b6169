"""Benchmark: `prepare` (full validation, quarantine, DST, gaps, covariates) vs a bare baseline.

The baseline in the same run reads the same CSV with pandas, parses timestamps, floors to the
hour and sums: what a hand-written script does with no checks at all. The ratio says what the
checks cost. Data: synthetic households written as half-hourly CSV in local wall time.

    .venv/bin/python benchmarks/prepare_throughput.py [--households 40 200 1000] [--days 90]

Writes benchmarks/results/prepare_throughput.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"

BASELINE = """
import sys, pandas as pd
df = pd.read_csv(sys.argv[1])
t = pd.to_datetime(df["timestamp"], errors="coerce").dt.tz_localize("Europe/London", ambiguous="NaT", nonexistent="NaT")
df["hour"] = t.dt.floor("h")
df["kwh"] = pd.to_numeric(df["import_kwh"], errors="coerce")
out = df.groupby(["series_id", "hour"])["kwh"].sum()
import resource; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

PREPARE = """
import sys
from forecasting.config.data import load_data_config
from forecasting.data.prepare import prepare
p = prepare(load_data_config(sys.argv[1]))
import resource; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _run(code: str, arg: str) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB, as the child reports it) of a fresh interpreter."""
    t = time.perf_counter()
    res = subprocess.run(
        [sys.executable, "-c", code, arg], check=True, capture_output=True, text=True
    )
    wall = time.perf_counter() - t
    return wall, int(res.stdout.split()[-1]) / 1024


def main() -> None:
    from forecasting.data.synthetic import SyntheticSpec, write_synthetic

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--households", type=int, nargs="+", default=[40, 200, 1000])
    ap.add_argument("--days", type=int, default=90)
    args = ap.parse_args()
    rows = []
    for n in args.households:
        with tempfile.TemporaryDirectory() as tmp:
            paths = write_synthetic(
                SyntheticSpec(households=n, days=args.days, start="2023-10-01", seed=1), tmp
            )
            n_rows = len(paths["readings"].read_text().splitlines()) - 1
            base_s, base_mb = _run(BASELINE, str(paths["readings"]))
            prep_s, prep_mb = _run(PREPARE, str(paths["config"]))
        rows.append(
            {
                "households": n,
                "rows": n_rows,
                "baseline_s": round(base_s, 2),
                "prepare_s": round(prep_s, 2),
                "prepare_rows_per_s": round(n_rows / prep_s),
                "ratio_prepare_to_baseline": round(prep_s / base_s, 2),
                "baseline_peak_mib": round(base_mb),
                "prepare_peak_mib": round(prep_mb),
            }
        )
        print(rows[-1], flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "prepare_throughput.json").write_text(
        json.dumps({"days": args.days, "runs": rows}, indent=2)
    )
    head = "| households | rows | baseline s | prepare s | prepare rows/s | prepare / baseline | baseline peak MiB | prepare peak MiB |"
    lines = [
        f"# prepare throughput ({args.days} days, half-hourly CSV, interpreter start included)",
        "",
        head,
        "|" + "---|" * 8,
    ]
    for r in rows:
        lines.append(
            f"| {r['households']} | {r['rows']:,} | {r['baseline_s']} | {r['prepare_s']} | "
            f"{r['prepare_rows_per_s']:,} | {r['ratio_prepare_to_baseline']} | {r['baseline_peak_mib']} | "
            f"{r['prepare_peak_mib']} |"
        )
    (RESULTS / "prepare_throughput.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
