"""A corpus of bad inputs fed to `data validate` / `data prepare`: each gets its clear message,
the right exit code, no traceback, and loses no row (rows_in = rows_out + quarantined)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

CONFIG = {
    "name": "corpus",
    "input": {
        "path": "unused.csv",
        "series_id": "meter",
        "timestamp": "time",
        "timezone": "Europe/London",
        "target": "kwh",
    },
    "frequency": "30min",
    "output_frequency": "1h",
    "validation": {"max_value": 10.0},
}


def local_rows(
    start: str, hours: int, tz: str = "Europe/London", meters: tuple[str, ...] = ("A", "B")
) -> list[dict]:
    """Half-hourly readings written in local wall time, as many meters export them."""
    utc = pd.date_range(
        pd.Timestamp(start, tz=tz).tz_convert("UTC"), periods=2 * hours, freq="30min"
    )
    wall = utc.tz_convert(tz).strftime("%Y-%m-%d %H:%M:%S")
    return [
        {"meter": m, "time": w, "kwh": f"{0.2 + 0.01 * (i % 7):.3f}"}
        for m in meters
        for i, w in enumerate(wall)
    ]


def write(tmp: Path, rows: list[dict], config: dict | None = None) -> tuple[Path, Path]:
    csv = tmp / "readings.csv"
    pd.DataFrame(rows, columns=["meter", "time", "kwh"]).to_csv(csv, index=False)
    cfg = tmp / "cfg.yaml"
    cfg.write_text(yaml.safe_dump(config or CONFIG))
    return csv, cfg


def validate(cli, tmp: Path, csv: Path, cfg: Path):
    q = tmp / "q.parquet"
    res = cli("data", "validate", csv, "--config", cfg, "--quarantine", q, "--json")
    assert "Traceback" not in res.err
    if res.code == 2:
        return res, None, None
    report = res.json()
    quarantine = pd.read_parquet(q)
    # no row lost: every input row is either in the output or in the quarantine file
    assert report["rows_in"] == report["rows_out"] + report["rows_quarantined"]
    assert len(quarantine) == report["rows_quarantined"]
    assert report["rows_in"] == len(pd.read_csv(csv, dtype=str, keep_default_na=False))
    return res, report, quarantine


def base(hours: int = 24) -> list[dict]:
    return local_rows("2024-05-01 00:00", hours)


def test_clean_input_exits_zero(cli, tmp_path):
    res, report, q = validate(cli, tmp_path, *write(tmp_path, base()))
    assert res.code == 0, res.out
    assert report["rows_quarantined"] == 0 and len(q) == 0
    assert report["series"] == 2 and report["output_rows"] == 48


def mutate(rows: list[dict], i: int, **changes: str) -> list[dict]:
    rows = [dict(r) for r in rows]
    rows[i].update(changes)
    return rows


# (name, rows builder, expected reason, text in detail or None)
ROW_CASES = [
    (
        "unparseable_timestamp",
        lambda: mutate(base(), 5, time="2024-05-01 25:99"),
        "unparseable_timestamp",
        "ISO 8601",
    ),
    ("negative_energy", lambda: mutate(base(), 6, kwh="-0.4"), "negative_target", "negative"),
    ("nan_value", lambda: mutate(base(), 7, kwh="NaN"), "non_finite_target", "NaN"),
    ("infinite_value", lambda: mutate(base(), 7, kwh="inf"), "non_finite_target", "infinite"),
    ("empty_value", lambda: mutate(base(), 8, kwh=""), "non_finite_target", "empty"),
    ("text_value", lambda: mutate(base(), 9, kwh="n/a-ERR"), "unparseable_target", "not a number"),
    ("spike", lambda: mutate(base(), 10, kwh="57.5"), "spike", "max_value 10"),
    ("missing_series_id", lambda: mutate(base(), 11, meter=""), "missing_series_id", "empty"),
    (
        "off_grid_timestamp",
        lambda: mutate(base(), 12, time="2024-05-01 06:17:00"),
        "off_grid_timestamp",
        "30min grid",
    ),
    (
        "duplicate_identical",
        lambda: [*base(), base()[3]],
        "duplicate_timestamp",
        "same value as row 4",
    ),
    (
        "duplicate_conflicting",
        lambda: [*base(), {**base()[3], "kwh": "0.999"}],
        "duplicate_timestamp",
        "conflicts with kept row 4",
    ),
    (
        "nonexistent_local_time",
        lambda: [
            *local_rows("2024-03-31 00:00", 6, meters=("A",)),
            {"meter": "A", "time": "2024-03-31 01:30:00", "kwh": "0.3"},
        ],
        "nonexistent_local_time",
        "Europe/London",
    ),
    (
        "autumn_hour_three_times",
        lambda: [
            *local_rows("2024-10-27 00:00", 6, meters=("A",)),
            {"meter": "A", "time": "2024-10-27 01:00:00", "kwh": "0.3"},
        ],
        "duplicate_timestamp",
        "more than twice",
    ),
    ("incomplete_hour", lambda: base()[:-1], "incomplete_interval", "1 of 2 readings"),
]


@pytest.mark.parametrize(
    ("name", "build", "reason", "detail"), ROW_CASES, ids=[c[0] for c in ROW_CASES]
)
def test_bad_rows_are_quarantined_with_reason(cli, tmp_path, name, build, reason, detail):
    res, report, q = validate(cli, tmp_path, *write(tmp_path, build()))
    assert res.code == 1, f"{name}: {res.out} {res.err}"
    assert report["quarantined_by_reason"].get(reason, 0) >= 1, report["quarantined_by_reason"]
    rows = q[q["reason"] == reason]
    assert rows["detail"].str.contains(detail, regex=False).any(), rows["detail"].tolist()
    assert rows["source_row"].min() >= 1  # the file row is named


def test_autumn_repeat_is_legitimate_and_resolved_to_distinct_utc_hours(cli, tmp_path):
    rows = local_rows("2024-10-27 00:00", 6, meters=("A",))  # 01:00-01:59 appears twice
    csv, cfg = write(tmp_path, rows)
    res, report, _q = validate(cli, tmp_path, csv, cfg)
    assert res.code == 0, res.out
    assert report["dst"]["autumn_repeats_resolved"] == 2  # 01:00 and 01:30, second occurrence each
    assert report["output_rows"] == 6 and report["gaps"]["missing_intervals_found"] == 0


def test_unsorted_input_is_sorted_not_rejected(cli, tmp_path):
    rows = base()
    rows = rows[::-1]
    csv, cfg = write(tmp_path, rows)
    res, report, _q = validate(cli, tmp_path, csv, cfg)
    assert res.code == 0
    assert report["unsorted_rows"] > 0 and report["rows_quarantined"] == 0


def test_gap_is_reported_and_exit_one(cli, tmp_path):
    rows = [r for i, r in enumerate(base()) if not 10 <= i < 16]  # 3 hours missing in meter A
    res, report, _q = validate(cli, tmp_path, *write(tmp_path, rows))
    assert res.code == 1
    assert report["rows_quarantined"] == 0
    g = report["gaps"]
    assert (
        g["gaps_found"] == 1 and g["missing_intervals_found"] == 3 and g["longest_gap_hours"] == 3.0
    )
    assert g["remaining_gap_examples"][0]["series_id"] == "A"


def test_gap_filled_only_by_explicit_policy(cli, tmp_path):
    rows = [r for i, r in enumerate(base()) if not 10 <= i < 14]  # 2 hours missing
    cfg = {**CONFIG, "gaps": {"method": "linear", "max_length": 2}}
    res, report, _q = validate(cli, tmp_path, *write(tmp_path, rows, cfg))
    assert res.code == 0
    assert (
        report["gaps"]["filled_intervals"] == 2
        and report["gaps"]["remaining_missing_intervals"] == 0
    )


# unusable inputs: exit 2 and a one-line reason
def test_missing_file(cli, tmp_path):
    _, cfg = write(tmp_path, base())
    res = cli("data", "validate", tmp_path / "nope.csv", "--config", cfg)
    assert res.code == 2 and "not found" in res.err and "nope.csv" in res.err


def test_empty_file(cli, tmp_path):
    csv, cfg = write(tmp_path, base())
    csv.write_text("")
    res = cli("data", "validate", csv, "--config", cfg)
    assert res.code == 2 and "empty" in res.err


def test_header_only(cli, tmp_path):
    csv, cfg = write(tmp_path, [])
    res = cli("data", "validate", csv, "--config", cfg)
    assert res.code == 2 and "no data rows" in res.err


def test_missing_column(cli, tmp_path):
    csv, cfg = write(tmp_path, base())
    pd.read_csv(csv).drop(columns="kwh").to_csv(csv, index=False)
    res = cli("data", "validate", csv, "--config", cfg)
    assert res.code == 2 and "missing column(s) 'kwh'" in res.err and "'meter'" in res.err


def test_binary_garbage_instead_of_csv(cli, tmp_path):
    csv, cfg = write(tmp_path, base())
    csv.write_bytes(bytes(range(256)) * 10)
    res = cli("data", "validate", csv, "--config", cfg)
    assert res.code == 2 and str(csv) in res.err and "Traceback" not in res.err


def test_corrupt_parquet(cli, tmp_path):
    _, cfg = write(tmp_path, base())
    bad = tmp_path / "readings.parquet"
    bad.write_bytes(b"PAR1" + b"\x00" * 100)
    res = cli("data", "validate", bad, "--config", cfg)
    assert res.code == 2 and "parquet" in res.err


def test_wrong_dtype_whole_column(cli, tmp_path):
    rows = [{**r, "kwh": "yes"} for r in base()]
    csv, cfg = write(tmp_path, rows)
    res = cli("data", "validate", csv, "--config", cfg)
    assert res.code == 2
    assert "no usable rows" in res.err and "unparseable_target" in res.err and "'yes'" in res.err


def test_config_unknown_key_names_file_line_and_allowed(cli, tmp_path):
    csv, cfg = write(tmp_path, base())
    cfg.write_text(cfg.read_text().replace("timezone: Europe/London", "timezon: Europe/London"))
    res = cli("data", "validate", csv, "--config", cfg)
    assert res.code == 2
    assert (
        f"{cfg}:" in res.err and "unknown key 'input.timezon'" in res.err and "timezone" in res.err
    )


def test_config_bad_value(cli, tmp_path):
    csv, cfg = write(tmp_path, base())
    cfg.write_text(cfg.read_text().replace("Europe/London", "Mars/Olympus"))
    res = cli("data", "validate", csv, "--config", cfg)
    assert res.code == 2 and "input.timezone" in res.err and "Mars/Olympus" in res.err


def test_config_file_missing(cli, tmp_path):
    res = cli("data", "validate", tmp_path / "x.csv", "--config", tmp_path / "missing.yaml")
    assert res.code == 2 and "config file not found" in res.err


def test_prepare_loses_nothing_on_dirty_input(cli, tmp_path):
    rows = mutate(base(), 3, kwh="-1")
    rows = mutate(rows, 4, time="garbage")
    csv, cfg = write(tmp_path, rows)
    res = cli(
        "data", "prepare", "--config", cfg, "--input", csv, "--output", tmp_path / "out", "-q"
    )
    assert res.code == 0, res.err
    out = tmp_path / "out"
    q = pd.read_parquet(out / "quarantine.parquet")
    report = yaml.safe_load((out / "report.json").read_text())
    # rows 4 and 5 (01:30 and 02:00) are rejected; their half-hour partners leave two hours
    # incomplete, and those partners are quarantined too, never dropped silently
    assert q["reason"].value_counts().to_dict() == {
        "incomplete_interval": 2,
        "negative_target": 1,
        "unparseable_timestamp": 1,
    }
    assert report["rows_in"] == report["rows_out"] + len(q) == len(rows)
