"""Monte Carlo scenarios of the customer base, seeded: what the tariff must survive.

Scenario 0 is the base: the customers' own readings and the point elasticities. Each other
scenario draws, independently and reproducibly from `seed`:
- price response: every band's elasticity from a normal with the estimate's mean and the
  standard error its 95% interval implies (then clipped at zero: demand does not rise with price);
- EV uptake: a share of the customers gains a home charger: 7 kW for 2-4 hours from an arrival
  between 17:30 and 21:30 local time, on 35% of days;
- imputation: customers known by monthly totals take another of their sample paths;
- weather years: the bundle's load under another year's weather (serving/weather_scenarios.py);
- PV growth: a share gains rooftop PV (3-5 kWp): generation follows the sun's height by
  local hour and day of year, less a random cloud factor per day; their import is what their
  load exceeds generation by (export is not billed by the templates the optimiser handles).

Scenarios are built a block of customers at a time (`Scenarios.blocks`), so a customer base
of any size passes through memory in pieces. Whose home gains an EV or PV is drawn for the
whole base at once, and each such home's profile from a generator seeded by (seed, scenario,
customer): a customer's scenario is the same whatever the block size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

EV_KW = 7.0
EV_DAYS = 0.35  # share of days an EV charges at home


@dataclass
class ScenarioSpec:
    count: int = 1  # scenarios in all, the base included
    seed: int = 0
    elasticity_draws: bool = True
    ev_share: float = 0.0
    pv_share: float = 0.0


@dataclass
class Scenario:
    """One possible year held in memory: usage [customer, interval] kWh (NaN: no reading)
    and the elasticities [customer, band] for price rises (`up`) and cuts (`down`)."""

    name: str
    usage: np.ndarray
    up: np.ndarray
    down: np.ndarray


class BlockUsage:
    """A block of customers' usage in every scenario: `block(s)` is scenario s's matrix
    [customer, interval] kWh; `block.changes(s)` only the rows that differ from the base
    (their positions in the block and their usage), which is all a summary needs to redo."""

    def __init__(self, base: np.ndarray,
                 changes: Callable[[int], tuple[np.ndarray, np.ndarray]]) -> None:  # fmt: skip
        self.base = base
        self.changes = changes

    def __call__(self, s: int) -> np.ndarray:
        if s == 0:
            return self.base
        rows, u = self.changes(s)
        out = self.base.copy()
        out[rows] = u
        return out


# Rows [a, b) of the customer base and their usage
Block = tuple[int, int, BlockUsage]


class InMemory:
    """Scenarios already built, as a source of blocks (small bases, tests)."""

    def __init__(self, scenarios: list[Scenario]) -> None:
        self.scenarios = scenarios
        self.names = [s.name for s in scenarios]
        self.n, self.T = scenarios[0].usage.shape

    def elasticities(self, s: int) -> tuple[np.ndarray, np.ndarray]:
        return self.scenarios[s].up, self.scenarios[s].down

    def blocks(self, size: int) -> Iterator[Block]:
        for a in range(0, self.n, size):
            b = min(a + size, self.n)
            every = np.arange(b - a)
            yield a, b, BlockUsage(self.scenarios[0].usage[a:b],
                                   lambda s, a=a, b=b, every=every: (every, self.scenarios[s].usage[a:b]))  # type: ignore[misc]  # fmt: skip


def _local(start: pd.Timestamp, T: int, step: pd.Timedelta, tz: str
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """(local hour of day, day of year, local day number) of each interval."""
    times = pd.date_range(start, periods=T, freq=step).tz_convert(tz)
    hour = np.asarray(times.hour + times.minute / 60, dtype=float)
    doy = np.asarray(times.dayofyear, dtype=float)
    day = pd.factorize(times.normalize())[0]
    return hour, doy, day


def ev_loads(rngs: list[np.random.Generator], hour: np.ndarray, day: np.ndarray,
             hours: float) -> np.ndarray:  # fmt: skip
    """kWh per interval [home, interval] of a 7 kW home charger for each generator's home:
    on a day it charges, from its arrival for 2-4 hours (until that local day ends)."""
    D = int(day.max()) + 1
    draws = np.array([[r.random(D), r.uniform(17.5, 21.5, D), r.uniform(2, 4, D)] for r in rngs])
    if not len(draws):
        return np.zeros((0, len(hour)))
    on, arrive, length = draws[:, 0, day] < EV_DAYS, draws[:, 1, day], draws[:, 2, day]
    charging = on & (hour[None, :] >= arrive) & (hour[None, :] < arrive + length)
    return charging * (EV_KW * hours)


def pv_generation(rngs: list[np.random.Generator], hour: np.ndarray, doy: np.ndarray,
                  day: np.ndarray, hours: float) -> np.ndarray:  # fmt: skip
    """kWh per interval [home, interval] of a 3-5 kWp array at about 51 N for each
    generator's home."""
    D = int(day.max()) + 1
    kwp = np.array([r.uniform(3, 5) for r in rngs])
    cloud = np.array([r.uniform(0.2, 1.0, size=D) for r in rngs]).reshape(len(rngs), D)
    half_day = 4 + 4 * np.cos(2 * np.pi * (doy - 172) / 365.25)  # hours from noon to sunset
    sun = np.clip(np.cos(np.pi * (hour - 12.5) / (2 * half_day)), 0, None)
    return 0.75 * kwp[:, None] * sun[None, :] * cloud[:, day] * hours


