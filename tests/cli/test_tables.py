"""Terminal tables keep their columns apart whatever the size of the values (issue 17, item 11)."""

from __future__ import annotations

from forecasting.cli.tables import number, table


def test_large_values_never_run_into_their_neighbours():
    rows = [
        ["model", number(1234.56789), number(23456.7), number(0.1234), number(98765.4321)],
        [
            "seasonal_naive",
            number(31234.5),
            number(123456.0),
            number(12.3456),
            number(float("nan")),
        ],
    ]
    text = table(["", "MAE", "RMSE", "qrisk50", "peak"], rows)
    lines = text.splitlines()
    assert [len(line.split()) for line in lines] == [4, 5, 5]  # every cell stands apart
    assert "31,234" in text and "0.1234" in text and "nan" in text
    ends = {len(line) for line in lines}
    assert len(ends) == 1  # right-aligned columns end together


def test_numbers_keep_four_decimals_for_kwh_and_fewer_for_large_units():
    assert number(0.19584) == "0.1958"
    assert number(123.456) == "123.46"
    assert number(45678.9) == "45,679"
    assert number(12, None) == "12"
    assert number(0.7634, 3) == "0.763"
