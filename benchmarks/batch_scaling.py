"""Benchmark: `forecasting predict` over 1k, 10k and 100k series: wall time, series/s, peak RSS.

Bundles: a CNN-LSTM at the size of `configs/models/cnn_lstm.yaml` (2 epochs) and a LightGBM
(300 trees), trained on generated households and exported. Input per size: every series has
8 days of hourly history and the next 24 hours of weather (known-future covariates, target
empty), as a job that forecasts tomorrow is given; series are copies of the generated
households at other levels. It is written as parquet parts of 5,000 series each, rows in time
order within a part (not grouped by series), so the job has to regroup them.

Each run is a fresh `forecasting predict` process; its peak RSS is read from the OS
(`ru_maxrss` of the child). The baseline in the same run is the in-memory way: read the whole
input with pandas and call `Bundle.forecast` once (sizes up to --baseline-max).

    .venv/bin/python benchmarks/batch_scaling.py [--sizes 1000 10000 100000] [--models ...]
        [--engines local ray] [--name batch_scaling]

Writes benchmarks/results/batch_scaling.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parents[1]
PER_PART = 5000
ENGINE_OPTIONS = {
    "local": ["--engine", "local"],
    "workers": ["--engine", "local", "--workers", str(os.cpu_count() or 1)],
    "ray": ["--engine", "ray"],
}

MEASURE = """
import resource, subprocess, sys, time
t = time.perf_counter()
r = subprocess.run(sys.argv[1:], capture_output=True, text=True)
wall = time.perf_counter() - t
if r.returncode:
    sys.exit(r.stderr)
