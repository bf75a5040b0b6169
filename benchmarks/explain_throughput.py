"""Benchmark: explaining a CNN-LSTM bundle's forecasts torch-free (`forecasting explain
--bundle`), against forecasting the same windows with the same bundle.

Generated households (hourly, 180 days), a CNN-LSTM trained for a few epochs and exported;
then `--windows` (series, origin) windows over the last weeks: the time to forecast them
(the baseline, one pass of onnxruntime) and the time to explain them with `--permutations`
orders of the families, in the same process. The issue's target: 1,000 CNN-LSTM windows in
under 60 s on 2 cores.

    .venv/bin/python benchmarks/explain_throughput.py [--windows 1000] [--permutations 8]

Writes benchmarks/results/explain_throughput.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--windows", type=int, default=1000)
    ap.add_argument("--permutations", type=int, default=8)
    args = ap.parse_args()
    from forecasting.config.data import load_data_config
    from forecasting.config.model import TrainConfig, TrainerConfig
    from forecasting.data.prepare import prepare
    from forecasting.data.synthetic import SyntheticSpec, write_synthetic
    from forecasting.export import export_run
    from serving.explain import explain_bundle
    from serving.load import load_bundle
    from training.train import train

    work = Path(tempfile.mkdtemp(prefix="explain_bench_"))
    write_synthetic(SyntheticSpec(households=40, days=180, seed=11), work / "synth")
    cfg = TrainConfig(name="bench_cnn", data=str(work / "synth" / "data.yaml"),
                      train={"start": "2023-11-01", "end": "2024-02-29"},
                      validation={"start": "2024-03-01", "end": "2024-03-14"},
                      model={"kind": "cnn_lstm"},
                      trainer=TrainerConfig(accelerator="cpu", max_epochs=2, progress_bar="none"))  # fmt: skip
    train(cfg, work / "run")
    export_run(work / "run", work / "bundle")
    data = load_data_config(work / "synth" / "data.yaml")
    p = prepare(data)
    tz = data.calendar.timezone
    days = -(-args.windows // 40)  # 40 households a day
    end = (p.frame["timestamp"].max().tz_convert(tz) - pd.Timedelta("1D")).normalize()
    origins = pd.date_range(end - pd.Timedelta(days=days - 1), end, freq="D").tz_convert("UTC")
    bundle = load_bundle(work / "bundle")
    t0 = time.perf_counter()
    bundle.forecast(p.frame, origins, p.static)
    forecast_s = time.perf_counter() - t0
    s = explain_bundle(work / "bundle", p.frame, p.static, work / "explain", tz,
                       start=str((end - pd.Timedelta(days=days - 1)).date()),
                       end=str(end.date()), max_windows=args.windows,
                       permutations=args.permutations)  # fmt: skip
    row = {"windows": s["windows"], "families": len(s["families"]),
           "permutations": args.permutations, "forecast_s": forecast_s,
           "explain_s": s["seconds"], "ratio": s["seconds"] / forecast_s,
           "additivity_max_abs_error": s["additivity_max_abs_error"],
           "top_families": s["families"][:5]}  # fmt: skip
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "explain_throughput.json").write_text(json.dumps(
        {"machine": platform.platform(), "cpus": os.cpu_count(), **row}, indent=1))  # fmt: skip
    top = ", ".join(f"{f['family']} {f['share']:.0%}" for f in row["top_families"])
    md = (f"# Explaining a CNN-LSTM bundle (torch-free)\n\n`.venv/bin/python "
          f"benchmarks/explain_throughput.py --windows {args.windows} --permutations "
          f"{args.permutations}` on {platform.machine()} with {os.cpu_count()} CPUs: 40 generated "
          f"households, a CNN-LSTM (default size, 2 epochs) exported, day-ahead windows.\n\n"
          f"| windows | families | orders | forecast (baseline) s | explain s | explain / forecast "
          f"| additivity error |\n|---|---|---|---|---|---|---|\n"
          f"| {row['windows']:,} | {row['families']} | {args.permutations} | {forecast_s:.2f} | "
          f"{row['explain_s']:.1f} | {row['ratio']:.0f}x | {row['additivity_max_abs_error']:.1e} |\n\n"
          f"Target: 1,000 windows in under 60 s: "
          f"{'met' if row['windows'] >= 1000 and row['explain_s'] < 60 else 'see the figure'}. "
          f"The explain time includes reading the bundle and building the windows. "
          f"Top families (P50): {top}.\n")  # fmt: skip
    (RESULTS / "explain_throughput.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
