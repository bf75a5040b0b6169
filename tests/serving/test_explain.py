"""`forecasting explain --bundle`: Shapley values of feature families on onnxruntime, for a
boosted and a deep bundle; additivity, every input cell in one family, and planted drivers
(a load driven only by temperature, or only by the same hour a week back) ranked first."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from forecasting.config.model import TrainerConfig

TRAINER = TrainerConfig(accelerator="cpu", max_epochs=2, progress_bar="none")


def planted(root: Path, driver: str, households: int = 6, days: int = 84) -> Path:
    """Hourly kWh of a few homes driven only by `driver`: 'temperature' (a daily level drawn
    independently each day, so the history cannot tell it) or 'week' (each home repeats its
    own random week, so only the same hour a week back tells it)."""
    rng = np.random.default_rng(3)
    t = pd.date_range("2024-01-01", periods=days * 24, freq="1h", tz="UTC")
    day = np.arange(len(t)) // 24
    temp = np.repeat(rng.normal(9, 5, days), 24) + np.tile(
        2 * np.sin(np.arange(24) / 24 * 6.28), days
    )
    rows = []
    for h in range(households):
        if driver == "temperature":
            y = 0.3 + 0.09 * np.clip(16 - temp, 0, None) + rng.normal(0, 0.01, len(t))
        else:
            week = rng.gamma(2.0, 0.3, 168)
            y = week[np.arange(len(t)) % 168] + rng.normal(0, 0.01, len(t))
        rows.append(pd.DataFrame({"home": f"h{h}", "time": t.strftime("%Y-%m-%d %H:%M"),
                                  "kwh": y.round(4), "temperature": temp.round(2)}))  # fmt: skip
    path = root / f"{driver}.csv"
    pd.concat(rows).to_csv(path, index=False)
    assert day.max() == days - 1
    doc = {"name": driver, "input": {
        "path": str(path), "series_id": "home", "timestamp": "time", "target": "kwh",
        "timezone": "UTC", "covariates": {"temperature": {"column": "temperature",
                                                          "known_future": True}}},
        "frequency": "1h", "calendar": {"timezone": "UTC"}}  # fmt: skip
    config = root / f"{driver}.yaml"
    config.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return config


def _bundle(cli, root: Path, data: Path, kind: str, extra: dict) -> Path:
    train = root / f"train_{kind}.yaml"
    train.write_text(yaml.safe_dump({
        "name": f"{data.stem}_{kind}", "data": str(data),
        "train": {"start": "2024-01-15", "end": "2024-03-01"},
        "validation": {"start": "2024-03-02", "end": "2024-03-10"},
        "model": {"kind": kind, **extra},
        **({"trainer": TRAINER.model_dump(mode="json")} if kind != "lightgbm" else {}),
    }), encoding="utf-8")  # fmt: skip
    run, bundle = root / f"run_{kind}", root / f"bundle_{kind}"
    r = cli("train", "--config", train, "--output", run)
    assert r.code == 0, r.err
    r = cli("export", "--run", run, "--output", bundle)
    assert r.code == 0, r.err
    return bundle


def _explain(cli, bundle: Path, data: Path, out: Path, *more: str) -> dict:
    r = cli("explain", "--bundle", bundle, "--data-config", data, "--output", out,
            "--start", "2024-03-11", "--end", "2024-03-20", *more)  # fmt: skip
    assert r.code == 0, r.err
    return json.loads((out / "explain.json").read_text())


@pytest.mark.parametrize(("driver", "first"), [("temperature", "temperature"),
                                               ("week", "a week back and more")])  # fmt: skip
def test_a_planted_driver_ranks_first_with_a_clear_margin(cli, tmp_path, driver, first):
    data = planted(tmp_path, driver)
    bundle = _bundle(cli, tmp_path, data, "lightgbm", {"n_estimators": 80, "num_leaves": 15})
    s = _explain(cli, bundle, data, tmp_path / "out")
    shares = {f["family"]: f["share"] for f in s["families"]}
    ranked = sorted(shares, key=shares.get, reverse=True)  # type: ignore[arg-type]
    assert ranked[0] == first, shares
    assert shares[ranked[0]] > 2 * shares[ranked[1]], shares
    assert s["additivity_max_abs_error"] < 1e-9
    # the native explainer (TreeSHAP on the run, per feature) summed into the same families
    from serving.explain import family_of

    r = cli("explain", "--run", tmp_path / "run_lightgbm", "--output", tmp_path / "native",
            "--start", "2024-03-11", "--end", "2024-03-20")  # fmt: skip
    assert r.code == 0, r.err
    native = pd.read_csv(tmp_path / "native" / "importance.csv")
    fam = [family_of(f, "X", {"temperature"}, set(), [], pd.Timedelta("1h"), "temperature")
           for f in native["feature"]]  # fmt: skip
    by_family = native.assign(family=fam).groupby("family")["mean_abs_shap_kwh"].sum()
    assert by_family.idxmax() == first, by_family.sort_values()


def test_a_deep_bundle_is_explained_torch_free_per_step_with_a_household_story(cli, tmp_path):
    from serving.explain import bundle_inputs, families
    from serving.load import load_bundle

    data = planted(tmp_path, "temperature", households=4, days=70)
    bundle = _bundle(cli, tmp_path, data, "cnn_lstm", {"hidden_size": 8, "conv_channels": 4})
    s = _explain(cli, bundle, data, tmp_path / "out", "--customer", "h1", "--max-rows", "20")
    assert s["kind"] == "cnn_lstm" and s["additivity_max_abs_error"] < 1e-6
    by_step = pd.read_csv(tmp_path / "out" / "by_step.csv")
    assert list(by_step["step"]) == list(range(1, 25))  # every step ahead of a day
    story = s["customer"]
    assert story["series_id"] == "h1" and "h1" in story["text"]
    assert abs(sum(story["contributions_kwh"].values()) + story["baseline_kwh"]
               - story["total_kwh"]) < 1e-6  # fmt: skip
    assert (tmp_path / "out" / "waterfall.png").exists()
    # every input cell of the graph belongs to exactly one family
    from forecasting.config.data import load_data_config
    from forecasting.data.prepare import prepare

    b = load_bundle(bundle)
    p = prepare(load_data_config(data))
    o = pd.DatetimeIndex([pd.Timestamp("2024-03-12", tz="UTC")])
    inputs = bundle_inputs(b, p.frame, o, p.static)
    fams = families(inputs, b.features, pd.Timedelta("1h"))
    for name, arr in inputs.arrays.items():
        if arr[0].size == 0:  # static_cat without categorical static columns: no cells
            continue
        count = sum(f.masks[name].astype(int) for f in fams if name in f.masks)
        assert np.all(np.asarray(count) == 1), name
    assert {"temperature", "calendar", "last 24 h", "step ahead"} <= {f.name for f in fams}


def test_explain_needs_one_of_run_or_bundle_and_a_data_config_for_a_bundle(cli, tmp_path):
    r = cli("explain", "--output", tmp_path / "o")
    assert r.code == 2 and "give one of --run" in r.err
    r = cli("explain", "--bundle", tmp_path, "--output", tmp_path / "o")
    assert r.code == 2 and "--data-config" in r.err


def test_an_ensembles_attributions_are_its_weights_times_its_members():
    """Two members on partly the same rows and families: the combined attributions are the
    weighted member attributions (by horizon block and quantile), a family a member lacks
    adds nothing for it, additivity carries over, and the members' shares add to one."""
    from serving.explain import Attributions, ensemble_attributions

    rng = np.random.default_rng(0)

    def member(steps: list[int], names: list[str]) -> Attributions:
        index = pd.DataFrame({"series_id": "a", "origin": pd.Timestamp("2024-01-01", tz="UTC"),
                              "step": steps})  # fmt: skip
        kwh = rng.normal(0, 1, (len(steps), len(names), 3))
        base = rng.normal(1, 0.1, (len(steps), 3))
        return Attributions(index, names, names, kwh, base, base + kwh.sum(axis=1))

    a = member([1, 2, 3], ["last 24 h", "temperature"])
    b = member([2, 3, 4], ["temperature", "calendar"])
    w = np.array([[[0.7, 0.3]] * 3, [[0.2, 0.8]] * 3])  # blocks [1-2], [3-4] x quantile x member
    e = ensemble_attributions({"lgb": a, "cnn": b}, w, [[1, 2], [3, 4]])
    assert list(e.index["step"]) == [2, 3] and e.names == ["last 24 h", "temperature", "calendar"]
    np.testing.assert_allclose(e.kwh[0, 0], 0.7 * a.kwh[1, 0])  # only the first member has it
    np.testing.assert_allclose(e.kwh[1, 1], 0.2 * a.kwh[2, 1] + 0.8 * b.kwh[1, 0])
    np.testing.assert_allclose(e.kwh[0, 2], 0.3 * b.kwh[0, 1])
    assert e.additivity < 1e-12 and abs(sum(e.members.values()) - 1) < 1e-12
