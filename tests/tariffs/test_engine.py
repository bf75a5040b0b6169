"""The bill engine against bills worked out by hand, to the penny: DST days, partial months,
blocks, minimum charge, VAT, demand, feed-in, dynamic prices and billing cycles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecasting.errors import InputError
from forecasting.tariffs.calendar import Cycle
from forecasting.tariffs.engine import BillEngine
from forecasting.tariffs.spec import Tariff, load_tariff

PENCE = {"currency": "GBP", "amounts": "minor", "timezone": "Europe/London"}


def tariff(**body: object) -> Tariff:
    return Tariff.model_validate({"name": "t", **PENCE, **body})


def usage(sid: str, start: str, end: str, kwh: object, step: str = "30min") -> pd.DataFrame:
    """Readings from `start` to `end` (UTC, end exclusive); kwh a number or f(timestamp)."""
    ts = pd.date_range(start, end, freq=step, inclusive="left", tz="UTC")
    values = kwh(ts) if callable(kwh) else np.full(len(ts), float(kwh))
    return pd.DataFrame({"series_id": sid, "timestamp": ts, "kwh": values})


PEAK_OFFPEAK = {
    "fixed_per_day": 20.0,
    "energy": {
        "type": "tou",
        "bands": [
            {"name": "peak", "rate": 30.0, "windows": [{"start": "16:00", "end": "19:00"}]},
            {"name": "offpeak", "rate": 10.0, "windows": [{"start": "19:00", "end": "16:00"}]},
        ],
    },
}


def test_spring_forward_day_by_hand() -> None:
    # 2013-03-31 in London: 23 hours, 46 half-hours, from 00:00 GMT to 23:00 UTC.
    # 1.0 kWh per half-hour 15:00-18:00 UTC (= 16:00-19:00 BST, the peak), 0.1 kWh otherwise.
    def kwh(ts: pd.DatetimeIndex) -> np.ndarray:
        return np.where((ts.hour >= 15) & (ts.hour < 18), 1.0, 0.1)

    frame = usage("a", "2013-03-31 00:00", "2013-03-31 23:00", kwh)
    assert len(frame) == 46
    bill = BillEngine(tariff(**PEAK_OFFPEAK)).bill(frame).iloc[0]
    # peak: 6 half-hours x 1.0 kWh x 30p = 180p; off-peak: 40 x 0.1 kWh x 10p = 40p; 1 day x 20p
    assert bill["kwh_peak"] == pytest.approx(6.0)
    assert bill["kwh_offpeak"] == pytest.approx(4.0)
    assert (bill["energy_peak"], bill["energy_offpeak"], bill["fixed"]) == (1.80, 0.40, 0.20)
    assert bill["total"] == 2.40
    assert (bill["days"], bill["period_days"], bool(bill["partial"])) == (1, 31, True)
    assert (bill["intervals"], bill["missing_intervals"]) == (46, 0)
    assert str(bill["period"]) == "2013-03"


def test_fall_back_day_has_50_half_hours() -> None:
    # 2013-10-27 in London: 25 hours, from 23:00 UTC on the 26th to 00:00 UTC on the 28th.
    # Peak 16:00-19:00 GMT = 16:00-19:00 UTC: 6 half-hours at 1 kWh, 44 at 0.1 kWh.
    def kwh(ts: pd.DatetimeIndex) -> np.ndarray:
        return np.where((ts.hour >= 16) & (ts.hour < 19), 1.0, 0.1)

    frame = usage("a", "2013-10-26 23:00", "2013-10-28 00:00", kwh)
    bills = BillEngine(tariff(**PEAK_OFFPEAK)).bill(frame)
    assert len(bills) == 1
    bill = bills.iloc[0]
    assert (bill["intervals"], bill["missing_intervals"], bill["days"]) == (50, 0, 1)
    assert (bill["energy_peak"], bill["energy_offpeak"]) == (1.80, 0.44)
    assert bill["total"] == 2.44


def test_partial_month_blocks_minimum_and_vat_by_hand() -> None:
    # On supply from 17 Jan 2013 (GMT): 15 of 31 days, 4 kWh a day = 60 kWh, hourly readings.
    t = tariff(
        fixed_per_day=25.0,
        energy={"type": "blocks", "blocks": [{"up_to": 100, "rate": 10.0}, {"rate": 20.0}]},
        minimum_charge=3000.0,
        taxes=[{"name": "VAT", "rate": 0.05, "applies_to": ["fixed", "energy", "minimum"]}],
    )
    frame = usage("a", "2013-01-17", "2013-02-01", 4 / 24, step="1h")
    bill = BillEngine(t).bill(frame).iloc[0]
    # block 1 shrinks to 100 x 15/31 = 48.3871 kWh at 10p = 483.87p -> 4.84
    # block 2: 11.6129 kWh at 20p = 232.26p -> 2.32; fixed 15 x 25p = 3.75
    # minimum 3000p x 15/31 = 14.5161 GBP; charges 10.9113 -> top-up 3.6048 -> 3.60
    # VAT 5% of 14.5161 = 0.7258 -> 0.73; total 3.75 + 4.84 + 2.32 + 3.60 + 0.73 = 15.24
    assert (bill["days"], bill["period_days"], bool(bill["partial"])) == (15, 31, True)
    assert bill["kwh_block1"] == pytest.approx(100 * 15 / 31)
    assert (bill["fixed"], bill["energy_block1"], bill["energy_block2"]) == (3.75, 4.84, 2.32)
    assert (bill["minimum_topup"], bill["tax_VAT"], bill["total"]) == (3.60, 0.73, 15.24)


def test_full_month_blocks_are_not_prorated() -> None:
    t = tariff(energy={"type": "blocks", "blocks": [{"up_to": 100, "rate": 10.0}, {"rate": 20.0}]})
    bill = BillEngine(t).bill(usage("a", "2013-02-01", "2013-03-01", 5 / 24, "1h")).iloc[0]
    # 140 kWh in February: 100 at 10p + 40 at 20p = 18.00
    assert (bill["energy_block1"], bill["energy_block2"], bill["total"]) == (10.0, 8.0, 18.0)


def test_demand_charge_takes_the_window_peak_only() -> None:
    t = load_tariff("configs/tariffs/uk_tou_demand_example.yaml")
    frame = usage("a", "2013-01-01", "2013-02-01", 0.1)
    ts = frame["timestamp"]
    frame.loc[ts == pd.Timestamp("2013-01-08 17:00", tz="UTC"), "kwh"] = 2.0  # Tue, in window
    frame.loc[ts == pd.Timestamp("2013-01-12 17:00", tz="UTC"), "kwh"] = 3.0  # Sat: outside
    frame.loc[ts == pd.Timestamp("2013-01-09 12:00", tz="UTC"), "kwh"] = 2.5  # Wed noon: outside
    bill = BillEngine(t).bill(frame).iloc[0]
    # 2.0 kWh in half an hour = 4 kW; 4 kW x 150p = 6.00
    assert bill["demand_kw"] == pytest.approx(4.0)
    assert bill["demand"] == 6.0
    june = usage("a", "2013-06-01", "2013-07-01", 0.1)
    assert BillEngine(t).bill(june).iloc[0]["demand"] == 0.0  # no window in June


def test_demand_needs_fine_enough_usage() -> None:
    t = load_tariff("configs/tariffs/uk_tou_demand_example.yaml")
    with pytest.raises(InputError, match="demand over 30min, which usage at 1h intervals"):
        BillEngine(t).bill(usage("a", "2013-01-01", "2013-01-03", 0.2, "1h"))


def test_feed_in_credit_by_band() -> None:
    t = tariff(
        energy={"type": "flat", "rate": 10.0},
        feed_in={"bands": [
            {"name": "day", "rate": 15.0, "windows": [{"start": "07:00", "end": "23:00"}]},
            {"name": "night", "rate": 5.0, "windows": [{"start": "23:00", "end": "07:00"}]},
        ]},
    )  # fmt: skip
    frame = usage("a", "2013-07-01", "2013-07-02", 0.5)  # 24 kWh import in one BST day

    def exported(ts: pd.DatetimeIndex) -> np.ndarray:
        return np.where((ts.hour >= 10) & (ts.hour < 14), 1.0, 0.0)  # 8 half-hours of day

    frame = frame.assign(export=exported(pd.DatetimeIndex(frame["timestamp"])))
    bill = BillEngine(t).bill(frame, export="export").iloc[0]
    # all in July: 24 kWh x 10p = 2.40; export 8 kWh in the day band (11:00-15:00 BST) x 15p
    assert bill["kwh_export"] == pytest.approx(8.0)
    assert (bill["energy"], bill["feed_in"], bill["total"]) == (2.40, -1.20, 1.20)


def test_dynamic_levels_and_unknown_level(tmp_path: Path) -> None:
    signal = pd.DataFrame(
        {
            "at": pd.date_range("2013-01-01", periods=48, freq="30min").strftime("%Y-%m-%d %H:%M"),
            "level": ["Normal"] * 32 + ["High"] * 6 + ["Normal"] * 6 + ["Low"] * 4,
        }
    )
    signal.to_csv(tmp_path / "signal.csv", index=False)
    body = {
        "type": "dynamic",
        "signal": {"path": str(tmp_path / "signal.csv"), "timestamp": "at", "column": "level"},
        "rates": {"High": 67.20, "Normal": 11.76, "Low": 3.99},
    }
    bill = (
        BillEngine(tariff(energy=body)).bill(usage("a", "2013-01-01", "2013-01-02", 0.25)).iloc[0]
    )
    # 38 Normal x 0.25 kWh x 11.76p = 111.72p; 6 High x 0.25 x 67.20 = 100.80p; 4 Low x 0.25 x
    # 3.99 = 3.99p: 1.12 + 1.01 + 0.04 = 2.17 (each line rounded, total their sum)
    assert (bill["energy_Normal"], bill["energy_High"], bill["energy_Low"]) == (1.12, 1.01, 0.04)
    assert bill["total"] == 2.17
    # a day the signal does not cover, and no default: a clear error
    with pytest.raises(InputError, match="outside the price signal"):
        BillEngine(tariff(energy=body)).bill(usage("a", "2013-01-02", "2013-01-03", 0.25))
    # hourly usage cannot be billed under a half-hourly signal without resampling it
    with pytest.raises(InputError, match="cannot be billed under the 0 days 00:30:00"):
        BillEngine(tariff(energy=body)).bill(usage("a", "2013-01-01", "2013-01-02", 0.5, "1h"))
    signal.loc[40, "level"] = "Peak"
    signal.to_csv(tmp_path / "signal.csv", index=False)
    with pytest.raises(InputError, match=r"signal.csv: row 41: level='Peak' is not a level"):
        BillEngine(tariff(energy=body))


def test_custom_cycle_and_many_customers() -> None:
    t = tariff(fixed_per_day=10.0, energy={"type": "flat", "rate": 10.0})
    frames = [usage(f"c{i}", "2013-01-01", "2013-04-01", 0.1 * (i + 1), "1h") for i in range(5)]
    frame = pd.concat(frames, ignore_index=True).sample(frac=1.0, random_state=0)
    bills = BillEngine(t, Cycle(months=1, day=15)).bill(frame, chunk_cells=3 * 2160)
    assert sorted(bills["period"].unique()) == [
        "2012-12-15",
        "2013-01-15",
        "2013-02-15",
        "2013-03-15",
    ]
    c0 = bills[bills["series_id"] == "c0"].set_index("period")
    assert c0.loc["2012-12-15", "days"] == 14 and bool(c0.loc["2012-12-15", "partial"])
    assert c0.loc["2013-01-15", "days"] == 31 and not bool(c0.loc["2013-01-15", "partial"])
    # 31 days x 24 h x 0.1 kWh x 10p = 7.44; 31 x 10p = 3.10
    assert (c0.loc["2013-01-15", "energy"], c0.loc["2013-01-15", "fixed"]) == (7.44, 3.10)
    c4 = bills[bills["series_id"] == "c4"].set_index("period")
    assert c4.loc["2013-01-15", "energy"] == pytest.approx(5 * 7.44)
    assert len(bills) == 20


def test_missing_readings_are_counted_not_billed() -> None:
    frame = usage("a", "2013-04-30 23:00", "2013-05-31 23:00", 0.5)  # May in BST
    frame = frame.drop(index=range(100, 110))
    bill = BillEngine(tariff(energy={"type": "flat", "rate": 10.0})).bill(frame).iloc[0]
    assert (bill["intervals"], bill["missing_intervals"]) == (31 * 48 - 10, 10)
    assert bill["total"] == round((31 * 48 - 10) * 0.5 * 0.10, 2)


def _wide(n: int = 6, seed: int = 0) -> tuple[np.ndarray, pd.Timestamp, np.ndarray]:
    """Customers' half-hours from mid-January to mid-March, a few gaps and a late starter."""
    rng = np.random.default_rng(seed)
    t = pd.date_range("2013-01-14", "2013-03-16", freq="30min", tz="UTC", inclusive="left")
    U = rng.gamma(2.0, 0.2, (n, len(t)))
    U[1, 300:340] = np.nan
    U[2, :900] = np.nan
    return np.array([f"c{i}" for i in range(n)], dtype=object), t[0], U


