"""Demo step 16: the HTTP service. The demo's bundles go into a models folder, a demo key is
made (shown once, stored hashed), the server starts on a free port of 127.0.0.1, each endpoint
family is called once, the first line of each answer is printed, and the server is stopped."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import typer

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _folder(output: Path) -> tuple[Path, str]:
    """The service folder (models, keys, config) from the demo's outputs; the demo key."""
    import yaml

    from forecasting.export import export_run
    from serving.service.keys import add_key

    output = output.resolve()  # the config's paths are read from its own folder
    svc = output / "service"
    shutil.rmtree(svc, ignore_errors=True)
    models = svc / "models"
    for name, bundle in (
        ("household_lgb", "bundle_lightgbm"),
        ("household_ensemble", "bundle_ensemble"),
    ):
        shutil.copytree(output / bundle, models / name / "1")
    export_run(output / "run_autoencoder", models / "meter_faults" / "1")
    (svc / "optimise").mkdir(parents=True)
    opt = yaml.safe_load((output / "optimise" / "optimise.yaml").read_text())
    (svc / "optimise" / "demo.yaml").write_text(yaml.safe_dump(opt))
    key = add_key(svc / "keys.yaml", "demo", ["read", "plan"])
    cfg = {"bundles": "models", "keys": "keys.yaml", "state": "state",
           "tariffs": str(CONFIGS / "tariffs"), "schedule_configs": str(CONFIGS / "schedule"),
           "optimise_configs": "optimise",
           "customers": {"monthly": str(output / "impute" / "monthly.csv"),
                         "static": str(output / "prepared" / "static.parquet"),
                         "weather": str(output / "impute" / "weather.csv"),
                         "readings": str(output / "prepared" / "frame.parquet")}}  # fmt: skip
    (svc / "service.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return svc, key


def service_step(output: Path) -> None:
    import httpx
    import pandas as pd

    from forecasting.data.prepare import read_frame
    from serving.bundle import read_manifest
    from serving.service.customers import series_body
    from serving.service.guard import read_audit

    t = time.perf_counter()
    output = output.resolve()
    svc, key = _folder(output)
    port = _free_port()
    env = {**os.environ, "FORECASTING_PSEUDONYM_SECRET": secrets.token_urlsafe(24)}
    log = (svc / "server.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "forecasting", "serve", "--config",
                             str(svc / "service.yaml"), "--port", str(port)], stdout=log,
                            stderr=subprocess.STDOUT, env=env)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    typer.echo(f"    forecasting keys add --keys {svc / 'keys.yaml'} --id demo --roles read,plan")
    typer.echo(f"    forecasting serve --config {svc / 'service.yaml'} --port {port}   (demo key "
               f"{key[:12]}..., stored hashed)")  # fmt: skip
    try:
        _wait_ready(url, proc, svc)
        frame = read_frame(output / "prepared" / "frame.parquet")
        static = pd.read_parquet(output / "prepared" / "static.parquet").set_index("series_id")
        monthly = pd.read_csv(output / "impute" / "monthly.csv")
        sid = sorted(frame["series_id"].unique())[0]
        manifest = read_manifest(svc / "models" / "household_lgb" / "1")
        one = series_body(frame, str(sid), manifest, static.loc[sid].to_dict())
        ae = series_body(frame, str(sid), read_manifest(svc / "models" / "meter_faults" / "1"))
        last = frame[frame["series_id"] == sid].sort_values("timestamp").tail(24 * 30)
        day = (frame["timestamp"].max() - pd.Timedelta(days=2)).tz_convert("Europe/London")
        with httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120
        ) as c:
            calls: list[tuple[str, str, Any]] = [
                ("GET", "/v1/models", None),
                ("POST", "/v1/forecast", {"bundle": "household_ensemble", "series": [one]}),
                ("GET", f"/v1/infer/hourly_profile?customer_id={monthly['series_id'].iloc[0]}"
                        f"&period={monthly['month'].iloc[-1]}&bundle=household_lgb", None),
                ("POST", "/v1/bill", {"tariff": "uk_flat_example", "usage": [{
                    "customer_id": str(sid), "start": last["timestamp"].iloc[0].isoformat(),
                    "interval_minutes": 60, "values": [float(v) for v in last["target"].fillna(0)]}]}),
                ("POST", "/v1/optimal-times", {"tariff": "uk_tou_demand_example",
                    "earliest": f"{day:%Y-%m-%d}T16:00:00+00:00", "latest": f"{day + pd.Timedelta(days=1):%Y-%m-%d}T08:00:00+00:00",
                    "duration_minutes": 180, "count": 2, "power_kw": 7.0}),
                ("POST", "/v1/schedule", {"appliances": "home_example", "tariff": "uk_tou_demand_example",
                                          "date": f"{day:%Y-%m-%d}"}),
                ("POST", "/v1/anomalies", {"bundle": "meter_faults", "series": [ae]}),
            ]  # fmt: skip
            for method, path, body in calls:
                r = c.request(method, path, json=body)
                typer.echo(
                    f"    {method} {path.split('?')[0]} -> {r.status_code}: {_first_line(r)}"
                )
            job = c.post("/v1/optimise-tariff", json={"config": "demo", "overrides": {
                "scenarios": {"count": 1}, "frontier": 0}}).json()  # fmt: skip
            typer.echo(f"    POST /v1/optimise-tariff -> 202: job {job['id']} {job['status']}")
            while job["status"] in ("queued", "running"):
                time.sleep(0.5)
                job = c.get(f"/v1/jobs/{job['id']}").json()
            prices = ", ".join(
                f"{k} {v:.2f}" for k, v in (job.get("result") or {}).get("prices", {}).items()
            )
            typer.echo(
                f"    GET /v1/jobs/{job['id']} -> {job['status']}: {prices or job.get('error')}"
            )
            metrics = [
                ln
                for ln in c.get("/metrics").text.splitlines()
                if ln.startswith("forecasting_requests_total")
            ]
            typer.echo(f"    GET /metrics -> {len(metrics)} request counters, e.g. {metrics[0]}")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        log.close()
    audit = read_audit(svc / "state" / "audit" / "audit.jsonl")
    typer.echo(f"    server stopped; its audit log holds {len(audit)} lines (customer ids as "
               f"pseudonyms, e.g. {audit[1]['customers'][0]}); dashboard at {url}/dashboard while "
               f"it runs ({time.perf_counter() - t:.1f} s)")  # fmt: skip


def _wait_ready(url: str, proc: subprocess.Popen[bytes], svc: Path) -> None:
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server stopped: {(svc / 'server.log').read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the server did not get ready in 60 s")


def _first_line(r: Any) -> str:
    try:
        body = r.json()
    except ValueError:
        return r.text[:110]
    head = ""
    if isinstance(body, dict) and isinstance(body.get("bundle"), dict):
        b = body.pop("bundle")
        head = f"[{b['name']} v{b['version']} {b['sha'][:8]}] "
    return head + json.dumps(body, separators=(",", ":"))[:100] + "..."
