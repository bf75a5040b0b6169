from __future__ import annotations

import pandas as pd

from forecasting.config.data import DataConfig
from forecasting.data.prepare import prepare
from forecasting.data.synthetic import SyntheticSpec, generate, synthetic_config, write_synthetic

EXPECTED_REASON = {
    "spike": "spike",
    "negative": "negative_target",
    "empty_value": "non_finite_target",
    "text_value": "unparseable_target",
    "duplicate_identical": "duplicate_timestamp",
    "duplicate_conflict": "duplicate_timestamp",
    "bad_timestamp": "unparseable_timestamp",
    "nonexistent_time": "nonexistent_local_time",
}


def test_every_injected_validation_fault_is_caught(tmp_path):
    spec = SyntheticSpec(households=6, days=200, start="2023-10-01", seed=11)  # both clock changes
    paths = write_synthetic(spec, tmp_path)
    faults = pd.read_csv(paths["faults"])
    p = prepare(DataConfig.model_validate(synthetic_config(tmp_path, spec)))
    got = p.report["quarantined_by_reason"]
    for kind, reason in EXPECTED_REASON.items():
        n = int((faults["kind"] == kind).sum())
        assert n > 0, kind
        assert got.get(reason, 0) >= n, (kind, got)
    assert p.report["dst"]["autumn_repeats_resolved"] == 6 * 2  # two half-hours repeated per house
    assert p.report["gaps"]["gaps_found"] >= (faults["kind"] == "gap").sum()
    assert p.report["identity_holds"]


def test_generator_is_seeded_and_shaped():
    a = generate(SyntheticSpec(households=3, days=21, seed=5, faults=False))
    b = generate(SyntheticSpec(households=3, days=21, seed=5, faults=False))
    pd.testing.assert_frame_equal(a.readings, b.readings)
    kwh = pd.to_numeric(a.readings["import_kwh"])
    assert (kwh >= 0).all() and kwh.mean() > 0.05
    assert a.faults.empty and set(a.households["archetype"]) <= {
        "family",
        "commuter",
        "home_worker",
        "retired",
    }
