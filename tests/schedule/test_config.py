"""Appliances in YAML turned into slot requests (forecasting/schedule/config.py)."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from forecasting.errors import ConfigError, InputError
from forecasting.schedule.config import load_schedule_config
from forecasting.schedule.solve import Scheduler
from tests.conftest import ROOT

EXAMPLE = ROOT / "configs" / "schedule" / "home_example.yaml"


def test_the_example_home_on_15_minute_slots_from_noon():
    cfg = load_schedule_config(EXAMPLE)
    r = {x.name: x for x in cfg.requests()}
    assert cfg.horizon == 96
    ev = r["ev"]  # 21 kWh at 7 kW: 1.75 kWh a slot, 12 slots; 18:00-07:00 after noon
    assert (ev.slots, ev.first, ev.end, ev.min_run, ev.interruptible) == (12, 24, 76, 2, True)
    assert (r["washing machine"].slots, r["washing machine"].end) == (8, 40)
    assert r["heat pump boost"].comfort == pytest.approx(0.05 / 4)  # per slot
    price = np.full(96, 0.30)
    price[52:72] = 0.08  # 01:00-06:00 cheap
    plan = Scheduler(cfg.requests(), cfg.horizon, 0.25, cfg.site_limit_kw).solve(price)
    on = dict(zip(r, plan.on, strict=True))
    assert on["ev"][52:72].sum() == 12 and on["immersion heater"][52:72].sum() == 4


@pytest.mark.parametrize(
    "change, says",
    [
        ({"duration": "1h", "energy_kwh": 5}, "give one of duration or energy_kwh"),
        ({"min_run": "30min"}, "min_run applies to interruptible ones"),
        ({"earliest": "25:00"}, "earliest"),
        ({"power_kw": -1}, "power_kw"),
    ],
)
def test_a_bad_appliance_is_named(tmp_path, change, says):
    a = {"name": "washer", "power_kw": 2.0, "duration": "2h", **change}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump({"appliances": [a]}))
    with pytest.raises(ConfigError, match=says):
        load_schedule_config(tmp_path / "s.yaml")


def test_names_twice_and_empty_windows_are_refused(tmp_path):
    a = {"name": "washer", "power_kw": 2.0, "duration": "2h"}
    (tmp_path / "twice.yaml").write_text(yaml.safe_dump({"appliances": [a, a]}))
    with pytest.raises(ConfigError, match="washer appear twice"):
        load_schedule_config(tmp_path / "twice.yaml")
    b = {**a, "earliest": "10:00", "latest_end": "10:00"}
    (tmp_path / "empty.yaml").write_text(yaml.safe_dump({"day_start": "12:00", "appliances": [b]}))
    with pytest.raises(InputError, match="window 10:00-10:00 does not fit"):
        load_schedule_config(tmp_path / "empty.yaml").requests()
