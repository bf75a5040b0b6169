"""Two jobs side by side on one machine against each alone: does one wreck the other?

    python benchmarks/side_by_side.py [--trees 300] [--cap 300]

A job is a LightGBM fit through the framework's model code (generated households, daily
origins, three quantiles, a fixed number of trees), started as its own process the way the
`forecasting` command starts: `calm_openmp()` first. Each setting runs the job alone, then two
copies at once; the slowdown is the pair's time over the job's alone (2.0 is a fair share of
the cores; the target is at most 2.2 on 2 cores).

- `OpenMP defaults` (the default): waiting OpenMP threads spin a while before they sleep;
- `calm` (`FORECASTING_OPENMP=calm`): waiting threads sleep (`OMP_WAIT_POLICY=PASSIVE`, no
  spin count);
- `--variants`: spin counts by hand.
Both use threads = the CPUs the process may use (affinity and cgroup quota).

A pair still running after `--cap` seconds is stopped and reported as at least that slow.
Writes benchmarks/results/side_by_side.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

JOB = """
import sys
from forecasting.threads import calm_openmp
calm_openmp()
import pandas as pd, yaml
from forecasting.config.features import FeatureConfig
from forecasting.config.model import TrainConfig
from forecasting.models.registry import make_model
frame = pd.read_parquet(sys.argv[1]); static = pd.read_parquet(sys.argv[2])
raw = yaml.safe_load(open(sys.argv[3]))
raw["data"] = "unused.yaml"
raw["model"].update(n_estimators=int(sys.argv[4]), early_stopping_rounds=None)
cfg = TrainConfig(**raw)
features = FeatureConfig(**{**cfg.features.model_dump(), "timezone": "Europe/London",
                            "known_future": ["temperature", "cloud_cover"],
                            "static": ["archetype", "heating"]})
model = make_model(cfg, features, "1h", True, "Europe/London")
days = pd.date_range(frame["timestamp"].min().ceil("D") + pd.Timedelta(days=8),
                     frame["timestamp"].max() - pd.Timedelta(days=2), freq="1D")
model.fit(frame, static, days[:-10], days[-10:])
"""


def data(folder: Path) -> tuple[Path, Path]:
    from forecasting.config.data import load_data_config
    from forecasting.data.prepare import prepare
    from forecasting.data.synthetic import SyntheticSpec, write_synthetic

    write_synthetic(SyntheticSpec(households=30, days=120, seed=3), folder / "synth")
    p = prepare(load_data_config(folder / "synth" / "data.yaml"))
    p.frame.to_parquet(folder / "frame.parquet", index=False)
    p.static.to_parquet(folder / "static.parquet", index=False)
    return folder / "frame.parquet", folder / "static.parquet"


def run(copies: int, args: list[str], env: dict[str, str], cap: float) -> dict[str, Any]:
    """Wall seconds of `copies` jobs started together (each job's own time)."""
    t0 = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", JOB, *args], env=env,
                              stderr=subprocess.PIPE) for _ in range(copies)]  # fmt: skip
    times: list[float | None] = [None] * copies
    while any(t is None for t in times):
        for i, p in enumerate(procs):
            if times[i] is None and p.poll() is not None:
                if p.returncode:
                    raise RuntimeError(
                        p.stderr.read().decode()[-2000:] if p.stderr else "job failed"
                    )
                times[i] = time.perf_counter() - t0
        if time.perf_counter() - t0 > cap:
            for p in procs:
                p.kill()
            return {"seconds": [cap] * copies, "stopped": True}
        time.sleep(0.05)
    return {"seconds": times, "stopped": False}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trees", type=int, default=300)
    ap.add_argument("--cap", type=float, default=300.0)
    ap.add_argument("--variants", action="store_true", help="also OpenMP spin counts by hand")
    a = ap.parse_args()
    settings: dict[str, dict[str, str]] = {"OpenMP defaults (the default)": {},
                                           "calm (FORECASTING_OPENMP=calm)": {"FORECASTING_OPENMP": "calm"}}  # fmt: skip
    if a.variants:
        for n in ("0", "1000", "10000", "100000"):
            settings[f"GOMP_SPINCOUNT={n}"] = {"FORECASTING_OPENMP": "default", "GOMP_SPINCOUNT": n}
        settings["OMP_WAIT_POLICY=PASSIVE"] = {
            "FORECASTING_OPENMP": "default",
            "OMP_WAIT_POLICY": "PASSIVE",
        }
    out: dict[str, Any] = {"machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} CPUs",
                           "trees": a.trees, "settings": {}}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        frame, static = data(Path(tmp))
        args = [
            str(frame),
            str(static),
            str(ROOT / "configs" / "models" / "lightgbm.yaml"),
            str(a.trees),
        ]
        clean = {k: v for k, v in os.environ.items()
                 if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME", "FORECASTING_OPENMP")}  # fmt: skip
        for name, extra in settings.items():
            env = {**clean, **extra, "PYTHONPATH": str(ROOT)}
            alone_runs = [run(1, args, env, a.cap)["seconds"][0] for _ in range(2)]
            alone = min(alone_runs)  # the quieter of two: this VM's timings drift
            pair = run(2, args, env, a.cap)
            out["settings"][name] = {"alone_s": alone, "alone_runs_s": alone_runs, "pair_s": pair["seconds"],
                                     "stopped": pair["stopped"],
                                     "slowdown": [s / alone for s in pair["seconds"]]}  # fmt: skip
            print(name, out["settings"][name], flush=True)
    write(out, a.cap)


def write(r: dict[str, Any], cap: float) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "side_by_side.json").write_text(json.dumps(r, indent=2))
    rows = []
    for name, s in r["settings"].items():
        more = " (stopped at the cap: at least)" if s["stopped"] else ""
        rows.append(f"| {name} | {s['alone_s']:.1f} | {', '.join(f'{x:.1f}' for x in s['pair_s'])}{more} | "
                    f"{', '.join(f'{x:.2f}x' for x in s['slowdown'])} |")  # fmt: skip
    calm = r["settings"]["calm (FORECASTING_OPENMP=calm)"]
    spin = r["settings"]["OpenMP defaults (the default)"]
    md = [
        "# Two jobs side by side against each alone",
        "",
        f"`python benchmarks/side_by_side.py`; {r['machine']}; a LightGBM fit of {r['trees']} "
        "trees per quantile (30 generated households, 120 days, daily origins), as its own "
        f"process; pairs stopped after {cap:.0f} s.",
        "",
        "| setting | alone s (the quicker of two runs) | each of the pair s | slowdown (pair / alone) |",
        "|---|---|---|---|",
        *rows,
        "",
        f"Target: each at most 2.2x its time alone on 2 cores. OpenMP defaults: "
        f"**{max(spin['slowdown']):.2f}x** ({'met' if max(spin['slowdown']) <= 2.2 else 'missed'}). "
        f"Calm: **{max(calm['slowdown']):.2f}x** its own time alone, "
        f"**{max(calm['pair_s']) / spin['alone_s']:.2f}x** the fastest time alone (the spinning "
        f"one), but a lone job is {calm['alone_s'] / spin['alone_s']:.1f}x slower calm: its "
        "many short parallel loops pay a wake-up each. So calm is a switch for machines that "
        "run jobs side by side (`FORECASTING_OPENMP=calm`), not the default.",
    ]
    (RESULTS / "side_by_side.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
