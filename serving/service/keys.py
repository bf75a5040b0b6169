"""API keys: made once, shown once, stored hashed with roles.

A key reads `mfk_<id>_<secret>`: the id names the record (and is what logs and the audit
hold), the secret is 32 random bytes. The keys file keeps per key a random salt and
SHA-256(salt + secret), compared in constant time. A slow hash (scrypt, argon2) protects
passwords people choose; a 256-bit random secret cannot be guessed whatever the hash, and a
fast one keeps each request's check in microseconds.

Roles: `read` (forecast, hourly profile, bill, schedule, optimal times, savings, prices,
anomalies, models), `plan` (tariff optimisation and signal targeting jobs), `admin` (every
role, other keys' jobs, model reloads). There is no default key: a server with an empty
keys file answers 401 to everything.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import Field

from forecasting.config.base import StrictModel, validate_mapping
from forecasting.errors import ConfigError, InputError
from forecasting.folders import write_atomic

ROLES = ("read", "plan", "admin")
Role = Literal["read", "plan", "admin"]
PREFIX = "mfk"
KEY_ID = r"[a-z0-9][a-z0-9-]{0,39}"
_KEY = re.compile(rf"^{PREFIX}_({KEY_ID})_([A-Za-z0-9_-]{{43}})$")
_DUMMY_SALT = bytes(16)


class KeyRecord(StrictModel):
    id: Annotated[str, Field(pattern=rf"^{KEY_ID}$")]
    roles: list[Role] = Field(min_length=1)
    salt: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    created: str = ""
    rate: float | None = Field(default=None, gt=0)  # requests a second; else the service's
    burst: int | None = Field(default=None, ge=1)

    def allows(self, role: str) -> bool:
        return role in self.roles or "admin" in self.roles


class KeysFile(StrictModel):
    keys: list[KeyRecord] = Field(default_factory=list)


def _digest(salt: bytes, secret: str) -> str:
    return hashlib.sha256(salt + secret.encode("ascii")).hexdigest()


@dataclass
class KeyRing:
    """The keys of a keys file, by id; `check` answers the record a presented key belongs to."""

    records: dict[str, KeyRecord]

    def check(self, presented: str | None) -> KeyRecord | None:
        m = _KEY.match(presented or "")
        record = self.records.get(m.group(1)) if m else None
        secret = m.group(2) if m else "x" * 43
        salt = bytes.fromhex(record.salt) if record else _DUMMY_SALT
        want = record.sha256 if record else "0" * 64
        ok = hmac.compare_digest(_digest(salt, secret), want)  # same work for a wrong id
        return record if ok and record is not None else None


def read_keys(path: Path) -> KeyRing:
    if not path.is_file():
        raise ConfigError(f"keys file not found: {path}; make one with `forecasting keys add`")
    try:
        raw = yaml.safe_load(path.read_text("utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a keys file is a mapping with a `keys` list")
    parsed = validate_mapping(KeysFile, raw, str(path))
    ids = [k.id for k in parsed.keys]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise ConfigError(f"{path}: key id(s) {twice} appear more than once")
    return KeyRing({k.id: k for k in parsed.keys})


def add_key(path: Path, key_id: str, roles: list[str], rate: float | None = None,
            burst: int | None = None) -> str:  # fmt: skip
    """Append a new key to the keys file (made if missing) and return it: the only time the
    key itself exists outside its holder."""
    if not re.fullmatch(KEY_ID, key_id):
        raise InputError(f"key id {key_id!r}: use 1-40 lower-case letters, digits or '-'")
    bad = [r for r in roles if r not in ROLES]
    if bad or not roles:
        raise InputError(f"roles {roles}: choose from {list(ROLES)}")
    ring = read_keys(path) if path.exists() else KeyRing({})
    if key_id in ring.records:
        raise InputError(f"{path}: key id {key_id!r} exists; revoke it first or pick another id")
    secret = secrets.token_urlsafe(32)
    salt = secrets.token_bytes(16)
    record = KeyRecord(id=key_id, roles=roles, salt=salt.hex(), sha256=_digest(salt, secret),  # type: ignore[arg-type]
                       created=datetime.now(UTC).isoformat(timespec="seconds"), rate=rate,
                       burst=burst)  # fmt: skip
    _write(path, [*ring.records.values(), record])
    return f"{PREFIX}_{key_id}_{secret}"


def revoke_key(path: Path, key_id: str) -> None:
    ring = read_keys(path)
    if key_id not in ring.records:
        raise InputError(f"{path}: no key with id {key_id!r} (ids: {sorted(ring.records)})")
    _write(path, [r for k, r in ring.records.items() if k != key_id])


def _write(path: Path, records: list[KeyRecord]) -> None:
    doc = {"keys": [r.model_dump(exclude_none=True) for r in records]}
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(doc, sort_keys=False)
    write_atomic(path, lambda p: p.write_text(text, encoding="utf-8"))
    path.chmod(0o600)
