"""The partition pass: whole series per group however the input is ordered, a few large flush
files (not a file per group and flush), each group read back in the order read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from serving import stream
from serving.stream import forget_partition, open_source, partition, read_group, stable_group


@pytest.fixture
def shuffled(tmp_path) -> Path:
    rng = np.random.default_rng(4)
    ts = pd.date_range("2024-01-01", periods=50, freq="h", tz="UTC")
    frame = pd.concat(
        pd.DataFrame({"series_id": f"s{i:02d}", "timestamp": ts, "target": rng.random(50)})
        for i in range(30)
    ).sample(frac=1.0, random_state=2)  # series interleaved
    frame.to_parquet(tmp_path / "in.parquet", index=False, row_group_size=100)
    return tmp_path / "in.parquet"


def test_groups_hold_whole_series_in_the_order_read_from_few_files(shuffled, tmp_path, monkeypatch):
    monkeypatch.setattr(stream, "FLUSH_ROWS", 400)  # 1,500 rows: four flushes
    monkeypatch.setattr(stream, "BATCH_ROWS", 100)
    folder = tmp_path / "p"
    folder.mkdir()
    meta = partition(open_source(shuffled, []), 7, folder)
    assert meta["rows"] == 1500 and meta["bad_rows"] == 0
    assert sorted(p.name for p in folder.iterdir()) == [f"b00000-{k:06d}.arrow" for k in range(4)]
    source = pd.read_parquet(shuffled).reset_index(drop=True)
    expected_group = stable_group(source["series_id"], 7)
    seen = 0
    for g in range(7):
        rows = read_group(folder, g)
        mine = source[expected_group == g]
        if rows is None:
            assert mine.empty
            continue
        assert list(rows["_row"]) == [i + 1 for i in mine.index]  # every row, in input order
        assert rows["series_id"].tolist() == mine["series_id"].tolist()
        assert rows["series_id"].dtype == "string"
        np.testing.assert_array_equal(rows["target"].to_numpy(), mine["target"].to_numpy())
        seen += len(rows)
    assert seen == 1500
    forget_partition(folder)
    assert not [k for k in stream._READERS if k[0].startswith(str(folder))]


def test_at_most_the_cap_of_files_stays_open_and_reads_stay_right(shuffled, tmp_path, monkeypatch):
    monkeypatch.setattr(stream, "FLUSH_ROWS", 200)
    monkeypatch.setattr(stream, "BATCH_ROWS", 100)
    monkeypatch.setattr(stream, "MAX_OPEN_READERS", 2)
    folder = tmp_path / "p"
    folder.mkdir()
    partition(open_source(shuffled, []), 3, folder)
    assert len(list(folder.iterdir())) == 8
    total = sum(len(read_group(folder, g)) for g in range(3))  # type: ignore[arg-type]
    assert total == 1500 and len(stream._READERS) <= 2
    forget_partition(folder)


def test_a_partition_written_by_an_earlier_release_is_still_read(tmp_path):
    folder = tmp_path / "p"
    (folder / "g=00001").mkdir(parents=True)
    table = pa.table({"series_id": ["a", "a"], "target": [1.0, 2.0]})
    pq.write_table(table, folder / "g=00001" / "b000000.parquet")
    pq.write_table(table.slice(1), folder / "g=00001" / "b000001.parquet")
    assert read_group(folder, 1)["target"].tolist() == [1.0, 2.0, 2.0]  # type: ignore[index]
    assert read_group(folder, 0) is None


def test_files_partitioned_by_several_processes_read_back_as_from_one_pass(shuffled, tmp_path):
    frame = pd.read_parquet(shuffled)
    parts = tmp_path / "parts"
    parts.mkdir()
    for k in range(5):  # five input files of unequal sizes, series across files
        frame.iloc[k * 250 : (k + 1) * 250 + k * 20].to_parquet(parts / f"p{k}.parquet")
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    source = open_source(parts, [])
    a = partition(source, 4, one, step=pd.Timedelta("1h"))
    b = partition(source, 4, two, step=pd.Timedelta("1h"), processes=2)
    assert a == b and a["rows"] == sum(len(pd.read_parquet(f)) for f in parts.iterdir())
    firsts = {p.name.split("-")[0] for p in two.iterdir()}
    assert len(firsts) == 2  # two passes wrote files
    for g in range(4):
        pd.testing.assert_frame_equal(read_group(one, g), read_group(two, g))
    forget_partition(one)
    forget_partition(two)