print(wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""

IN_MEMORY = """
import sys, pandas as pd
from serving.load import load_bundle
frame = pd.read_parquet(sys.argv[2]); static = pd.read_parquet(sys.argv[3])
origin = frame.loc[frame["target"].notna(), "timestamp"].max() + pd.Timedelta(hours=1)
out, skipped = load_bundle(sys.argv[1]).forecast(frame, pd.DatetimeIndex([origin]), static)
assert out["series_id"].nunique() == frame["series_id"].nunique()
"""


def _measure(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of `cmd` run as a fresh process."""
    out = subprocess.run([sys.executable, "-c", MEASURE, *cmd], capture_output=True, text=True,
                         cwd=ROOT)  # fmt: skip
    if out.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed: {out.stderr or out.stdout}")
    wall, rss_kib = out.stdout.split()
    return float(wall), int(rss_kib) / 1024


def _bundles(work: Path, models: list[str]) -> tuple[dict[str, Path], pd.DataFrame, pd.DataFrame]:
    """Train and export the bundles; return them with the households' frame and static table."""
    import yaml

    from forecasting.config.data import load_data_config
    from forecasting.config.model import TrainConfig
    from forecasting.data.prepare import prepare
    from forecasting.data.synthetic import SyntheticSpec, write_synthetic
    from forecasting.export import export_run
    from training.train import train

    write_synthetic(SyntheticSpec(households=24, days=60, seed=2), work / "synth")
    cnn = yaml.safe_load((ROOT / "configs" / "models" / "cnn_lstm.yaml").read_text())["model"]
    specs = {
        "cnn_lstm": {"model": cnn, "trainer": {"accelerator": "cpu", "max_epochs": 2,
                                               "progress_bar": "none", "logger": "none"}},
        "lightgbm": {"model": {"kind": "lightgbm", "n_estimators": 300, "num_leaves": 31,
                               "early_stopping_rounds": None}},
    }  # fmt: skip
    bundles = {}
    for kind in models:
        cfg = TrainConfig(
            name=f"scaling_{kind}",
            data=str(work / "synth" / "data.yaml"),
            train={"start": "2023-10-22", "end": "2023-11-30"},
            validation={"start": "2023-12-01", "end": "2023-12-07"},
            features={"lags": [24, 48, 72, 168], "profile_days": 7},
            **specs[kind],
        )
        train(cfg, work / f"run_{kind}")
        export_run(work / f"run_{kind}", work / f"bundle_{kind}")
        bundles[kind] = work / f"bundle_{kind}"
    p = prepare(load_data_config(work / "synth" / "data.yaml"))
    return bundles, p.frame, p.static


def _write_input(frame: pd.DataFrame, static: pd.DataFrame, n: int, folder: Path) -> None:
    """`n` series of 8 days of history + 24 h of weather, as parquet parts (built as arrays:
    series i is household i mod H at its own level)."""
    end = frame["timestamp"].max().floor("D")
    hist = frame[(frame["timestamp"] >= end - pd.Timedelta(days=9))
                 & (frame["timestamp"] < end)].drop(columns=["filled"])  # fmt: skip
    hist.loc[hist["timestamp"] >= end - pd.Timedelta(days=1), "target"] = np.nan  # "tomorrow"
    hist = hist.sort_values(["series_id", "timestamp"]).reset_index(drop=True)
    homes = sorted(hist["series_id"].unique())
    per = len(hist) // len(homes)  # rows per household (the same for each)
    columns = [c for c in hist.columns if c != "series_id"]
    blocks = {c: hist[c].to_numpy().reshape(len(homes), per) for c in columns}
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    statics = []
    for start in range(0, n, PER_PART):
        idx = np.arange(start, min(n, start + PER_PART))
        home = idx % len(homes)
        part = {c: blocks[c][home].ravel() for c in columns}
        part["target"] = (blocks["target"][home] * rng.lognormal(0, 0.3, (len(idx), 1))).ravel()
        ids = np.char.add("S", np.char.zfill(idx.astype(str), 7))
        table = pd.DataFrame({"series_id": np.repeat(ids, per), **part})
        table = table.sort_values("timestamp", kind="stable")  # time order, not by series
        table.to_parquet(folder / f"part-{start // PER_PART:05d}.parquet", index=False)
        statics.append(pd.DataFrame({"series_id": ids, "home": np.asarray(homes)[home]}))
    ids_frame = pd.concat(statics, ignore_index=True)
    st = ids_frame.merge(static.rename(columns={"series_id": "home"}), on="home")
    st.drop(columns=["home"]).to_parquet(folder.parent / f"static_{n}.parquet", index=False)


def _workers(out: Path) -> dict[str, float]:
    """Peak RSS (MiB) of each process that forecast groups, from the job's ledger."""
    peaks: dict[str, float] = {}
    for line in (out / "_job" / "ledger.jsonl").read_text().splitlines():
        e = json.loads(line)
        peaks[e["worker"]] = max(peaks.get(e["worker"], 0.0), e.get("worker_peak_rss_mib") or 0.0)
    return peaks


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sizes", nargs="+", type=int, default=[1000, 10000, 100000])
    ap.add_argument("--models", nargs="+", default=["cnn_lstm", "lightgbm"])
    ap.add_argument("--batch-size", type=int, default=1000, help="series per group")
    ap.add_argument("--baseline-max", type=int, default=10000, help="largest in-memory baseline")
    ap.add_argument("--engines", nargs="+", default=["local"], choices=sorted(ENGINE_OPTIONS),
                    help="local: one process; workers: --workers (CPUs); ray: a local Ray "
                         "cluster on this machine's CPUs, one actor per CPU")  # fmt: skip
    ap.add_argument("--output", type=Path, default=RESULTS)
    ap.add_argument("--name", default="batch_scaling", help="results file name")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from benchmarks.stage_profile import onnx_rate  # here: stage_profile imports this module

    graph_rate: dict[str, float] = {}
    t0 = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="batch_scaling_"))
    results: dict[str, Any] = {"sizes": args.sizes, "batch_size": args.batch_size, "runs": []}
    try:
        bundles, frame, static = _bundles(work, args.models)
        for n in args.sizes:
            t = time.perf_counter()
            _write_input(frame, static, n, work / f"input_{n}")
            rows = sum(pd.read_parquet(f, columns=["target"]).shape[0]
                       for f in (work / f"input_{n}").iterdir())  # fmt: skip
            print(
                f"input {n:,} series, {rows:,} rows ({time.perf_counter() - t:.0f} s to write)",
                flush=True,
            )
            for kind, bundle in bundles.items():
                if kind not in graph_rate:
                    sample = pd.read_parquet(work / f"input_{n}" / "part-00000.parquet")
                    st = pd.read_parquet(work / f"static_{n}.parquet")
                    graph_rate[kind] = onnx_rate(bundle, sample, st)
                for engine in args.engines:
                    out = work / f"out_{kind}_{n}_{engine}"
                    cmd = [sys.executable, "-m", "forecasting", "predict", "--bundle", str(bundle),
                           "--input", str(work / f"input_{n}"), "--output", str(out),
                           "--static", str(work / f"static_{n}.parquet"), "--no-progress",
                           "--batch-size", str(args.batch_size),
                           *ENGINE_OPTIONS[engine]]  # fmt: skip
                    wall, rss = _measure(cmd)
                    s = json.loads((out / "summary.json").read_text())
                    workers = _workers(out)
                    run = {"model": kind, "engine": engine, "series": n, "rows": rows,
                           "wall_s": round(wall, 1), "series_per_s": round(n / wall, 1),
                           "graph_alone_per_s": round(graph_rate[kind], 1),
                           "share_of_graph_rate": round(n / wall / graph_rate[kind], 3),
                           "peak_rss_mib": round(rss, 1),
                           "worker_peak_rss_mib": sorted(workers.values()),
                           "series_forecast": s["series_forecast"],
                           "forecast_rows": s["forecast_rows"], "groups": s["groups"]}  # fmt: skip
                    if n <= args.baseline_max and engine == "local":  # once per size
                        whole = work / f"whole_{n}.parquet"
                        if not whole.exists():
                            pd.read_parquet(work / f"input_{n}").to_parquet(whole, index=False)
                        bw, brss = _measure([sys.executable, "-c", IN_MEMORY, str(bundle),
                                             str(whole), str(work / f"static_{n}.parquet")])  # fmt: skip
                        run.update(in_memory_wall_s=round(bw, 1),
                                   in_memory_peak_rss_mib=round(brss, 1))  # fmt: skip
                    results["runs"].append(run)
                    print("  " + ", ".join(f"{k} {v}" for k, v in run.items()), flush=True)
                    _write(args, results, t0)  # after each run: a long benchmark keeps what it did
                    shutil.rmtree(out)
            shutil.rmtree(work / f"input_{n}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(_write(args, results, t0))


def _write(args: argparse.Namespace, results: dict[str, Any], t0: float) -> str:
    results["seconds"] = round(time.perf_counter() - t0, 1)
    results["cores"] = os.cpu_count()
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / f"{args.name}.json").write_text(json.dumps(results, indent=2) + "\n")
    md = _markdown(results)
    (args.output / f"{args.name}.md").write_text(md)
    return md


