"""`forecasting schedule` end to end: the example home under a TOU tariff and under the real
LCL dToU signal, and requests it cannot meet."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from forecasting.schedule.config import load_schedule_config
from tests.conftest import ROOT, shared_path

HOME = ROOT / "configs" / "schedule" / "home_example.yaml"
TOU = ROOT / "configs" / "tariffs" / "uk_tou_demand_example.yaml"


def test_the_example_home_under_a_tou_tariff(cli, tmp_path):
    r = cli("schedule", "--config", HOME, "--tariff", TOU, "--date", "2024-03-05",
            "--output", tmp_path / "o")  # fmt: skip
    assert r.code == 0, r.err
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    c = s["costs"]
    assert c["MILP"] <= c["greedy"] + 1e-9 <= c["start at once"] + 1e-9
    assert s["saving_vs_start_at_once"] == pytest.approx(c["start at once"] - c["MILP"])
    plan = pd.read_csv(tmp_path / "o" / "plan.csv")
    assert plan["cost"].sum() == pytest.approx(c["MILP"])
    slots = pd.read_csv(tmp_path / "o" / "slots.csv")
    for req in load_schedule_config(HOME).requests():  # inside the window, as long as asked
        on = slots[req.name].to_numpy()
        assert on.sum() == req.slots and not on[: req.first].any() and not on[req.end :].any()
    appliances = load_schedule_config(HOME).requests()
    power = np.array([a.power_kw for a in appliances])
    assert (slots[[a.name for a in appliances]].to_numpy() @ power <= 9.0 + 1e-9).all()


def test_the_real_dtou_signal_keeps_the_night_off_its_high_price(cli, tmp_path):
    """2013-01-07 to 08: the LCL signal priced the night High (67.2p) for hours; the EV, the
    dishwasher and the immersion heater all fit in Normal slots, and take them."""
    if not shared_path("lcl", "dtou_tariff_2013.csv").exists():
        pytest.skip("../shared/data/lcl/dtou_tariff_2013.csv is absent")
    r = cli("schedule", "--config", HOME, "--tariff", ROOT / "configs/tariffs/lcl_dtou_2013.yaml",
            "--date", "2013-01-07", "--output", tmp_path / "o")  # fmt: skip
    assert r.code == 0, r.err
    slots = pd.read_csv(tmp_path / "o" / "slots.csv")
    high = slots["price"] > 0.6
    assert high.sum() >= 8  # the signal did price part of this day High
    assert not slots.loc[high, ["ev", "dishwasher", "immersion heater"]].to_numpy().any()


@pytest.mark.parametrize(
    "appliance, says",
    [
        ({"name": "ev", "power_kw": 7.0, "energy_kwh": 200, "earliest": "18:00",
          "latest_end": "07:00", "interruptible": True}, "'ev': its window holds 52 slots"),
        ({"name": "sauna", "power_kw": 12.0, "duration": "1h"}, "'sauna' draws 12 kW, above"),
        ({"name": "washer", "power_kw": 2.0, "duration": "2h", "colour": "blue"}, "colour"),
    ],
)  # fmt: skip
def test_a_request_it_cannot_meet_is_named_in_one_line(cli, tmp_path, appliance, says):
    cfg = {"day_start": "12:00", "site_limit_kw": 9.0, "appliances": [appliance]}
    (tmp_path / "home.yaml").write_text(yaml.safe_dump(cfg))
    r = cli("schedule", "--config", tmp_path / "home.yaml", "--tariff", TOU, "--date",
            "2024-03-05", "--output", tmp_path / "o")  # fmt: skip
    assert r.code == 2, r.out + r.err
    last = r.err.strip().splitlines()[-1]
    assert last.startswith("error: ") and says in last and "Traceback" not in r.err
    assert not (tmp_path / "o").exists()
