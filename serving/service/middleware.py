"""`Guard`, the ASGI layer every request goes through first: a request id, the body read up
to the limit (413 beyond it), the request timed and counted for `/metrics`, and an audit line
for every inference and optimisation call, fsynced before the response leaves."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from serving.service.state import Service

REQUEST_ID = "x-request-id"
AUDITED_PREFIXES = ("/v1/forecast", "/v1/price-forecast", "/v1/hourly-profile", "/v1/infer/",
                    "/v1/bill", "/v1/savings", "/v1/optimal-times", "/v1/schedule",
                    "/v1/anomalies", "/v1/optimise-tariff", "/v1/target-signals")  # fmt: skip


class Guard:
    """Request id, body limit, metrics and the audit line (a pure ASGI middleware: the body
    is read here once, up to the limit, and handed on)."""

    def __init__(self, app: Any, service: Service) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any],
                       send: Callable[..., Any]) -> None:  # fmt: skip
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        svc = self.service
        rid = uuid.uuid4().hex[:16]
        scope["request_id"] = rid
        scope["audit"] = {}
        t0 = time.perf_counter()
        status = {"code": 500}

        recorded = False

        async def send_with_id(message: dict[str, Any]) -> None:
            nonlocal recorded
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                took = time.perf_counter() - t0
                headers = message.setdefault("headers", [])
                headers.append((REQUEST_ID.encode(), rid.encode()))
                work = scope.get("compute_seconds")
                timing = f"app;dur={took * 1000:.2f}" + (
                    f", compute;dur={work * 1000:.2f}" if work else ""
                )
                headers.append((b"server-timing", timing.encode()))
                recorded = True  # the audit line is on disk before the response leaves
                await self._record(scope, rid, status["code"], took)
            await send(message)

        limit = svc.cfg.limits.body_bytes
        declared = dict(scope.get("headers", [])).get(b"content-length")
        body, too_big = b"", declared is not None and declared.isdigit() and int(declared) > limit
        while not too_big:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            too_big = len(body) > limit
            if not message.get("more_body"):
                break
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        try:
            if too_big:
                resp = JSONResponse({"error": f"the request body is over the limit of "
                                     f"{limit:,} bytes", "request_id": rid}, 413)  # fmt: skip
                await resp(scope, receive, send_with_id)  # type: ignore[arg-type]
            else:
                await self.app(scope, replay, send_with_id)
        finally:
            if not recorded:  # failed before answering: the 500 is sent outside this layer
                await self._record(scope, rid, 500, time.perf_counter() - t0)

    async def _record(self, scope: dict[str, Any], rid: str, code: int, seconds: float) -> None:
        svc = self.service
        route = scope.get("route")
        endpoint = getattr(route, "path", None) or "unmatched"
        svc.metrics.observe(scope["method"], endpoint, code, seconds)
        if scope["path"].startswith(AUDITED_PREFIXES):
            a = scope["audit"]
            entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                     "request_id": rid, "key_id": a.get("key_id"), "endpoint": endpoint,
                     "method": scope["method"], "status": code,
                     "latency_ms": round(seconds * 1000, 2), "bundle": a.get("bundle"),
                     "customers": a.get("customers", []), "job": a.get("job")}  # fmt: skip
            await run_in_threadpool(svc.audit.write, entry)