def test_totals_equal_the_bills_summed_and_item_factors_equal_a_scaled_matrix() -> None:
    """`totals` is `bill_wide` summed per customer; `item_factors` bills the usage with every
    interval of a band multiplied by the customer's factor, to the penny."""
    ids, start, U = _wide()
    t = tariff(
        taxes=[{"name": "VAT", "rate": 0.05, "applies_to": ["fixed", "energy"]}], **PEAK_OFFPEAK
    )
    engine, step = BillEngine(t), pd.Timedelta("30min")
    bills = engine.bill_wide(ids, start, step, U).groupby("series_id")[["total", "days"]].sum()
    got = engine.totals_wide(ids, start, step, U)
    np.testing.assert_allclose(got["total"], bills.loc[ids, "total"].to_numpy(), atol=1e-9)
    np.testing.assert_array_equal(got["days"], bills.loc[ids, "days"].to_numpy())
    h = np.random.default_rng(1).uniform(0.7, 1.3, (len(ids), 2))
    band = np.asarray(engine.calendar.facts(start, U.shape[1], step).energy_item)
    scaled = engine.totals_wide(ids, start, step, U * h[:, band])
    np.testing.assert_allclose(engine.totals_wide(ids, start, step, U, item_factors=h)["total"],
                               scaled["total"], atol=1e-9)  # fmt: skip
    assert not np.allclose(scaled["total"], got["total"])


