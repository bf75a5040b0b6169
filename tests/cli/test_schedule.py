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


def test_many_homes_share_the_site_limit_with_their_own_load_and_a_bad_one_is_set_aside(
    cli, tmp_path
):
    """Three homes: a quiet one, a busy one at 6 kW all day (the 9 kW limit leaves room for no
    7 kW EV), and one with no readings that day. The busy one is refused in errors.csv with
    the reason; the others are planned and the batch succeeds."""
    t = pd.date_range("2024-03-05T12:00Z", periods=48, freq="30min")
    quiet = pd.DataFrame({"series_id": "quiet", "timestamp": t, "kwh": 0.2})
    busy = quiet.assign(series_id="busy", kwh=3.0)
    away = quiet.assign(series_id="away", timestamp=t - pd.Timedelta(days=3))
    pd.concat([quiet, busy, away]).to_csv(tmp_path / "homes.csv", index=False)
    r = cli("schedule", "--config", HOME, "--tariff", TOU, "--date", "2024-03-05", "--timezone",
            "UTC", "--homes", tmp_path / "homes.csv", "--output", tmp_path / "o")  # fmt: skip
    assert r.code == 0, r.err
    homes = pd.read_csv(tmp_path / "o" / "homes.csv")
    errors = pd.read_csv(tmp_path / "o" / "errors.csv").set_index("series_id")["reason"]
    assert list(homes["series_id"]) == ["quiet"]
    assert "'ev' draws 7 kW, above the site limit of 9 kW" in errors["busy"]
    assert "readings cover 0 of the day's 96 slots" in errors["away"]
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert s["homes"] == {"given": 3, "planned": 1, "refused": 2}
    plan = pd.read_csv(tmp_path / "o" / "plan.csv")
    assert plan["cost"].sum() == pytest.approx(homes["cost"].sum())
    assert "<svg" in (tmp_path / "o" / "report.html").read_text()


def test_a_price_forecast_drives_the_plan_and_p90_is_a_separate_path(cli, tmp_path):
    """Hourly forecast in EUR/MWh: P50 cheapest at 03:00, P90 (a risk of a spike then)
    cheapest at 05:00; a one-hour washer follows whichever path is asked for."""
    hours = pd.date_range("2024-03-05", periods=24, freq="h", tz="UTC")
    p50 = np.full(24, 80.0)
    p50[3], p50[5] = 20.0, 30.0
    p90 = p50 + 10
    p90[3] = 200.0
    pd.DataFrame({"timestamp": hours, "p50": p50, "p90": p90}).to_csv(
        tmp_path / "f.csv", index=False
    )
    cfg = {"appliances": [{"name": "washer", "power_kw": 2.0, "duration": "1h"}]}
    (tmp_path / "w.yaml").write_text(yaml.safe_dump(cfg))
    for path, hour in (("p50", "03:00"), ("p90", "05:00")):
        r = cli("schedule", "--config", tmp_path / "w.yaml", "--prices", tmp_path / "f.csv",
                "--price-column", path, "--date", "2024-03-05", "--timezone", "UTC",
                "--output", tmp_path / path)  # fmt: skip
        assert r.code == 0, r.err
        plan = pd.read_csv(tmp_path / path / "plan.csv")
        assert plan["first_slot"].iloc[0] == f"2024-03-05 {hour}"
    assert plan["cost"].iloc[0] == pytest.approx(2.0 * 0.040)  # 2 kWh at 40 EUR/MWh
