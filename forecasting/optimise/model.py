"""What the tariff optimiser knows about the customers, and the bill and load as functions of
the prices.

Prices: `x` holds every price slot of the template in order: the fixed charge per day, then
each energy band's rate (one `energy` rate for a flat template), in the template's units.
Slots that are not decisions have equal bounds.

Demand response, per customer i and band b (constant elasticity, no shifting between bands):

    kWh_ib(p_b) = kWh0_ib * (p_b / pref_i) ** e_ib,  e_ib = up_ib if p_b > pref_i else down_ib

where `pref_i` is what the customer pays per kWh today (the current tariff's energy charge
over the kWh) and `up`/`down` the elasticities measured for price rises and cuts (High and Low
against Normal in the trial). With `shift` > 0 (a substitution elasticity, as in time-of-use
pricing studies) energy also moves between bands: each band's kWh is multiplied by
(p_b / pref) ** -shift / sum_c w_c (p_c / pref) ** -shift, w_c today's band shares, which keeps
the customer's total (`factors`). Every interval of band b is scaled by the same factor, so the
load shape inside a band is kept. The bill is then `fixed * days + sum_b p_b * kWh_ib(p_b)`,
times (1 + tax) per component. Both the bill and the load are non-linear in the prices; the
solver works on their first-order expansion around the current prices (`linearise`), which
is exact at the expansion point: repeating the expansion at each solution until the prices
stop moving gives a point where the model's bills and loads are the true ones.

The model holds a few numbers per customer and scenario (`CustomerBase`, built block by block
by summarise.py): the bill is linear in kWh per band, so kWh per band today is all the bills
need; the system load is kept as the load profiles of classes of customers who respond alike
(`LoadClasses`), which is exact when each class's members share one response.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from forecasting.errors import ConfigError
from forecasting.tariffs.spec import Flat, Tariff, TimeOfUse
from forecasting.tariffs.template import TariffTemplate

FIXED = "fixed_per_day"


@dataclass
class Slots:
    """The template's price slots: names, bounds, tax multipliers, which are decisions."""

    names: list[str]
    low: np.ndarray
    high: np.ndarray
    tax: np.ndarray  # 1 + the taxes that apply to each slot
    bands: list[str]  # energy items in bill order

    @property
    def K(self) -> int:
        return len(self.names)


def template_slots(template: TariffTemplate) -> Slots:
    """Price slots of a template the optimiser can handle: a fixed charge and flat or
    time-of-use energy rates (with taxes on them); other charges are refused by name."""
    probe = template.tariff_with({d.name: d.low for d in template.decisions})
    others = [k for k, v in (("demand", probe.demand), ("feed_in", probe.feed_in),
                             ("minimum_charge", probe.minimum_charge)) if v is not None]  # fmt: skip
    if others or not isinstance(probe.energy, Flat | TimeOfUse):
        what = others or [probe.energy.type]
        raise ConfigError(
            f"{template.where}: the optimiser handles a fixed charge and flat or time-of-use "
            f"energy rates (and taxes on them); this template also has {', '.join(what)}"
        )
    bands = probe.energy_items()
    names = [FIXED, *bands]
    doc_bands = {b.name: b.rate for b in probe.energy.bands} if isinstance(probe.energy, TimeOfUse) \
        else {"energy": probe.energy.rate}  # fmt: skip
    fixed_values = {FIXED: probe.fixed_per_day, **doc_bands}
    low = np.array([template.decision(n).low if n in template.names else fixed_values[n]
                    for n in names])  # fmt: skip
    high = np.array([template.decision(n).high if n in template.names else fixed_values[n]
                     for n in names])  # fmt: skip
    tax = np.ones(len(names))
    for t in probe.taxes:
        for j, n in enumerate(names):
            component = "fixed" if n == FIXED else "energy"
            if component in t.applies_to or n in t.applies_to:
                tax[j] += t.rate
    return Slots(names, low, high, tax, bands)


def values_of(slots: Slots, x: np.ndarray, template: TariffTemplate) -> dict[str, float]:
    """Decision values by name, as the template wants them."""
    return {n: float(x[j]) for j, n in enumerate(slots.names) if n in template.names}


@dataclass
class Responders:
    """Whom the price response acts on: customers, or classes of customers who respond alike.
    `pref` [m]: what each pays per kWh today (major units; 0: no energy, no response);
    `up`/`down` [m, band]: elasticities for price rises and cuts; `quantities` [m, band]: kWh
    per band today (their shares move energy between bands when `shift` > 0)."""

    pref: np.ndarray
    up: np.ndarray
    down: np.ndarray
    quantities: np.ndarray

    def rows(self, a: int, b: int) -> Responders:
        return Responders(self.pref[a:b], self.up[a:b], self.down[a:b], self.quantities[a:b])


