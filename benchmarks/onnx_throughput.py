"""Benchmark: forecasts per second, native model (torch eager / booster predict) vs onnxruntime.

Every model kind is built at the size of its shipped CPU config (`configs/models/*.yaml`) and
fitted briefly on generated households (speed does not depend on how well it learned), then
exported. For batch sizes 1, 64 and 1024 the same real windows go through
- native: torch eager (`inference_mode`, all cores) or the booster's own predict;
- onnxruntime: the serving session (`serving.bundle`: full graph optimisation, all cores) fed
  as `forecasting predict` feeds it, in chunks of the kind's tuned session batch.
A forecast is one series at one origin (24 hours x 3 quantiles). Each figure is the best of
3 timed repeats of at least 0.5 s. `max_abs_diff` compares the two outputs (scaled units).
With --quantize it also times int8 dynamic quantisation of the deep graphs and reports its
accuracy cost: the mean absolute change of the forecasts relative to their mean level.

    .venv/bin/python benchmarks/onnx_throughput.py [--models ...] [--batches 1 64 1024] [--quantize]

Writes benchmarks/results/onnx_throughput.{md,json}; the JSON is shaped
{"<model>": {"<batch>": {"native_per_s", "onnx_per_s", "ratio", "max_abs_diff"}}}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
ONE_SESSION_CHUNK = 64  # the chunk that served best before chunks ran side by side
KINDS = ["lightgbm", "xgboost", "cnn_lstm", "tft", "lstm_autoencoder"]
CONFIGS = {
    "lightgbm": "lightgbm.yaml",
    "xgboost": "xgboost.yaml",
    "cnn_lstm": "cnn_lstm.yaml",
    "tft": "tft.yaml",
    "lstm_autoencoder": "lstm_autoencoder.yaml",
}


def _data() -> tuple[Any, Any]:
    from forecasting.config.data import load_data_config
    from forecasting.data.prepare import prepare
    from forecasting.data.synthetic import SyntheticSpec, write_synthetic

    tmp = Path(tempfile.mkdtemp(prefix="onnx_bench_"))
    write_synthetic(SyntheticSpec(households=12, days=70, seed=3), tmp / "synth")
    p = prepare(load_data_config(tmp / "synth" / "data.yaml"))
    return p.frame, p.static


def _model(kind: str, frame: Any, static: Any) -> Any:
    """A model of `kind` at its shipped config's size, fitted briefly on `frame`."""
    import pandas as pd
    import yaml

    from forecasting.config.features import FeatureConfig
    from forecasting.config.model import TrainConfig
    from forecasting.config.trainer import TrainerConfig
    from forecasting.models.registry import make_model

    root = Path(__file__).resolve().parents[1]
    raw = yaml.safe_load((root / "configs" / "models" / CONFIGS[kind]).read_text())
    raw["data"] = "unused.yaml"
    if kind in ("cnn_lstm", "tft", "lstm_autoencoder"):
        raw["trainer"] = {"accelerator": "cpu", "max_epochs": 1, "progress_bar": "none",
                          "logger": "none", "checkpoints": False}  # fmt: skip
    if kind in ("lightgbm", "xgboost"):
        raw["model"]["n_estimators"] = 500  # a fixed size: early stopping would vary it
        raw["model"]["early_stopping_rounds"] = None
    cfg = TrainConfig(**raw)
    features = FeatureConfig(
        **{**cfg.features.model_dump(), "timezone": "Europe/London",
           "known_future": ["temperature", "cloud_cover"], "static": ["archetype", "heating"]}
    )  # fmt: skip
    model = make_model(cfg, features, "1h", True, "Europe/London")
    start = frame["timestamp"].min() + pd.Timedelta(days=8)
    days = pd.date_range(
        start.ceil("D"), frame["timestamp"].max() - pd.Timedelta(days=2), freq="1D"
    )
    train, valid = days[:-10], days[-10:]
    if kind == "lstm_autoencoder":
        six = pd.date_range(days[0], days[-1], freq="6h")
        return model.fit(frame, None, six[:-40], six[-40:], TrainerConfig(**raw["trainer"]))
    if kind in ("cnn_lstm", "tft"):
        return model.fit(frame, static, train, valid, TrainerConfig(**raw["trainer"]))
    return model.fit(frame, static, train, valid)


def _best_rate(fn: Callable[[], object], batch: int, repeats: int = 3, min_s: float = 0.5) -> float:
    fn()  # warm-up
    best = 0.0
    for _ in range(repeats):
        n, t0 = 0, time.perf_counter()
        while True:
            fn()
            n += 1
            dt = time.perf_counter() - t0
            if dt >= min_s and n >= 2:
                break
        best = max(best, n * batch / dt)
    return best


