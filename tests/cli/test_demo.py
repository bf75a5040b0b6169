"""`forecasting demo` end to end on a smaller generated set (the same steps as `make demo`)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

SMALL = """
synthetic: {households: 8, days: 75, start: "2023-10-15", seed: 7}
backtest: {horizon: 24, lookback: 336, step: 24, origin_hour: 0, last_days: 7}
model: {n_estimators: 40, learning_rate: 0.1, num_leaves: 15, validation_days: 7}
deep: {max_epochs: 2, hidden_size: 8}
"""


@pytest.mark.slow
def test_demo_runs_every_step_and_writes_its_outputs(cli, tmp_path: Path):
    cfg = tmp_path / "demo.yaml"
    cfg.write_text(SMALL)
    out = tmp_path / "demo"
    r = cli("demo", "--config", cfg, "--output", out)
    assert r.code == 0, r.err
    for step in range(1, 17):
        assert f"[{step}]" in r.out
    for name in ("forecast.png", "attention.png", "anomalies.parquet", "explain/report.html"):
        assert (out / name).exists(), name
    for run in ("run_lightgbm", "run_cnn_lstm", "run_autoencoder", "run_ensemble", "tuning/best"):
        assert (out / run / "run.json").exists()
    metrics = json.loads((out / "backtest_metrics.json").read_text())
    assert {"seasonal_naive", "lightgbm", "lightgbm_tuned", "cnn_lstm", "ensemble"} <= set(metrics)
    study = json.loads((out / "tuning" / "summary.json").read_text())
    assert sum(study["states"].values()) >= 6 and study["best_value"] > 0
    flags = pd.read_parquet(out / "anomalies.parquet")
    assert flags["series_id"].nunique() == 8 and flags["flag"].any()
    for kind in ("lightgbm", "cnn_lstm", "ensemble"):
        manifest = json.loads((out / f"bundle_{kind}" / "manifest.json").read_text())
        assert manifest["parity"]["real"]["outside_tolerance"] == 0
        assert "reference.json" in manifest["files"], kind  # what `monitor` compares with
    with_evs = json.loads((out / "monitor_with_evs" / "monitor.json").read_text())
    assert with_evs["level"] != "none" and (out / "monitor" / "report.html").exists()
    served = pd.read_parquet(out / "predictions" / "forecasts")
    assert served["series_id"].nunique() == 8 and (served["p10"] <= served["p90"]).all()
    assert served["origin"].nunique() == 1 and len(served) == 8 * 24
    bills = pd.read_parquet(out / "bills" / "bills.parquet")
    changes = pd.read_csv(out / "bills" / "changes.csv")
    assert bills["series_id"].nunique() == 8 and len(changes) == 8
    assert (bills["feed_in"] <= 0).all() and (bills["feed_in"] < 0).any()  # PV households
    profiles = pd.read_parquet(out / "impute" / "out" / "profiles.parquet")
    monthly = pd.read_csv(out / "impute" / "monthly.csv").set_index(["series_id", "month"])["kwh"]
    sums = profiles.groupby(["series_id", "period"])["p50"].sum()
    assert len(sums) == len(monthly) and (sums - monthly.loc[sums.index]).abs().max() < 1e-9
    plan = pd.read_csv(out / "schedule" / "plan.csv")
    assert len(plan) == 6 and (out / "schedule" / "report.html").exists()
    advice = pd.read_csv(out / "advice" / "recommendations.csv")
    assert len(advice) == 3 and set(advice["recommended"]) <= {
        "uk_flat_example",
        "uk_tou_demand_example",
    }
    targeting = json.loads((out / "targeting" / "summary.json").read_text())
    assert targeting["events"]["test"] > 0 and set(targeting["calibration"]) == {"High", "Low"}
    from serving.service.guard import read_audit

    served_lines = [
        ln for ln in r.out.splitlines() if ln.strip().startswith(("GET /v1", "POST /v1"))
    ]
    assert len(served_lines) >= 9 and all(" -> 200" in ln or " -> 202" in ln or " -> done" in ln
                                          for ln in served_lines), served_lines  # fmt: skip
    audit = read_audit(out / "service" / "state" / "audit" / "audit.jsonl")
    assert len(audit) >= 7 and all(a["key_id"] == "demo" for a in audit)
    assert "demo" in (out / "service" / "keys.yaml").read_text()
