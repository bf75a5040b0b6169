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
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forecasting.errors import ConfigError
from forecasting.tariffs.engine import BillEngine
from forecasting.tariffs.spec import Flat, Tariff, TimeOfUse
from forecasting.tariffs.template import TariffTemplate

FIXED = "fixed_per_day"


@dataclass
class Scenario:
    """One possible year: usage [customer, interval] kWh (NaN: no reading) and the
    elasticities [customer, band] that apply to price rises (`up`) and cuts (`down`)."""

    name: str
    usage: np.ndarray
    up: np.ndarray
    down: np.ndarray


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
class CustomerBase:
    """Customers on one regular UTC grid, with their scenarios and current bills."""

    ids: np.ndarray
    start: pd.Timestamp
    step: pd.Timedelta
    scenarios: list[Scenario]
    vulnerable: np.ndarray  # bool per customer
    static: pd.DataFrame  # series_id + columns, for breakdowns
    band_of: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))  # per interval
    days: np.ndarray = field(default_factory=lambda: np.zeros(0))  # days on supply, per customer
    current_bills: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # [S, n] major
    pref: np.ndarray = field(default_factory=lambda: np.zeros(0))  # [S, n] major per kWh
    quantities: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0)))  # [S, n, B] kWh
    shift: float = 0.0  # substitution elasticity between bands (0: no shifting)

    @property
    def n(self) -> int:
        return len(self.ids)

    @property
    def S(self) -> int:
        return len(self.scenarios)


def annual_bills(engine: BillEngine, base: CustomerBase, usage: np.ndarray) -> pd.DataFrame:
    """series_id, total, days, kwh and kWh per energy item (`kwh_<item>`, when the tariff has
    several): each customer's bills summed over the billing periods."""
    bills = engine.bill_wide(base.ids, base.start, base.step, usage)
    cols = ["total", "days", "kwh", *[c for c in bills.columns if c.startswith("kwh_")]]
    out = bills.groupby("series_id", sort=False)[cols].sum()
    return out.reindex(pd.Index(base.ids.astype(str), name="series_id")).fillna(0.0)


def energy_price(tariff: Tariff, bills: pd.DataFrame) -> np.ndarray:
    """What each customer pays per kWh of energy today (major units, taxes on energy in,
    unrounded): the flat rate, or the kWh-weighted rates of its bands or levels; blocks from
    the rounded bills."""
    tax = 1 + sum(t.rate for t in tariff.taxes if "energy" in t.applies_to)
    kwh = bills["kwh"].to_numpy(dtype="float64")
    e = tariff.energy
    if isinstance(e, Flat):
        return np.where(kwh > 0, e.rate * tariff.scale * tax, 0.0)
    rates = {b.name: b.rate for b in e.bands} if isinstance(e, TimeOfUse) else (
        getattr(e, "rates", None))  # fmt: skip
    if rates:
        cost = sum(bills.get(f"kwh_{k}", 0.0) * r for k, r in rates.items())
        return np.where(kwh > 0, np.asarray(cost, dtype="float64") * tariff.scale * tax
                        / np.maximum(kwh, 1e-12), 0.0)  # fmt: skip
    fixed = tariff.fixed_per_day * bills["days"].to_numpy() * tariff.scale
    return np.where(kwh > 0, (bills["total"].to_numpy() - fixed) / np.maximum(kwh, 1e-9), 0.0)


def prepare(base: CustomerBase, template: TariffTemplate, current: Tariff, slots: Slots) -> None:
    """Fill the base's band of each interval, days on supply, current bills, reference prices
    and kWh per band from the engine, so the model and the engine agree on what they share."""
    probe = template.tariff_with({d.name: d.low for d in template.decisions})
    if probe.currency != current.currency:
        raise ConfigError(f"the template is in {probe.currency}, the current tariff in "
                          f"{current.currency}: write both in one currency")  # fmt: skip
    T = base.scenarios[0].usage.shape[1]
    engine = BillEngine(probe)
    facts = engine.calendar.facts(base.start, T, base.step)
    base.band_of = np.asarray(facts.energy_item, dtype="int64")
    cur = BillEngine(current)
    bills, prefs, qty = [], [], []
    for s in base.scenarios:
        b = annual_bills(cur, base, s.usage)
        kwh = np.nansum(s.usage, axis=1)
        bills.append(b["total"].to_numpy())
        prefs.append(np.where(kwh > 0, energy_price(current, b), 0.0))
        U = np.nan_to_num(s.usage)
        qty.append(np.stack([U[:, base.band_of == k].sum(axis=1) for k in range(len(slots.bands))],
                            axis=1))  # fmt: skip
        base.days = b["days"].to_numpy(dtype="float64")
    base.current_bills = np.array(bills)
    base.pref = np.array(prefs)
    base.quantities = np.array(qty)


