"""`forecasting predict`: streamed batch forecasts from a bundle on onnxruntime, torch-free.

Real parts throughout: a LightGBM run trained and exported through the CLI, the committed
golden CNN-LSTM bundle, real parquet/CSV files, and a real subprocess killed with SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from serving.load import load_bundle

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "fixtures" / "golden_bundle_v1"


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    """A LightGBM bundle and its canonical data: 8 generated households copied into 40 series."""
    from forecasting.config.data import load_data_config
    from forecasting.data.prepare import prepare
    from tests.models.helpers import synthetic_bundle

    root = tmp_path_factory.mktemp("predict")
    synthetic_bundle(
        root, "p_lightgbm", {"households": 8, "days": 45, "seed": 5},
        train={"start": "2023-10-22", "end": "2023-11-15"},
        validation={"start": "2023-11-16", "end": "2023-11-20"},
        model={"kind": "lightgbm", "n_estimators": 30, "num_leaves": 15},
    )  # fmt: skip
    prepared = prepare(load_data_config(root / "synth" / "data.yaml"))
    frame = prepared.frame[prepared.frame["timestamp"] >= pd.Timestamp("2023-11-18", tz="UTC")]
    copies, statics = [], []
    for k in range(5):  # 40 series: copies of the 8 households at other levels
        f = frame.assign(
            series_id=frame["series_id"] + f"_{k}", target=frame["target"] * (1 + k / 4)
        )
        copies.append(f)
        statics.append(prepared.static.assign(series_id=prepared.static["series_id"] + f"_{k}"))
    data = pd.concat(copies, ignore_index=True).drop(columns=["filled"])
    static = pd.concat(statics, ignore_index=True)
    data.to_parquet(root / "input.parquet", index=False)
    static.to_parquet(root / "static.parquet", index=False)
    return {"root": root, "bundle": root / "bundle", "data": data, "static": static}


def _run(cli, bundle, input, out, *extra):
    r = cli("predict", "--bundle", bundle, "--input", input, "--output", out, "--no-progress",
            *extra)  # fmt: skip
    assert r.code == 0, r.err
    return r


def _read(out: Path) -> pd.DataFrame:
    f = pd.read_parquet(out / "forecasts")
    return f.sort_values(["series_id", "origin", "horizon"]).reset_index(drop=True)


def test_predict_equals_the_bundle_on_the_whole_frame_for_every_input_form(cli, job, tmp_path):
    data, static = job["data"], job["static"]
    # a folder of parts split by time, so every series spans several files, rows shuffled
    parts = tmp_path / "parts"
    parts.mkdir()
    by_time = data.sample(frac=1.0, random_state=0).sort_values("timestamp", kind="stable")
    for i, idx in enumerate(np.array_split(np.arange(len(by_time)), 3)):
        by_time.iloc[idx].to_parquet(parts / f"p{i}.parquet", index=False)
    csv = tmp_path / "input.csv"
    data.assign(timestamp=data["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(
        csv, index=False
    )
    end = data["timestamp"].max() + pd.Timedelta(hours=1)
    expected, skipped = load_bundle(job["bundle"]).forecast(data, pd.DatetimeIndex([end]), static)
    expected = expected.sort_values(["series_id", "origin", "horizon"]).reset_index(drop=True)
    assert skipped.empty and expected["series_id"].nunique() == 40
    outs = {}
    for name, src in (("parquet", job["root"] / "input.parquet"), ("parts", parts), ("csv", csv)):
        out = tmp_path / f"out_{name}"
        r = _run(cli, job["bundle"], src, out, "--static", job["root"] / "static.parquet",
                 "--batch-size", "7")  # fmt: skip
        assert "forecast 40 of 40 series" in r.out
        got = _read(out)
        pd.testing.assert_frame_equal(
            got, expected.astype(got.dtypes.to_dict()), check_exact=False, rtol=1e-6, atol=1e-6
        )
        summary = json.loads((out / "summary.json").read_text())
        assert summary["groups"] == 6 and summary["rows_read"] == len(data)
        assert pd.read_csv(out / "errors.csv").empty
        outs[name] = got
    # the origin can be given; several origins forecast each series once per origin
    out = tmp_path / "two_origins"
    o1, o2 = end - pd.Timedelta(days=2), end - pd.Timedelta(days=1)
    _run(cli, job["bundle"], csv, out, "--static", job["root"] / "static.parquet",
         "--origin", o1.isoformat(), "--origin", o2.isoformat())  # fmt: skip
    got = _read(out)
    assert set(got["origin"]) == {o1, o2} and len(got) == 40 * 2 * 24


def test_bad_series_are_reported_with_file_and_row_and_the_rest_go_on(cli, job, tmp_path):
    data = job["data"].copy()
    data["target"] = data["target"].map(lambda v: f"{v:.4f}").astype(object)
    ids = sorted(data["series_id"].unique())
    bad_text, dup, short, inf = ids[0], ids[1], ids[2], ids[3]
    i_text = data.index[data["series_id"] == bad_text][10]
    data.loc[i_text, "target"] = "twelve"
    data.loc[data.index[data["series_id"] == inf][5], "target"] = "inf"
    dup_row = data[data["series_id"] == dup].iloc[[20]]
    data = pd.concat([data, dup_row], ignore_index=True)
    late = data["timestamp"] >= data["timestamp"].max() - pd.Timedelta(hours=30)
    data = data[(data["series_id"] != short) | late]
    data["timestamp"] = data["timestamp"].dt.strftime("%Y-%m-%d %H:%M:%S+00:00")
    bad_time = ids[4]
    data.loc[data.index[data["series_id"] == bad_time][3], "timestamp"] = "not a time"
    csv = tmp_path / "bad.csv"
    data.to_csv(csv, index=False)
    out = tmp_path / "out"
    r = _run(cli, job["bundle"], csv, out, "--static", job["root"] / "static.parquet")
    errors = pd.read_csv(out / "errors.csv")
    reasons = dict(zip(errors["series_id"], errors["reason"], strict=True))
    assert set(reasons) == {bad_text, dup, short, inf, bad_time}
    row = int(np.flatnonzero(data.index == i_text)[0]) + 1  # 1-based data row of the CSV
    assert reasons[bad_text] == f"bad.csv row {row}: target 'twelve' is not a finite number"
    assert "'inf' is not a finite number" in reasons[inf]
    assert "appears more than once" in reasons[dup]
    assert "history has" in reasons[short] and "intervals observed" in reasons[short]
    assert "'not a time' is not an ISO 8601 date-time" in reasons[bad_time]
    got = _read(out)
    assert set(got["series_id"]) == set(ids) - set(reasons)
    assert "series with errors: 5" in r.out and "forecast 35 of 40 series" in r.out


def test_clear_errors_for_unusable_jobs(cli, job, tmp_path):
    b, src = job["bundle"], job["root"] / "input.parquet"
    r = cli("predict", "--bundle", b, "--input", src, "--output", tmp_path / "o")
    assert r.code == 2 and "give them with --static" in r.err
    no_cov = tmp_path / "no_cov.parquet"
    job["data"].drop(columns=["temperature"]).to_parquet(no_cov)
    r = cli("predict", "--bundle", b, "--input", no_cov, "--output", tmp_path / "o")
    assert r.code == 2 and "missing the bundle's covariate(s) ['temperature']" in r.err
    st = ("--static", job["root"] / "static.parquet")
    r = cli("predict", "--bundle", b, "--input", src, "--output", tmp_path / "o", "--origin",
            "2023-12-01T00:30Z", "--origin", "2023-12-01T02:00Z", *st)  # fmt: skip
    assert r.code == 2 and "is not on the bundle's 0 days 01:00:00 grid" in r.err
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine")
    r = cli("predict", "--bundle", b, "--input", src, "--output", tmp_path / "full", *st)
    assert r.code == 2 and "not a predict job's folder" in r.err
    _run(cli, b, src, tmp_path / "done", *st)
    r = cli("predict", "--bundle", b, "--input", src, "--output", tmp_path / "done", *st,
            "--batch-size", "3")  # fmt: skip
    assert r.code == 2 and "other arguments (batch_size differ)" in r.err
    r = _run(cli, b, src, tmp_path / "done", *st)
    assert "already complete" in r.out
    r = cli("predict", "--bundle", GOLDEN / "bundle", "--input", src, "--output", tmp_path / "g")
    assert r.code == 2 and "static columns" in r.err


def _predict_process(bundle: Path, src: Path, out: Path, static: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "forecasting", "predict", "--bundle", bundle, "--input", src,
           "--output", out, "--static", static, "--batch-size", "1", "--no-progress"]  # fmt: skip
    return subprocess.Popen([str(c) for c in cmd], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)  # fmt: skip


def test_a_job_killed_part_way_resumes_to_the_uninterrupted_output(job, tmp_path):
    src, static = job["root"] / "input.parquet", job["root"] / "static.parquet"
    whole = tmp_path / "whole"
    p = _predict_process(job["bundle"], src, whole, static)
    assert p.wait(timeout=300) == 0, p.stderr.read() if p.stderr else ""
    killed = tmp_path / "killed"
    p = _predict_process(job["bundle"], src, killed, static)
    ledger = killed / "_job" / "ledger.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and p.poll() is None:
        if ledger.is_file() and len(ledger.read_text().splitlines()) >= 5:
            break
        time.sleep(0.005)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    assert p.returncode == -signal.SIGKILL
    assert not (killed / "summary.json").exists(), "the job ended before it could be killed"
    done_before = len(ledger.read_text().splitlines())
    assert 5 <= done_before < 40
    p = _predict_process(job["bundle"], src, killed, static)
    out, _ = p.communicate(timeout=300)
    assert p.returncode == 0 and b"resuming:" in out
    a, b = _read(whole), _read(killed)
    pd.testing.assert_frame_equal(a, b)
    assert not a.duplicated(["series_id", "origin", "horizon"]).any()
    assert a["series_id"].nunique() == 40
    assert (whole / "errors.csv").read_text() == (killed / "errors.csv").read_text()
    assert sorted(os.listdir(whole / "forecasts")) == sorted(os.listdir(killed / "forecasts"))


def test_resume_from_the_states_a_kill_can_leave(cli, job, tmp_path):
    """A half-written partition, a part written but not in the ledger, a cut ledger line and
    a stray temp file: the job restarts from them and ends as a clean run does."""
    src, st = job["root"] / "input.parquet", ("--static", job["root"] / "static.parquet")
    clean = tmp_path / "clean"
    _run(cli, job["bundle"], src, clean, *st, "--batch-size", "10")
    out = tmp_path / "out"
    _run(cli, job["bundle"], src, out, *st, "--batch-size", "10")
    (out / "summary.json").unlink()
    ledger = out / "_job" / "ledger.jsonl"
    lines = ledger.read_text().splitlines()
    ledger.write_text("\n".join(lines[:1]) + "\n" + lines[1][:15])  # group 2 written, not recorded
    (out / "forecasts" / "part-00003.parquet").unlink()
    (out / "forecasts" / ".part-00003.parquet.tmp").write_bytes(b"PAR1 half")
    (out / "_job" / "partition.tmp").mkdir()  # a partition pass cut short, before its rename
    r = _run(cli, job["bundle"], src, out, *st, "--batch-size", "10")
    assert "resuming: 1 of 4 groups already done" in r.out
    pd.testing.assert_frame_equal(_read(clean), _read(out))
    assert sorted(os.listdir(clean / "forecasts")) == sorted(os.listdir(out / "forecasts"))


def test_deep_bundle_predicts_like_the_golden_record(cli, tmp_path):
    out = tmp_path / "golden"
    _run(cli, GOLDEN / "bundle", GOLDEN / "input.parquet", out, "--static",
         GOLDEN / "static.parquet", "--origin", "2023-11-28", "--origin", "2023-11-29",
         "--origin", "2023-11-30")  # fmt: skip
    expected = pd.read_parquet(GOLDEN / "expected.parquet")
    expected = expected.sort_values(["series_id", "origin", "horizon"]).reset_index(drop=True)
    got = _read(out)
    pd.testing.assert_frame_equal(got, expected.astype(got.dtypes.to_dict()), rtol=1e-5, atol=1e-6)


def test_int8_option_runs_a_quantised_graph_close_to_float(cli, job, tmp_path):
    args = ("--static", GOLDEN / "static.parquet", "--origin", "2023-11-29")
    _run(cli, GOLDEN / "bundle", GOLDEN / "input.parquet", tmp_path / "f32", *args)
    _run(cli, GOLDEN / "bundle", GOLDEN / "input.parquet", tmp_path / "i8", *args, "--int8")
    a, b = _read(tmp_path / "f32"), _read(tmp_path / "i8")
    change = (a["p50"] - b["p50"]).abs().mean() / a["p50"].abs().mean()
    assert len(a) == len(b) == 72 and 0 < change < 0.05
    r = cli("predict", "--bundle", job["bundle"], "--input", job["root"] / "input.parquet",
            "--output", tmp_path / "t", "--int8", "--static", job["root"] / "static.parquet")  # fmt: skip
    assert r.code == 2 and "applies to deep graphs, not trees" in r.err


def test_a_series_that_breaks_the_model_call_is_isolated(job, tmp_path, monkeypatch):
    """Whatever fails inside the model call for one series (here: a fault planted in the
    call), the group is retried series by series and only that series is lost."""
    from serving.predict import PredictJob

    p = PredictJob(job["bundle"], str(job["root"] / "input.parquet"), tmp_path / "o",
                   static=str(job["root"] / "static.parquet"), progress=False)  # fmt: skip
    real = p.bundle.forecast
    broken = sorted(job["data"]["series_id"].unique())[7]

    def forecast(frame, *args, **kw):
        if (frame["series_id"] == broken).any():
            raise FloatingPointError("overflow in a planted fault")
        return real(frame, *args, **kw)

    monkeypatch.setattr(p.bundle, "forecast", forecast)
    s = p.run()
    errors = pd.read_csv(tmp_path / "o" / "errors.csv")
    assert errors["series_id"].tolist() == [broken]
    assert errors["reason"].iloc[0] == "FloatingPointError: overflow in a planted fault"
    assert s["series_forecast"] == 39 and _read(tmp_path / "o")["series_id"].nunique() == 39


def test_peaks_are_the_daily_peak_product_of_the_written_forecasts(cli, job, tmp_path):
    """--peaks writes one row per series, origin and local day, equal to the peak product of
    the forecasts written beside it; a group whose peaks part is lost is redone on resume."""
    from forecasting.forecasts.peaks import daily_peaks

    out = tmp_path / "o"
    args = ["predict", "--bundle", job["bundle"], "--input", job["root"] / "input.parquet",
            "--static", job["root"] / "static.parquet", "--output", out, "--peaks",
            "--batch-size", "16", "--no-progress"]  # fmt: skip
    r = cli(*args)
    assert r.code == 0, r.err
    fc = _read(out)
    peaks = pd.read_parquet(out / "peaks").sort_values(["series_id", "origin", "day"])
    bundle = load_bundle(job["bundle"])
    cal = bundle.calibration
    want = daily_peaks(fc, bundle.quantiles, bundle.manifest["timezone"],
                       None if cal is None else cal.correlation)  # fmt: skip
    pd.testing.assert_frame_equal(peaks.reset_index(drop=True), want, check_dtype=False)
    days = fc.assign(day=fc["timestamp"].dt.tz_convert("Europe/London").dt.date)
    assert len(peaks) == days[["series_id", "origin", "day"]].drop_duplicates().shape[0]
    assert (peaks["peak_p10"] <= peaks["peak_p50"]).all()
    assert (peaks["peak_p50"] <= peaks["peak_p90"]).all()
    p = peaks["likeliest_probability"]
    assert ((p > 0) & (p <= 1)).all()
    s = json.loads((out / "summary.json").read_text())
    assert s["peak_days"] == len(peaks)
    assert s["peak_paths"].startswith("independent" if cal is None or cal.correlation is None
                                      else "copula")  # fmt: skip
    assert "daily peaks:" in r.out

    lost = sorted((out / "peaks").iterdir())[0]  # as if killed between the two part files
    lost.unlink()
    (out / "summary.json").unlink()
    r = cli(*args)
    assert r.code == 0 and "resuming:" in r.out, r.err
    again = pd.read_parquet(out / "peaks").sort_values(["series_id", "origin", "day"])
    pd.testing.assert_frame_equal(again.reset_index(drop=True), peaks.reset_index(drop=True))
