"""The dashboard: server-rendered pages behind the same keys (a login form that sets the
session cookie), charts drawn as inline SVG (`charts.py`), one stylesheet and one small script
served by the app itself under a strict Content-Security-Policy (nothing from a CDN).

    /login, /logout
    /dashboard                  models served and this key's jobs
    /dashboard/models           the model registry: bundles, metrics, ONNX parity
    /dashboard/tariffs          tariff optimisation runs, and a form to start one
    /dashboard/tariffs/{job}    a run: Pareto frontier, KPI table, bill changes by group,
                                the load shape before and after
    /dashboard/jobs/{job}       a job's progress (the script polls /v1/jobs/{job})
    /dashboard/customer         a customer: forecast fan chart, imputed profile, bills under
                                the server's tariffs
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import parse_qs, quote

import numpy as np
import pandas as pd
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from forecasting.errors import ForecastingError
from serving.service import charts
from serving.service.assets import JOB_JS, STYLE
from serving.service.dashboard_customer import customer_page
from serving.service.keys import KeyRecord
from serving.service.session import COOKIE, read_session, start_session
from serving.service.state import Service

HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}  # fmt: skip
E = html.escape


def page(title: str, body: str, who: KeyRecord | None = None, status: int = 200) -> HTMLResponse:
    nav = ""
    if who is not None:
        nav = ('<nav><a href="/dashboard">Overview</a> <a href="/dashboard/models">Models</a> '
               '<a href="/dashboard/tariffs">Tariff scenarios</a> '
               '<a href="/dashboard/customer">Customer</a> '
               f'<span class="who">{E(who.id)} ({E(", ".join(who.roles))})</span> '
               '<a href="/logout">Sign out</a></nav>')  # fmt: skip
    doc = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{E(title)}</title>'
           '<link rel="icon" href="data:,"><link rel="stylesheet" href="/dashboard/assets/dashboard.css"></head>'
           f"<body>{nav}<main><h1>{E(title)}</h1>{body}</main></body></html>")  # fmt: skip
    return HTMLResponse(doc, status, headers=HEADERS)


def table(frame: pd.DataFrame, cls: str = "") -> str:
    head = "".join(f"<th>{E(str(c))}</th>" for c in frame.columns)
    rows = []
    for r in frame.itertuples(index=False):
        cells = "".join(f"<td>{_cell(v)}</td>" for v in r)
        rows.append(f"<tr>{cells}</tr>")
    return (
        f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def _cell(v: Any) -> str:
    if isinstance(v, float | np.floating):
        x = float(v)
        return f"{x:,.4g}" if abs(x) < 1e4 else f"{x:,.0f}"
    return E(str(v))


def signed_in(request: Request) -> KeyRecord | None:
    svc: Service = request.app.state.service
    return read_session(request, svc.keys(), svc.session_key)


def add_pages(app: FastAPI) -> None:
    @app.get("/dashboard/assets/dashboard.css", include_in_schema=False)
    def css() -> Response:
        return Response(STYLE, media_type="text/css", headers={"Cache-Control": "max-age=3600"})

    @app.get("/dashboard/assets/job.js", include_in_schema=False)
    def js() -> Response:
        return Response(
            JOB_JS, media_type="text/javascript", headers={"Cache-Control": "max-age=3600"}
        )

    @app.get("/login", include_in_schema=False)
    def login_form(error: str = "") -> HTMLResponse:
        msg = f'<p class="error" role="alert">{E(error)}</p>' if error else ""
        return page(
            "Sign in",
            f"""{msg}<form method="post" action="/login" class="login">
