"""What keeps the service safe to run: pseudonyms for customer ids, per-key rate limits, and
the append-only audit log.

- `Pseudonyms`: HMAC-SHA256 of a customer id under a secret from the environment
  (`FORECASTING_PSEUDONYM_SECRET`) or a file; the service refuses to start without one, so
  nothing it stores or logs can hold a raw id or a guessable hash of one.
- `RateLimits`: a token bucket per key (`rate` a second, bursts of `burst`); an empty
  bucket answers how long until the next token (the 429's `Retry-After`).
- `AuditLog`: one JSON line per inference or optimisation run, written with a single
  `write` on a file opened for appending and fsynced before the response leaves, rotated by
  size (`audit.jsonl` -> `audit.jsonl.1` ...). A server killed mid-write leaves at most one
  partial last line; `read_audit` returns every complete line before it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from forecasting.errors import ConfigError
from serving.service.config import PSEUDONYM_ENV

MIN_SECRET = 16  # characters


class Pseudonyms:
    def __init__(self, secret: str) -> None:
        if len(secret.strip()) < MIN_SECRET:
            raise ConfigError(
                f"the pseudonymisation secret must be at least {MIN_SECRET} characters"
            )
        self._key = secret.strip().encode("utf-8")

    def __call__(self, customer_id: str) -> str:
        digest = hmac.new(self._key, customer_id.encode("utf-8"), hashlib.sha256)
        return "c_" + digest.hexdigest()[:24]

    @classmethod
    def from_setting(cls, file: Path | None) -> Pseudonyms:
        if file is not None:
            if not file.is_file():
                raise ConfigError(f"pseudonym secret file not found: {file}")
            return cls(file.read_text("utf-8"))
        secret = os.environ.get(PSEUDONYM_ENV)
        if not secret:
            raise ConfigError(
                f"no pseudonymisation secret: set {PSEUDONYM_ENV} or the config's "
                "pseudonym_secret_file (customer ids are never stored or logged raw)"
            )
        return cls(secret)


class RateLimits:
    """Token buckets by key id; thread-safe (the event loop and worker threads share it)."""

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}  # id -> (tokens, last time)
        self._lock = threading.Lock()

    def take(self, key_id: str, rate: float, burst: int) -> float:
        """0 when the request may go on, else seconds until a token is free."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key_id, (float(burst), now))
            tokens = min(float(burst), tokens + (now - last) * rate)
            if tokens >= 1.0:
                self._buckets[key_id] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key_id] = (tokens, now)
            return (1.0 - tokens) / rate


class AuditLog:
    def __init__(self, path: Path, rotate_bytes: int, keep: int) -> None:
        self.path = path
        self.rotate_bytes = rotate_bytes
        self.keep = keep
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = self._open()

    def _open(self) -> int:
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def write(self, entry: dict[str, Any]) -> None:
        line = (json.dumps(entry, separators=(",", ":"), default=str) + "\n").encode("utf-8")
        with self._lock:
            if os.fstat(self._fd).st_size + len(line) > self.rotate_bytes:
                self._rotate()
            os.write(self._fd, line)
            os.fsync(self._fd)

    def _rotate(self) -> None:
        os.close(self._fd)
        for i in range(self.keep - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{i}")
            if older.exists():
                os.replace(older, self.path.with_name(f"{self.path.name}.{i + 1}"))
        os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
        self._fd = self._open()

    def close(self) -> None:
        with self._lock:
            os.close(self._fd)


def read_audit(path: Path) -> list[dict[str, Any]]:
    """Every complete entry of an audit file, oldest first; a partial last line (the server
    was killed while writing it) is left out, never an error."""
    out = []
    data = path.read_bytes() if path.exists() else b""
    for raw in data.split(b"\n")[:-1]:  # the text after the last newline is incomplete
        if raw.strip():
            out.append(json.loads(raw))
    return out
