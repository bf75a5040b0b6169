"""The job folder of `predict`, `bill` and `impute`: plan, ledger and what a kill leaves.
(Whole jobs stopped and resumed: tests/serving/test_predict.py and test_engines.py.)"""

from __future__ import annotations

import pandas as pd
import pytest

from forecasting.errors import InputError
from serving.job_folder import LEDGER, JobFolder, frame_fingerprint


def test_a_job_is_taken_up_only_with_the_arguments_it_was_started_with(tmp_path):
    job = JobFolder(tmp_path / "out")
    args = {"input": [{"path": "/a.parquet", "size": 10}], "batch_size": 5}
    assert job.open(args) is False  # started
    job.record({"group": 0, "parts": []})
    assert JobFolder(tmp_path / "out").open(args) is True  # taken up, ledger kept
    assert list(job.finished(lambda e: True)) == [0]
    assert job.open({**args, "batch_size": 6}) is False  # other arguments: started over
    assert job.finished(lambda e: True) == {}
    with pytest.raises(InputError, match=r"other arguments \(batch_size differ\)"):
        job.refuse_other(args)


def test_the_ledger_skips_a_line_cut_by_a_kill_and_entries_whose_parts_are_gone(tmp_path):
    job = JobFolder(tmp_path, key="batch")
    job.open({"x": 1})
    (tmp_path / "p1").write_text("part")
    for b in range(3):
        job.record({"batch": b, "parts": [f"p{b}"]})
    with (job.path / LEDGER).open("a") as fh:
        fh.write('{"batch": 3, "par')  # the kill came mid-line
    done = job.finished(lambda e: all((tmp_path / p).is_file() for p in e["parts"]))
    assert list(done) == [1]


def test_a_table_fingerprint_follows_its_content():
    a = pd.DataFrame({"series_id": ["x", "y"], "acorn": ["A", "B"]})
    assert frame_fingerprint(a) == frame_fingerprint(a.copy())
    assert frame_fingerprint(a) != frame_fingerprint(a.assign(acorn=["A", "C"]))
    assert frame_fingerprint(a) != frame_fingerprint(a.iloc[::-1])
    assert frame_fingerprint(None) is None