<label>API key <input type="password" name="key" autocomplete="off" required></label>
<button type="submit">Sign in</button></form>""",
        )

    @app.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        svc: Service = request.app.state.service
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        record = svc.keys().check((form.get("key") or [""])[0].strip())
        if record is None:
            return RedirectResponse("/login?error=That+key+is+not+valid", 303)
        resp = RedirectResponse("/dashboard", 303)
        start_session(resp, svc.session_key, record, svc.cfg.session_hours,
                      request.url.scheme == "https")  # fmt: skip
        return resp

    @app.get("/logout", include_in_schema=False)
    def logout() -> Response:
        resp = RedirectResponse("/login", 303)
        resp.delete_cookie(COOKIE, path="/")
        return resp

    @app.get("/dashboard", include_in_schema=False)
    def overview(request: Request) -> Response:
        who = signed_in(request)
        if who is None:
            return RedirectResponse("/login", 303)
        svc: Service = request.app.state.service
        models = [m.describe() for m in svc.registry.models.values()]
        jobs = [j for j in svc.jobs.list() if j["owner"] == who.id or who.allows("admin")]
        body = f"<p>{len(models)} bundle(s) served.</p>"
        if models:
            body += table(
                pd.DataFrame(models)[["name", "version", "kind", "horizon", "freq"]], "models"
            )
        body += "<h2>Jobs</h2>" + _jobs_table(jobs)
        return page("Overview", body, who)

    @app.get("/dashboard/models", include_in_schema=False)
    def models_page(request: Request) -> Response:
        who = signed_in(request)
        if who is None:
            return RedirectResponse("/login", 303)
        svc: Service = request.app.state.service
        rows = []
        for m in sorted(svc.registry.models.values(), key=lambda m: (m.name, m.version)):
            man = m.bundle.manifest
            val = (man.get("metrics") or {}).get("validation") or {}
            parity = man.get("parity") or {}
            worst = max(
                [p.get("max_abs_diff", 0.0) for p in parity.values() if isinstance(p, dict)]
                or [np.nan]
            )
            rows.append({"name": m.name, "version": m.version, "kind": man["kind"],
                         "sha": m.sha[:12], "horizon": man["horizon"], "lookback": man["lookback"],
                         "validation MAE (P50)": val.get("mae_p50", np.nan),
                         "ONNX parity: max |diff|": worst,
                         "created": str(man.get("created", ""))[:19], "load s": m.load_seconds})  # fmt: skip
        body = table(pd.DataFrame(rows), "registry") if rows else "<p>No bundle served.</p>"
        if who.allows("admin") and svc.registry.refused:
            refused = pd.DataFrame([{"name": n, "version": v, "reason": r}
                                    for (n, v), r in svc.registry.refused.items()])  # fmt: skip
            body += "<h2>Refused</h2>" + table(refused, "refused")
        return page("Model registry", body, who)

    @app.get("/dashboard/tariffs", include_in_schema=False)
    def tariffs_page(request: Request, error: str = "") -> Response:
        who = signed_in(request)
        if who is None:
            return RedirectResponse("/login", 303)
        svc: Service = request.app.state.service
        runs = [j for j in svc.jobs.list() if j["kind"] == "optimise-tariff"
                and (j["owner"] == who.id or who.allows("admin"))]  # fmt: skip
        body = _jobs_table(runs)
        if who.allows("plan"):
            folder = svc.cfg.optimise_configs
            names = (
                sorted(p.stem for p in folder.glob("*.yaml")) if folder and folder.is_dir() else []
            )
            options = "".join(f"<option>{E(n)}</option>" for n in names)
            msg = f'<p class="error" role="alert">{E(error)}</p>' if error else ""
            body += f"""<h2>Start a run</h2>{msg}<form method="post" action="/dashboard/tariffs" class="run">
