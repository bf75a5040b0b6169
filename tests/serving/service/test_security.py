"""Keys, roles, limits, pseudonyms and the audit log against a real server: every endpoint
refuses a missing or wrong key (401) and a key without its role (403); a key's bucket runs
dry (429 with Retry-After); a revoked key stops at once; no key and no raw customer id is
ever written to the server log or the audit log."""

from __future__ import annotations

import httpx
import pytest

from serving.service.guard import read_audit
from serving.service.keys import revoke_key
from tests.serving.service.server import history_body

PLAN = ("/v1/optimise-tariff", "/v1/target-signals", "/v1/jobs")
ADMIN = ("/v1/models/reload",)
OPEN = ("/healthz", "/readyz")


def _routes(server) -> list[tuple[str, str]]:
    doc = httpx.get(f"{server.url}/openapi.json").json()
    out = []
    for path, ops in doc["paths"].items():
        for method in ops:
            out.append(
                (
                    method.upper(),
                    path.replace("{name}", "household")
                    .replace("{version}", "1")
                    .replace("{jid}", "0"),
                )
            )
    return sorted(out)


def test_the_openapi_document_lists_every_endpoint_family(server):
    paths = {p for _, p in _routes(server)}
    for family in (
        "/v1/forecast",
        "/v1/price-forecast",
        "/v1/hourly-profile",
        "/v1/infer/hourly_profile",
        "/v1/bill",
        "/v1/savings",
        "/v1/optimal-times",
        "/v1/schedule",
        "/v1/optimise-tariff",
        "/v1/target-signals",
        "/v1/jobs",
        "/v1/models",
        "/metrics",
    ):
        assert family in paths  # fmt: skip


def test_every_endpoint_refuses_no_key_a_wrong_key_and_the_wrong_role(server):
    wrong = "mfk_reader_" + "A" * 43
    checked = 0
    for method, path in _routes(server):
        if path in OPEN:
            continue
        kw = {"json": {}} if method in ("POST",) else {}
        for headers in ({}, {"Authorization": f"Bearer {wrong}"}, {"X-API-Key": "nonsense"}):
            r = httpx.request(method, server.url + path, headers=headers, **kw)
            assert r.status_code == 401, (method, path, r.status_code, r.text)
            assert r.headers.get("www-authenticate") == "Bearer"
        reader = httpx.request(method, server.url + path, headers={"Authorization": f"Bearer {server.keys['reader']}"}, **kw)  # fmt: skip
        if path.startswith(PLAN + ADMIN):
            assert reader.status_code == 403, (method, path, reader.text)
            assert "lacks the role" in reader.json()["error"]
        else:
            assert reader.status_code not in (401, 403), (method, path, reader.text)
        checked += 1
    assert checked >= 16


def test_an_admin_key_holds_every_role(server):
    r = server.client("admin").post("/v1/models/reload")
    assert r.status_code == 200 and isinstance(r.json()["events"], list)
    assert server.client("planner").post("/v1/models/reload").status_code == 403


def test_a_key_over_its_rate_gets_429_with_retry_after(server):
    c = server.client("slow")
    codes = [c.get("/v1/models").status_code for _ in range(4)]
    assert codes[:2] == [200, 200] and codes[-1] == 429
    r = c.get("/v1/models")
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert "over its rate limit" in r.json()["error"]
    assert server.client("reader").get("/v1/models").status_code == 200  # buckets are per key


def test_cors_is_closed_by_default(server):
    r = httpx.options(f"{server.url}/v1/forecast", headers={
        "Origin": "http://elsewhere.example", "Access-Control-Request-Method": "POST"})  # fmt: skip
    assert "access-control-allow-origin" not in r.headers


def test_the_dashboard_needs_a_session_and_its_cookie_is_httponly_and_samesite(server):
    r = httpx.get(f"{server.url}/dashboard")
    assert r.status_code == 303 and r.headers["location"] == "/login"
    bad = httpx.post(f"{server.url}/login", data={"key": "mfk_x_" + "B" * 43})
    assert bad.status_code == 303 and "error" in bad.headers["location"]
    ok = httpx.post(f"{server.url}/login", data={"key": server.keys["reader"]})
    cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    page = httpx.get(f"{server.url}/dashboard", cookies=ok.cookies)
    assert page.status_code == 200 and "reader" in page.text


def test_customer_ids_are_pseudonymised_and_keys_never_logged(server):
    body = history_body(customers=2)
    assert server.client().post("/v1/forecast", json=body).status_code == 200
    audit = read_audit(server.root / "state" / "audit" / "audit.jsonl")
    mine = [a for a in audit if a["endpoint"] == "/v1/forecast" and a["status"] == 200][-1]
    ids = [s["customer_id"] for s in body["series"]]
    assert len(mine["customers"]) == 2 and all(c.startswith("c_") for c in mine["customers"])
    assert mine["key_id"] == "reader" and mine["bundle"]["name"] == "household"
    texts = [server.log.read_text(), (server.root / "state" / "audit" / "audit.jsonl").read_text()]
    for text in texts:
        for key in server.keys.values():
            secret = key.split("_", 2)[2]  # mfk_<id>_<secret>: the secret may hold "_" itself
            assert key not in text and secret not in text
        for sid in ids:
            assert f'"{sid}"' not in text


def test_a_revoked_key_is_refused_at_once(server, tmp_path):
    from serving.service.keys import add_key

    key = add_key(server.root / "keys.yaml", "temp", ["read"])
    assert httpx.get(f"{server.url}/v1/models", headers={"X-API-Key": key}).status_code == 200
    revoke_key(server.root / "keys.yaml", "temp")
    assert httpx.get(f"{server.url}/v1/models", headers={"X-API-Key": key}).status_code == 401


@pytest.mark.parametrize("holder", ["reader"])
def test_an_unknown_route_is_404_without_a_trace(server, holder):
    r = server.client(holder).get("/v1/nothing")
    assert r.status_code == 404 and r.json()["error"] == "Not Found" and r.json()["request_id"]
