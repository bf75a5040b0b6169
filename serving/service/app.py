"""The HTTP service (`forecasting serve`): a FastAPI app over the torch-free serving layer.

`create_app(config)` builds the app; `app_from_env()` is uvicorn's factory (each worker
process reads the config file named in FORECASTING_SERVICE_CONFIG). What every request goes
through, in order:

1. `Guard` (ASGI): a request id; the body read up to the limit (413 beyond it); the request
   timed and counted for `/metrics`; an audit line for every inference and optimisation call,
   written and fsynced before the response leaves.
2. the route's key check (`need(role)`): a key in `Authorization: Bearer`, `X-API-Key` or the
   dashboard's session cookie; 401 without a valid one, 403 for a key without the role, 429
   with Retry-After when the key's bucket is empty.
3. the handler, in a worker thread with a timeout (504).

Errors are one JSON object `{"error": "...", "request_id": "..."}`: a 422 names the field
(`body.series.0.values.3: ...`); an unexpected error is a 500 that says only the request id,
which the server log holds with the trace.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware

from forecasting.errors import ForecastingError
from serving.service import dashboard, routes
from serving.service.config import ServiceConfig, load_service_config
from serving.service.customers import load_customers
from serving.service.jobs import TooMany
from serving.service.middleware import Guard
from serving.service.registry import UnknownBundle
from serving.service.state import Service, error, log, validation_line

CONFIG_ENV = "FORECASTING_SERVICE_CONFIG"


def _log_to_stderr() -> None:
    """The service's own lines (bundles loaded or refused, jobs, errors with their request
    id) beside uvicorn's, once per process."""
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False


def create_app(cfg: ServiceConfig) -> FastAPI:
    _log_to_stderr()
    svc = Service(cfg)
    svc.customers = load_customers(cfg)  # read before the port is taken: errors are one line

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for e in svc.registry.refresh():
            log.info(e)
        svc.jobs.start()
        stop = threading.Event()
        svc.registry.watch(cfg.reload_seconds, stop, log.info)
        yield
        stop.set()
        svc.jobs.stop()
        svc.audit.close()

    app = FastAPI(title="meterforecast service", version="1", lifespan=lifespan,
                  description=__doc__, docs_url="/docs", redoc_url=None)  # fmt: skip
    app.state.service = svc

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error(422, validation_line(exc), request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        text = str(exc.detail)
        if exc.status_code == 400 and "parsing the body" in text:
            text = "body: not JSON that can be read (it must be UTF-8 JSON text)"
        return error(exc.status_code, text, request, dict(exc.headers or {}))

    @app.exception_handler(UnknownBundle)
    async def _unknown(request: Request, exc: UnknownBundle) -> JSONResponse:
        return error(404, str(exc), request)

    @app.exception_handler(TooMany)
    async def _too_many(request: Request, exc: TooMany) -> JSONResponse:
        return error(429, str(exc), request, {"Retry-After": "60"})

    @app.exception_handler(ForecastingError)
    async def _bad_input(request: Request, exc: ForecastingError) -> JSONResponse:
        return error(422, str(exc), request)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        rid = request.scope.get("request_id")
        log.error("request %s %s failed", rid, request.url.path, exc_info=exc)
        return error(500, f"internal error; the server log holds it under request id {rid}",
                     request)  # fmt: skip

    routes.add_routes(app)
    dashboard.add_pages(app)
    if cfg.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=cfg.cors_origins,
                           allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Authorization", "X-API-Key", "Content-Type"])  # fmt: skip
    app.add_middleware(Guard, service=svc)
    return app


def app_from_env() -> FastAPI:
    """uvicorn's factory: the config written by `forecasting serve` for its workers."""
    raw = os.environ.get(CONFIG_ENV)
    if not raw:
        raise RuntimeError(f"{CONFIG_ENV} is not set; start the service with `forecasting serve`")
    if raw.lstrip().startswith("{"):
        return create_app(ServiceConfig.model_validate(json.loads(raw)))
    return create_app(load_service_config(raw))
