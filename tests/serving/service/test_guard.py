"""Pseudonyms, token buckets and the audit log, on their own."""

from __future__ import annotations

import json

import pytest

from forecasting.errors import ConfigError
from serving.service.guard import AuditLog, Pseudonyms, RateLimits, read_audit


def test_pseudonyms_are_keyed_stable_and_never_the_id(monkeypatch, tmp_path):
    a, b = Pseudonyms("s" * 20), Pseudonyms("t" * 20)
    assert a("H0001") == a("H0001") != a("H0002")
    assert a("H0001") != b("H0001") and "H0001" not in a("H0001")
    with pytest.raises(ConfigError, match="at least 16"):
        Pseudonyms("short")
    monkeypatch.delenv("FORECASTING_PSEUDONYM_SECRET", raising=False)
    with pytest.raises(ConfigError, match="no pseudonymisation secret"):
        Pseudonyms.from_setting(None)
    (tmp_path / "secret").write_text("x" * 32 + "\n")
    assert Pseudonyms.from_setting(tmp_path / "secret")("a") == Pseudonyms("x" * 32)("a")


def test_a_bucket_allows_its_burst_then_says_how_long_to_wait():
    limits = RateLimits()
    assert [limits.take("k", rate=1.0, burst=3) for _ in range(3)] == [0.0] * 3
    wait = limits.take("k", rate=1.0, burst=3)
    assert 0.9 < wait <= 1.0
    assert limits.take("other", rate=1.0, burst=3) == 0.0  # one bucket per key


def test_the_audit_log_rotates_by_size_and_keeps_so_many(tmp_path):
    log = AuditLog(tmp_path / "audit.jsonl", rotate_bytes=10_000, keep=2)
    for i in range(600):
        log.write({"i": i, "pad": "x" * 40})
    log.close()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2"]
    kept = [e["i"] for f in ("audit.jsonl.2", "audit.jsonl.1", "audit.jsonl")
            for e in read_audit(tmp_path / f)]  # fmt: skip
    assert kept == list(range(kept[0], 600))  # the newest, in order, none lost between files
    assert all((tmp_path / f).stat().st_size <= 10_000 for f in files)


def test_a_torn_last_line_is_left_out(tmp_path):
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": 2}\n{"a": 3, "b"')
    assert read_audit(path) == [{"a": 1}, {"a": 2}]
    path.write_bytes(b'{"a": 1}\n')
    assert read_audit(path) == [json.loads('{"a": 1}')]