def _markdown(r: dict[str, Any]) -> str:
    lines = [
        "# Batch inference scaling: `forecasting predict`",
        "",
        f"{r['cores']} cores; series of 8 days hourly history + 24 h of weather; groups of "
        f"{r['batch_size']} series; `.venv/bin/python benchmarks/batch_scaling.py`, "
        f"{r['seconds']:.0f} s in all. Peak RSS is the whole `predict` process's (Python, pandas, "
        "onnxruntime included); with Ray, each actor's peak is listed apart (from the ledger). "
        "Graph alone = the ONNX graph on ready inputs in the same run (the job's ceiling). "
        "In-memory = read everything with pandas, one `Bundle.forecast`.",
        "",
        "| model | engine | series | rows | wall s | series/s | graph alone /s | share | "
        "peak RSS MiB | RSS vs smallest | worker peak RSS MiB | in-memory wall s | "
        "in-memory RSS MiB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    first: dict[tuple[str, str], float] = {}
    for run in r["runs"]:
        engine = run.get("engine", "local")
        base = first.setdefault((run["model"], engine), run["peak_rss_mib"])
        workers = " / ".join(f"{w:,.0f}" for w in run.get("worker_peak_rss_mib", []))
        graph = run.get("graph_alone_per_s")
        lines.append(
            f"| {run['model']} | {engine} | {run['series']:,} | {run['rows']:,} | "
            f"{run['wall_s']:.1f} | {run['series_per_s']:,.0f} | "
            f"{f'{graph:,.0f}' if graph else ''} | {run.get('share_of_graph_rate', '')} | "
            f"{run['peak_rss_mib']:,.0f} | {run['peak_rss_mib'] / base:.2f} | {workers} | "
            f"{run.get('in_memory_wall_s', '')} | {run.get('in_memory_peak_rss_mib', '')} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
