"""Fuzzing bundles (`tests/serving/bundle_fuzz.py`): random mutations of a real sealed bundle
and of the golden format-1 bundle are refused with one line or forecast as before; never an
unhandled error, never a file opened outside the bundle."""

from __future__ import annotations

from collections import Counter

import pandas as pd
import pytest

from tests.export.make_golden import GOLDEN, ORIGINS
from tests.serving.bundle_fuzz import fuzz


def _check(results, sealed: bool) -> Counter:
    counts = Counter(r.outcome for r in results)
    bad = [(r.mutation.detail, r.message[:200]) for r in results if r.outcome == "unhandled"]
    assert not bad, bad
    outside = [(r.mutation.detail, r.outside[:3]) for r in results if r.outside]
    assert not outside, outside
    if sealed:  # an edit that was not resealed never loads
        loose = [r.mutation.detail for r in results
                 if r.outcome == "different" and not r.mutation.resealed]  # fmt: skip
        assert not loose, loose
    assert counts["refused"] > 0 and counts["identical"] > 0
    return counts


@pytest.mark.slow
def test_sealed_bundle_mutations_are_refused_or_harmless(corpus_workspace, tmp_path):
    w = corpus_workspace
    frame = pd.read_parquet(w["canonical"])
    static = pd.read_csv(w["static"], dtype=str)
    origins = pd.DatetimeIndex([frame["timestamp"].max().floor("D") - pd.Timedelta(days=2)])
    results = fuzz(w["bundle"], frame, static, origins, tmp_path, n=300, seed=7)
    counts = _check(results, sealed=True)
    assert counts["refused"] >= 0.8 * len(results)


@pytest.mark.slow
def test_golden_format_1_bundle_mutations_never_crash(tmp_path):
    frame = pd.read_parquet(GOLDEN / "input.parquet")
    static = pd.read_parquet(GOLDEN / "static.parquet")
    results = fuzz(GOLDEN / "bundle", frame, static, ORIGINS, tmp_path, n=150, seed=3)
    _check(results, sealed=False)