def response(base: CustomerBase, slots: Slots, x: np.ndarray, s: int, scale: float
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """(factor, elasticity, d factor / d price) [customer, band] at prices `x` (template
    units; `scale` turns them into major units) in scenario `s`."""
    sc = base.scenarios[s]
    p = x[1:] * scale  # major per kWh, per band
    pref = np.maximum(base.pref[s], 1e-12)[:, None]
    e = np.where(p[None, :] > pref, sc.up, sc.down)
    ratio = np.maximum(p[None, :], 1e-12) / pref
    factor = np.where(base.pref[s][:, None] > 0, ratio**e, 1.0)
    slope = np.where(p[None, :] > 0, e * factor / np.maximum(p[None, :], 1e-12), 0.0) * scale
    return factor, e, slope


def factors(base: CustomerBase, slots: Slots, x: np.ndarray, s: int, scale: float
            ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(h [customer, band]: each band's kWh as a multiple of today's; J [customer, band b,
    price c]: d h_b / d x_c) at prices `x`. h = own-price factor x shift factor, where the
    shift factor g_b = (p_b / p_today) ** -shift / sum_c w_c (p_c / p_today) ** -shift moves
    energy between bands at today's band shares w, keeping the customer's total (shift 0: g=1)."""
    f, _, slope = response(base, slots, x, s, scale)
    n, B = f.shape
    J = np.zeros((n, B, B))
    J[:, np.arange(B), np.arange(B)] = slope
    sigma = base.shift
    if sigma == 0:
        return f, J
    Q = base.quantities[s]
    w = Q / np.maximum(Q.sum(axis=1, keepdims=True), 1e-12)
    p = np.maximum(x[1:] * scale, 1e-12)[None, :]
    pref = np.maximum(base.pref[s], 1e-12)[:, None]
    r = (p / pref) ** (-sigma)
    total = (w * r).sum(axis=1, keepdims=True)
    g = r / np.maximum(total, 1e-12)
    pi = w * r / np.maximum(total, 1e-12)
    # d g_b / d x_c = -shift * g_b / p_c * (delta_bc - pi_c), in template units
    dg = -sigma * g[:, :, None] / p[:, None, :] * (np.eye(B)[None] - pi[:, None, :]) * scale
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
    for s in range(base.S):
        h, _ = factors(base, slots, x, s, scale)
        energy = (base.quantities[s] * h * x[1:][None, :] * slots.tax[1:][None, :]).sum(axis=1)
        out[s] = (x[0] * slots.tax[0] * base.days + energy) * scale
    return out


def responded_usage(base: CustomerBase, slots: Slots, x: np.ndarray, s: int, scale: float
                    ) -> np.ndarray:  # fmt: skip
    h, _ = factors(base, slots, x, s, scale)
    return base.scenarios[s].usage * h[:, base.band_of]


def system_load(base: CustomerBase, slots: Slots, x: np.ndarray, s: int, scale: float
                ) -> np.ndarray:  # fmt: skip
    """kWh per interval of all customers at prices `x` in scenario `s`."""
    return np.nansum(responded_usage(base, slots, x, s, scale), axis=0)


def linearise(base: CustomerBase, slots: Slots, at: np.ndarray, scale: float,
              margin: float = 0.3, most: int = 3000) -> Linear:  # fmt: skip
    """The first-order expansion at `at`; peak candidates are the intervals within `margin`
    of each scenario's peak (at most `most` of them)."""
    S, n, K = base.S, base.n, slots.K
    B = K - 1
    A, c = np.zeros((S, n, K)), np.zeros((S, n))
    L0, G, peaks = [], [], np.zeros(S)
    tax = slots.tax[1:][None, :]
    for s in range(S):
        h, J = factors(base, slots, at, s, scale)
        Q = base.quantities[s]
        E = at[1:][None, :] * Q * h * tax  # energy charge per band at `at`
        # d/dx_c sum_b tax_b x_b Q_b h_b = tax_c Q_c h_c + sum_b tax_b x_b Q_b J_bc
        dE = Q * h * tax + np.einsum("ib,ibc->ic", at[1:][None, :] * Q * tax, J)
        A[s, :, 0] = slots.tax[0] * base.days * scale
        A[s, :, 1:] = dE * scale
        c[s] = E.sum(axis=1) * scale - (A[s, :, 1:] @ at[1:])
        U = np.nan_to_num(base.scenarios[s].usage)
        load = np.zeros(U.shape[1])
        grad = np.zeros((U.shape[1], B))
        for b in range(B):
            cols = np.flatnonzero(base.band_of == b)
            load[cols] = h[:, b] @ U[:, cols]
            grad[cols] = U[:, cols].T @ J[:, b, :]
        peaks[s] = load.max()
        cand = np.flatnonzero(load >= (1 - margin) * load.max())
        if len(cand) > most:
            cand = cand[np.argsort(load[cand])[-most:]]
        L0.append(load[cand])
        G.append(grad[cand])
    return Linear(at.copy(), A, c, L0, G, peaks)
