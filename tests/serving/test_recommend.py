"""Cheapest-tariff advice (serving/recommend.py): paths, bills, the choice and how sure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from forecasting.errors import InputError
from serving.recommend import current_tariffs, load_tariffs, read_usage, run_recommend


def flat(folder, name: str, pence: float, fixed: float = 0.0):
    body = {"name": name, "currency": "GBP", "amounts": "minor", "timezone": "UTC",
            "fixed_per_day": fixed, "energy": {"type": "flat", "rate": pence}}  # fmt: skip
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(body))
    return path


def readings(n_days: int = 56, customers=("a", "b"), kwh=(0.5, 2.0)) -> pd.DataFrame:
    t = pd.date_range("2024-01-01", periods=24 * n_days, freq="h", tz="UTC")
    return pd.concat(
        [pd.DataFrame({"series_id": c, "timestamp": t, "kwh": k}) for c, k in zip(customers, kwh, strict=True)]
    )  # fmt: skip


def test_the_cheaper_tariff_depends_on_usage_and_the_saving_is_exact(tmp_path):
    """Tariff 'standing': 100p a day and 10p/kWh; 'simple': no standing charge, 20p/kWh. A
    12 kWh/day customer pays 220p vs 240p (standing saves 20p a day); a 48 kWh/day one pays
    580p vs 960p. A 0.5 kWh/h (12/day) customer on 'simple' saves 20p x 56 days by moving.
    Usage is the same every week, so every moved-weeks path bills the same: probability 1."""
    engines = load_tariffs([flat(tmp_path, "standing", 10, 100), flat(tmp_path, "simple", 20)])
    readings().to_csv(tmp_path / "u.csv", index=False)
    usage, q = read_usage(str(tmp_path / "u.csv"), None, 20, 0, 0.5, 4)
    assert usage.n_paths == 21 and q.empty
    idx, refused = current_tariffs(
        usage.ids, [e.tariff.name for e in engines], "simple", None, None
    )
    s = run_recommend(engines, usage, idx, refused, q, tmp_path / "o")
    r = pd.read_csv(tmp_path / "o" / "recommendations.csv").set_index("series_id")
    assert (r["recommended"] == "standing").all() and s["switch"] == 2
    assert r.loc["a", "expected_saving"] == pytest.approx(0.20 * 56)
    assert r.loc["b", "expected_saving"] == pytest.approx((9.60 - 5.80) * 56)
    assert (r["probability_saves"] == 1.0).all()


def test_quantile_paths_keep_the_p50_as_path_zero_and_fall_below_p10_a_tenth_of_the_time(tmp_path):
    f = readings(n_days=364, customers=("a",), kwh=(1.0,)).assign(p10=0.5, p50=1.0, p90=1.8)
    f.drop(columns="kwh").to_csv(tmp_path / "q.csv", index=False)
    usage, _ = read_usage(str(tmp_path / "q.csv"), None, 400, 1, 0.0, 4)
    paths = usage.paths(0, 1)[0]
    assert np.allclose(paths[0], 1.0)
    drawn = paths[1:]
    assert (drawn >= 0).all()
    assert (drawn < 0.5).mean() == pytest.approx(0.10, abs=0.01)
    assert (drawn > 1.8).mean() == pytest.approx(0.10, abs=0.01)
    week = drawn[:, :168]
    assert (week == week[:, :1]).all()  # one score per path and week
    assert np.array_equal(usage.paths(0, 1), usage.paths(0, 1))  # the same on every call


def test_sample_paths_are_each_billed_as_given(tmp_path):
    engines = load_tariffs([flat(tmp_path, "x", 10), flat(tmp_path, "y", 12, 5)])
    f = readings(n_days=7, customers=("a",), kwh=(1.0,))
    smp = pd.concat([f.assign(sample=s, kwh=1.0 + s) for s in range(3)])
    smp.to_csv(tmp_path / "s.csv", index=False)
    usage, _ = read_usage(str(tmp_path / "s.csv"), None, 99, 0, 0.5, 4)
    assert usage.n_paths == 3
    idx, refused = current_tariffs(usage.ids, ["x", "y"], "y", None, None)
    run_recommend(engines, usage, idx, refused, pd.DataFrame(), tmp_path / "o")
    b = pd.read_csv(tmp_path / "o" / "bills.csv").set_index("tariff")
    # x: 168 h x (1, 2, 3) kWh x 10p -> 16.80, 33.60, 50.40: mean 33.60
    assert b.loc["x", "mean"] == pytest.approx(33.60) and b.loc["x", "bill"] == pytest.approx(16.80)


def test_each_customers_current_tariff_from_the_static_table(tmp_path):
    ids = np.array(["a", "b", "c"])
    static = pd.DataFrame({"series_id": ["a", "b"], "paying": ["x", "gas"]})
    idx, refused = current_tariffs(ids, ["w", "x"], None, static, "paying")
    assert list(idx) == [1, -1, -1]
    assert dict(zip(refused["series_id"], refused["reason"], strict=True)) == {
        "b": "current tariff 'gas' is not in --tariffs", "c": "no row in --static"}  # fmt: skip
    with pytest.raises(InputError, match="--current NAME"):
        current_tariffs(ids, ["w", "x"], None, None, None)
    with pytest.raises(InputError, match="'z' is not one of the tariffs"):
        current_tariffs(ids, ["w", "x"], "z", None, None)
