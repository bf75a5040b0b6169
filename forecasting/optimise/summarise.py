"""The customer base summarised for the optimiser, a block of customers at a time.

The optimiser needs, per customer and scenario, only a few numbers: the current bill (from
the bill engine under the current tariff), days on supply, what the customer pays per kWh
today, and kWh per band of the template. Its peak term needs the system load, which at any
prices is the sum over customers of their usage times their response factor in each band.
Customers who respond alike (the same price today, the same elasticities, and with shifting
the same band shares) can be summed first: their load is one profile times one factor. So each
scenario's load is kept as profiles of classes of such customers (`LoadClasses`), and the
hourly matrices pass through memory a block at a time: memory grows with the number of
classes, not of customers.

Classes are formed on each customer's response rounded to a resolution (0.1% of the price,
0.001 of an elasticity, 1% of a band share); members identical in every value make an exact
class. Beyond `max_classes` in a scenario, classes are merged pairwise on a coarser grid
(twice the step, repeated as needed), and a class's response is the kWh-weighted mean of its
members'. The load model is then approximate; the engine's check (check.py) measures how far
its peak is from the exact one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from forecasting.errors import ConfigError
from forecasting.optimise.model import (
    CustomerBase,
    LoadClasses,
    Responders,
    Slots,
    energy_price,
)
from forecasting.tariffs.engine import BillEngine
from forecasting.tariffs.spec import Tariff
from forecasting.tariffs.template import TariffTemplate

RESOLUTION = (1e-3, 1e-3, 1e-2)  # log price today, elasticity, band share
MAX_CLASSES = 256
_NONE = {"total": np.zeros(0), "days": np.zeros(0), "kwh": np.zeros(0)}


class _Classes:
    """Load profiles of one scenario by response class, built block by block."""

    def __init__(self, T: int, B: int, shift: bool, max_classes: int) -> None:
        self.T, self.B, self.shift, self.max = T, B, shift, max_classes
        self.level = 0  # classes are keyed at the resolution times 2 ** level
        self.keys: list[tuple[int, ...]] = []
        self.index: dict[tuple[int, ...], int] = {}
        self.profiles = np.zeros((0, T))
        self.weight = np.zeros(0)  # kWh (or customers, where none) behind each class
        self.members = np.zeros(0, dtype=int)
        self.sums = np.zeros((0, 1 + 2 * B))  # weighted log price, up, down
        self.quantities = np.zeros((0, B))
        self.reference = np.zeros((0, 1 + (3 if shift else 2) * B))  # one member's response
        self.exact = np.zeros(0, dtype=bool)

    def _raw(self, who: Responders) -> np.ndarray:
        Q = who.quantities
        share = Q / np.maximum(Q.sum(axis=1, keepdims=True), 1e-12)
        logp = np.log(np.maximum(who.pref, 1e-300))
        core = [np.where(who.pref > 0, logp, 0.0), who.up, who.down]
        return np.column_stack([*core, share] if self.shift else core)

    def _key(self, raw: np.ndarray, zero: np.ndarray) -> np.ndarray:
        B = self.B
        res = np.r_[RESOLUTION[0], np.full(2 * B, RESOLUTION[1]), np.full(B, RESOLUTION[2])]
        q = np.round(raw / res[: raw.shape[1]]).astype(np.int64)
        return np.column_stack([zero.astype(np.int64), q >> self.level])

    def add(self, usage: np.ndarray, who: Responders) -> None:
        """Add a block of customers: `usage` [customer, interval] kWh, 0 where no reading."""
        raw = self._raw(who)
        key = self._key(raw, who.pref <= 0)
        uniq, ref_of, inv = np.unique(key, axis=0, return_index=True, return_inverse=True)
        inv = inv.ravel()  # ref_of: the first member of each class in this block
        members = sparse.csr_matrix((np.ones(len(inv)), (inv, np.arange(len(inv)))),
                                    shape=(len(uniq), len(inv)))  # fmt: skip
        profiles = np.asarray(members @ usage)
        kwh = who.quantities.sum(axis=1)
        w = np.where(kwh > 0, kwh, 0.0)
        counts = np.bincount(inv, minlength=len(uniq))
        weight = np.bincount(inv, weights=w, minlength=len(uniq))
        core = raw[:, : 1 + 2 * self.B]
        sums = np.stack([np.bincount(inv, weights=w * core[:, j], minlength=len(uniq))
                         for j in range(core.shape[1])], axis=1)  # fmt: skip
        qty = np.stack([np.bincount(inv, weights=who.quantities[:, j], minlength=len(uniq))
                        for j in range(self.B)], axis=1)  # fmt: skip
        same = np.all(np.abs(raw - raw[ref_of][inv]) <= 1e-12, axis=1)
        exact = np.bincount(inv, weights=~same, minlength=len(uniq)) == 0
        cls = np.array([self.index.get(k, -1) for k in map(tuple, uniq)], dtype=int)
        known = cls >= 0
        exact[known] &= np.all(np.abs(self.reference[cls[known]] - raw[ref_of[known]]) <= 1e-12,
                               axis=1)  # fmt: skip
        new = np.flatnonzero(~known)
        if len(new):
            cls[new] = self._grow([tuple(k) for k in uniq[new]], raw[ref_of[new]])
        self.profiles[cls] += profiles
        self.weight[cls] += weight
        self.members[cls] += counts
        self.sums[cls] += sums
        self.quantities[cls] += qty
        self.exact[cls] &= exact
        while len(self.keys) > self.max:
            self._coarsen()

    def _grow(self, keys: list[tuple[int, ...]], reference: np.ndarray) -> np.ndarray:
        """Add empty classes for `keys`; their indices."""
        c = len(self.keys)
        m = len(keys)
        self.keys += keys
        self.index.update({k: c + j for j, k in enumerate(keys)})
        self.profiles = np.vstack([self.profiles, np.zeros((m, self.T))])
        self.weight = np.r_[self.weight, np.zeros(m)]
        self.members = np.r_[self.members, np.zeros(m, dtype=int)]
        self.sums = np.vstack([self.sums, np.zeros((m, self.sums.shape[1]))])
        self.quantities = np.vstack([self.quantities, np.zeros((m, self.B))])
        self.reference = np.vstack([self.reference, reference])
        self.exact = np.r_[self.exact, np.ones(m, dtype=bool)]
        return np.arange(c, c + m)

    def _coarsen(self) -> None:
        """Merge classes whose keys agree at twice the step."""
        self.level += 1
        keys = np.array(self.keys, dtype=np.int64)
        keys[:, 1:] >>= 1
        uniq, inv = np.unique(keys, axis=0, return_inverse=True)
        inv = inv.ravel()

        def merged(a: np.ndarray) -> np.ndarray:
            out = np.zeros((len(uniq), *a.shape[1:]), dtype=a.dtype)
            np.add.at(out, inv, a)
            return out

        ref = np.zeros((len(uniq), self.reference.shape[1]))
        ref[inv[::-1]] = self.reference[::-1]  # the first class's reference for each
        same = np.all(np.abs(self.reference - ref[inv]) <= 1e-12, axis=1) & self.exact
        self.profiles, self.weight = merged(self.profiles), merged(self.weight)
        self.members, self.sums = merged(self.members), merged(self.sums)
        self.quantities, self.reference = merged(self.quantities), ref
        self.exact = np.bincount(inv, weights=~same, minlength=len(uniq)) == 0
        self.keys = [tuple(k) for k in uniq]
        self.index = {k: j for j, k in enumerate(self.keys)}

    def result(self) -> LoadClasses:
        B = self.B
        w = self.weight[:, None]
        mean = np.where(w > 0, self.sums / np.maximum(w, 1e-300), self.reference[:, : 1 + 2 * B])
        zero = np.array([k[0] == 1 for k in self.keys], dtype=bool)
        pref = np.where(zero, 0.0, np.exp(mean[:, 0]))
        who = Responders(pref, mean[:, 1 : 1 + B], mean[:, 1 + B :], self.quantities)
        return LoadClasses(who, self.profiles, self.members, bool(self.exact.all()))


def summarise(source: Any, ids: np.ndarray, start: pd.Timestamp, step: pd.Timedelta,
              vulnerable: np.ndarray, static: pd.DataFrame, template: TariffTemplate,
              current: Tariff, slots: Slots, shift: float = 0.0, chunk: int = 2000,
              max_classes: int = MAX_CLASSES,
              progress: Callable[[str], None] | None = None) -> CustomerBase:  # fmt: skip
    """Read every block of `source` (scenarios.Scenarios or InMemory) once: bill it under the
    `current` tariff with the bill engine, take each customer's kWh per template band and
    price today, and add it to its scenario's load classes."""
    probe = template.tariff_with({d.name: d.low for d in template.decisions})
    if probe.currency != current.currency:
        raise ConfigError(f"the template is in {probe.currency}, the current tariff in "
                          f"{current.currency}: write both in one currency")  # fmt: skip
    S, n, T, B = len(source.names), len(ids), source.T, len(slots.bands)
    band_of = np.asarray(BillEngine(probe).calendar.facts(start, T, step).energy_item, "int64")
    onehot = np.zeros((T, B))
    priced = np.flatnonzero(band_of >= 0)
    onehot[priced, band_of[priced]] = 1.0
    engine = BillEngine(current)
    bills, pref = np.zeros((S, n)), np.zeros((S, n))
    qty, days = np.zeros((S, n, B)), np.zeros(n)
    classes = [_Classes(T, B, shift > 0, max_classes) for _ in range(S)]
    seconds = {"read_and_scenarios": 0.0, "bill_current": 0.0, "bands_and_classes": 0.0}
    clock = time.perf_counter()
    for a, b, block in source.blocks(chunk):
        if progress is not None:
            progress(f"billing customers {a + 1}-{b} of {n} in {S} scenario(s)")
        for s in range(S):
            # scenario s differs from the base in some rows only: redo those
            rows, U = (np.arange(b - a), block.base) if s == 0 else block.changes(s)
            at = a + rows
            t1 = time.perf_counter()
            got = engine.totals_wide(ids[at], start, step, U) if len(rows) else _NONE
            t2 = time.perf_counter()
            if s == 0:
                days[a:b] = got["days"]
                Z0 = np.where(np.isnan(U), 0.0, U)
                Z = Z0
            else:
                for v in (bills, pref, qty):
                    v[s, a:b] = v[0, a:b]
                Z = Z0.copy()
                Z[rows] = np.where(np.isnan(U), 0.0, U)
            bills[s, at] = got["total"]
            pref[s, at] = energy_price(current, got)
            qty[s, at] = Z[rows] @ onehot
            up, down = source.elasticities(s)
            classes[s].add(Z, Responders(pref[s, a:b], up[a:b], down[a:b], qty[s, a:b]))
            t3 = time.perf_counter()
            seconds["read_and_scenarios"] += t1 - clock
            seconds["bill_current"] += t2 - t1
            seconds["bands_and_classes"] += t3 - t2
            clock = t3
    customers = []
    for s in range(S):
        up, down = source.elasticities(s)
        customers.append(Responders(pref[s], np.asarray(up), np.asarray(down), qty[s]))
    return CustomerBase(ids, start, step, list(source.names), vulnerable, static, band_of, days,
                        bills, customers, [c.result() for c in classes], source, shift, chunk,
                        seconds)  # fmt: skip
