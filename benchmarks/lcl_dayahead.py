"""Benchmark: day-ahead forecasts of real London households (LCL), every model and baseline.

Protocol: the 80 LCL households of ../shared/data/lcl, hourly kWh. Train on origins from
January to September 2013, validate (early stopping) on October, test on November-December
2013: daily origins at 00:00 London time, 24 hourly steps, P10/P50/P90. Every model is scored
on the same rows (the test rows every model forecast); seasonal naive is the reference.

    .venv/bin/python benchmarks/lcl_dayahead.py [--models lightgbm xgboost ...]

Writes benchmarks/results/lcl_dayahead.{md,json}.
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
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DATA = ROOT.parent / "shared" / "data" / "lcl" / "halfhourly_kwh_2013.parquet"
TEST = ("2013-11-01", "2013-12-31")
BASELINES = {
    "seasonal_naive": {"kind": "seasonal_naive"},
    "yesterday": {"kind": "yesterday"},
    "weekday_hour_profile": {"kind": "profile", "weeks": 4},
}
BOOSTED = {"lightgbm": "configs/models/lightgbm.yaml", "xgboost": "configs/models/xgboost.yaml"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=[*BASELINES, *BOOSTED])
    args = ap.parse_args()
    if not DATA.exists():
        sys.exit(f"needs the LCL data at {DATA} (see ../shared/data/README.md)")
    os.chdir(ROOT)  # the model configs name the data config relative to the repository

    import pandas as pd

    from forecasting.config.data import load_data_config
    from forecasting.config.model import TrainConfig, load_train_config
    from forecasting.data.prepare import prepare
    from forecasting.evaluation.evaluate import evaluate_forecasts, evaluate_run
    from training.train import train

    t = time.perf_counter()
    template = load_train_config(BOOSTED["lightgbm"])
    prepared = prepare(load_data_config(template.data))
    prepare_s = time.perf_counter() - t
    print(f"prepared {len(prepared.frame):,} hourly rows in {prepare_s:.1f} s", flush=True)

    forecasts: dict[str, pd.DataFrame] = {}
    timing: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            if name in BASELINES:
                cfg = TrainConfig(
                    **{
                        **template.model_dump(exclude={"model", "name"}),
                        "name": name,
                        "model": BASELINES[name],
                    }
                )
            else:
                cfg = load_train_config(BOOSTED[name])
            run = Path(tmp) / name
            t = time.perf_counter()
            result = train(cfg, run, prepared=prepared)
            fit_s = result.metrics.get("fit_seconds", 0.0)
            features_s = result.metrics.get("features_seconds", 0.0)
            train_s = time.perf_counter() - t
            metrics, fcs = evaluate_run(run, *TEST, prepared=prepared)
            forecasts[name] = fcs["model"]
            timing[name] = {
                "fit_seconds": fit_s,
                "features_seconds": features_s,
                "train_seconds": round(train_s, 1),
                "predict_seconds": metrics["model"]["predict_seconds"],
                "best_iterations": result.metrics.get("best_iterations"),
                "validation": result.metrics.get("validation"),
                "n_missing_forecasts": metrics["model"]["n_missing_forecasts"],
            }
            print(
                f"{name:<22} fit {fit_s:7.1f} s  predict {timing[name]['predict_seconds']:6.1f} s"
                f"  MAE {metrics['model']['mae']:.4f}",
                flush=True,
            )
    scores = evaluate_forecasts(forecasts, template.quantiles)
    common = scores.get("common", scores)
    table = _table(common, timing)
    ref = common["seasonal_naive"]["mae"] if "seasonal_naive" in common else None
    boosted = [m for m in BOOSTED if m in common]
    best = min(boosted, key=lambda m: common[m]["mae"]) if boosted else None
    any_fc = next(iter(forecasts.values()))
    out = {
        "protocol": {
            "data": str(DATA.relative_to(ROOT.parent)),
            "train_origins": "2013-01-01..2013-09-30",
            "validation_origins": "2013-10-01..2013-10-31",
            "test_origins": f"{TEST[0]}..{TEST[1]}",
            "origins": "daily 00:00 Europe/London",
            "horizon": template.horizon,
            "quantiles": template.quantiles,
            "scored_rows": common[next(iter(common))]["n_forecasts"],
            "series": int(any_fc["series_id"].nunique()),
            "test_origin_count": int(any_fc["origin"].nunique()),
        },
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "prepare_seconds": round(prepare_s, 1),
        "models": {m: {**common[m], **timing[m]} for m in forecasts},
        "full_scores": {m: scores[m] for m in forecasts},
    }
    if ref and best:
        ratio = common[best]["mae"] / ref
        cover = common[best]["coverage_p10_p90"]
        out["target"] = {
            "best_boosted": best,
            "mae_ratio_vs_seasonal_naive": ratio,
            "coverage_p10_p90": cover,
            "mae_ratio_met": ratio <= 0.75,
            "coverage_met": 0.75 <= cover <= 0.85,
        }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "lcl_dayahead.json").write_text(json.dumps(out, indent=2, default=str))
    md = _markdown(out, table)
    (RESULTS / "lcl_dayahead.md").write_text(md)
    print(md)


def _table(common: dict[str, Any], timing: dict[str, dict[str, Any]]) -> list[list[str]]:
    ref = common.get("seasonal_naive", {}).get("mae")
    rows = []
    for name, s in common.items():
        t = timing[name]
        rows.append(
            [
                name,
                f"{s['mae']:.4f}",
                f"{s['mae'] / ref:.3f}" if ref else "",
                f"{s['rmse']:.4f}",
                f"{s['qrisk']['p50']:.4f}",
                f"{s['qrisk']['p90']:.4f}",
                f"{s['coverage_p10_p90']:.3f}",
                f"{s['peak_error']:.3f}",
                f"{t['fit_seconds']:.1f}",
                f"{t['predict_seconds']:.1f}",
            ]
        )
    return rows


def _markdown(out: dict[str, Any], table: list[list[str]]) -> str:
    p = out["protocol"]
    head = [
        "model",
        "MAE kWh",
        "MAE / seasonal naive",
        "RMSE",
        "q-risk P50",
        "q-risk P90",
        "coverage P10-P90",
        "peak-hour error kWh",
        "fit s",
        "predict s",
    ]
    lines = [
        "# LCL day-ahead benchmark",
        "",
        f"`{p['data']}`: {p['series']} households, train origins {p['train_origins']}, "
        f"validation {p['validation_origins']}, test {p['test_origins']} ({p['test_origin_count']} "
        f"origins, {p['origins']}), {p['horizon']} hourly steps. All models scored on the same "
        f"{p['scored_rows']:,} test rows. Machine: {out['machine']['cpus']} CPUs.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
        *("| " + " | ".join(r) + " |" for r in table),
        "",
        "fit s: model fitting after features are built (baselines learn nothing globally); "
        "predict s: the whole test backtest (features included). Peak-hour error: absolute P50 "
        "error at each household's actual daily peak.",
    ]
    if "target" in out:
        t = out["target"]
        lines += [
            "",
            f"Target (best boosted P50 MAE <= 0.75 x seasonal naive, coverage 75-85%): "
            f"{t['best_boosted']} at {t['mae_ratio_vs_seasonal_naive']:.3f} "
            f"({'met' if t['mae_ratio_met'] else 'MISSED'}), coverage "
            f"{t['coverage_p10_p90']:.3f} ({'met' if t['coverage_met'] else 'MISSED'}).",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
