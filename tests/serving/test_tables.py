"""The static table split into a job's groups (`partition_static`): every customer once, in its
group, whatever the number of files and flushes; the same refusals as reading it whole."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import serving.tables
from forecasting.errors import InputError
from serving.stream import read_group, stable_group
from serving.tables import partition_static, read_static


def _static(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame({
        "series_id": [f"C{i:05d}" for i in range(n)],
        "tariff": rng.choice(["flat", "tou", "dtou"], n),
        "acorn": rng.choice(["A", "B", "Q"], n),
        "note": "x",
    })  # fmt: skip


def test_every_customer_is_read_back_once_in_its_group(tmp_path, monkeypatch):
    monkeypatch.setattr(serving.tables, "STATIC_FLUSH_ROWS", 700)  # several flush files
    table = _static(2500)
    table.iloc[:1200].to_csv(tmp_path / "a.csv", index=False)
    table.iloc[1200:].assign(series_id=" " + table["series_id"].iloc[1200:]).to_csv(
        tmp_path / "b.csv", index=False
    )  # ids padded with spaces are stripped, as when the table is read whole
    (tmp_path / "parts").mkdir()
    partition_static(tmp_path, ["tariff", "acorn"], 7, tmp_path / "parts")
    assert len(list((tmp_path / "parts").glob("*.arrow"))) == 2  # a flush after each file
    whole = read_static(tmp_path, columns=["tariff", "acorn"])
    groups = stable_group(whole["series_id"], 7)
    seen = []
    for g in range(7):
        rows = read_group(tmp_path / "parts", g)
        assert list(rows.columns) == ["series_id", "tariff", "acorn"]  # only those asked for
        assert (stable_group(rows["series_id"], 7) == g).all()
        expected = whole[groups == g].reset_index(drop=True)
        pd.testing.assert_frame_equal(rows.astype(str), expected.astype(str))
        seen += list(rows["series_id"])
    assert sorted(seen) == sorted(whole["series_id"]) and len(seen) == 2500


def test_it_refuses_what_reading_the_table_whole_refuses(tmp_path):
    table = _static(50)
    (tmp_path / "out").mkdir()
    table.iloc[:30].to_csv(tmp_path / "one.csv", index=False)
    table.iloc[[5, *range(30, 50)]].to_csv(tmp_path / "two.csv", index=False)
    with pytest.raises(InputError, match=r"'C00005' appears more than once \(one.csv row 6 and "
                                         r"two.csv row 1\)"):  # fmt: skip
        partition_static(tmp_path, ["tariff"], 3, tmp_path / "out")
    empty = table.assign(series_id=table["series_id"].where(table.index != 9, ""))
    empty.to_csv(tmp_path / "empty.csv", index=False)
    with pytest.raises(InputError, match=r"empty.csv row 10: empty customer id"):
        partition_static(tmp_path / "empty.csv", ["tariff"], 3, tmp_path / "out")
    with pytest.raises(InputError, match=r"missing column\(s\) \['heating'\]"):
        partition_static(tmp_path / "one.csv", ["heating"], 3, tmp_path / "out")
    table.rename(columns={"series_id": "id"}).to_csv(tmp_path / "noid.csv", index=False)
    with pytest.raises(InputError, match="no id column 'series_id'"):
        partition_static(tmp_path / "noid.csv", ["tariff"], 3, tmp_path / "out")
