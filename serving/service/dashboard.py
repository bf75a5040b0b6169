"""The dashboard: server-rendered pages behind the same keys (login sets the session cookie)."""

from __future__ import annotations

import html

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from serving.service.session import COOKIE, read_session, start_session

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem}}</style></head>
<body>{body}</body></html>"""


def page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(PAGE.format(title=html.escape(title), body=body))


def add_pages(app: FastAPI) -> None:
    @app.get("/login", include_in_schema=False)
    def login_form(request: Request, error: str = "") -> HTMLResponse:
        msg = f'<p role="alert">{html.escape(error)}</p>' if error else ""
        return page(
            "Sign in",
            f"""<h1>Sign in</h1>{msg}
<form method="post" action="/login"><label>API key <input type="password" name="key"
autocomplete="off" required></label> <button type="submit">Sign in</button></form>""",
        )

    @app.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        from urllib.parse import parse_qs

        svc = request.app.state.service
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        record = svc.keys().check((form.get("key") or [""])[0].strip())
        if record is None:
            return RedirectResponse("/login?error=That+key+is+not+valid", 303)
        resp = RedirectResponse("/dashboard", 303)
        start_session(
            resp, svc.session_key, record, svc.cfg.session_hours, request.url.scheme == "https"
        )
        return resp

    @app.get("/logout", include_in_schema=False)
    def logout() -> Response:
        resp = RedirectResponse("/login", 303)
        resp.delete_cookie(COOKIE, path="/")
        return resp

    @app.get("/dashboard", include_in_schema=False)
    def home(request: Request) -> Response:
        svc = request.app.state.service
        record = read_session(request, svc.keys(), svc.session_key)
        if record is None:
            return RedirectResponse("/login", 303)
        return page("Dashboard", f"<h1>Dashboard</h1><p>signed in as {html.escape(record.id)}</p>")
