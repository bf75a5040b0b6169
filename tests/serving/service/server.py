"""A real `forecasting serve` in a subprocess on 127.0.0.1 for the service tests: a models
folder with the serving kit's bundle, keys of each role, the shipped tariffs and appliance
sets, a customer store from the kit, and job configs on generated trials."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[3]
KIT = ROOT / "tests" / "fixtures" / "serving_kit"
SECRET = "test-pseudonym-secret-0123456789"
ROLES = {"reader": ["read"], "planner": ["read", "plan"], "admin": ["admin"]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def setup_folder(root: Path, rate: float = 1000.0, extra: dict[str, Any] | None = None
                 ) -> tuple[Path, dict[str, str]]:  # fmt: skip
    """A service folder (config, models, keys) and the keys by holder name."""
    from serving.service.keys import add_key

    shutil.copytree(KIT / "bundle", root / "models" / "household" / "1")
    keys = {name: add_key(root / "keys.yaml", name, roles, rate=rate, burst=int(rate))
            for name, roles in ROLES.items()}  # fmt: skip
    keys["slow"] = add_key(root / "keys.yaml", "slow", ["read"], rate=0.2, burst=2)
    (root / "tariffs").mkdir()
    for t in ("uk_flat_example", "uk_tou_demand_example"):
        shutil.copy(ROOT / "configs" / "tariffs" / f"{t}.yaml", root / "tariffs")
    cfg: dict[str, Any] = {
        "bundles": "models", "keys": "keys.yaml", "state": "state", "tariffs": "tariffs",
        "schedule_configs": str(ROOT / "configs" / "schedule"), "reload_seconds": 0.5,
        "customers": {"monthly": str(KIT / "monthly.csv"), "static": str(KIT / "static.csv"),
                      "weather": str(KIT / "weather.csv"), "readings": str(KIT / "input.parquet")},
        "limits": {"body_bytes": 3_000_000, "series_per_request": 50, "timeout_s": 20},
        "audit": {"rotate_bytes": 10_000_000, "keep": 3},
        **(extra or {}),
    }  # fmt: skip
    (root / "service.yaml").write_text(yaml.safe_dump(cfg))
    return root / "service.yaml", keys


@dataclass
class Server:
    root: Path
    config: Path
    keys: dict[str, str]
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    python: str = sys.executable  # another environment's, to serve from its install

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    def start(self, wait: float = 60) -> Server:
        env = {**os.environ, "FORECASTING_PSEUDONYM_SECRET": SECRET}
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [self.python, "-m", "forecasting", "serve", "--config", str(self.config),
                 "--port", str(self.port)], cwd=self.root, env=env, stdout=out,
                stderr=subprocess.STDOUT)  # fmt: skip
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server stopped: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the server did not get ready: {self.log.read_text()[-3000:]}")

    def stop(self, sig: int = signal.SIGTERM, wait: float = 30) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(wait)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()

    def client(self, holder: str | None = "reader", **kw: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.keys[holder]}"} if holder else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kw)


def write_job_configs(root: Path) -> dict[str, str]:
    """A tariff optimisation and a targeting config on small generated trials, in folders
    the service may name (`optimise_configs`, `targeting_configs`), as the config keys."""
    from forecasting.response.trial import TrialSpec, write_trial

    opt, tgt = root / "optimise", root / "targeting"
    opt.mkdir(parents=True)
    tgt.mkdir(parents=True)
    trial = write_trial(TrialSpec(households=30, days=42, seed=7), root / "trial")
    (opt / "small.yaml").write_text(yaml.safe_dump({
        "template": str(ROOT / "configs" / "tariff_templates" / "tou3_example.yaml"),
        "current": str(ROOT / "configs" / "tariffs" / "lcl_flat_2013.yaml"),
        "data": str(trial["data"]), "response": {"up": -0.1, "down": -0.05},
        "vulnerable": {"column": "group", "value": "B"}, "breakdown": ["group"],
        "goals": {"w_peak": 5.0, "revenue_share": 0.95, "delta": 0.25},
        "scenarios": {"count": 2, "seed": 0}, "frontier": 0, "timezone": "Europe/London"}))  # fmt: skip
    ttrial = write_trial(TrialSpec(households=60, days=112, start="2024-01-01", seed=3,
                                   engagement={0.97: 0.3, 0.45: 0.4, 0.0: 0.3}), root / "ttrial")  # fmt: skip
    (tgt / "small.yaml").write_text(yaml.safe_dump({
        "trial": str(ttrial["config"]), "learn_until": "2024-03-01",
        "target": {"High": -0.02, "Low": 0.015}, "random_repeats": 3}))  # fmt: skip
    return {"optimise_configs": str(opt), "targeting_configs": str(tgt)}


def history_body(customers: int = 1, bundle: str = "household") -> dict[str, Any]:
    """A forecast request from the kit's input: each customer's readings and covariates."""
    frame = pd.read_parquet(KIT / "input.parquet")
    static = pd.read_csv(KIT / "static.csv").set_index("series_id")
    series = []
    for sid in sorted(frame["series_id"].unique())[:customers]:
        g = frame[frame["series_id"] == sid].sort_values("timestamp")
        series.append({
            "customer_id": str(sid), "start": g["timestamp"].iloc[0].isoformat(),
            "values": _json(g["target"]),
            "covariates": {c: _json(g[c]) for c in ("temperature", "cloud_cover", "export_kwh")},
            "static": {k: _plain(v) for k, v in static.loc[sid].items()},
        })  # fmt: skip
    return {"bundle": bundle, "series": series}


def _json(s: pd.Series) -> list[float | None]:
    return [None if pd.isna(v) else float(v) for v in s]


def _plain(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v
