"""API keys: shown once, stored as a salted hash, checked in constant time, revoked."""

from __future__ import annotations

import stat

import pytest

from forecasting.errors import ConfigError, InputError
from serving.service.keys import add_key, read_keys, revoke_key


def test_a_key_checks_against_its_hash_and_only_the_hash_is_stored(tmp_path):
    path = tmp_path / "keys.yaml"
    key = add_key(path, "ops", ["read", "plan"])
    other = add_key(path, "bi", ["read"], rate=5, burst=10)
    ring = read_keys(path)
    assert ring.check(key).id == "ops" and ring.check(other).rate == 5
    text = path.read_text()
    # the secret is everything after "mfk_<id>_" and may itself hold "_"
    assert key.split("_", 2)[2] not in text and other.split("_", 2)[2] not in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    salts = [r.salt for r in ring.records.values()]
    assert len(set(salts)) == 2  # a salt per key


@pytest.mark.parametrize("presented", [
    None, "", "mfk_ops_" + "A" * 43, "mfk_nobody_" + "A" * 43, "Bearer x", "mfk_ops_short",
])  # fmt: skip
def test_anything_but_the_key_is_refused(tmp_path, presented):
    path = tmp_path / "keys.yaml"
    add_key(path, "ops", ["read"])
    assert read_keys(path).check(presented) is None


def test_the_same_secret_under_another_id_is_refused(tmp_path):
    path = tmp_path / "keys.yaml"
    key = add_key(path, "ops", ["read"])
    add_key(path, "bi", ["read"])
    secret = key.split("_", 2)[2]
    assert read_keys(path).check(f"mfk_bi_{secret}") is None


def test_roles_admin_holds_every_role(tmp_path):
    path = tmp_path / "keys.yaml"
    read, admin = add_key(path, "r", ["read"]), add_key(path, "a", ["admin"])
    ring = read_keys(path)
    assert ring.check(read).allows("read") and not ring.check(read).allows("plan")
    assert all(ring.check(admin).allows(r) for r in ("read", "plan", "admin"))


def test_revoked_keys_and_bad_files(tmp_path):
    path = tmp_path / "keys.yaml"
    key = add_key(path, "ops", ["read"])
    revoke_key(path, "ops")
    assert read_keys(path).check(key) is None
    with pytest.raises(InputError, match="no key with id 'ops'"):
        revoke_key(path, "ops")
    add_key(path, "x", ["read"])
    with pytest.raises(InputError, match="exists"):
        add_key(path, "x", ["read"])
    record = "- {id: a, roles: [read], salt: '" + "0" * 32 + "', sha256: '" + "0" * 64 + "'}\n"
    path.write_text("keys:\n" + record + record)
    with pytest.raises(ConfigError, match=r"key id\(s\) \['a'\] appear more than once"):
        read_keys(path)