def _tile(inputs: dict[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
    m = len(next(iter(inputs.values())))
    idx = np.arange(n) % m
    return {k: np.ascontiguousarray(v[idx]) for k, v in inputs.items()}


def bench_kind(kind: str, frame: Any, static: Any, batches: list[int], quantize: bool) -> dict:
    import torch

    from forecasting.export.bundle import real_inputs
    from forecasting.export.onnx_export import export_model, native_outputs
    from serving.bundle import Runner, default_session_batch

    torch.set_num_threads(os.cpu_count() or 1)
    t = time.perf_counter()
    model = _model(kind, frame, static)
    fit_s = time.perf_counter() - t
    exported = export_model(model)
    runners = {"onnx": Runner(exported.onnx)}
    if kind not in ("lightgbm", "xgboost"):  # before the side-by-side chunks: one session
        runners["one_session"] = Runner(exported.onnx)
        runners["one_session"].workers = 1  # chunks in turn on the all-cores session
    if quantize and kind not in ("lightgbm", "xgboost"):
        runners["int8"] = Runner(_quantized(exported.onnx))
    real = real_inputs(model, frame, static, days=30)
    per_forecast = model.horizon if kind in ("lightgbm", "xgboost") else 1  # GBM: a row per hour
    chunk = default_session_batch(kind)
    out: dict[str, Any] = {}
    for b in batches:
        feed = _tile(real, b * per_forecast)
        with torch.inference_mode():
            native = _best_rate(lambda feed=feed: native_outputs(model, feed), b)
            ref = native_outputs(model, feed)[0]
        row: dict[str, Any] = {"native_per_s": round(native, 1)}
        for name, runner in runners.items():

            def run(runner=runner, feed=feed, name=name) -> list[np.ndarray]:
                return runner.run(feed, ONE_SESSION_CHUNK if name == "one_session" else chunk)

            rate = _best_rate(run, b)
            got = run()[0]
            diff = np.abs(got.astype("float64") - ref.astype("float64"))
            if name == "one_session":
                row["one_session_per_s"] = round(rate, 1)
            elif name == "onnx":
                row.update(onnx_per_s=round(rate, 1), ratio=round(rate / native, 2),
                           max_abs_diff=float(diff.max()))  # fmt: skip
            else:
                level = float(np.abs(ref).mean())
                row.update({f"{name}_per_s": round(rate, 1), f"{name}_ratio": round(rate / native, 2),
                            f"{name}_mean_abs_change_rel": round(float(diff.mean()) / level, 4)})  # fmt: skip
        out[str(b)] = row
        print(
            f"  {kind:<17} batch {b:>5}: " + ", ".join(f"{k} {v}" for k, v in row.items()),
            flush=True,
        )
    out["_meta"] = {"fit_seconds": round(fit_s, 1), "onnx_bytes": len(exported.onnx),
                    "session_batch": chunk}  # fmt: skip
    return out


def _quantized(onnx_bytes: bytes) -> bytes:
    from serving.bundle import quantized

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "m.onnx"
        src.write_bytes(onnx_bytes)
        return quantized(src)


def _markdown(results: dict, batches: list[int], took: float, quantize: bool) -> str:
    lines = [
        "# ONNX throughput: native vs onnxruntime",
        "",
        f"Forecasts per second (one forecast = one series x origin, 24 h x 3 quantiles), "
        f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
        f"command `.venv/bin/python benchmarks/onnx_throughput.py{' --quantize' if quantize else ''}`, "
        f"{took:.0f} s in all. Native = torch eager (deep) or the booster's predict (trees); "
        "onnxruntime = the serving session, chunked as `forecasting predict` runs it.",
        "",
        "`one session` = chunks of 64 in turn on one all-cores session (the serving path before "
        "chunks ran side by side on single-threaded sessions).",
        "",
        "| model | batch | native /s | onnxruntime /s | ratio | max abs diff | one session /s |"
        + (" int8 /s | int8 ratio | int8 mean change |" if quantize else ""),
        "|---|---|---|---|---|---|---|" + ("---|---|---|" if quantize else ""),
    ]
    for kind, rows in results.items():
        for b in batches:
            r = rows[str(b)]
            one = f"{r['one_session_per_s']:,.0f}" if "one_session_per_s" in r else ""
            line = (f"| {kind} | {b} | {r['native_per_s']:,.0f} | {r['onnx_per_s']:,.0f} | "
                    f"{r['ratio']:.2f} | {r['max_abs_diff']:.1e} | {one} |")  # fmt: skip
            if quantize:
                line += (f" {r['int8_per_s']:,.0f} | {r['int8_ratio']:.2f} | "
                         f"{r['int8_mean_abs_change_rel']:.2%} |" if "int8_per_s" in r else " | | |")  # fmt: skip
            lines.append(line)
    lines += ["", "Best batch per model (onnxruntime's fastest batch, and best vs best):", ""]
    lines += ["| model | onnxruntime best batch | ratio there | best onnx /s / best native /s |",
              "|---|---|---|---|"]  # fmt: skip
    for kind, rows in results.items():
        rs = {b: rows[str(b)] for b in batches}
        bb = max(rs, key=lambda b: rs[b]["onnx_per_s"])
        bo = max(r["onnx_per_s"] for r in rs.values()) / max(r["native_per_s"] for r in rs.values())
        lines.append(f"| {kind} | {bb} | {rs[bb]['ratio']:.2f} | {bo:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--models", nargs="+", default=KINDS, choices=KINDS)
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 64, 1024])
    ap.add_argument("--quantize", action="store_true", help="also time int8 dynamic quantisation")
    ap.add_argument("--output", type=Path, default=RESULTS)
    args = ap.parse_args()
    t0 = time.perf_counter()
    frame, static = _data()
    results = {k: bench_kind(k, frame, static, args.batches, args.quantize) for k in args.models}
    took = time.perf_counter() - t0
    args.output.mkdir(parents=True, exist_ok=True)
    clean = {k: {b: r for b, r in v.items() if b != "_meta"} for k, v in results.items()}
    (args.output / "onnx_throughput.json").write_text(json.dumps(clean, indent=2) + "\n")
    meta = {k: v["_meta"] for k, v in results.items()}
    (args.output / "onnx_throughput_meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    md = _markdown(clean, args.batches, took, args.quantize)
    (args.output / "onnx_throughput.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
