"""Backward compatibility: a bundle written by version 0.1.0 (format 1) still loads and gives
the forecasts recorded when it was made (`make_golden.py` made it)."""

from __future__ import annotations

import json

import pandas as pd

from serving.load import load_bundle
from tests.export.make_golden import GOLDEN, ORIGINS


def test_golden_bundle_loads_and_reproduces_its_recorded_forecasts():
    manifest = json.loads((GOLDEN / "bundle" / "manifest.json").read_text())
    assert manifest["format_version"] == 1 and manifest["package_version"] == "0.1.0"
    bundle = load_bundle(GOLDEN / "bundle")
    frame = pd.read_parquet(GOLDEN / "input.parquet")
    static = pd.read_parquet(GOLDEN / "static.parquet")
    forecasts, skipped = bundle.forecast(frame, ORIGINS, static)
    expected = pd.read_parquet(GOLDEN / "expected.parquet")
    assert skipped.empty and len(expected) == 3 * 3 * 24
    pd.testing.assert_frame_equal(forecasts, expected, rtol=1e-5, atol=1e-6)