@dataclass
class LoadClasses:
    """The system load of one scenario by class of customers who respond alike: `profiles`
    [class, interval] kWh summed over the members, `who` the class's response (kWh-weighted
    over its members), `members` customers per class. `exact`: every class's members share
    one response, so the load at any prices is the model's exactly; otherwise within the
    resolution the classes were formed at (summarise.py)."""

    who: Responders
    profiles: np.ndarray
    members: np.ndarray
    exact: bool


@dataclass
class CustomerBase:
    """The customer base as the optimiser needs it, a few numbers per customer and scenario
    (the hourly matrices stay in `source`, read again block by block for the engine's check):
    current bills, days on supply, the response of each customer, and the load by class."""

    ids: np.ndarray
    start: pd.Timestamp
    step: pd.Timedelta
    names: list[str]  # scenarios; the first is the base
    vulnerable: np.ndarray  # bool per customer
    static: pd.DataFrame  # series_id + columns, for breakdowns
    band_of: np.ndarray  # template band of each interval
    days: np.ndarray  # days on supply, per customer
    current_bills: np.ndarray  # [S, n] major units
    customers: list[Responders]  # per scenario
    loads: list[LoadClasses]  # per scenario
    source: Any  # blocks of scenario usage (scenarios.Scenarios or InMemory)
    shift: float = 0.0  # substitution elasticity between bands (0: no shifting)
    chunk: int = 2000  # customers per block
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.ids)

    @property
    def S(self) -> int:
        return len(self.names)

    @property
    def quantities(self) -> np.ndarray:
        """[S, n, band] kWh today."""
        return np.stack([c.quantities for c in self.customers])

    @property
    def pref(self) -> np.ndarray:
        """[S, n] major units per kWh today."""
        return np.stack([c.pref for c in self.customers])


def energy_price(tariff: Tariff, bills: Mapping[str, Any]) -> np.ndarray:
    """What each customer pays per kWh of energy today (major units, taxes on energy in,
    unrounded): the flat rate, or the kWh-weighted rates of its bands or levels; blocks from
    the rounded bills. `bills`: per customer `total`, `days`, `kwh`, `kwh_<item>`."""
    tax = 1 + sum(t.rate for t in tariff.taxes if "energy" in t.applies_to)
    kwh = np.asarray(bills["kwh"], dtype="float64")
    e = tariff.energy
    if isinstance(e, Flat):
        return np.where(kwh > 0, e.rate * tariff.scale * tax, 0.0)
    rates = {b.name: b.rate for b in e.bands} if isinstance(e, TimeOfUse) else (
        getattr(e, "rates", None))  # fmt: skip
    if rates:
        cost = sum(np.asarray(bills.get(f"kwh_{k}", 0.0)) * r for k, r in rates.items())
        return np.where(kwh > 0, np.asarray(cost, dtype="float64") * tariff.scale * tax
                        / np.maximum(kwh, 1e-12), 0.0)  # fmt: skip
    fixed = tariff.fixed_per_day * np.asarray(bills["days"]) * tariff.scale
    return np.where(kwh > 0, (np.asarray(bills["total"]) - fixed) / np.maximum(kwh, 1e-9), 0.0)