def test_a_grid_with_some_customers_replaced_bills_as_the_replaced_matrix() -> None:
    ids, start, U = _wide()
    engine, step = BillEngine(tariff(**PEAK_OFFPEAK)), pd.Timedelta("30min")
    rows = np.array([1, 4])
    V = U.copy()
    V[rows] = U[rows] * 1.5
    V[1, :100] = np.nan  # another start: other days on supply
    grid = engine.with_rows(engine.grid(ids, start, step, U), rows,
                            engine.grid(ids[rows], start, step, V[rows]))  # fmt: skip
    want = engine.totals_wide(ids, start, step, V)
    for key in ("total", "days", "kwh"):
        np.testing.assert_allclose(engine.totals(grid)[key], want[key], atol=1e-9)


@pytest.mark.parametrize(
    "ids",
    [["b", "b", "a", "a", "c"], ["b", "a", "b"], ["q"], [" x", "x", "x"], ["c2", "c10", "c10"]],
)
def test_customer_codes_are_factorize_sorted_whatever_the_row_order(ids: list[str]) -> None:
    from forecasting.tariffs.engine import customer_codes

    for series in (pd.Series(ids, dtype="string"), pd.Series(ids, dtype=object)):
        codes, uniques = customer_codes(series)
        want, sorted_ids = pd.factorize(series, sort=True)
        assert codes.tolist() == want.tolist() and list(uniques) == list(sorted_ids)


