"""predict on hostile inputs: one series off the grid, a history far outside the training range,
a resumed job, and offsets in the timestamps."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from serving.predict import PredictJob


@pytest.fixture
def frame(corpus_workspace) -> pd.DataFrame:
    return pd.read_parquet(corpus_workspace["canonical"])


def run(
    w, tmp_path, data: pd.DataFrame | None, name: str = "out", *, path=None, **kw
) -> tuple[dict, pd.DataFrame]:
    """Run predict on `data` written to a file of its own, or on `path` as it stands."""
    if path is None:
        path = tmp_path / f"{name}.parquet"
        data.to_parquet(path, index=False)
    job = PredictJob(w["bundle"], str(path), tmp_path / name, static=str(w["static"]),
                     progress=False, echo=lambda s: None, **kw)  # fmt: skip
    summary = job.run()
    errors = pd.read_csv(tmp_path / name / "errors.csv")
    return summary, errors


def test_one_series_off_the_grid_does_not_move_the_origin(corpus_workspace, tmp_path, frame):
    ids = frame["series_id"].unique()
    shifted = frame.copy()
    late = shifted["series_id"] == ids[0]
    shifted.loc[late, "timestamp"] += pd.Timedelta(minutes=30)  # and it ends 30 min later
    summary, errors = run(corpus_workspace, tmp_path, shifted)
    assert summary["origins"] == [(frame["timestamp"].max() + pd.Timedelta(hours=1)).isoformat()]
    assert summary["series_forecast"] == len(ids) - 1
    assert errors["series_id"].tolist() == [ids[0]] and "grid" in errors["reason"].iloc[0]


def test_a_history_beyond_the_model_gives_an_error_not_infinite_forecasts(
    corpus_workspace, tmp_path, frame
):
    ids = frame["series_id"].unique()
    huge = frame.copy()
    huge.loc[huge["series_id"] == ids[0], "target"] = 3e38  # finite, yet the output overflows
    huge.loc[huge["series_id"] == ids[1], "target"] = 1e300  # beyond float32: a bad input row
    _, errors = run(corpus_workspace, tmp_path, huge)
    out = pd.read_parquet(tmp_path / "out" / "forecasts")
    assert np.isfinite(out[["p10", "p50", "p90"]].to_numpy()).all()
    assert set(out["series_id"]) == set(ids[2:])
    reasons = dict(zip(errors["series_id"], errors["reason"], strict=True))
    assert "non-finite forecast" in reasons[ids[0]]
    assert "too large for a model" in reasons[ids[1]]


def test_parts_written_after_a_resume_match_an_uninterrupted_run(corpus_workspace, tmp_path, frame):
    source = tmp_path / "input.parquet"
    frame.to_parquet(source, index=False)
    whole, _ = run(corpus_workspace, tmp_path, None, "whole", path=source, batch_size=2)
    # a job stopped after its partition: the plan, scan and partition are there, no part yet
    job_dir = tmp_path / "resumed"
    run(corpus_workspace, tmp_path, None, "resumed", path=source, batch_size=2)
    (job_dir / "summary.json").unlink()
    for part in (job_dir / "forecasts").glob("*.parquet"):
        part.unlink()
    (job_dir / "_job" / "ledger.jsonl").unlink()
    run(corpus_workspace, tmp_path, None, "resumed", path=source, batch_size=2)
    a = pd.read_parquet(tmp_path / "whole" / "forecasts")
    b = pd.read_parquet(job_dir / "forecasts")
    assert a["origin"].dtype == b["origin"].dtype == "datetime64[ns, UTC]"
    keys = ["series_id", "origin", "horizon"]
    pd.testing.assert_frame_equal(a.sort_values(keys, ignore_index=True),
                                  b.sort_values(keys, ignore_index=True))  # fmt: skip
    assert (
        json.loads((job_dir / "summary.json").read_text())["series_forecast"]
        == whole["series_forecast"]
    )


def test_offset_timestamps_in_a_csv_input_are_instants(corpus_workspace, tmp_path, frame):
    text = frame.copy()
    text["timestamp"] = (
        text["timestamp"].dt.tz_convert("Europe/London").map(lambda t: t.isoformat())
    )
    path = tmp_path / "offsets.csv"
    text.to_csv(path, index=False)
    job = PredictJob(corpus_workspace["bundle"], str(path), tmp_path / "o", static=str(corpus_workspace["static"]),
                     progress=False, echo=lambda s: None)  # fmt: skip
    summary = job.run()
    assert summary["origins"] == [(frame["timestamp"].max() + pd.Timedelta(hours=1)).isoformat()]
    assert summary["series_forecast"] == frame["series_id"].nunique()