<label>Config <select name="config">{options}</select></label>
<label>Peak weight <input name="w_peak" type="number" step="any" min="0" value="1"></label>
<label>Bill-spread weight <input name="w_dispersion" type="number" step="any" min="0" value="1"></label>
<label>Revenue weight <input name="w_revenue" type="number" step="any" min="0" value="1"></label>
<label>Frontier points <input name="frontier" type="number" min="0" max="25" value="3"></label>
<button type="submit">Start</button></form>"""
        return page("Tariff scenarios", body, who)

    @app.post("/dashboard/tariffs", include_in_schema=False)
    async def start_run(request: Request) -> Response:
        who = signed_in(request)
        if who is None:
            return RedirectResponse("/login", 303)
        if not who.allows("plan"):
            return page("Not allowed", "<p>Starting a run needs the plan role.</p>", who, 403)
        svc: Service = request.app.state.service
        form = {
            k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()
        }
        try:
            goals = {
                k: float(form[k]) for k in ("w_peak", "w_dispersion", "w_revenue") if form.get(k)
            }
            overrides: dict[str, Any] = {"goals": goals}
            if form.get("frontier"):
                overrides["frontier"] = int(form["frontier"])
            job = svc.jobs.submit("optimise-tariff", form.get("config", ""), overrides, who.id,
                                  svc.cfg.limits.jobs_per_key)  # fmt: skip
        except (ValueError, ForecastingError) as exc:
            return RedirectResponse(f"/dashboard/tariffs?error={quote(str(exc))}", 303)
        return RedirectResponse(f"/dashboard/jobs/{job['id']}", 303)

    @app.get("/dashboard/jobs/{jid}", include_in_schema=False)
    def job_page(request: Request, jid: str) -> Response:
        who = signed_in(request)
        if who is None:
            return RedirectResponse("/login", 303)
        job = request.app.state.service.jobs.get(jid)
        if job is None or (job["owner"] != who.id and not who.allows("admin")):
            return page("No such job", f"<p>No job {E(jid)} for this key.</p>", who, 404)
        then = f"/dashboard/tariffs/{jid}" if job["kind"] == "optimise-tariff" else ""
        body = (f'<div id="job" data-id="{E(jid)}" data-then="{E(then)}">'
                f'<p>{E(job["kind"])} from config <b>{E(job["config"])}</b>: '
                f'<span id="status">{E(job["status"])}</span></p>'
                f'<p id="progress">{E(job["progress"])}</p><p id="error" class="error"></p></div>'
                '<script src="/dashboard/assets/job.js"></script>')  # fmt: skip
        return page("Job", body, who)

    @app.get("/dashboard/tariffs/{jid}", include_in_schema=False)
    def run_page(request: Request, jid: str) -> Response:
        who = signed_in(request)
        if who is None:
            return RedirectResponse("/login", 303)
        svc: Service = request.app.state.service
        job = svc.jobs.get(jid)
        if (
            job is None
            or job["kind"] != "optimise-tariff"
            or (job["owner"] != who.id and not who.allows("admin"))
        ):
            return page("No such run", f"<p>No tariff run {E(jid)} for this key.</p>", who, 404)
        if job["status"] != "done":
            return RedirectResponse(f"/dashboard/jobs/{jid}", 303)
        return page(f"Tariff run {jid}", scenario_body(svc.jobs.root / jid / "output", job), who)

    @app.get("/dashboard/customer", include_in_schema=False)
    def customer(request: Request, customer_id: str = "", bundle: str = "") -> Response:
        who = signed_in(request)
        if who is None:
            return RedirectResponse("/login", 303)
        return page("Customer", customer_page(request.app.state.service, customer_id, bundle), who)


def _jobs_table(jobs: list[dict[str, Any]]) -> str:
    if not jobs:
        return "<p>No jobs yet.</p>"
    rows = "".join(
        f'<tr><td><a href="/dashboard/jobs/{E(j["id"])}">{E(j["id"])}</a></td><td>{E(j["kind"])}</td>'
        f'<td>{E(j["config"])}</td><td class="status">{E(j["status"])}</td><td>{E(j["created"])}</td></tr>'
        for j in reversed(jobs)
    )  # fmt: skip
    return ('<table class="jobs"><thead><tr><th>job</th><th>kind</th><th>config</th><th>status</th>'
            f"<th>created</th></tr></thead><tbody>{rows}</tbody></table>")  # fmt: skip


def scenario_body(out: Any, job: dict[str, Any]) -> str:
    """A finished optimisation: prices, frontier, KPIs, bill changes by group, load shape."""
    result = job.get("result") or {}
    prices = ", ".join(f"{k} {v:.3f}" for k, v in (result.get("prices") or {}).items())
    body = f"<p>Chosen prices: <b>{E(prices)}</b> (goals {E(str(job['overrides'].get('goals', {})))})</p>"
    frontier = out / "frontier.csv"
    if frontier.is_file():
        f = pd.read_csv(frontier)
        if len(f) and "peak_reduction_pct" in f:
            notes = [f"peak weight {w:g}: peak -{p:.2f}%, spread {s:.2f}%"
                     for w, p, s in zip(f["w_peak"], f["peak_reduction_pct"], f["bill_change_mad_pct"], strict=True)]  # fmt: skip
            body += "<h2>Pareto frontier</h2>" + charts.scatter(
                f["bill_change_mad_pct"], f["peak_reduction_pct"], notes,
                "Peak reduction against the spread of bill changes", "bill-change spread (MAD, %)",
                "peak reduction %")  # fmt: skip
    kpis = pd.read_csv(out / "kpis.csv")
    keep = ["scenario", "peak_before_kw", "peak_after_kw", "peak_reduction_pct", "revenue_vs_target_pct",
            "mean_change_pct", "median_change_pct", "over_10pct", "vulnerable_over_increase"]  # fmt: skip
    body += "<h2>KPIs by scenario</h2>" + table(kpis[[c for c in keep if c in kpis]], "kpis")
    bills = pd.read_parquet(out / "bills.parquet")
    base = bills[bills["scenario"] == "base"]
    change = 100 * base["change"].to_numpy(dtype=float)
    edges = np.histogram_bin_edges(change if len(change) else np.zeros(1), 20)
    body += "<h2>Bill changes by group</h2>" + charts.histogram(
        change, "All customers", "bill change %", edges=edges
    )
    groups = [c for c in base.columns if c not in ("scenario", "series_id", "bill_before", "bill_after",
                                                    "bill_predicted", "change")]  # fmt: skip
    for g in groups:
        for value, part in base.groupby(g, sort=True):
            body += charts.histogram(100 * part["change"].to_numpy(dtype=float),
                                     f"{g} = {value} ({len(part)} customers)", "bill change %", edges=edges)  # fmt: skip
    shape = out / "load_shape.csv"
    if shape.is_file():
        s = pd.read_csv(shape)
        body += "<h2>Load shape</h2>" + charts.lines(
            s["time"].astype(str).tolist(), {"before": s["before_kw"], "after": s["after_kw"]},
            "Mean load by local time of day, before and after", "kW")  # fmt: skip
    return body
