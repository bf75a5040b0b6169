"""What `forecasting serve` reads from its config file (`configs/service/*.yaml`); every key
optional but `bundles` and `keys`, and each command-line option overrides its key.

Relative paths are read from the config file's folder, so a config and its folders move
together. Nothing here is a secret: keys are in the keys file (hashed), the pseudonymisation
secret in the environment or a file only the server's user can read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field

from forecasting.config.base import StrictModel, load_yaml_model

PSEUDONYM_ENV = "FORECASTING_PSEUDONYM_SECRET"


class Limits(StrictModel):
    """What one request may ask; beyond it the answer is 413 (size) or 429 (rate)."""

    body_bytes: int = Field(default=2_000_000, ge=1_000, le=1_000_000_000)
    series_per_request: int = Field(default=1_000, ge=1, le=1_000_000)
    # token bucket per key: `rate` requests a second on average, bursts of `burst`;
    # a key's own `rate`/`burst` in the keys file wins
    rate: float = Field(default=50.0, gt=0, le=1_000_000)
    burst: int = Field(default=100, ge=1, le=1_000_000)
    timeout_s: float = Field(default=30.0, gt=0, le=3_600)  # one inference request
    jobs_per_key: int = Field(default=4, ge=1, le=1_000)  # queued or running at once


class Audit(StrictModel):
    rotate_bytes: int = Field(default=20_000_000, ge=10_000)
    keep: int = Field(default=10, ge=1, le=1_000)  # rotated files kept beside the live one


class CustomerStore(StrictModel):
    """Customers the service knows by id (`GET /v1/infer/hourly_profile?customer_id=..`):
    monthly totals (series_id, month, kwh), their static attributes and the hourly weather."""

    monthly: Path
    static: Path
    weather: Path | None = None
    readings: Path | None = None  # recent interval readings (the dashboard's forecast chart)


class ServiceConfig(StrictModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65_535)
    workers: int = Field(default=1, ge=1, le=64)  # uvicorn worker processes
    bundles: Path  # models folder: NAME/VERSION/ (a bundle each)
    # registered bundles (models:/NAME/VERSION or models:/NAME@ALIAS) downloaded into the models
    # folder as NAME/VERSION when the server starts, from `tracking_uri` (else MLFLOW_TRACKING_URI)
    registered: list[Annotated[str, Field(pattern=r"^models:/[^/@]+(/\d+|@[\w-]+)$")]] = Field(
        default_factory=list
    )
    tracking_uri: str | None = None
    keys: Path  # the keys file `forecasting keys add` writes (hashed)
    state: Path = Path("service_state")  # jobs, audit log, the session secret
    tariffs: Path | None = None  # tariffs callable by name in `bill`, `savings`, `schedule`
    optimise_configs: Path | None = None  # configs that `optimise-tariff` jobs may name
    targeting_configs: Path | None = None  # configs that `target-signals` jobs may name
    schedule_configs: Path | None = None  # appliance sets `schedule` may name
    customers: CustomerStore | None = None
    pseudonym_secret_file: Path | None = None  # else the FORECASTING_PSEUDONYM_SECRET variable
    limits: Limits = Limits()
    audit: Audit = Audit()
    cors_origins: list[Annotated[str, Field(pattern=r"^https?://[^/\s]+$")]] = Field(
        default_factory=list
    )  # closed unless listed
    reload_seconds: float = Field(default=2.0, ge=0.1, le=3_600)  # models folder polled
    job_workers: int = Field(default=1, ge=1, le=64)
    session_hours: float = Field(default=8.0, gt=0, le=24 * 30)  # dashboard login
    # onnxruntime threads per session: 1, since requests run side by side (a server answering
    # one large batch at a time may give more)
    threads: int = Field(default=1, ge=1, le=256)
    # requests computed at once per worker process (default: the CPUs it may use); more wait
    # their turn instead of thrashing the interpreter lock
    concurrency: int | None = Field(default=None, ge=1, le=1024)

    def resolved(self, base: Path) -> ServiceConfig:
        """Relative paths taken from `base` (the config file's folder)."""
        out = self.model_copy()
        for name in ("bundles", "keys", "state", "tariffs", "optimise_configs",
                     "targeting_configs", "schedule_configs", "pseudonym_secret_file"):  # fmt: skip
            p = getattr(out, name)
            if p is not None and not p.is_absolute():
                setattr(out, name, base / p)
        if out.customers is not None:
            c = out.customers.model_copy()
            for name in ("monthly", "static", "weather", "readings"):
                p = getattr(c, name)
                if p is not None and not p.is_absolute():
                    setattr(c, name, base / p)
            out.customers = c
        return out


def load_service_config(path: str | Path) -> ServiceConfig:
    path = Path(path)
    return load_yaml_model(ServiceConfig, path).resolved(path.resolve().parent)
