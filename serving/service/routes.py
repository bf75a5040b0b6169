"""The API's endpoints (`/v1/...`), health and metrics. Each handler checks the key's role,
limits the batch, runs the work in a worker thread with the timeout, and notes for the audit
line the bundle it used and the customers it touched (pseudonymised)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from serving.kinds import bundle_kind
from serving.service import adapters, infer
from serving.service.keys import KeyRecord
from serving.service.schemas import (
    AnomalyRequest,
    AnomalyResponse,
    BillRequest,
    BillResponse,
    ErrorBody,
    ForecastRequest,
    ForecastResponse,
    Job,
    JobRequest,
    OptimalTimesRequest,
    OptimalTimesResponse,
    ProfileRequest,
    ProfileResponse,
    SavingsRequest,
    SavingsResponse,
    ScheduleRequest,
    ScheduleResponse,
)
from serving.service.state import Service, error, in_thread, need

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": why}
    for code, why in [(400, "the body is not JSON"), (401, "no valid key"), (403, "the key lacks the role"),
                      (404, "no such bundle or job"), (413, "body or batch over the limit"),
                      (422, "the request names the field that is wrong"),
                      (429, "over the key's rate limit (Retry-After)"),
                      (500, "unexpected: the request id is in the server log"),
                      (504, "over the time limit")]
}  # fmt: skip
Reader = Annotated[KeyRecord, Depends(need("read"))]
Planner = Annotated[KeyRecord, Depends(need("plan"))]
Admin = Annotated[KeyRecord, Depends(need("admin"))]


def service(request: Request) -> Service:
    return request.app.state.service


def note(request: Request, model: Any = None, customers: list[str] | None = None,
         job: str | None = None) -> None:  # fmt: skip
    """What the audit line of this request says beyond the key and the status."""
    a = request.scope["audit"]
    if model is not None:
        a["bundle"] = {"name": model.name, "version": model.version, "sha": model.sha}
    if customers:
        a["customers"] = [service(request).pseudonym(c) for c in customers]
    if job is not None:
        a["job"] = job


def batch_limit(request: Request, n: int, field: str) -> JSONResponse | None:
    limit = service(request).cfg.limits.series_per_request
    if n > limit:
        return error(413, f"{field}: {n:,} series; the limit is {limit:,} per request", request)
    return None


def add_routes(app: FastAPI) -> None:
    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """The process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], responses={503: {"model": ErrorBody}})
    def readyz(request: Request) -> Any:
        """Ready when at least one bundle is served and the keys file reads."""
        svc = service(request)
        n = len(svc.registry.models)
        if not n:
            return error(503, f"no bundle served yet from {svc.cfg.bundles.name}/ "
                         f"({len(svc.registry.refused)} refused)", request)  # fmt: skip
        return {"status": "ready", "bundles": n, "refused": len(svc.registry.refused)}

    @app.get("/metrics", tags=["health"], response_class=PlainTextResponse, responses=ERRORS)
    def metrics(request: Request, key: Reader) -> PlainTextResponse:
        """Prometheus text: requests, latencies, errors, model load times, jobs."""
        svc = service(request)
        models = [(m.name, m.version, m.load_seconds) for m in svc.registry.models.values()]
        text = svc.metrics.render(models, svc.registry.loads, svc.jobs.counts)
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4")

    @app.get("/v1/models", tags=["models"], responses=ERRORS)
    def models(request: Request, key: Reader) -> dict[str, Any]:
        """Served bundles by name and version (refused ones, with why, for admin keys)."""
        reg = service(request).registry
        out: dict[str, Any] = {"models": [m.describe() for m in sorted(
            reg.models.values(), key=lambda m: (m.name, m.version))]}  # fmt: skip
        if key.allows("admin"):
            out["refused"] = [{"name": n, "version": v, "reason": r}
                              for (n, v), r in sorted(reg.refused.items())]  # fmt: skip
        return out

    @app.get("/v1/models/{name}/{version}", tags=["models"], responses=ERRORS)
    def manifest(request: Request, name: str, version: str, key: Reader) -> dict[str, Any]:
        """One bundle's manifest (metrics, parity, features, checksums)."""
        return service(request).registry.get(name, version).manifest

    @app.post("/v1/models/reload", tags=["models"], responses=ERRORS)
    async def reload(request: Request, key: Admin) -> dict[str, Any]:
        """Look at the models folder now instead of at the next poll."""
        return {"events": await in_thread(request, service(request).registry.refresh)}

    async def _forecast(request: Request, body: ForecastRequest, price: bool) -> Any:
        if (tooMany := batch_limit(request, len(body.series), "series")) is not None:
            return tooMany
        model = service(request).registry.get(body.bundle, body.version)
        note(request, model, [s.customer_id for s in body.series])
        nonneg = bool(model.bundle.manifest["nonnegative"])
        if price and nonneg:
            return error(422, f"bundle: {body.bundle!r} forecasts energy (kept >= 0); name a "
                         "price bundle", request)  # fmt: skip
        if not price and not nonneg:
            return error(422, f"bundle: {body.bundle!r} forecasts a price; use "
                         "/v1/price-forecast", request)  # fmt: skip
        return await in_thread(request, infer.forecast, model, body)

    @app.post("/v1/forecast", tags=["inference"], responses=ERRORS, response_model=ForecastResponse)
    async def forecast(request: Request, body: ForecastRequest, key: Reader) -> Any:
        """Quantile forecasts of one or many series from a named bundle (single or ensemble),
        from each series' recent history (and known-future covariates, static attributes).
        A series that cannot be forecast is listed in `errors` with why; the rest are not
        held back."""
        return await _forecast(request, body, price=False)

    @app.post("/v1/price-forecast", tags=["inference"], responses=ERRORS,
              response_model=ForecastResponse)  # fmt: skip
    async def price_forecast(request: Request, body: ForecastRequest, key: Reader) -> Any:
        """Day-ahead price quantiles from a price bundle (a target that may be negative);
        `customer_id` names the market or zone."""
        return await _forecast(request, body, price=True)

    @app.post("/v1/hourly-profile", tags=["inference"], responses=ERRORS,
              response_model=ProfileResponse)  # fmt: skip
    async def hourly_profile(request: Request, body: ProfileRequest, key: Reader) -> Any:
        """Hourly kWh with P10/P90 for a customer with monthly totals only; the P50 sums to
        each total exactly."""
        svc = service(request)
        model = svc.registry.get(body.bundle, body.version)
        note(request, model, [body.customer_id])
        stored = svc.customers.weather if svc.customers is not None else None
        return await in_thread(request, infer.hourly_profile, model, body, stored)

    @app.get("/v1/infer/hourly_profile", tags=["inference"], responses=ERRORS,
             response_model=ProfileResponse)  # fmt: skip
    async def stored_profile(
        request: Request, key: Reader,
        customer_id: Annotated[str, Query(min_length=1, max_length=128)],
        period: Annotated[str, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")],
        bundle: Annotated[str, Query(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")],
    ) -> Any:  # fmt: skip
        """The hourly profile of a customer the server knows (its configured customer store)
        for one month: imputed from all of its monthly totals, the month's hours returned."""
        svc = service(request)
        if svc.customers is None:
            return error(404, "this server holds no customer store (config key `customers`)",
                         request)  # fmt: skip
        model = svc.registry.get(bundle)
        note(request, model, [customer_id])
        store = svc.customers
        totals = store.totals(customer_id)
        if period not in [t["month"] for t in totals]:
            return error(404, f"period: the customer has no total for {period}", request)
        static = store.static.get(customer_id, {})
        body = ProfileRequest(
            bundle=bundle,
            customer_id=customer_id,
            totals=totals,
            static={k: str(v) for k, v in static.items()},
        )
        res = await in_thread(request, infer.hourly_profile, model, body, store.weather,
                              serialise=False)  # fmt: skip
        return Response(
            infer.one_period(res, period).model_dump_json(), media_type="application/json"
        )

    @app.post("/v1/anomalies", tags=["inference"], responses=ERRORS,
              response_model=AnomalyResponse)  # fmt: skip
    async def anomalies(request: Request, body: AnomalyRequest, key: Reader) -> Any:
        """Score recent readings with an autoencoder bundle (torch-free): each interval's
        score and flag, and the flagged runs as events."""
        if (tooMany := batch_limit(request, len(body.series), "series")) is not None:
            return tooMany
        model = service(request).registry.get(body.bundle, body.version)
        note(request, model, [s.customer_id for s in body.series])
        if bundle_kind(model.bundle.manifest["kind"]).forecasts:
            return error(422, f"bundle: {body.bundle!r} is a {model.bundle.manifest['kind']} "
                         "forecaster; name an anomaly (autoencoder) bundle", request)  # fmt: skip
        return await in_thread(request, infer.anomalies, model, body)

    @app.post("/v1/bill", tags=["adapters"], responses=ERRORS, response_model=BillResponse)
    async def bill(request: Request, body: BillRequest, key: Reader) -> Any:
        """Bills of each customer's usage under a tariff (named or given): line items and
        total per billing period."""
        if (tooMany := batch_limit(request, len(body.usage), "usage")) is not None:
            return tooMany
        note(request, customers=[u.customer_id for u in body.usage])
        return await in_thread(request, adapters.bill, body, service(request).tariffs)

    @app.post("/v1/savings", tags=["adapters"], responses=ERRORS, response_model=SavingsResponse)
    async def savings(request: Request, body: SavingsRequest, key: Reader) -> Any:
        """Each customer's bills under its current tariff and candidates: the cheapest, and
        what it saves."""
        if (tooMany := batch_limit(request, len(body.usage), "usage")) is not None:
            return tooMany
        note(request, customers=[u.customer_id for u in body.usage])
        return await in_thread(request, adapters.savings, body, service(request).tariffs)

    @app.post("/v1/optimal-times", tags=["adapters"], responses=ERRORS,
              response_model=OptimalTimesResponse)  # fmt: skip
    async def optimal_times(request: Request, body: OptimalTimesRequest, key: Reader) -> Any:
        """The cheapest windows of a given duration between two times, under a tariff or a
        price path."""
        return await in_thread(request, adapters.optimal_times, body, service(request).tariffs)

    @app.post("/v1/schedule", tags=["adapters"], responses=ERRORS, response_model=ScheduleResponse)
    async def schedule(request: Request, body: ScheduleRequest, key: Reader) -> Any:
        """One home's appliances over a day at least cost (a MILP on HiGHS), against starting
        at once and a greedy rule."""
        svc = service(request)
        return await in_thread(request, adapters.schedule, body, svc.tariffs, svc.appliance_sets)

    def _submit(request: Request, kind: str, body: JobRequest, key: KeyRecord) -> Any:
        svc = service(request)
        job = svc.jobs.submit(
            kind, body.config, body.overrides, key.id, svc.cfg.limits.jobs_per_key
        )
        note(request, job=job["id"])
        return JSONResponse(Job(**job).model_dump(mode="json"), 202,
                            headers={"Location": f"/v1/jobs/{job['id']}"})  # fmt: skip

    @app.post("/v1/optimise-tariff", tags=["jobs"], status_code=202, response_model=Job,
              responses=ERRORS)  # fmt: skip
    def optimise_tariff(request: Request, body: JobRequest, key: Planner) -> Any:
        """Start a tariff optimisation from a config the server holds (some keys replaced:
        goals, frontier, breakdown, scenario counts); poll `GET /v1/jobs/{id}`."""
        return _submit(request, "optimise-tariff", body, key)

    @app.post("/v1/target-signals", tags=["jobs"], status_code=202, response_model=Job,
              responses=ERRORS)  # fmt: skip
    def target_signals(request: Request, body: JobRequest, key: Planner) -> Any:
        """Start a dToU signal-targeting run from a config the server holds (targets, policy
        and hour weights may be replaced); poll `GET /v1/jobs/{id}`."""
        return _submit(request, "target-signals", body, key)

    def _own(request: Request, jid: str, key: KeyRecord) -> dict[str, Any]:
        from fastapi import HTTPException

        job = service(request).jobs.get(jid)
        if job is None or (job["owner"] != key.id and not key.allows("admin")):
            raise HTTPException(404, f"no job {jid!r} for this key")
        return job

    @app.get("/v1/jobs", tags=["jobs"], responses=ERRORS)
    def jobs(request: Request, key: Planner) -> dict[str, Any]:
        """This key's jobs (every key's for admin), newest last."""
        every = service(request).jobs.list()
        mine = [Job(**j).model_dump(mode="json") for j in every
                if j["owner"] == key.id or key.allows("admin")]  # fmt: skip
        return {"jobs": mine}

    @app.get("/v1/jobs/{jid}", tags=["jobs"], response_model=Job, responses=ERRORS)
    def job(request: Request, jid: str, key: Planner) -> Any:
        """A job's status, its last progress line and, when done, its result."""
        return Job(**_own(request, jid, key))

    @app.delete("/v1/jobs/{jid}", tags=["jobs"], response_model=Job, responses=ERRORS)
    def cancel(request: Request, jid: str, key: Planner) -> Any:
        """Cancel a queued or running job (its process is stopped)."""
        _own(request, jid, key)
        return Job(**service(request).jobs.cancel(jid))
