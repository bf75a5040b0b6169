"""Where the time of `forecasting predict` and `forecasting bill` goes, stage by stage.

    python benchmarks/stage_profile.py [--series 20000] [--models lightgbm cnn_lstm]

Each job runs once in process under cProfile on generated input (the bundles and input of
`benchmarks/batch_scaling.py`: 8 days of hourly history and tomorrow's weather per series, in
parquet parts of 5,000 series in time order). Each stage is the cumulative time of the
functions that do it (they never call one another, so the stages add up); the rest is
"other" (the job's own loops, pandas glue, grouping and sorting of the answer). The profiler
slows Python-heavy stages more than native ones, so the shares are the figure to read; the
job's wall time without the profiler is beside them, with the ONNX-only rate measured in the
same run (`benchmarks/onnx_throughput.py`'s method: the graph alone on ready inputs).

Writes benchmarks/results/stage_profile.{md,json}.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import platform
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.batch_scaling import _bundles, _write_input  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def _stages() -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    """Stage -> the functions whose cumulative times make it up (none calls another)."""
    from forecasting.features.sequences import make_sequences
    from forecasting.features.windows import make_windows
    from forecasting.forecasts.frames import long_forecast, to_target_units
    from forecasting.tariffs.engine import BillEngine
    from serving import bill, parts, predict, stream
    from serving.bundle import Runner

    shared = {"scan (count series)": [stream.distinct_series],
              "partition (regroup rows by series)": [stream.partition],
              "read groups": [stream.read_group]}  # fmt: skip
    pred = {**shared, "series checks": [predict.PredictJob._check_series],
            "features / windows": [make_windows, make_sequences], "model (onnxruntime)": [Runner.run],
            "post-processing": [to_target_units, long_forecast, predict.PredictJob._drop_non_finite],
            "write parts": [parts.write_frame_atomic]}  # fmt: skip
    bills = {**shared, "row checks": [bill.check_rows], "long to matrix": [BillEngine.bill],
             "bill engine (matrices)": [BillEngine.bill_wide],
             "write bills (parts, then joined)": [bill.bills_table, parts.write_table_atomic,
                                                  parts.join_parquet]}  # fmt: skip
    return pred, bills


def stage_times(prof: cProfile.Profile, stages: dict[str, list[Any]]) -> dict[str, float]:
    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    total = max(ct for (_, _, _, ct, _) in stats.values())

    def cum(fn: Any) -> float:
        c = fn.__code__
        return sum(v[3] for (file, line, name), v in stats.items()
                   if file == c.co_filename and line == c.co_firstlineno and name == c.co_name)  # fmt: skip

    out = {stage: sum(cum(f) for f in funcs) for stage, funcs in stages.items()}
    if "bill engine (matrices)" in out:  # `bill` (long to matrix) holds `bill_wide`
        out["long to matrix"] -= out["bill engine (matrices)"]
    out["other"] = total - sum(out.values())
    out["total (profiled)"] = total
    return out


def profiled(job: Any) -> tuple[dict[str, Any], cProfile.Profile]:
    prof = cProfile.Profile()
    prof.enable()
    summary = job.run()
    prof.disable()
    return summary, prof


def onnx_rate(bundle: Path, frame: pd.DataFrame, static: pd.DataFrame) -> float:
    """Forecasts a second of the graph alone on ready inputs (the job's ceiling)."""
    from serving.load import load_bundle

    b = load_bundle(bundle)
    origin = frame.loc[frame["target"].notna(), "timestamp"].max() + pd.Timedelta(hours=1)
    inputs, w = b.graph_inputs(frame, pd.DatetimeIndex([origin]), static)
    n = len(w.index) // (b.manifest["horizon"] if "X" in inputs else 1)
    b.run(inputs)
    t0 = time.perf_counter()
    reps = 0
    while time.perf_counter() - t0 < 2.0:
        b.run(inputs)
        reps += 1
    return n * reps / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", type=int, default=20000)
    ap.add_argument("--models", nargs="+", default=["lightgbm", "cnn_lstm"])
    a = ap.parse_args()
    from forecasting.tariffs.engine import BillEngine
    from forecasting.tariffs.spec import load_tariff
    from serving.bill import BillJob
    from serving.predict import PredictJob

    predict_stages, bill_stages = _stages()
    result: dict[str, Any] = {"machine": f"{platform.machine()}", "series": a.series, "jobs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        bundles, frame, static = _bundles(work, a.models)
        _write_input(frame, static, a.series, work / "input")
        st = work / f"static_{a.series}.parquet"
        parts = pd.concat([pd.read_parquet(p) for p in sorted((work / "input").glob("*.parquet"))])
        for kind, bundle in bundles.items():

            def job(out: Path, bundle: Path = bundle) -> PredictJob:
                return PredictJob(bundle, str(work / "input"), out, static=str(st),
                                  batch_size=1000, progress=False, echo=lambda _: None)  # fmt: skip

            t0 = time.perf_counter()
            job(work / f"plain_{kind}").run()
            wall = time.perf_counter() - t0
            _, prof = profiled(job(work / f"prof_{kind}"))
            some = parts[parts["series_id"].isin(sorted(parts["series_id"].unique())[:500])]
            rate = onnx_rate(bundle, some, pd.read_parquet(st))
            result["jobs"][f"predict {kind}"] = {"wall_s": wall, "series_per_s": a.series / wall,
                                                 "onnx_only_per_s": rate,
                                                 "stages": stage_times(prof, predict_stages)}  # fmt: skip
            shutil.rmtree(work / f"prof_{kind}")
            print(kind, result["jobs"][f"predict {kind}"], flush=True)
        usage = (
            parts[["series_id", "timestamp", "target"]].dropna().rename(columns={"target": "kwh"})
        )
        usage.to_parquet(work / "usage.parquet", index=False)
        engine = BillEngine(load_tariff(ROOT / "configs" / "tariffs" / "uk_flat_example.yaml"))
        t0 = time.perf_counter()
        BillJob(engine, str(work / "usage.parquet"), work / "bills_plain").run()
        wall = time.perf_counter() - t0
        _, prof = profiled(BillJob(engine, str(work / "usage.parquet"), work / "bills_prof"))
        result["jobs"]["bill"] = {"wall_s": wall, "series_per_s": a.series / wall,
                                  "rows": len(usage), "stages": stage_times(prof, bill_stages)}  # fmt: skip
    write(result)


def write(r: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "stage_profile.json").write_text(json.dumps(r, indent=2))
    md = ["# Where the time of `predict` and `bill` goes", "",
          f"`python benchmarks/stage_profile.py --series {r['series']}`; {r['machine']}, 2 CPUs. "
          "Shares of the profiled time per stage (cProfile slows Python more than native code: "
          "read the shares); wall time without the profiler.", ""]  # fmt: skip
    for name, j in r["jobs"].items():
        s = j["stages"]
        total = s["total (profiled)"]
        head = f"## {name}: {j['wall_s']:.1f} s, {j['series_per_s']:,.0f} series/s"
        if "onnx_only_per_s" in j:
            head += (f"; the graph alone {j['onnx_only_per_s']:,.0f} forecasts/s "
                     f"(the job reaches {j['series_per_s'] / j['onnx_only_per_s']:.1%} of it)")  # fmt: skip
        md += [head, "", "| stage | share | profiled s |", "|---|---|---|"]
        for stage, sec in s.items():
            if stage != "total (profiled)":
                md.append(f"| {stage} | {sec / total:.1%} | {sec:.1f} |")
        md.append("")
    (RESULTS / "stage_profile.md").write_text("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
