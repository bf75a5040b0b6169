"""Monte Carlo scenarios of the customer base, seeded: what the tariff must survive.

Scenario 0 is the base: the customers' own readings and the point elasticities. Each other
scenario draws, independently and reproducibly from `seed`:
- price response: every (band, group) elasticity from a normal with the estimate's mean and the
  standard error its 95% interval implies (then clipped at zero: demand does not rise with price);
- EV uptake: a share of the customers without one gains a home charger: 7 kW for 2-4 hours
  from an arrival between 17:30 and 21:30 local time, on 35% of days;
- imputation: customers known by monthly totals take another of their sample paths;
- weather years: the bundle's load under another year's weather (serving/weather_scenarios.py);
- PV growth: a share gains rooftop PV (3-5 kWp): generation follows the sun's height by
  local hour and day of year, less a random cloud factor per day; their import is what their
  load exceeds generation by (export is not billed by the templates the optimiser handles).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecasting.optimise.model import Scenario


@dataclass
class ScenarioSpec:
    count: int = 1  # scenarios in all, the base included
    seed: int = 0
    elasticity_draws: bool = True
    ev_share: float = 0.0
    pv_share: float = 0.0


def _local_hours(
    start: pd.Timestamp, T: int, step: pd.Timedelta, tz: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    times = pd.date_range(start, periods=T, freq=step).tz_convert(tz)
    hour = np.asarray(times.hour + times.minute / 60, dtype=float)
    doy = np.asarray(times.dayofyear, dtype=float)
    day = pd.factorize(times.normalize())[0]
    return hour, doy, day


def ev_load(
    rng: np.random.Generator, hour: np.ndarray, day: np.ndarray, hours: float
) -> np.ndarray:
    """kWh per interval of one home charger (7 kW), on about 35% of days."""
    out = np.zeros(len(hour))
    for d in np.unique(day):
        if rng.random() > 0.35:
            continue
        idx = np.flatnonzero(day == d)
        arrive = rng.uniform(17.5, 21.5)
        length = rng.uniform(2, 4)
        on = idx[(hour[idx] >= arrive) & (hour[idx] < arrive + length)]
        out[on] = 7.0 * hours
    return out


def pv_generation(rng: np.random.Generator, hour: np.ndarray, doy: np.ndarray, day: np.ndarray,
                  hours: float) -> np.ndarray:  # fmt: skip
    """kWh per interval of a 3-5 kWp array at about 51 N."""
    kwp = rng.uniform(3, 5)
    half_day = 4 + 4 * np.cos(2 * np.pi * (doy - 172) / 365.25)  # hours from noon to sunset
    sun = np.clip(np.cos(np.pi * (hour - 12.5) / (2 * half_day)), 0, None)
    cloud = rng.uniform(0.2, 1.0, size=int(day.max()) + 1)[day]
    return 0.75 * kwp * sun * cloud * hours


def build_scenarios(
    usage: np.ndarray,
    up: tuple[np.ndarray, np.ndarray],
    down: tuple[np.ndarray, np.ndarray],
    start: pd.Timestamp,
    step: pd.Timedelta,
    tz: str,
    spec: ScenarioSpec,
    sampled: tuple[np.ndarray, list[np.ndarray]] | None = None,
    weather: list[np.ndarray] | None = None,
) -> list[Scenario]:
    """`up` and `down` are (point elasticity, standard error) [customer, band]. `sampled`:
    (rows, one usage matrix per further scenario) for customers whose hours are uncertain
    (imputed from monthly totals): scenario k takes the (k-1)-th matrix for those rows.
    `weather`: kWh changes [customer, interval] under other years' weather, taken in turn."""
    out = [Scenario("base", usage, np.minimum(up[0], 0), np.minimum(down[0], 0))]
    if spec.count <= 1:
        return out
    hour, doy, day = _local_hours(start, usage.shape[1], step, tz)
    hours = step / pd.Timedelta(hours=1)
    n = usage.shape[0]
    for k in range(1, spec.count):
        rng = np.random.default_rng([spec.seed, k])
        e_up, e_down = up[0], down[0]
        if spec.elasticity_draws:
            z_up = rng.standard_normal((1, up[0].shape[1]))  # one draw per band
            z_down = rng.standard_normal((1, down[0].shape[1]))
            e_up, e_down = up[0] + z_up * up[1], down[0] + z_down * down[1]
        u = usage.copy()
        if sampled is not None and len(sampled[1]):
            u[sampled[0]] = sampled[1][(k - 1) % len(sampled[1])]
        if weather:
            u = np.maximum(u + weather[(k - 1) % len(weather)], 0.0)  # NaN stays NaN
        for i in np.flatnonzero(rng.random(n) < spec.ev_share):
            u[i] = u[i] + ev_load(rng, hour, day, hours)
        for i in np.flatnonzero(rng.random(n) < spec.pv_share):
            u[i] = np.maximum(u[i] - pv_generation(rng, hour, doy, day, hours), 0.0)
        out.append(Scenario(f"s{k:03d}", u, np.minimum(e_up, 0), np.minimum(e_down, 0)))
    return out
