"""Benchmark: anomaly detection on real London households (LCL) with injected meter faults.

Protocol: the LSTM autoencoder of configs/models/lstm_autoencoder.yaml is trained on
January-September 2013 and its threshold calibrated on October (1% false alarms). The
baseline is a rolling z-score against the previous week, calibrated on October to the same
false-alarm rate. For each fault kind (spike, flat-line, stuck-at-zero, sudden drop) a
scenario injects only that kind into November-December 2013 (2 events per household, seeded),
and both detectors score that period. Precision: share of flagged intervals inside a fault;
event recall: share of faults with at least one flag; F1 of the two (see
forecasting/anomaly/metrics.py). A last scenario mixes all kinds.

    .venv/bin/python benchmarks/lcl_anomalies.py [--seed 0]

Writes benchmarks/results/lcl_anomalies.{md,json}.
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
CONFIG = "configs/models/lstm_autoencoder.yaml"
CALIBRATION = ("2013-10-01", "2013-10-31 23:00")
TEST = ("2013-11-01", "2013-12-31 23:00")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if not DATA.exists():
        sys.exit(f"needs the LCL data at {DATA} (see ../shared/data/README.md)")
    os.chdir(ROOT)

    import pandas as pd

    from forecasting.anomaly.metrics import detection_scores
    from forecasting.anomaly.zscore import calibrate, flag, zscore_scores
    from forecasting.config.data import load_data_config
    from forecasting.config.model import load_train_config
    from forecasting.data.faults import FAULT_KINDS, inject_faults
    from forecasting.data.prepare import prepare
    from forecasting.models.registry import load_run
    from training.train import train

    cfg = load_train_config(CONFIG)
    prepared = prepare(load_data_config(cfg.data))
    frame = prepared.frame
    far = cfg.model.false_alarm_rate  # type: ignore[union-attr]
    lo, hi = (pd.Timestamp(t, tz="UTC") for t in TEST)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        result = train(cfg, Path(tmp) / "ae", prepared=prepared)
        train_s = time.perf_counter() - t
        model, _ = load_run(Path(tmp) / "ae")
    print(f"trained the autoencoder in {train_s:.0f} s; threshold {model.threshold_:.3f}")

    z_clean = zscore_scores(frame)
    c_lo, c_hi = (pd.Timestamp(t, tz="UTC") for t in CALIBRATION)
    z_threshold = calibrate(
        z_clean.loc[(z_clean["timestamp"] >= c_lo) & (z_clean["timestamp"] <= c_hi), "score"], far
    )
    scenarios: dict[str, Any] = {}
    seconds = {"autoencoder": 0.0, "zscore": 0.0}
    for i, kind in enumerate([*FAULT_KINDS, "mixed"]):
        kinds = FAULT_KINDS if kind == "mixed" else (kind,)
        faulty, events = inject_faults(frame, lo, hi, kinds, 2, seed=args.seed + i)
        t = time.perf_counter()
        ae = model.score(faulty, lo, hi)
        seconds["autoencoder"] += time.perf_counter() - t
        t = time.perf_counter()
        z = zscore_scores(faulty)
        z = flag(z[(z["timestamp"] >= lo) & (z["timestamp"] <= hi)], z_threshold)
        seconds["zscore"] += time.perf_counter() - t
        scenarios[kind] = {
            "autoencoder": detection_scores(ae, faulty, events),
            "zscore": detection_scores(z, faulty, events),
        }
        a, b = scenarios[kind]["autoencoder"], scenarios[kind]["zscore"]
        print(f"{kind:<11} events {a['events']:>4}  AE F1 {a['f1']:.3f}  z-score F1 {b['f1']:.3f}")
    out = {
        "protocol": {
            "data": str(DATA.relative_to(ROOT.parent)),
            "config": CONFIG,
            "calibration": CALIBRATION,
            "test": TEST,
            "false_alarm_rate": far,
            "events_per_household": 2,
            "seed": args.seed,
            "series": int(frame["series_id"].nunique()),
        },
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "autoencoder": {
            "train_seconds": round(train_s, 1),
            "threshold": model.threshold_,
            "epochs": result.metrics.get("epochs"),
            "epoch_seconds_mean": result.metrics.get("epoch_seconds_mean"),
            "score_seconds_total": round(seconds["autoencoder"], 1),
        },
        "zscore": {"threshold": z_threshold, "score_seconds_total": round(seconds["zscore"], 1)},
        "scenarios": scenarios,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "lcl_anomalies.json").write_text(json.dumps(out, indent=2, default=str))
    md = _markdown(out)
    (RESULTS / "lcl_anomalies.md").write_text(md)
    print(md)


def _markdown(out: dict[str, Any]) -> str:
    p = out["protocol"]
    head = ["fault", "events", "AE precision", "AE recall", "AE F1", "AE point recall",
            "z precision", "z recall", "z F1", "z point recall"]  # fmt: skip
    rows = []
    for kind, s in out["scenarios"].items():
        a, z = s["autoencoder"], s["zscore"]
        rows.append(
            [kind, str(a["events"])]
            + [f"{a[k]:.3f}" for k in ("precision", "event_recall", "f1", "point_recall")]
            + [f"{z[k]:.3f}" for k in ("precision", "event_recall", "f1", "point_recall")]
        )
    ae = out["autoencoder"]
    return (
        "\n".join(
            [
                "# LCL anomaly-detection benchmark",
                "",
                f"`{p['data']}`: {p['series']} households. LSTM autoencoder "
                f"(`{p['config']}`) trained on January-September 2013; both detectors calibrated on "
                f"October to a {p['false_alarm_rate']:.0%} false-alarm rate. Faults injected into "
                f"{p['test'][0]}..{p['test'][1]} UTC, {p['events_per_household']} per household, one "
                f"scenario per kind (seed {p['seed']}). Machine: {out['machine']['cpus']} CPUs.",
                "",
                "| " + " | ".join(head) + " |",
                "|" + "---|" * len(head),
                *("| " + " | ".join(r) + " |" for r in rows),
                "",
                "precision: flagged intervals inside a fault / all flagged; recall: faults with at "
                "least one flag / faults; F1 of the two; point recall: faulty intervals flagged.",
                f"Autoencoder: trained in {ae['train_seconds']:.0f} s ({ae['epochs']} epochs), "
                f"scored all scenarios in {ae['score_seconds_total']:.0f} s; z-score scored them in "
                f"{out['zscore']['score_seconds_total']:.0f} s.",
            ]
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
