"""Property-based tests of the readers: numbers and timestamps written in any declared format
read back as what was written; text that is not in the format is refused, never guessed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forecasting.data.numbers import NumberFormat, parse_number_text
from forecasting.data.readers import read_table
from forecasting.data.timestamps import parse_timestamps
from forecasting.errors import InputError

FORMATS = [NumberFormat("."), NumberFormat(".", ","), NumberFormat(",", "."), NumberFormat(",", " "),
           NumberFormat(",")]  # fmt: skip
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def write_number(x: float, fmt: NumberFormat, group: bool) -> str:
    """`x` as a person writes it under `fmt` (grouped by three when `group` and allowed)."""
    whole, _, frac = f"{abs(x):.6f}".partition(".")
    if group and fmt.thousands:
        whole = f"{int(whole):,}".replace(",", fmt.thousands)
    sign = "-" if x < 0 else ""
    return f"{sign}{whole}{fmt.decimal}{frac}"


@SETTINGS
@given(
    st.lists(st.floats(-1e9, 1e9, allow_nan=False), min_size=1, max_size=30),
    st.sampled_from(FORMATS),
    st.booleans(),
)
def test_numbers_round_trip_in_every_declared_format(values, fmt, group):
    text = pd.Series([write_number(x, fmt, group) for x in values], dtype="string")
    parsed = parse_number_text(text, fmt).to_numpy()
    expected = np.array([float(f"{x:.6f}") for x in values])
    np.testing.assert_allclose(parsed, expected, rtol=0, atol=1e-6)


@SETTINGS
@given(st.integers(1, 999), st.integers(0, 999).map(lambda n: f"{n:03d}"))
def test_a_comma_is_never_guessed(head, tail):
    text = pd.Series([f"{head},{tail}"], dtype="string")
    assert np.isnan(parse_number_text(text, NumberFormat(".")).iloc[0])  # not declared: refused
    assert parse_number_text(text, NumberFormat(".", ",")).iloc[0] == int(f"{head}{tail}")
    assert parse_number_text(text, NumberFormat(",")).iloc[0] == float(f"{head}.{tail}")


@SETTINGS
@given(st.integers(1, 999), st.integers(0, 99).map(lambda n: f"{n:02d}"))
def test_bad_grouping_is_refused(head, tail):
    text = pd.Series([f"{head},{tail}"], dtype="string")  # two digits after a thousands comma
    assert np.isnan(parse_number_text(text, NumberFormat(".", ",")).iloc[0])


instants = st.datetimes(dt.datetime(1990, 1, 1), dt.datetime(2090, 1, 1)).map(
    lambda t: t.replace(microsecond=0, tzinfo=dt.UTC)
)
offsets = st.integers(-14 * 4, 14 * 4).map(lambda q: dt.timezone(dt.timedelta(minutes=15 * q)))


@SETTINGS
@given(st.lists(st.tuples(instants, offsets), min_size=1, max_size=20), st.sampled_from(["T", " "]))
def test_offset_timestamps_are_the_instants_they_name(pairs, sep):
    text = pd.Series([t.astimezone(tz).isoformat(sep=sep) for t, tz in pairs])
    parsed = parse_timestamps(text, None)
    assert parsed.instants
    expected = pd.Series([t.replace(tzinfo=None) for t, _ in pairs]).astype("datetime64[us]")
    pd.testing.assert_series_equal(parsed.values, expected, check_names=False)


@SETTINGS
@given(st.lists(instants, min_size=2, max_size=10), st.integers(1, 9))
def test_offsets_mixed_with_wall_times_are_refused(times, cut):
    cut = min(cut, len(times) - 1)
    text = [t.isoformat() for t in times[:cut]] + [
        t.strftime("%Y-%m-%d %H:%M") for t in times[cut:]
    ]
    with pytest.raises(InputError, match="mixed"):
        parse_timestamps(pd.Series(text), None)


cell = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs", "Cc", "Zl", "Zp"]), max_size=12
)


@SETTINGS
@given(st.lists(st.tuples(cell, cell, cell), min_size=1, max_size=15))
def test_csv_cells_read_back_as_written_with_their_rows(tmp_path_factory, rows):
    path = Path(tmp_path_factory.mktemp("csv")) / "t.csv"
    frame = pd.DataFrame(rows, columns=["a", "b", "c"])
    frame.to_csv(path, index=False)
    back = read_table(path, ["a", "b", "c"])
    assert back["_row"].tolist() == list(range(1, len(rows) + 1))
    for col, i in (("a", 0), ("b", 1), ("c", 2)):
        assert back[col].tolist() == [as_read(r[i]) for r in rows]


def as_read(cell: str) -> str:
    """What the reader gives for a cell pandas wrote: the text itself, but for the spaces before
    an unquoted cell (skipped, so that `Date, Price` headers and values read)."""
    quoted = any(ch in cell for ch in ',"\n\r')
    return cell if quoted else cell.lstrip(" ")


@SETTINGS
@given(st.integers(1, 20), st.integers(0, 19), st.sampled_from([1, 2, 4]))
def test_a_ragged_row_is_refused_with_its_row(tmp_path_factory, n, bad, fields):
    bad = bad % n
    lines = ["a,b,c"] + [",".join(["1"] * (fields if i == bad else 3)) for i in range(n)]
    if fields == 3:
        return
    path = Path(tmp_path_factory.mktemp("csv")) / "t.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=f"row {bad + 1}: {fields} fields where the header has 3"):
        read_table(path, ["a", "b", "c"])
