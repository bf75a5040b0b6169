"""Synthetic smart-meter data: realistic enough to exercise every part, with known faults.

Households have a daily shape by archetype (family, commuter, home worker, retired), a weekly
pattern, a seasonal level, a temperature response (electric heating below 15.5 C, some
air-conditioning above 22 C), appliance noise, and some have rooftop PV (import/export split)
or an EV charged in the evening. Readings are half-hourly kWh stamped in *local wall time*
(Europe/London by default), so the daylight-saving changes are exercised.

Faults are injected and listed in `faults.csv` as ground truth: rows the validator must
quarantine (spike, negative, empty or text value, duplicates, impossible local time, bad
timestamp), gaps, and plausible-looking anomalies for detectors (flat-line, stuck at zero,
sudden drop as when a meter is bypassed).

Planted drift, for testing monitors (`drift`): from day `drift_day` on, a share of the
households that had none gains an EV charged in the evening (`ev`) or electric heating, a
heat pump (`heating`); which households and from when is written to `drift.csv`. The
drift's randomness has its own stream, so a drifted copy and an undrifted one share every
other reading.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from forecasting.data.faults import apply_meter_fault
from forecasting.errors import InputError

ARCHETYPES = ("family", "commuter", "home_worker", "retired")
VALIDATION_FAULTS = (
    "spike",
    "negative",
    "empty_value",
    "text_value",
    "duplicate_identical",
    "duplicate_conflict",
    "bad_timestamp",
    "nonexistent_time",
)
ANOMALY_FAULTS = ("flatline", "stuck_zero", "drop")  # kinds of data/faults.py
DRIFTS = ("none", "ev", "heating")


@dataclass(frozen=True)
class SyntheticSpec:
    households: int = 40
    days: int = 180
    start: str = "2023-10-15"  # local date
    timezone: str = "Europe/London"
    seed: int = 0
    pv_share: float = 0.2
    ev_share: float = 0.15
    heating_share: float = 0.3
    faults: bool = True
    interval: str = "30min"  # the meter's reading interval: 5, 10, 15 or 30 minutes
    output_interval: str = "1h"  # the data config's output_frequency
    drift: str = "none"  # planted from `drift_day`: "ev" or "heating" (see the module doc)
    drift_day: int = 0
    drift_share: float = 0.3  # of the households without an EV (or electric heating)

    def __post_init__(self) -> None:
        if self.drift not in DRIFTS:
            raise InputError(f"--drift must be one of {', '.join(DRIFTS)}, got {self.drift!r}")
        if self.drift != "none" and not (0 <= self.drift_day < self.days):
            raise InputError(
                f"--drift-day must be a day of the data (0 to {self.days - 1}), got {self.drift_day}"
            )
        if not 0 < self.drift_share <= 1:
            raise InputError(f"--drift-share must be in (0, 1], got {self.drift_share}")
        if self.households < 1 or self.days < 2:
            raise InputError(
                f"need at least 1 household and 2 days, got {self.households} x {self.days}"
            )
        if self.faults and self.days < MIN_FAULT_DAYS:
            raise InputError(
                f"fault injection needs at least {MIN_FAULT_DAYS} days, got {self.days}; "
                "give more --days or --no-faults"
            )
        try:
            step = pd.Timedelta(self.interval)
        except (ValueError, TypeError):
            step = pd.Timedelta(0)
        if step <= pd.Timedelta(0) or pd.Timedelta("30min") % step:
            raise InputError(
                f"--interval {self.interval!r} must divide 30 minutes (5min, 10min, 15min, 30min)"
            )
        try:
            out = pd.Timedelta(self.output_interval)
        except (ValueError, TypeError):
            out = pd.Timedelta(0)
        if out < step or out % step or pd.Timedelta("1D") % out:
            raise InputError(
                f"--output-interval {self.output_interval!r} must be a multiple of the interval "
                f"{self.interval} that divides a day"
            )
        if not 0 <= self.seed < 2**32:
            raise InputError(f"--seed must be between 0 and 2**32 - 1, got {self.seed}")
        try:
            day = pd.Timestamp(self.start)
        except (ValueError, TypeError, OverflowError):
            day = pd.NaT
        if pd.isna(day) or day != day.normalize() or not 1970 <= day.year <= 2200:
            raise InputError(
                f"--start {self.start!r} is not a date (YYYY-MM-DD) between 1970 and 2200"
            )


MIN_FAULT_DAYS = 7


@dataclass
class SyntheticData:
    readings: pd.DataFrame  # series_id, timestamp (local wall text), import_kwh (text), export_kwh
    households: pd.DataFrame
    weather: pd.DataFrame  # timestamp (UTC), temperature, cloud_cover
    faults: pd.DataFrame  # series_id, kind, start, end (UTC), rows
    drift: pd.DataFrame  # series_id, drift, start (UTC): the planted drift's ground truth


def _bump(hour: np.ndarray, centre: float | np.ndarray, width: float) -> np.ndarray:
    d = np.minimum(np.abs(hour - centre), 24 - np.abs(hour - centre))
    return np.exp(-0.5 * (d / width) ** 2)


def _daily_shape(arch: str, hour: np.ndarray, weekend: np.ndarray) -> np.ndarray:
    """Relative load (kW above base) by archetype, local hour (fractional) and weekend flag."""
    wk = weekend.astype(float)
    if arch == "family":
        return (
            0.5 * _bump(hour, 7.5 + wk, 1.0)
            + 0.35 * wk * _bump(hour, 13, 3)
            + 1.0 * _bump(hour, 18.5, 1.8)
        )
    if arch == "commuter":
        return (
            0.35 * _bump(hour, 6.8 + 1.5 * wk, 0.7)
            + 0.25 * wk * _bump(hour, 14, 3)
            + 0.8 * _bump(hour, 20, 1.5)
        )
    if arch == "home_worker":
        return 0.3 * _bump(hour, 8, 1.0) + 0.35 * _bump(hour, 13, 3.0) + 0.7 * _bump(hour, 19, 1.8)
    return 0.3 * _bump(hour, 9, 1.5) + 0.3 * _bump(hour, 12.5, 1.5) + 0.55 * _bump(hour, 17.5, 2.0)


def _weather(utc: pd.DatetimeIndex, rng: np.random.Generator) -> pd.DataFrame:
    doy = utc.dayofyear.to_numpy()
    hour = (utc.hour + utc.minute / 60).to_numpy()
    seasonal = 11 - 7 * np.cos(2 * np.pi * (doy - 20) / 365.25)
    diurnal = 3.5 * np.sin(2 * np.pi * (hour - 9) / 24)
    steps = len(utc)
    noise = np.zeros(steps)
    shocks = rng.normal(0, 0.35, steps)
    for i in range(1, steps):  # AR(1) weather systems lasting a few days
        noise[i] = 0.985 * noise[i - 1] + shocks[i]
    cloud = np.clip(
        0.55 + 0.3 * np.sin(np.cumsum(rng.normal(0, 0.05, steps))) + rng.normal(0, 0.1, steps), 0, 1
    )
    return pd.DataFrame(
        {"timestamp": utc, "temperature": seasonal + diurnal + noise, "cloud_cover": cloud}
    )


def generate(spec: SyntheticSpec) -> SyntheticData:
    rng = np.random.default_rng(spec.seed)
    start_local = pd.Timestamp(spec.start).tz_localize(spec.timezone)
    end_local = start_local + pd.Timedelta(days=spec.days)
    step = pd.Timedelta(spec.interval)
    hours = step / pd.Timedelta(hours=1)
    per_half_hour = int(pd.Timedelta("30min") / step)  # readings per half-hour
    utc = pd.date_range(
        start_local.tz_convert("UTC"), end_local.tz_convert("UTC"), freq=step, inclusive="left"
    )
    local = utc.tz_convert(spec.timezone)
    hour = (local.hour + local.minute / 60).to_numpy() + hours / 2  # mid-interval
    weekend = np.asarray(local.dayofweek >= 5)
    hourly_utc = pd.date_range(utc[0].floor("h"), utc[-1].ceil("h"), freq="1h")
    weather = _weather(hourly_utc, rng)
    temp = np.interp(utc.asi8, hourly_utc.asi8, weather["temperature"].to_numpy())
    cloud = np.interp(utc.asi8, hourly_utc.asi8, weather["cloud_cover"].to_numpy())
    doy = local.dayofyear.to_numpy()
    daylight = np.clip(
        np.cos(np.pi * (hour - 13) / (9 + 3 * np.cos(2 * np.pi * (doy - 172) / 365.25))), 0, None
    )
    season_level = 1 + 0.15 * np.cos(2 * np.pi * (doy - 15) / 365.25)  # lighting, winter evenings

    rows, households, drifted = [], [], []
    n = len(utc)
    drift_rng = np.random.default_rng([spec.seed, 1])
    drift_from = spec.drift_day * 48 * per_half_hour  # the first reading of the drift day
    for h in range(spec.households):
        sid = f"H{h + 1:04d}"
        arch = ARCHETYPES[rng.integers(len(ARCHETYPES))]
        base = rng.uniform(0.08, 0.3)  # kW always-on
        scale = rng.uniform(0.6, 1.8)
        heating = rng.random() < spec.heating_share
        cooling = rng.random() < 0.1
        pv_kw = float(rng.choice([3.0, 4.0, 5.0])) if rng.random() < spec.pv_share else 0.0
        ev = rng.random() < spec.ev_share
        shape = _daily_shape(arch, hour, weekend)
        kw = base + scale * shape * season_level
        if heating:
            kw += rng.uniform(0.08, 0.2) * np.clip(15.5 - temp, 0, None)
        if cooling:
            kw += rng.uniform(0.1, 0.3) * np.clip(temp - 22, 0, None)
        if ev:
            days = np.flatnonzero(rng.random(spec.days) < 0.35)
            for d in days:
                # starts 18:00-21:30 local-ish, charges 2-4 hours (drawn in half-hours)
                first = (d * 48 + 36 + int(rng.integers(0, 8))) * per_half_hour
                kw[first : first + int(rng.integers(4, 9)) * per_half_hour] += 7.0
        if spec.drift != "none" and drift_rng.random() < spec.drift_share:
            had = ev if spec.drift == "ev" else heating
            if not had:  # the household gains what it did not have
                kw = kw + _planted_kw(spec, temp, per_half_hour, drift_from, drift_rng)
                drifted.append({"series_id": sid, "drift": spec.drift, "start": utc[drift_from]})
        kw *= rng.lognormal(0, 0.25, n)
        kw += (rng.random(n) < 0.03) * rng.uniform(0.5, 2.5, n)  # kettle, oven, washer
        pv = pv_kw * daylight * (1 - 0.75 * cloud) * rng.uniform(0.9, 1.0, n)
        net = (kw - pv) * hours  # kWh per interval
        rows.append(
            pd.DataFrame(
                {
                    "series_id": sid,
                    "utc": utc,
                    "import_kwh": np.clip(net, 0, None).round(3),
                    "export_kwh": np.clip(-net, 0, None).round(3),
                }
            )
        )
        households.append(
            {
                "series_id": sid,
                "archetype": arch,
                "heating": "electric" if heating else "gas",
                "has_pv": pv_kw > 0,
                "pv_kw": pv_kw,
                "has_ev": ev,
                "tariff": rng.choice(["flat", "tou"], p=[0.7, 0.3]),
            }
        )
    readings = pd.concat(rows, ignore_index=True)
    faults: list[dict[str, object]] = []
    if spec.faults:
        readings = _inject(readings, spec, rng, faults)
    readings["timestamp"] = (
        readings.pop("utc").dt.tz_convert(spec.timezone).dt.strftime("%Y-%m-%d %H:%M:%S")
    )
    for fault in faults:  # faults that rewrite the timestamp text
        if fault["kind"] in ("bad_timestamp", "nonexistent_time"):
            readings.loc[fault.pop("_index"), "timestamp"] = fault.pop("_text")
    values = readings["import_kwh"].map(lambda v: f"{v:.3f}" if isinstance(v, float) else v)
    readings["import_kwh"] = values.astype(str)
    readings = readings[["series_id", "timestamp", "import_kwh", "export_kwh"]]
    fault_frame = pd.DataFrame(faults, columns=["series_id", "kind", "start", "end", "rows"])
    drift = pd.DataFrame(drifted, columns=["series_id", "drift", "start"])
    return SyntheticData(readings, pd.DataFrame(households), weather, fault_frame, drift)


def _planted_kw(spec: SyntheticSpec, temp: np.ndarray, per_half_hour: int, first: int,
                rng: np.random.Generator) -> np.ndarray:  # fmt: skip
    """The load a household gains from reading `first` on: an EV charged on about half the
    evenings (7 kW for 2 to 4 hours from 18:00-21:30), or a heat pump's response to cold."""
    extra = np.zeros(len(temp))
    if spec.drift == "ev":
        for d in range(spec.drift_day, spec.days):
            if rng.random() < 0.5:
                start = (d * 48 + 36 + int(rng.integers(0, 8))) * per_half_hour
                extra[start : start + int(rng.integers(4, 9)) * per_half_hour] += 7.0
    else:
        extra[first:] = rng.uniform(0.15, 0.3) * np.clip(15.5 - temp[first:], 0, None)
    return extra