def response(who: Responders, x: np.ndarray, scale: float
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """(factor, elasticity, d factor / d price) [customer, band] at prices `x` (template
    units; `scale` turns them into major units)."""
    p = x[1:] * scale  # major per kWh, per band
    pref = np.maximum(who.pref, 1e-12)[:, None]
    e = np.where(p[None, :] > pref, who.up, who.down)
    ratio = np.maximum(p[None, :], 1e-12) / pref
    factor = np.where(who.pref[:, None] > 0, ratio**e, 1.0)
    slope = np.where(p[None, :] > 0, e * factor / np.maximum(p[None, :], 1e-12), 0.0) * scale
    return factor, e, slope


def factors(who: Responders, x: np.ndarray, scale: float, shift: float
            ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(h [customer, band]: each band's kWh as a multiple of today's; J [customer, band b,
    price c]: d h_b / d x_c) at prices `x`. h = own-price factor x shift factor, where the
    shift factor g_b = (p_b / p_today) ** -shift / sum_c w_c (p_c / p_today) ** -shift moves
    energy between bands at today's band shares w, keeping the customer's total (shift 0: g=1)."""
    f, _, slope = response(who, x, scale)
    n, B = f.shape
    J = np.zeros((n, B, B))
    J[:, np.arange(B), np.arange(B)] = slope
    if shift == 0:
        return f, J
    Q = who.quantities
    w = Q / np.maximum(Q.sum(axis=1, keepdims=True), 1e-12)
    p = np.maximum(x[1:] * scale, 1e-12)[None, :]
    pref = np.maximum(who.pref, 1e-12)[:, None]
    r = (p / pref) ** (-shift)
    total = (w * r).sum(axis=1, keepdims=True)
    g = r / np.maximum(total, 1e-12)
    pi = w * r / np.maximum(total, 1e-12)
    # d g_b / d x_c = -shift * g_b / p_c * (delta_bc - pi_c), in template units
    dg = -shift * g[:, :, None] / p[:, None, :] * (np.eye(B)[None] - pi[:, None, :]) * scale
    return f * g, J * g[:, :, None] + f[:, :, None] * dg


@dataclass
class Linear:
    """The bills and loads expanded around prices `at`: bill[s, i] = A[s, i] @ x + c[s, i]
    (major units); load at candidate intervals t: L0[s][t] + G[s][t] @ (x[1:] - at[1:])
    (kWh per interval; G[s] is [candidate, band price])."""

    at: np.ndarray
    A: np.ndarray
    c: np.ndarray
    L0: list[np.ndarray]
    G: list[np.ndarray]
    peak_now: np.ndarray  # [S] the peak at `at`, kWh per interval


def bills_at(base: CustomerBase, slots: Slots, x: np.ndarray, scale: float) -> np.ndarray:
    """[S, n] bills (major units) under the model's response at prices `x` (not rounded)."""
    out = np.zeros((base.S, base.n))
    for s, who in enumerate(base.customers):
        h, _ = factors(who, x, scale, base.shift)
        energy = (who.quantities * h * x[1:][None, :] * slots.tax[1:][None, :]).sum(axis=1)
        out[s] = (x[0] * slots.tax[0] * base.days + energy) * scale
    return out


def responded(usage: np.ndarray, who: Responders, band_of: np.ndarray, x: np.ndarray,
              scale: float, shift: float) -> np.ndarray:  # fmt: skip
    """Usage [customer, interval] after the response of `who` (its rows) to prices `x`."""
    h, _ = factors(who, x, scale, shift)
    return usage * h[:, band_of]


def _load_and_gradient(lc: LoadClasses, band_of: np.ndarray, x: np.ndarray, scale: float,
                       shift: float) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(system load [interval] kWh, d load / d band price [interval, band]) at prices `x`."""
    h, J = factors(lc.who, x, scale, shift)
    T, B = lc.profiles.shape[1], h.shape[1]
    load, grad = np.zeros(T), np.zeros((T, B))
    for b in range(B):
        cols = np.flatnonzero(band_of == b)
        load[cols] = h[:, b] @ lc.profiles[:, cols]
        grad[cols] = lc.profiles[:, cols].T @ J[:, b, :]
    return load, grad


def system_load(base: CustomerBase, x: np.ndarray, s: int, scale: float) -> np.ndarray:
    """kWh per interval of all customers at prices `x` in scenario `s` (the load model)."""
    return _load_and_gradient(base.loads[s], base.band_of, x, scale, base.shift)[0]


def linearise(base: CustomerBase, slots: Slots, at: np.ndarray, scale: float,
              margin: float = 0.3, most: int = 3000) -> Linear:  # fmt: skip
    """The first-order expansion at `at`; peak candidates are the intervals within `margin`
    of each scenario's peak (at most `most` of them)."""
    S, n, K = base.S, base.n, slots.K
    A, c = np.zeros((S, n, K)), np.zeros((S, n))
    L0, G, peaks = [], [], np.zeros(S)
    tax = slots.tax[1:][None, :]
    for s, who in enumerate(base.customers):
        h, J = factors(who, at, scale, base.shift)
        Q = who.quantities
        E = at[1:][None, :] * Q * h * tax  # energy charge per band at `at`
        # d/dx_c sum_b tax_b x_b Q_b h_b = tax_c Q_c h_c + sum_b tax_b x_b Q_b J_bc
        dE = Q * h * tax + np.einsum("ib,ibc->ic", at[1:][None, :] * Q * tax, J)
        A[s, :, 0] = slots.tax[0] * base.days * scale
        A[s, :, 1:] = dE * scale
        c[s] = E.sum(axis=1) * scale - (A[s, :, 1:] @ at[1:])
        load, grad = _load_and_gradient(base.loads[s], base.band_of, at, scale, base.shift)
        peaks[s] = load.max()
        cand = np.flatnonzero(load >= (1 - margin) * load.max())
        if len(cand) > most:
            cand = cand[np.argsort(load[cand])[-most:]]
        L0.append(load[cand])
        G.append(grad[cand])
    return Linear(at.copy(), A, c, L0, G, peaks)
