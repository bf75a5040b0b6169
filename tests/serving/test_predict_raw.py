"""`forecasting predict --data-config` reads raw meter files the way `data prepare` does
(issue 17, item 12): the same forecasts as prepare-then-predict, a resumable job, and a clear
message (with the hint) when raw files are handed in without it."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.models.helpers import synthetic_bundle


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    root = tmp_path_factory.mktemp("raw_predict")
    data = synthetic_bundle(
        root, "raw_lightgbm", {"households": 5, "days": 45, "seed": 8},
        train={"start": "2023-10-22", "end": "2023-11-15"},
        validation={"start": "2023-11-16", "end": "2023-11-20"},
        model={"kind": "lightgbm", "n_estimators": 30, "num_leaves": 15},
    )  # fmt: skip
    return root, data


def forecasts(folder) -> pd.DataFrame:
    f = pd.read_parquet(folder / "forecasts")
    return f.sort_values(["series_id", "timestamp"]).reset_index(drop=True)


def test_raw_files_with_their_data_config_give_the_prepared_route_forecasts(cli, kit, tmp_path):
    root, data = kit
    raw = root / "synth" / "readings.csv"
    out = tmp_path / "from_raw"
    r = cli("predict", "--bundle", root / "bundle", "--input", raw, "--data-config", data,
            "--output", out)  # fmt: skip
    assert r.code == 0, r.err
    assert "quarantined" in r.out and (out / "_job" / "prepared" / "quarantine.parquet").is_file()

    prepared = tmp_path / "prepared"
    assert cli("data", "prepare", "--config", data, "--output", prepared, "-q").code in (0, 1)
    canonical = tmp_path / "from_frame"
    r = cli("predict", "--bundle", root / "bundle", "--input", prepared / "frame.parquet",
            "--static", prepared / "static.parquet", "--output", canonical)  # fmt: skip
    assert r.code == 0, r.err
    a, b = forecasts(out), forecasts(canonical)
    assert len(a) == 5 * 24
    pd.testing.assert_frame_equal(a, b)

    again = cli("predict", "--bundle", root / "bundle", "--input", raw, "--data-config", data,
                "--output", out)  # fmt: skip
    assert again.code == 0 and "already complete" in again.out


def test_a_job_on_raw_files_refuses_a_changed_data_config(cli, kit, tmp_path):
    root, data = kit
    raw = root / "synth" / "readings.csv"
    out = tmp_path / "job"
    assert cli("predict", "--bundle", root / "bundle", "--input", raw, "--data-config", data,
               "--output", out).code == 0  # fmt: skip
    edited = tmp_path / "data.yaml"
    edited.write_text(data.read_text() + "\n# edited\n", encoding="utf-8")
    r = cli("predict", "--bundle", root / "bundle", "--input", raw, "--data-config", edited,
            "--output", out)  # fmt: skip
    assert r.code == 2 and "another data config" in r.err and "Traceback" not in r.err


def test_raw_files_without_a_data_config_get_the_hint(cli, kit, tmp_path):
    root, _ = kit
    r = cli("predict", "--bundle", root / "bundle", "--input", root / "synth" / "readings.csv",
            "--output", tmp_path / "out")  # fmt: skip
    assert r.code == 2
    assert "missing column(s) ['target'] of the canonical long format" in r.err
    assert "give --data-config CFG" in r.err
    assert "the bundle's covariate(s) ['series_id'" not in r.err  # what it said before
