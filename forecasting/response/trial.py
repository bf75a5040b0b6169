"""A synthetic price trial with a planted response: treated households that react to a
High/Normal/Low signal by a known arc elasticity per time-of-day band and group, and control
households on a flat price. What `forecasting elasticity` must recover.

Each household has its own level, daily shape (an archetype of `forecasting.data.synthetic`),
heating response to a shared temperature and multiplicative noise; a treated household in
group g, at level k in band b, multiplies its load by exp(beta_kbg + u_i), where beta_kbg is
the log change that the planted arc elasticity implies at the two prices and u_i a household
deviation (mean zero), so the average response is the planted one. The files written are what
a real trial gives: readings, a household table, the signal, weather and a dynamic tariff.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from forecasting.data.synthetic import ARCHETYPES, _daily_shape
from forecasting.errors import InputError
from forecasting.response.estimate import ResponseBand, band_names, band_of, log_change_for

PRICES = {"High": 67.20, "Normal": 11.76, "Low": 3.99}  # the LCL trial's p/kWh
HIGH_AT = (18, 12, 21, 17)  # local hour at the middle of the n-th High event, in turn
LOW_AT = (9, 21, 3, 17.5)
BANDS = [ResponseBand("offpeak", 0, 16 * 60), ResponseBand("peak", 16 * 60, 20 * 60),
         ResponseBand("evening", 20 * 60, 24 * 60)]  # fmt: skip


@dataclass
class TrialSpec:
    households: int = 60
    treated_share: float = 0.5
    groups: tuple[str, ...] = ("A", "B")
    days: int = 56
    start: str = "2024-01-08"
    timezone: str = "Europe/London"
    seed: int = 0
    prices: dict[str, float] = field(default_factory=lambda: dict(PRICES))
    bands: list[ResponseBand] = field(default_factory=lambda: list(BANDS))
    # planted arc elasticity per (band, group); one value for every level
    elasticity: dict[str, dict[str, float]] = field(
        default_factory=lambda: {
            "offpeak": {"A": -0.05, "B": -0.02},
            "peak": {"A": -0.12, "B": -0.06},
            "evening": {"A": -0.08, "B": -0.04},
        }
    )
    household_spread: float = 0.03  # sd of each treated household's own log response
    # engagement: the probability that a treated household responds to a given event, drawn
    # per household from these values with these shares (the targeting problem's groups);
    # empty: every treated household responds to every event
    engagement: dict[float, float] = field(default_factory=dict)
    event_days: float = 0.35  # share of days with a High or Low event

    def __post_init__(self) -> None:
        if self.households < 4 or self.days < 7:
            raise InputError(f"a trial needs at least 4 households and 7 days, got "
                             f"{self.households} x {self.days}")  # fmt: skip
        if not 0 < self.treated_share < 1:
            raise InputError(f"treated_share must be between 0 and 1, got {self.treated_share}")

    def truth(self) -> pd.DataFrame:
        """The planted response: level, band, group, elasticity, log_change."""
        rows = []
        ref = self.prices["Normal"]
        for level in ("High", "Low"):
            for b in band_names(self.bands):
                for g in self.groups:
                    e = self.elasticity[b][g]
                    rows.append({"level": level, "band": b, "group": g, "elasticity": e,
                                 "log_change": log_change_for(e, self.prices[level], ref)})  # fmt: skip
        return pd.DataFrame(rows)


@dataclass
class Trial:
    readings: pd.DataFrame  # series_id, timestamp (UTC), kwh
    households: pd.DataFrame  # series_id, tariff (ToU/Std), group, archetype
    signal: pd.DataFrame  # timestamp (UTC), level
    weather: pd.DataFrame  # timestamp (UTC), temperature
    truth: pd.DataFrame


def _signal(utc: pd.DatetimeIndex, local: pd.DatetimeIndex, spec: TrialSpec,
            rng: np.random.Generator) -> np.ndarray:  # fmt: skip
    """Normal, with High events of 2-5 hours mostly in the evening and Low events of 3-8
    hours at any time of day, on a share of days; every band sees both."""
    level = np.full(len(utc), "Normal", dtype=object)
    per_day = int(pd.Timedelta("1D") / (utc[1] - utc[0]))
    events = 0
    for day in range(spec.days):
        if rng.random() > spec.event_days:
            continue
        high = events % 2 == 0  # alternate, and cycle the times, so every band sees both
        centre = (HIGH_AT if high else LOW_AT)[(events // 2) % 4]
        events += 1
        length = int(rng.integers(4, 11 if high else 17))
        first = day * per_day + int(max(0, centre * 2 - length / 2))
        level[first : min(first + length, len(utc))] = "High" if high else "Low"
    return level


def generate_trial(spec: TrialSpec) -> Trial:
    rng = np.random.default_rng(spec.seed)
    start = pd.Timestamp(spec.start).tz_localize(spec.timezone)
    utc = pd.date_range(start.tz_convert("UTC"), (start + pd.Timedelta(days=spec.days))
                        .tz_convert("UTC"), freq="30min", inclusive="left")  # fmt: skip
    local = utc.tz_convert(spec.timezone)
    hour = (local.hour + local.minute / 60).to_numpy() + 0.25
    weekend = np.asarray(local.dayofweek >= 5)
    minute = (local.hour * 60 + local.minute).to_numpy()
    band = band_of(minute, spec.bands)
    day = np.arange(len(utc)) / 48
    temp = 8 + 3 * np.sin(2 * np.pi * (hour - 9) / 24) + 3 * np.sin(2 * np.pi * day / 9.3)
    temp += np.cumsum(rng.normal(0, 0.15, len(utc)))
    level = _signal(utc, local, spec, rng)
    event = np.cumsum(np.r_[True, level[1:] != level[:-1]]) - 1  # run number of each interval
    truth = spec.truth()
    n_treated = max(2, round(spec.households * spec.treated_share))
    rows, households = [], []
    for h in range(spec.households):
        sid = f"T{h + 1:04d}"
        treated = h < n_treated
        group = spec.groups[h % len(spec.groups)]
        arch = ARCHETYPES[rng.integers(len(ARCHETYPES))]
        kw = rng.uniform(0.1, 0.3) + rng.uniform(0.6, 1.6) * _daily_shape(arch, hour, weekend)
        if rng.random() < 0.3:
            kw = kw + rng.uniform(0.05, 0.15) * np.clip(15.5 - temp, 0, None)
        kw = kw * rng.lognormal(0, 0.3, len(utc))
        rho = 1.0
        if treated:
            beta = np.zeros(len(utc))
            own = rng.normal(0, spec.household_spread)
            for r in truth[truth["group"] == group].itertuples():
                at = (level == r.level) & (band == band_names(spec.bands).index(r.band))
                beta[at] = r.log_change + own
            if spec.engagement:
                values = np.array(list(spec.engagement))
                shares = np.array(list(spec.engagement.values()))
                rho = float(values[rng.choice(len(values), p=shares / shares.sum())])
                responds = rng.random(int(event[-1]) + 1) < rho  # per event
                beta = np.where(responds[event], beta, 0.0)
            kw = kw * np.exp(beta)
        rows.append(pd.DataFrame({"series_id": sid, "timestamp": utc, "kwh": (kw / 2).round(3)}))
        households.append({"series_id": sid, "tariff": "ToU" if treated else "Std",
                           "group": group, "archetype": arch,
                           "engagement": rho if treated else 0.0})  # fmt: skip
    return Trial(
        pd.concat(rows, ignore_index=True), pd.DataFrame(households),
        pd.DataFrame({"timestamp": utc, "level": level}),
        pd.DataFrame({"timestamp": utc, "temperature": temp.round(2)}), truth,
    )  # fmt: skip


def write_trial(spec: TrialSpec, out_dir: str | Path) -> dict[str, Path]:
    """Write readings, households, signal, weather (CSV, UTC times), a dynamic tariff, a
    data config, an elasticity config and the planted truth; return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t = generate_trial(spec)
    paths = {k: out / f"{k}.csv" for k in ("readings", "households", "signal", "weather")}
    iso = "%Y-%m-%dT%H:%M:%SZ"
    for name, frame in (("readings", t.readings), ("signal", t.signal), ("weather", t.weather)):
        f = frame.copy()
        f["timestamp"] = f["timestamp"].dt.strftime(iso)
        f.to_csv(paths[name], index=False)
    t.households.to_csv(paths["households"], index=False)
    paths["tariff"] = out / "tariff.yaml"
    tariff: dict[str, Any] = {
        "name": "trial_dynamic", "currency": "GBP", "amounts": "minor",
        "timezone": spec.timezone, "fixed_per_day": 0.0,
        "energy": {"type": "dynamic", "signal": {"path": str(paths["signal"]),
                   "timestamp": "timestamp", "column": "level", "timezone": "UTC"},
                   "rates": spec.prices, "default": "Normal"},
    }  # fmt: skip
    paths["tariff"].write_text(yaml.safe_dump(tariff, sort_keys=False))
    paths["data"] = out / "data.yaml"
    data = {
        "name": "trial", "description": f"synthetic price trial, seed {spec.seed}",
        "input": {"path": str(paths["readings"]), "series_id": "series_id",
                  "timestamp": "timestamp", "timezone": "UTC", "target": "kwh",
                  "unit": "kWh"},
        "frequency": "30min", "output_frequency": "30min",
        "calendar": {"timezone": spec.timezone},
        "static": {"path": str(paths["households"]), "id_column": "series_id"},
        "covariates": [{"name": "weather", "path": str(paths["weather"]),
                        "timestamp": "timestamp", "known_future": True,
                        "columns": {"temperature": {"column": "temperature"}}}],
    }  # fmt: skip
    paths["data"].write_text(yaml.safe_dump(data, sort_keys=False))
    paths["config"] = out / "elasticity.yaml"
    config = {
        "data": str(paths["data"]), "tariff": str(paths["tariff"]),
        "treated": {"column": "tariff", "value": "ToU"}, "reference": "Normal",
        "group_by": "group", "weather": ["temperature"], "timezone": spec.timezone,
        "bands": {b.name: f"{b.start // 60:02d}:{b.start % 60:02d}-"
                  f"{b.end // 60:02d}:{b.end % 60:02d}" for b in spec.bands},  # no wrapping
    }  # fmt: skip
    paths["config"].write_text(yaml.safe_dump(config, sort_keys=False))
    paths["truth"] = out / "truth.json"
    paths["truth"].write_text(json.dumps(t.truth.to_dict(orient="records"), indent=1))
    return paths
