"""The YAML loader every config and tariff goes through: bounded whatever the file holds."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest

from forecasting.config.base import read_yaml
from forecasting.errors import ConfigError
from tests.cli.corpus import BOMB


def test_alias_bomb_is_refused_in_under_a_second_with_flat_memory(tmp_path: Path):
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB)  # 9 levels of 9 aliases: 387 million strings if expanded
    tracemalloc.start()
    t0 = time.perf_counter()
    with pytest.raises(ConfigError, match="expands to more than 100,000 values"):
        read_yaml(path)
    seconds = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert seconds < 1.0, seconds
    assert peak < 20 * 2**20, f"peak {peak / 2**20:.1f} MiB"


def test_aliases_and_merge_keys_within_bounds_still_work(tmp_path: Path):
    path = tmp_path / "ok.yaml"
    path.write_text("base: &b {lags: [24, 168], scaling: mean}\nmodel:\n  <<: *b\n  lags: [24]\n")
    data, lines = read_yaml(path)
    assert data["model"] == {"lags": [24], "scaling": "mean"}
    assert lines[("model", "lags")] == 4


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("horizon: 24\nname: x\nhorizon: 12\n", "key 'horizon' appears twice in one mapping (lines 1 and 3)"),
        ("a:\n  b: 1\n  b: 2\n", "key 'b' appears twice"),
        ("a: " + "[" * 2000 + "]" * 2000, "nested"),
        ("- 1\n", "mapping"),
    ],
)  # fmt: skip
def test_duplicate_keys_and_deep_nesting_are_refused(tmp_path: Path, body: str, says: str):
    path = tmp_path / "c.yaml"
    path.write_text(body)
    with pytest.raises(ConfigError, match=says.replace("(", r"\(").replace(")", r"\)")):
        read_yaml(path)


def test_oversized_and_non_text_files_are_refused(tmp_path: Path):
    big = tmp_path / "big.yaml"
    big.write_text("a: " + "x" * (1 << 21))
    with pytest.raises(ConfigError, match="at most"):
        read_yaml(big)
    latin = tmp_path / "l.yaml"
    latin.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        read_yaml(latin)