def test_grouped_whole_years_shuffled_rows_and_gaps_bill_alike() -> None:
    """A long frame of whole customers in order (read as a matrix without a scatter) bills as
    the same rows shuffled, and as the matrix itself; rows dropped bill as dropped cells."""
    t = tariff(fixed_per_day=10.0, energy=PEAK_OFFPEAK["energy"])
    frames = [usage(f"c{i}", "2013-01-01", "2013-03-01", lambda ts, i=i: 0.1 * (i + 1)
                    + 0.05 * (ts.hour >= 16), "1h") for i in range(4)]  # fmt: skip
    frame = pd.concat(frames, ignore_index=True).astype({"series_id": "string"})
    engine = BillEngine(t)
    grouped = engine.bill(frame, chunk_cells=2 * 1416)
    pd.testing.assert_frame_equal(engine.bill(frame.sample(frac=1.0, random_state=1)), grouped)
    matrix = frame["kwh"].to_numpy().reshape(4, -1)
    ids = np.array([f"c{i}" for i in range(4)], dtype=object)
    start, hour = frame["timestamp"].iloc[0], pd.Timedelta("1h")
    pd.testing.assert_frame_equal(engine.bill_wide(ids, start, hour, matrix), grouped)
    holes = matrix.copy().ravel()
    holes[3::50] = np.nan
    gaps = engine.bill(frame.drop(index=frame.index[3::50]))
    pd.testing.assert_frame_equal(gaps, engine.bill_wide(ids, start, hour, holes.reshape(4, -1)))