class Scenarios:
    """The base and `spec.count - 1` drawn scenarios of a customer base whose readings
    `usage_rows(a, b)` gives a block at a time ([b - a, interval] kWh, NaN: no reading).

    `up` and `down` are (point elasticity, standard error) [customer, band]. `sampled`: (rows,
    one usage matrix per further scenario) for customers whose hours are uncertain (imputed from
    monthly totals): scenario k takes the (k-1)-th matrix for those rows. `weather`: kWh changes
    [customer, interval] under other years' weather, taken in turn."""

    def __init__(self, n: int, T: int, usage_rows: Callable[[int, int], np.ndarray],
                 up: tuple[np.ndarray, np.ndarray], down: tuple[np.ndarray, np.ndarray],
                 start: pd.Timestamp, step: pd.Timedelta, tz: str, spec: ScenarioSpec,
                 sampled: tuple[np.ndarray, list[np.ndarray]] | None = None,
                 weather: list[np.ndarray] | None = None) -> None:  # fmt: skip
        self.n, self.T, self.usage_rows, self.spec = n, T, usage_rows, spec
        self.names = ["base", *(f"s{k:03d}" for k in range(1, spec.count))]
        self.sampled, self.weather = sampled, weather
        self.hours = step / pd.Timedelta(hours=1)
        self.hour: np.ndarray
        self.doy: np.ndarray
        self.day: np.ndarray
        self.hour, self.doy, self.day = _local(start, T, step, tz) if spec.count > 1 else (
            np.zeros(0), np.zeros(0), np.zeros(0, int))  # fmt: skip
        self._e = [(np.minimum(up[0], 0), np.minimum(down[0], 0))]
        self.ev, self.pv = [np.zeros(n, bool)], [np.zeros(n, bool)]
        for k in range(1, spec.count):
            rng = np.random.default_rng([spec.seed, k])
            e_up, e_down = up[0], down[0]
            if spec.elasticity_draws:
                z_up = rng.standard_normal((1, up[0].shape[1]))  # one draw per band
                z_down = rng.standard_normal((1, down[0].shape[1]))
                e_up, e_down = up[0] + z_up * up[1], down[0] + z_down * down[1]
            self._e.append((np.minimum(e_up, 0), np.minimum(e_down, 0)))
            self.ev.append(rng.random(n) < spec.ev_share)
            self.pv.append(rng.random(n) < spec.pv_share)

    def elasticities(self, s: int) -> tuple[np.ndarray, np.ndarray]:
        return self._e[s]

    def in_memory(self) -> InMemory:
        """Every scenario built once and held (a base small enough to be read many times:
        the check and each frontier point read it again)."""
        usage = self.usage_rows(0, self.n)
        return InMemory([Scenario(name, self.usage(s, 0, self.n, usage), *self._e[s])
                         for s, name in enumerate(self.names)])  # fmt: skip

    def usage(self, s: int, a: int, b: int, base: np.ndarray) -> np.ndarray:
        """Scenario `s` of rows [a, b) whose readings are `base`."""
        return BlockUsage(base, lambda k: self.changes(k, a, b, base))(s)

    def blocks(self, size: int) -> Iterator[Block]:
        for a in range(0, self.n, size):
            b = min(a + size, self.n)
            base = self.usage_rows(a, b)
            yield a, b, BlockUsage(base, lambda s, a=a, b=b, base=base: self.changes(s, a, b, base))  # type: ignore[misc]  # fmt: skip

    def changes(self, s: int, a: int, b: int, base: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(positions in the block of the rows [a, b) that scenario `s` changes, their usage)
        given the block's readings `base`."""
        n = b - a
        if s == 0:
            return np.zeros(0, dtype=int), base[:0]
        ev, pv = np.flatnonzero(self.ev[s][a:b]), np.flatnonzero(self.pv[s][a:b])
        inside, mine = np.zeros(0, dtype=int), np.zeros(0, dtype=int)
        if self.sampled is not None and len(self.sampled[1]):
            inside = np.flatnonzero((self.sampled[0] >= a) & (self.sampled[0] < b))
            mine = self.sampled[0][inside] - a  # their positions in the block
        changed = np.arange(n) if self.weather else np.unique(np.r_[ev, pv, mine].astype(int))
        u = base[changed].copy()
        at = np.empty(n, dtype=int)
        at[changed] = np.arange(len(changed))
        if len(inside):
            paths = self.sampled[1]  # type: ignore[index]
            u[at[mine]] = paths[(s - 1) % len(paths)][inside]
        if self.weather:
            u = np.maximum(u + self.weather[(s - 1) % len(self.weather)][a:b], 0.0)  # NaN stays
        seed = self.spec.seed
        if len(ev):
            rngs = [np.random.default_rng([seed, s, a + int(i), 0]) for i in ev]
            u[at[ev]] += ev_loads(rngs, self.hour, self.day, self.hours)
        if len(pv):
            rngs = [np.random.default_rng([seed, s, a + int(i), 1]) for i in pv]
            u[at[pv]] = np.maximum(u[at[pv]] - pv_generation(rngs, self.hour, self.doy, self.day,
                                                             self.hours), 0.0)  # fmt: skip
        return changed, u
