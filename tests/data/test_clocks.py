"""Which clock a file follows, told from its data (issue 17, item 6): the zone whose daylight-saving
changes match the days with a wall hour missing or repeated, and whether timestamps mark interval
starts or ends; a file read in UTC that shows a zone's changes gets a hint naming the zone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.data.clocks import clock_of, observed_changes


def wall_clock(
    zone: str, start: str, end: str, step: str, label: str = "start", series: int = 1,
    repeats: bool = True,
) -> pd.DataFrame:  # fmt: skip
    """Readings as a meter in `zone` writes them: local wall time, each interval labelled by its
    start or end (its wall start plus the step, as PJM's hour-ending HE1..HE24 do); with
    repeats=False the writer drops the autumn hour's second occurrence."""
    instants = pd.date_range(start, end, freq=step, tz=zone, inclusive="left")
    wall_start = instants.tz_localize(None)
    wall = pd.Series(wall_start + (pd.Timedelta(step) if label == "end" else pd.Timedelta(0)))
    if not repeats:
        wall = wall.drop_duplicates()
    rows = [pd.DataFrame({"series_id": f"M{i}", "timestamp": wall}) for i in range(series)]
    out = pd.concat(rows, ignore_index=True)
    out["kwh"] = np.random.default_rng(0).gamma(2.0, 0.2, len(out)).round(3)
    return out


def guess(frame: pd.DataFrame, step: str):
    sid = frame["series_id"] if frame["series_id"].nunique() > 1 else None
    return clock_of(
        observed_changes(frame["timestamp"], sid, pd.Timedelta(step)), pd.Timedelta(step)
    )


@pytest.mark.parametrize(
    ("zone", "step", "label", "expect", "ambiguous"),
    [
        ("Europe/London", "30min", "start", "Europe/London", False),
        # CET is shown by its best-known name; Moldova also moves 02:00 -> 03:00 on those days
        ("Europe/Brussels", "15min", "start", "Europe/Berlin", True),
        # every US zone changes at 02:00 wall time on the same days
        ("America/New_York", "1h", "end", "America/New_York", True),
        # southern hemisphere; Adelaide (+09:30) moves at 02:00 wall time on the same days
        ("Australia/Sydney", "30min", "start", "Australia/Sydney", True),
    ],
)  # fmt: skip
def test_the_zone_and_label_are_told_from_the_clock_changes(zone, step, label, expect, ambiguous):
    clock = guess(wall_clock(zone, "2022-01-01", "2024-01-01", step, label, series=3), step)
    assert clock is not None and clock.label == label
    assert clock.zone == expect and clock.seen == clock.expected == 2
    offsets = pd.date_range("2022-01-15", "2023-12-15", freq="MS", tz="UTC")
    same = [o.tz_convert(zone).utcoffset() == o.tz_convert(clock.zone).utcoffset() for o in offsets]
    assert all(same)  # the zone named keeps the meter's offsets, not only its change days
    assert clock.repeats == 2 and clock.ambiguous == ambiguous


def test_us_wall_clocks_are_named_as_ambiguous_and_dropped_repeats_are_no_evidence():
    frame = wall_clock("America/Chicago", "2021-01-01", "2023-01-01", "1h", repeats=False)
    clock = guess(frame, "1h")
    assert clock is not None and clock.ambiguous and clock.repeats == 0
    assert "America/Chicago" in clock.zones[:4] and "choose the meter's zone" in clock.describe()


def test_a_clock_without_daylight_saving_and_a_gap_on_a_change_day_name_no_zone():
    utc = wall_clock("UTC", "2022-01-01", "2024-01-01", "1h")
    assert guess(utc, "1h") is None
    # one meter missing the hour London skipped, on one of two change days: a gap, not a clock
    gap = utc[utc["timestamp"] != pd.Timestamp("2022-03-27 01:00")]
    assert guess(gap, "1h") is None
    # daily readings cannot show an hour's change
    assert observed_changes(utc["timestamp"], None, pd.Timedelta("1D")) is None


def test_validate_hints_at_the_zone_when_local_time_is_read_as_utc(cli, tmp_path):
    frame = wall_clock("America/New_York", "2021-01-01", "2023-01-01", "1h", "end", series=2)
    frame.to_csv(tmp_path / "meters.csv", index=False)
    cfg = tmp_path / "data.yaml"
    cfg.write_text(
        "name: ny\ninput:\n  path: " + str(tmp_path / "meters.csv") + "\n  series_id: series_id\n"
        "  timestamp: timestamp\n  target: kwh\n  timezone: UTC\nfrequency: 1h\n",
        encoding="utf-8",
    )
    r = cli("data", "validate", "--config", cfg)
    assert r.code == 1, r.err  # the autumn repeats collide in UTC: quarantined as duplicates
    assert "clock (UTC, no daylight saving):" in r.out
    assert "set `input.timezone: America/New_York` and `input.label: end`" in r.out
    fixed = cfg.read_text().replace("timezone: UTC", "timezone: America/New_York\n  label: end")
    cfg.write_text(fixed, encoding="utf-8")
    r = cli("data", "validate", "--config", cfg)
    assert r.code == 0 and "hint:" not in r.out, r.out
    assert "spring hours that never existed, absent as expected (not gaps): 4" in r.out
