"""The dashboard's session cookie: made at login from a valid key, signed with the server's
session key (HMAC-SHA256 over the key id, the expiry and the key's stored hash, so revoking
the key ends its sessions), `HttpOnly` and `SameSite=Strict` (no script reads it, no other site
sends it)."""

from __future__ import annotations

import hashlib
import hmac
import time

from fastapi import Request, Response

from serving.service.keys import KeyRecord, KeyRing

COOKIE = "mf_session"


def _sign(key: bytes, record: KeyRecord, expiry: int) -> str:
    msg = f"{record.id}|{expiry}|{record.sha256}".encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


def start_session(response: Response, key: bytes, record: KeyRecord, hours: float,
                  secure: bool) -> None:  # fmt: skip
    expiry = int(time.time() + hours * 3600)
    value = f"{record.id}.{expiry}.{_sign(key, record, expiry)}"
    response.set_cookie(COOKIE, value, max_age=int(hours * 3600), httponly=True,
                        samesite="strict", secure=secure, path="/")  # fmt: skip


def read_session(request: Request, keys: KeyRing, key: bytes) -> KeyRecord | None:
    raw = request.cookies.get(COOKIE, "")
    parts = raw.split(".")
    if len(parts) != 3 or not parts[1].isdigit() or int(parts[1]) < time.time():
        return None
    record = keys.records.get(parts[0])
    if record is None:
        return None
    return record if hmac.compare_digest(_sign(key, record, int(parts[1])), parts[2]) else None
