"""Property-based tests of the manifest loader (`serving/manifest.py`, `serving/bundle.py`).

The golden bundle's manifest, resealed as format 2, is the valid input: written with any key
order and spacing, or with extra keys of its own, it reads back to the same fields. Random JSON
put in any field (resealed, so only the schema can object) is read or refused with a one-line
`BundleError`, never another exception; an edit that was not resealed is always refused; any
bytes at all as `manifest.json` are refused with one line."""

from __future__ import annotations

import copy
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forecasting.bundle_format import MANIFEST, SEAL, manifest_digest
from forecasting.errors import BundleError
from serving.bundle import read_manifest
from serving.manifest import check_manifest
from tests.export.make_golden import GOLDEN
from tests.serving.bundle_fuzz import key_paths

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)  # fmt: skip


def sealed(m: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in m.items() if k != SEAL}
    out[SEAL] = manifest_digest(out)
    return out


@pytest.fixture(scope="module")
def base() -> dict[str, Any]:
    m = json.loads((GOLDEN / "bundle" / MANIFEST).read_text())
    return sealed({**m, "format_version": 2})


def one_line(exc: BundleError) -> bool:
    return "\n" not in str(exc).strip() and len(str(exc)) < 2000


def check(raw: Any) -> dict[str, Any] | BundleError:
    """check_manifest's answer: the manifest, or the BundleError it raised (others propagate)."""
    try:
        return check_manifest(GOLDEN / "bundle" / MANIFEST, raw)
    except BundleError as exc:
        assert one_line(exc), str(exc)
        return exc


@SETTINGS
@given(data=st.data(), indent=st.sampled_from([None, 0, 1, 4]), extra=st.dictionaries(
    st.text(min_size=1, max_size=8).filter(lambda k: k.startswith("x_")) | st.just("x_note"),
    JSON, max_size=3))  # fmt: skip
def test_a_resealed_manifest_with_any_layout_or_extra_keys_reads_the_same(
    base, data, indent, extra
):
    keys = data.draw(st.permutations(list(base)))
    body = {k: base[k] for k in keys if k != SEAL} | extra
    text = json.dumps(sealed(body), indent=indent)
    got = check(json.loads(text))
    assert isinstance(got, dict), got
    assert {k: v for k, v in got.items() if k not in extra and k != SEAL} == {
        k: v for k, v in base.items() if k != SEAL
    }


@SETTINGS
@given(data=st.data(), value=JSON, reseal=st.booleans())
def test_any_value_in_any_field_is_read_or_refused_in_one_line(base, data, value, reseal):
    where = data.draw(st.sampled_from([p for p in key_paths(base) if p[0] != SEAL]))
    m = copy.deepcopy(base)
    node = m
    for p in where[:-1]:
        node = node[p]
    changed = node[where[-1]] != value
    node[where[-1]] = value
    got = check(sealed(m) if reseal else m)
    if changed and not reseal:  # the seal objects, or the format it claims is not one we read
        assert isinstance(got, BundleError)
        assert SEAL in str(got) or "bundle format" in str(got), str(got)


@SETTINGS
@given(key=st.sampled_from(["format_version", "kind", "files", "quantiles", "horizon", "lookback",
                            "freq", "timezone", "nonnegative", "model", "inputs", "outputs"]))  # fmt: skip
def test_a_manifest_without_a_required_field_is_refused_naming_it(base, key):
    m = {k: v for k, v in base.items() if k != key}
    got = check(sealed(m))
    assert isinstance(got, BundleError)
    assert key in str(got) or (key == "format_version" and "format" in str(got))


@SETTINGS
@given(body=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_any_bytes_as_the_manifest_are_refused_in_one_line(body):
    folder = Path(tempfile.mkdtemp())
    try:
        (folder / MANIFEST).write_bytes(body)
        with pytest.raises(BundleError) as err:
            read_manifest(folder)
        assert one_line(err.value)
    finally:
        shutil.rmtree(folder)
