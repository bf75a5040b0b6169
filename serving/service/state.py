"""What the routes share: the `Service` (made once per worker process), the key check each
route depends on, the error body, and the worker-thread runner with the timeout."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from forecasting.errors import ForecastingError
from serving.service.adapters import named_appliance_sets, named_tariffs
from serving.service.config import ServiceConfig
from serving.service.guard import AuditLog, Pseudonyms, RateLimits
from serving.service.jobs import Jobs
from serving.service.keys import KeyRecord, KeyRing, read_keys
from serving.service.metrics import Metrics
from serving.service.registry import Registry
from serving.service.session import read_session

log = logging.getLogger("forecasting.service")


class Service:
    """Everything the routes share, made once per worker process."""

    def __init__(self, cfg: ServiceConfig) -> None:
        self.cfg = cfg
        self._keys = read_keys(cfg.keys)  # a missing or broken keys file stops the start
        st = cfg.keys.stat()
        self._keys_stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        self.pseudonym = Pseudonyms.from_setting(cfg.pseudonym_secret_file)
        self.registry = Registry(cfg.bundles, cfg.threads)
        self.slots = asyncio.Semaphore(cfg.concurrency or len(os.sched_getaffinity(0)))
        self.limits = RateLimits()
        self.metrics = Metrics()
        cfg.state.mkdir(parents=True, exist_ok=True)
        self.audit = AuditLog(cfg.state / "audit" / "audit.jsonl", cfg.audit.rotate_bytes,
                              cfg.audit.keep)  # fmt: skip
        self.jobs = Jobs(cfg.state / "jobs", {"optimise-tariff": cfg.optimise_configs,
                                               "target-signals": cfg.targeting_configs},
                         cfg.job_workers, log.info)  # fmt: skip
        self.tariffs = named_tariffs(cfg.tariffs)
        self.appliance_sets = named_appliance_sets(cfg.schedule_configs)
        self.session_key = _session_key(cfg.state / "session.key")
        self.customers: Any = None  # the customer store, read at start when configured
        self._stop = asyncio.Event()

    def keys(self) -> KeyRing:
        """The keys file, read again when it changes (a revoked key stops at once). A file
        that vanishes or breaks while serving lets no key in until it is whole again."""
        st = self.cfg.keys.stat() if self.cfg.keys.exists() else None
        stamp = (st.st_mtime_ns, st.st_size) if st else None
        if stamp != self._keys_stamp:
            try:
                self._keys = read_keys(self.cfg.keys)
            except ForecastingError as exc:
                log.error("keys file unusable, every key refused until it is fixed: %s", exc)
                self._keys = KeyRing({})
            self._keys_stamp = stamp
        return self._keys


def _session_key(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, secrets.token_bytes(32))
        os.close(fd)
    return path.read_bytes()


def error(status: int, text: str, request: Request | None = None,
          headers: dict[str, str] | None = None) -> JSONResponse:  # fmt: skip
    rid = request.scope.get("request_id") if request is not None else None
    return JSONResponse({"error": text, "request_id": rid}, status, headers=headers)


def _loc(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "body"


def validation_line(exc: RequestValidationError) -> str:
    """pydantic's errors as one line: each field's location and problem (three at most)."""
    errs = exc.errors()
    parts = []
    for e in errs[:3]:
        msg = str(e.get("msg", "invalid"))
        given = e.get("input")
        shown = ""
        if e.get("type") not in ("missing", "json_invalid") and isinstance(
            given, str | int | float | bool
        ):
            shown = f" (got {given!r:.60})"
        parts.append(f"{_loc(tuple(e.get('loc', ())))}: {msg}{shown}")
    more = f"; and {len(errs) - 3} more" if len(errs) > 3 else ""
    return "; ".join(parts) + more


def authenticate(request: Request, svc: Service) -> KeyRecord | None:
    header = request.headers.get("authorization", "")
    key = (
        header[7:].strip()
        if header.lower().startswith("bearer ")
        else request.headers.get("x-api-key")
    )
    if key:
        return svc.keys().check(key)
    return read_session(request, svc.keys(), svc.session_key)


def need(role: str) -> Callable[[Request], Awaitable[KeyRecord]]:
    """A route's dependency: the caller's key record, when it holds `role` and has tokens."""

    async def check(request: Request) -> KeyRecord:  # async: no thread hop for a dict lookup
        svc: Service = request.app.state.service
        record = authenticate(request, svc)
        if record is None:
            raise HTTPException(401, "a valid API key is required (Authorization: Bearer <key>)",
                                headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
        request.scope["audit"]["key_id"] = record.id
        if not record.allows(role):
            raise HTTPException(403, f"key {record.id!r} lacks the role {role!r} "
                                f"(it has {record.roles})")  # fmt: skip
        lim = svc.cfg.limits
        wait = svc.limits.take(record.id, record.rate or lim.rate, record.burst or lim.burst)
        if wait > 0:
            raise HTTPException(429, f"key {record.id!r} is over its rate limit; retry in "
                                f"{wait:.2f} s", headers={"Retry-After": str(max(1, int(wait + 0.999)))})  # fmt: skip
        return record

    return check


async def in_thread(request: Request, fn: Callable[..., Any], *args: Any,
                    serialise: bool = True) -> Any:  # fmt: skip
    """Run `fn` in a worker thread, at most `concurrency` at once, with the service's timeout
    (504 when it is over, waiting included). A pydantic answer is serialised here, once, by
    pydantic itself (FastAPI would validate it again against the response model)."""
    svc: Service = request.app.state.service
    timeout = svc.cfg.limits.timeout_s

    def timed() -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*args)
        finally:
            request.scope["compute_seconds"] = time.perf_counter() - t0  # Server-Timing

    async def run() -> Any:
        async with svc.slots:  # a few at a time: the rest wait here, not in the GIL
            return await run_in_threadpool(timed)

    try:
        out = await asyncio.wait_for(run(), timeout)
    except TimeoutError:
        raise HTTPException(504, f"the request took longer than the {timeout:g} s limit") from None
    if serialise and isinstance(out, BaseModel):
        return Response(out.model_dump_json(), media_type="application/json")
    return out
