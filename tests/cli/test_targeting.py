"""`forecasting target-signals` end to end on a generated trial with planted engagement, and
on the real LCL trial where present."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from forecasting.response.trial import TrialSpec, write_trial
from tests.conftest import ROOT, shared_path

ENGAGEMENT = {0.97: 0.25, 0.75: 0.25, 0.45: 0.25, 0.0: 0.25}


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    out = tmp_path_factory.mktemp("trial")
    spec = TrialSpec(households=120, days=168, start="2024-01-01", engagement=ENGAGEMENT, seed=3)
    paths = write_trial(spec, out)
    cfg = {"trial": str(paths["config"]), "learn_until": "2024-03-25",
           "target": {"High": -0.02, "Low": 0.015}, "random_repeats": 10,
           "hour_weights": [{"level": "High", "hours": "16:00-20:00", "weight": 2.0}]}  # fmt: skip
    (out / "targeting.yaml").write_text(yaml.safe_dump(cfg))
    return out


def test_the_policy_learns_who_responds_and_its_intervals_are_calibrated(cli, planted, tmp_path):
    r = cli("target-signals", "--config", planted / "targeting.yaml", "--output", tmp_path / "o")
    assert r.code == 0, r.err
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert s["treated"] == 60 and s["events"]["test"] > 10
    for level in ("High", "Low"):  # 90% intervals on the later events, from the learned half
        assert 0.8 <= s["calibration"][level]["coverage_90"] <= 0.97
    post = pd.read_csv(tmp_path / "o" / "posterior.csv")
    truth = pd.read_csv(planted / "households.csv")[["series_id", "engagement"]]
    high = post[post["level"] == "High"].merge(truth, on="series_id", suffixes=("", "_true"))
    by = high.groupby("engagement_true")["expected_change"].mean()
    assert by[0.97] < by[0.0] - 0.02  # the engaged are expected to cut more
    pol = pd.DataFrame(s["policies"]).set_index(["policy", "level"])
    for level in ("High", "Low"):
        mine, sized = (
            pol.loc[("bayes (thompson)", level)],
            pol.loc[("random, sized to reach", level)],
        )
        assert mine["signals_per_event"] < sized["signals_per_event"]
        assert mine["signals_per_event"] < pol.loc[("all", level), "signals_per_event"]
    assert "<img" in (tmp_path / "o" / "report.html").read_text()


def test_the_real_lcl_trial_runs_through(cli, tmp_path):
    if not shared_path("lcl", "halfhourly_kwh_2013.parquet").exists():
        pytest.skip("../shared/data/lcl is absent")
    r = cli("target-signals", "--config", ROOT / "configs" / "targeting" / "lcl.yaml",
            "--rule", "expected", "--output", tmp_path / "o")  # fmt: skip
    assert r.code == 0, r.err
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert s["events"]["learn"] > 40 and s["events"]["test"] > 40
    events = pd.read_csv(tmp_path / "o" / "events.csv")
    every = events[events["policy"] == "all"]
    assert (every["signals"] == every["households"]).all()
    assert (events.groupby("policy").size() == len(every)).all()
