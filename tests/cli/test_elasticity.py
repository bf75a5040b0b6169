"""`forecasting elasticity`: a written trial end to end, the file the optimiser reads, the
errors a user meets, and the real LCL dToU trial."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from forecasting.errors import InputError
from forecasting.response.file import load_elasticities
from forecasting.response.trial import TrialSpec, write_trial
from tests.conftest import shared_path


@pytest.fixture(scope="module")
def trial(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_trial(TrialSpec(households=24, days=28, seed=2), tmp_path_factory.mktemp("trial"))


def _config(trial: dict[str, Path], tmp_path: Path, **changes: object) -> Path:
    cfg = yaml.safe_load(trial["config"].read_text()) | changes
    path = tmp_path / "elasticity.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_a_trial_end_to_end_writes_the_file_the_optimiser_reads(cli, trial, tmp_path):
    r = cli("elasticity", "--config", trial["config"], "--output", tmp_path / "out",
            "--bootstrap", "99")  # fmt: skip
    assert r.code == 0, r.err
    assert "12 treated, 12 control households" in r.out and "responders at High" in r.out
    for name in ("elasticity.json", "estimates.csv", "responders.csv", "by_time_of_day.csv",
                 "report.html", "response_by_time_of_day.png"):  # fmt: skip
        assert (tmp_path / "out" / name).stat().st_size > 0, name
    f = load_elasticities(tmp_path / "out" / "elasticity.json")
    assert f.reference_level == "Normal" and f.prices["High"] == pytest.approx(67.2)
    exact = f.lookup("High", "peak", "A")
    assert (exact.spec, exact.band, exact.group) == ("level x band x group", "peak", "A")
    assert f.lookup("High", "peak", "Z").spec == "level x band"  # no group Z: the band's
    assert f.lookup("Low").spec == "level"
    assert exact.elasticity is not None and exact.ci_low <= exact.log_change <= exact.ci_high
    with pytest.raises(InputError, match="no estimate for level 'Critical'"):
        f.lookup("Critical")
    doc = json.loads((tmp_path / "out" / "elasticity.json").read_text())
    assert (
        doc["source"]["rows_used"] == 24 * 28 * 48 and len(doc["source"]["readings_sha256"]) == 64
    )
    html = (tmp_path / "out" / "report.html").read_text()
    assert "response_by_time_of_day.png" in html and "Responders" in html


def test_group_by_from_the_command_line_and_no_bootstrap(cli, trial, tmp_path):
    r = cli("elasticity", "--config", trial["config"], "--output", tmp_path, "--bootstrap", "0",
            "--group-by", "archetype")  # fmt: skip
    assert r.code == 0, r.err
    groups = {e.group for e in load_elasticities(tmp_path / "elasticity.json").estimates}
    assert groups - {"all"} <= {"family", "commuter", "home_worker", "retired"}


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"treated": {"column": "plan", "value": "ToU"}}, "static column 'plan' is in neither"),
        ({"reference": "Medium"}, "reference level 'Medium' is not a level"),
        ({"tariff": "configs/tariffs/lcl_flat_2013.yaml"}, "the tariff's energy charge is 'flat'"),
        ({"bands": {"a": "00:00-12:00", "b": "13:00-24:00"}}, "no band covers 12:00"),
        ({"bands": {"a": "00:00-13:00", "b": "12:00-24:00"}}, "two bands cover 12:00"),
        ({"weather": ["rain"]}, "weather ['rain']: not a covariate of the data config"),
        ({"bootstrap": -1}, "bootstrap"),
    ],
)
def test_bad_configs_get_one_line(cli, trial, tmp_path, changes, says):
    r = cli(
        "elasticity", "--config", _config(trial, tmp_path, **changes), "--output", tmp_path / "o"
    )
    assert r.code == 2, r.out
    assert says in r.err and len(r.err.strip().splitlines()) == 1, r.err
    assert "Traceback" not in r.err


def test_a_file_that_is_not_an_elasticity_file_is_refused(tmp_path):
    (tmp_path / "e.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(InputError, match="not an elasticity file"):
        load_elasticities(tmp_path / "e.json")
    (tmp_path / "e.json").write_text(
        json.dumps({"format": "meterforecast.elasticity", "version": 9})
    )
    with pytest.raises(InputError, match="version 9"):
        load_elasticities(tmp_path / "e.json")


@pytest.mark.slow
@pytest.mark.shared_data
def test_lcl_dtou_trial_high_prices_cut_consumption(cli, tmp_path):
    shared_path("lcl", "halfhourly_kwh_2013.parquet")
    r = cli("elasticity", "--config", "configs/elasticity/lcl.yaml", "--output", tmp_path,
            "--bootstrap", "199")  # fmt: skip
    assert r.code == 0, r.err
    f = load_elasticities(tmp_path / "elasticity.json")
    high, low = f.lookup("High"), f.lookup("Low")
    assert high.ci_high < 0 < low.log_change  # the careful version of -8.5% / +6.7%
    assert high.households == 14
    assert {e.group for e in f.estimates} >= {"Affluent", "Adversity"}