def _inject(
    df: pd.DataFrame, spec: SyntheticSpec, rng: np.random.Generator, faults: list[dict[str, object]]
) -> pd.DataFrame:
    df = df.astype({"import_kwh": object})
    per = len(df) // spec.households
    ids = df["series_id"].unique()
    extra: list[pd.DataFrame] = []
    drop: list[int] = []

    def pick() -> tuple[str, int]:
        h = int(rng.integers(len(ids)))
        return str(ids[h]), h * per + int(rng.integers(48, per - 48))

    def note(sid: str, kind: str, i0: int, i1: int, rows: int) -> None:
        faults.append(
            {
                "series_id": sid,
                "kind": kind,
                "start": df.at[i0, "utc"],
                "end": df.at[i1, "utc"],
                "rows": rows,
            }
        )

    for kind in VALIDATION_FAULTS:
        for _ in range(2):
            sid, i = pick()
            if kind == "spike":
                df.at[i, "import_kwh"] = float(rng.uniform(40, 90))
            elif kind == "negative":
                df.at[i, "import_kwh"] = -float(rng.uniform(0.1, 1.0))
            elif kind == "empty_value":
                df.at[i, "import_kwh"] = ""
            elif kind == "text_value":
                df.at[i, "import_kwh"] = "ERR"
            elif kind == "duplicate_identical":
                extra.append(df.loc[[i]])
            elif kind == "duplicate_conflict":
                dup = df.loc[[i]].copy()
                dup["import_kwh"] = float(df.at[i, "import_kwh"]) + 0.5
                extra.append(dup)
            elif kind == "bad_timestamp":
                faults.append(
                    {
                        "series_id": sid,
                        "kind": kind,
                        "start": df.at[i, "utc"],
                        "end": df.at[i, "utc"],
                        "rows": 1,
                        "_index": i,
                        "_text": "31/02/2024 25:61",
                    }
                )
                continue
            elif kind == "nonexistent_time":
                continue  # added once below, where the clocks go forward
            note(sid, kind, i, i, 1)
    local = df["utc"].dt.tz_convert(spec.timezone)
    last_minute = 60 - int(pd.Timedelta(spec.interval) / pd.Timedelta(minutes=1))
    spring = np.flatnonzero(
        (local.dt.hour.to_numpy() == 0)
        & (local.dt.minute.to_numpy() == last_minute)
        & (local.shift(-1).dt.hour.to_numpy() == 2)
    )
    if len(spring):
        i = int(spring[rng.integers(len(spring))])
        row = df.loc[[i]].copy()
        wall = local.iloc[i].tz_localize(None) + pd.Timedelta(hours=1)  # 01:xx never existed
        idx = len(df) + sum(len(e) for e in extra)
        row.index = [idx]
        extra.append(row)
        faults.append(
            {
                "series_id": df.at[i, "series_id"],
                "kind": "nonexistent_time",
                "start": df.at[i, "utc"],
                "end": df.at[i, "utc"],
                "rows": 1,
                "_index": idx,
                "_text": wall.strftime("%Y-%m-%d %H:%M:%S"),
            }
        )
    for _ in range(4):  # gaps of 1-10 hours, some short enough for a fill policy
        sid, i = pick()
        length = int(rng.choice([2, 4, 8, 20]))
        drop.extend(range(i, i + length))
        note(sid, "gap", i, i + length - 1, length)
    for kind in ANOMALY_FAULTS:
        for _ in range(2):
            sid, i = pick()
            length = int(rng.integers(24, 96))
            j = min(i + length, (i // per + 1) * per - 1)
            seg = slice(i, j)
            current = pd.to_numeric(df.loc[seg, "import_kwh"], errors="coerce").to_numpy()
            # the generator's drops keep 30% of the load, a flat line with no first value 0.2
            faulty = apply_meter_fault(kind, current, rng, fallback=0.2, multiplier=0.3)
            df.loc[seg, "import_kwh"] = np.round(faulty, 3)
            note(sid, kind, i, j - 1, j - i)
    out = pd.concat([df.drop(index=drop), *extra])
    return out


def _hours(interval: str) -> float:
    return pd.Timedelta(interval) / pd.Timedelta(hours=1)


def write_synthetic(spec: SyntheticSpec, out_dir: str | Path) -> dict[str, Path]:
    """Write readings.csv, households.csv, weather.csv, faults.csv (drift.csv with a planted
    drift) and a matching data.yaml."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = generate(spec)
    names = ("readings", "households", "weather", "faults") + (
        ("drift",) if len(data.drift) else ()
    )
    paths = {name: out / f"{name}.csv" for name in names}
    data.readings.to_csv(paths["readings"], index=False)
    data.households.to_csv(paths["households"], index=False)
    w = data.weather.copy()
    w["timestamp"] = w["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    w.round(3).to_csv(paths["weather"], index=False)
    data.faults.to_csv(paths["faults"], index=False)
    if len(data.drift):
        data.drift.to_csv(paths["drift"], index=False)
    paths["config"] = out / "data.yaml"
    paths["config"].write_text(yaml.safe_dump(synthetic_config(out, spec), sort_keys=False))
    return paths


def synthetic_config(folder: Path, spec: SyntheticSpec) -> dict[str, object]:
    """The data config that reads what `write_synthetic` wrote."""
    return {
        "name": "synthetic",
        "description": f"{spec.households} synthetic households, {spec.days} days, seed {spec.seed}",
        "input": {
            "path": str(folder / "readings.csv"),
            "series_id": "series_id",
            "timestamp": "timestamp",
            "timezone": spec.timezone,
            "label": "start",
            "target": "import_kwh",
            "unit": "kWh",
            # the meter's export is measured with the readings: only its past is known
            "covariates": {
                "export_kwh": {"column": "export_kwh", "aggregate": "sum", "known_future": False}
            },
        },
        "frequency": spec.interval,
        "output_frequency": spec.output_interval,
        "calendar": {
            "timezone": spec.timezone,
            "holidays": {"country": "GB", "subdivision": "ENG"},
        },
        # 24 kW, above a 100 A domestic supply, in kWh per reading
        "validation": {"max_value": round(24 * _hours(spec.interval), 3), "duplicates": "first"},
        "gaps": {"method": "linear", "max_length": "2h"},
        "static": {"path": str(folder / "households.csv"), "id_column": "series_id"},
        "covariates": [
            {
                "name": "weather",
                "path": str(folder / "weather.csv"),
                "timestamp": "timestamp",
                "known_future": True,  # the generated weather stands for a weather forecast
                "columns": {
                    "temperature": {"column": "temperature"},
                    "cloud_cover": {"column": "cloud_cover"},
                },
                "fill": {"method": "linear", "max_length": "6h"},
            },
        ],
    }
