"""Property-based tests of the tariff spec: any partition of the day into bands loads and bills
each local minute once; any tariff with a gap, an overlap, a non-finite or negative amount is
refused with a ConfigError naming it, never another exception."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forecasting.errors import ConfigError
from forecasting.tariffs.spec import TimeOfUse, load_tariff

SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BASE = {"name": "t", "currency": "GBP", "timezone": "Europe/London"}


def clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@st.composite
def day_partitions(draw: st.DrawFn) -> list[dict]:
    """Bands whose windows cut the day at random half-hours, each cut a band of its own."""
    cuts = sorted(draw(st.sets(st.integers(1, 47), max_size=8)))
    edges = [0, *(30 * c for c in cuts), 1440]
    rates = draw(st.lists(st.floats(0, 500, allow_nan=False), min_size=len(edges) - 1,
                          max_size=len(edges) - 1))  # fmt: skip
    return [
        {"name": f"b{i}", "rate": rates[i], "windows": [{"start": clock(a), "end": clock(b)}]}
        for i, (a, b) in enumerate(itertools.pairwise(edges))
    ]


def write(tmp: Path, body: dict) -> Path:
    path = tmp / "t.yaml"
    path.write_text(yaml.safe_dump({**BASE, **body}), "utf-8")
    return path


@SETTINGS
@given(day_partitions())
def test_any_partition_of_the_day_loads(tmp_path_factory, bands):
    t = load_tariff(
        write(tmp_path_factory.mktemp("t"), {"energy": {"type": "tou", "bands": bands}})
    )
    assert isinstance(t.energy, TimeOfUse)
    assert len(t.energy_items()) == len(bands)


@SETTINGS
@given(day_partitions(), st.integers(0, 7), st.sampled_from(["gap", "overlap"]))
def test_a_gap_or_an_overlap_is_refused_naming_the_hours(tmp_path_factory, bands, k, kind):
    k %= len(bands)
    w = bands[k]["windows"][0]
    a, b = (int(x[:2]) * 60 + int(x[3:]) for x in (w["start"], w["end"]))
    if kind == "gap":
        if b - a < 60:
            return
        w["end"] = clock(b - 30)  # the last half-hour of this band is left uncovered
        match = "no band covers"
    else:
        if len(bands) < 2:
            return
        if b == 1440:  # the last band: widen the one before it instead
            w = bands[k - 1]["windows"][0]
            b = int(w["end"][:2]) * 60 + int(w["end"][3:])
        w["end"] = clock(b + 30)  # 30 minutes into the next band
        match = "overlap"
    with pytest.raises(ConfigError, match=match):
        load_tariff(
            write(tmp_path_factory.mktemp("t"), {"energy": {"type": "tou", "bands": bands}})
        )


amounts = st.one_of(
    st.just(math.nan), st.just(math.inf), st.just(-math.inf), st.floats(-1e6, -1e-9)
)
fields = st.sampled_from(["fixed_per_day", "energy.rate", "minimum_charge", "feed_in.rate",
                          "demand.rate", "minor_per_major"])  # fmt: skip


@SETTINGS
@given(fields, amounts)
def test_non_finite_or_negative_amounts_are_refused_by_name(tmp_path_factory, field, value):
    body: dict = {"amounts": "minor", "energy": {"type": "flat", "rate": 20.0}}
    *parents, last = field.split(".")
    node = body
    for p in parents:
        node = node.setdefault(p, {} if p != "energy" else node.get(p, {}))
    node[last] = value
    if field == "minor_per_major" and math.isfinite(value):
        node[last] = int(value) if int(value) < 1 else -1
    with pytest.raises(ConfigError, match=last):
        load_tariff(write(tmp_path_factory.mktemp("t"), body))


@SETTINGS
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
        max_leaves=10,
    ),
    st.sampled_from(["energy", "demand", "taxes", "feed_in", "timezone", "holidays", "currency"]),
)
def test_random_values_are_refused_cleanly(tmp_path_factory, value, key):
    body = {"energy": {"type": "flat", "rate": 20.0}, key: value}
    try:  # loads, or is refused with a ConfigError: any other exception fails the test
        load_tariff(write(tmp_path_factory.mktemp("t"), body))
    except ConfigError as exc:
        assert str(exc).startswith(str(tmp_path_factory.getbasetemp()))  # names the file
