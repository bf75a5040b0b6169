"""Price response from a trial: panel difference-in-differences of treated against control.

Model, on each household i and interval t (readings of treated and control households):

    log(kWh_it + offset) = a_{i, slot(t)} + g_t
                           + sum_{level k != reference, band b, group g} beta_kbg D_it^kbg
                           + sum_{weather w, band b} theta_iwb 1[band(t)=b] (w_t - mean w)
                           + e_it

- `a_{i, slot}`: a household x slot fixed effect, the slot being the local interval of the day
  on weekdays or weekends: each household's own daily shape, so a treated group whose
  evenings are higher is not read as responding to evening events;
- `g_t`: a fixed effect for every interval of the trial (each half-hour of the year): weather,
  holidays and anything else that moves every household at once;
- `D_it^kbg = T_i 1[level(t) = k] 1[band(t) = b] 1[group(i) = g]`, `T_i` the treated flag:
  `beta` is the treated households' change in log consumption at level k against the
  reference level (Normal), beyond what the control households did at the same moments;
- each household's own slope on each weather variable in each band (swept out with the fixed
  effects), so a treated group that heats more on cold High evenings is not read as
  responding to the price.

Zeros: `offset` (kWh per reading, default 0.01 for half-hours, scaled with the interval) is
added before the log, so zero readings are kept; the pooled estimates are also reported with
a tenth and ten times the offset (`sensitivity`), to show how much the choice matters.

Uncertainty (the fixed effects swept once on the full sample, each replicate a K x K solve):
- `ci_low/ci_high`, the default: percentile intervals of a wild bootstrap clustered by
  household and by local day (each household-day score flipped by the sum of a household sign
  and a day sign). Households on the same day share more than the time effects remove (a
  group's mix of heating and daily routines meets the same weather), so a household bootstrap
  alone is too narrow: on planted trials it covered the truth 90% of the time for a nominal
  95%, this one 97% (benchmarks/elasticity_recovery.py);
- `ci_*_household_bootstrap`: households drawn with replacement within each arm and group;
- `ci_*_analytic`: the analytic standard error clustered by household (CR1).

Responders: each treated household's own change at each level against the reference, as a
difference of means of its readings net of its own slot means and of the control households'
mean at the same interval, with standard errors clustered by local day; a household responds
when its 95% interval excludes zero in the direction the price moved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from forecasting.errors import InputError
from forecasting.response.panel import PanelFit, Sweeper, fit_demeaned

Z95 = 1.959963984540054
ALL = "all"
SPECS = ("level", "level x band", "level x group", "level x band x group")


@dataclass(frozen=True)
class ResponseBand:
    """Local time of day [start, end) in minutes; end may be 1440."""

    name: str
    start: int
    end: int


@dataclass
class ResponseSpec:
    bands: list[ResponseBand]
    timezone: str
    reference: str = "Normal"
    prices: dict[str, float] = field(default_factory=dict)  # per level, for elasticities
    offset_kwh_per_half_hour: float = 0.01
    replicates: int = 499
    seed: int = 0
    min_readings: int = 30  # a term with fewer treated readings is not estimated


@dataclass
class TrialPanel:
    """Readings of one trial, each row with what the model reads.
    `readings`: series_id, timestamp (UTC), kwh; `households`: series_id, treated (bool),
    group (str); `levels`: the level name of each reading (aligned with `readings`);
    `weather`: weather columns aligned with `readings` (may have none)."""

    readings: pd.DataFrame
    households: pd.DataFrame
    levels: np.ndarray
    weather: pd.DataFrame
    step: pd.Timedelta


@dataclass
class ResponseResult:
    estimates: pd.DataFrame
    responders: pd.DataFrame
    by_slot: pd.DataFrame
    facts: dict[str, Any]


def band_names(bands: list[ResponseBand]) -> list[str]:
    """The bands' names in order (a band that wraps midnight comes in two pieces)."""
    return list(dict.fromkeys(b.name for b in bands))


def band_of(minutes: np.ndarray, bands: list[ResponseBand]) -> np.ndarray:
    """Index in `band_names` of each local minute of the day; -1 where no band covers it."""
    names = band_names(bands)
    out = np.full(len(minutes), -1, dtype="int64")
    for b in bands:
        out[(minutes >= b.start) & (minutes < b.end)] = names.index(b.name)
    return out


def arc_elasticity(log_change: np.ndarray, price: float, reference: float) -> np.ndarray:
    """Arc elasticity from a log change in quantity and the two prices: the change in
    quantity over its midpoint, divided by the same for price."""
    q = np.exp(log_change)
    dq = 2 * (q - 1) / (q + 1)
    dp = 2 * (price - reference) / (price + reference)
    return np.asarray(dq / dp)


def log_change_for(elasticity: float, price: float, reference: float) -> float:
    """Inverse of `arc_elasticity`: the log change in quantity an arc elasticity implies."""
    dq = elasticity * 2 * (price - reference) / (price + reference)
    if abs(dq) >= 2:
        raise ValueError(f"an arc elasticity of {elasticity} at these prices is impossible")
    return float(np.log((1 + dq / 2) / (1 - dq / 2)))


class _Design:
    """Rows in household order with their codes, and demeaned columns made on demand (each
    column is swept once, however many fits use it)."""

    def __init__(self, panel: TrialPanel, spec: ResponseSpec) -> None:
        r = panel.readings
        hh = panel.households.set_index("series_id")
        missing = sorted(set(r["series_id"].unique()) - set(hh.index))
        if missing:
            raise InputError(
                f"{len(missing)} household(s) with readings are not in the household table "
                f"(first: {missing[0]}); every household needs its treated flag"
            )
        self.ids, self.household = np.unique(
            r["series_id"].to_numpy(dtype=str), return_inverse=True
        )
        self.treated_h = hh.loc[self.ids, "treated"].to_numpy(dtype=bool)
        groups = hh.loc[self.ids, "group"].astype("string").fillna("(none)")
        self.group_names = sorted(groups[self.treated_h].unique())
        self.group_h = np.array([self.group_names.index(g) if g in self.group_names else -1
                                 for g in groups])  # fmt: skip
        local = pd.DatetimeIndex(r["timestamp"]).tz_convert(spec.timezone)
        minute = np.asarray(local.hour * 60 + local.minute)
        weekend = np.asarray(local.dayofweek >= 5)
        step_min = max(int(panel.step / pd.Timedelta(minutes=1)), 1)
        slot = (minute // step_min) * 2 + weekend
        self.band = band_of(minute, spec.bands)
        self.level_names = sorted(set(panel.levels))
        if spec.reference not in self.level_names:
            raise InputError(
                f"the reference level {spec.reference!r} never occurs in the signal over the "
                f"readings (levels seen: {', '.join(self.level_names)})"
            )
        self.level = np.array([self.level_names.index(v) for v in panel.levels])
        self.ref = self.level_names.index(spec.reference)
        n_slots = int(slot.max()) + 1
        first = pd.factorize(self.household * n_slots + slot)[0]
        self.time_code, self.times = pd.factorize(pd.DatetimeIndex(r["timestamp"]), sort=True)
        self.treated = self.treated_h[self.household]
        self.weather = panel.weather
        slopes = []
        for w in panel.weather.columns:  # each household's own weather response, by band
            v = panel.weather[w].to_numpy(dtype="float64")
            codes = self.household * (len(band_names(spec.bands)) + 1) + self.band + 1
            slopes.append((codes, v - v.mean()))
        self.sweep = Sweeper(first, self.time_code, slopes)
        self.group = self.group_h[self.household]
        self.kwh = r["kwh"].to_numpy(dtype="float64")
        self.day = local.normalize().tz_localize(None).to_numpy().astype("datetime64[D]")
        self.day_code = pd.factorize(self.day)[0]
        self._cache: dict[str, np.ndarray] = {}

    def column(self, name: str, raw: np.ndarray) -> np.ndarray:
        if name not in self._cache:
            self._cache[name] = self.sweep(raw)
        return self._cache[name]


def _terms(
    d: _Design, spec: ResponseSpec, kind: str
) -> list[tuple[str, dict[str, str], np.ndarray]]:
    """(column name, labels, 0/1 column) of every term of a specification."""
    bands = [(ALL, np.ones(len(d.band), bool))] if "band" not in kind else [
        (b, d.band == i) for i, b in enumerate(band_names(spec.bands))]  # fmt: skip
    groups = [(ALL, np.ones(len(d.group), bool))] if "group" not in kind else [
        (g, d.group == i) for i, g in enumerate(d.group_names)]  # fmt: skip
    out = []
    for k, level in enumerate(d.level_names):
        if k == d.ref:
            continue
        at = d.treated & (d.level == k)
        for bname, bmask in bands:
            for gname, gmask in groups:
                col = at & bmask & gmask
                out.append((f"{level}|{bname}|{gname}", {"level": level, "band": bname,
                            "group": gname}, col))  # fmt: skip
    return out


def estimate_response(
    panel: TrialPanel, spec: ResponseSpec, progress: Any = None
) -> ResponseResult:
    """Fit the four specifications (level; level x band; level x group; level x band x group)
    and the responders; see the module docstring for the model."""
    d = _Design(panel, spec)
    if not d.treated_h.any() or d.treated_h.all():
        raise InputError(
            f"need treated and control households: {int(d.treated_h.sum())} treated, "
            f"{int((~d.treated_h).sum())} control"
        )
    offset = spec.offset_kwh_per_half_hour * (panel.step / pd.Timedelta(minutes=30))
    y = d.sweep(np.log(d.kwh + offset))
    strata = d.treated_h * (len(d.group_names) + 1) + d.group_h + 1
    rows, skipped = [], []
    for i, kind in enumerate(SPECS):
        if progress is not None:
            progress(f"fitting {kind} ({i + 1}/{len(SPECS)})")
        terms = []
        for name, labels, col in _terms(d, spec, kind):
            n_read = int(col.sum())
            n_hh = len(np.unique(d.household[col]))
            if n_read < spec.min_readings or n_hh < 2:
                skipped.append({"spec": kind, **labels, "treated_readings": n_read,
                                "households": n_hh})  # fmt: skip
                continue
            terms.append((name, labels, d.column(name, col.astype("float64")), n_read, n_hh))
        if not terms:
            continue
        names = [t[0] for t in terms]
        X = np.column_stack([t[2] for t in terms])
        fit = fit_demeaned(y, X, names, d.household, d.day_code, d.sweep.sweeps)
        rows += _rows(kind, terms, fit, spec, strata, spec.seed + i)
    estimates = pd.DataFrame(rows)
    sensitivity = _sensitivity(d, spec, offset)
    facts = {
        "households": len(d.ids),
        "treated_households": int(d.treated_h.sum()),
        "control_households": int((~d.treated_h).sum()),
        "readings": len(d.kwh),
        "zero_readings": int((d.kwh == 0).sum()),
        "offset_kwh": offset,
        "interval": str(panel.step),
        "sweeps": int(d.sweep.sweeps),
        "levels": {v: int((d.level == k).sum()) for k, v in enumerate(d.level_names)},
        "groups": d.group_names,
        "not_estimated": skipped,
        "sensitivity": sensitivity,
        "bootstrap_replicates": spec.replicates,
        "weather": list(d.weather.columns),
    }
    net, has = _control_net(d, offset)  # shared by the responders and the time-of-day picture
    return ResponseResult(
        estimates, _responders(d, spec, net, has), _by_slot(d, spec, net, has), facts
    )


def _interval(draws: np.ndarray, j: int) -> tuple[float, float]:
    lo, hi = np.percentile(draws[:, j], [2.5, 97.5])
    return float(lo), float(hi)


def _rows(
    kind: str,
    terms: list[Any],
    fit: PanelFit,
    spec: ResponseSpec,
    strata: np.ndarray,
    seed: int,
) -> list[dict[str, Any]]:
    out = []
    ref_price = spec.prices.get(spec.reference)
    se = fit.se("household")
    wild = fit.wild_bootstrap(spec.replicates, seed) if spec.replicates else None
    pairs = fit.household_bootstrap(spec.replicates, seed, strata) if spec.replicates else None
    for j, (_, labels, _, n_read, n_hh) in enumerate(terms):
        b = float(fit.beta[j])
        lo_a, hi_a = b - Z95 * se[j], b + Z95 * se[j]
        lo, hi = _interval(wild, j) if wild is not None else (lo_a, hi_a)
        lo_h, hi_h = _interval(pairs, j) if pairs is not None and len(pairs) else (lo_a, hi_a)
        row: dict[str, Any] = {
            "spec": kind, **labels, "log_change": b, "ci_low": lo, "ci_high": hi,
            "pct_change": 100 * np.expm1(b), "pct_ci_low": 100 * np.expm1(lo),
            "pct_ci_high": 100 * np.expm1(hi), "se_household": float(se[j]),
            "ci_low_analytic": lo_a, "ci_high_analytic": hi_a,
            "ci_low_household_bootstrap": lo_h, "ci_high_household_bootstrap": hi_h,
            "treated_readings": n_read, "households": n_hh,
        }  # fmt: skip
        price = spec.prices.get(labels["level"])
        if price is not None and ref_price is not None and price != ref_price:
            e = arc_elasticity(np.array([b, lo, hi]), price, ref_price)
            row |= {"elasticity": float(e[0]), "elasticity_ci_low": float(min(e[1], e[2])),
                    "elasticity_ci_high": float(max(e[1], e[2]))}  # fmt: skip
        out.append(row)
    return out


def _sensitivity(d: _Design, spec: ResponseSpec, offset: float) -> list[dict[str, Any]]:
    """The pooled level estimates with a tenth and ten times the zero offset."""
    terms = [(n, lab, d.column(n, c.astype("float64"))) for n, lab, c in _terms(d, spec, "level")
             if c.sum() >= spec.min_readings]  # fmt: skip
    if not terms:
        return []
    X = np.column_stack([t[2] for t in terms])
    names = [t[0] for t in terms]
    out = []
    for factor in (0.1, 1.0, 10.0):
        y = d.sweep(np.log(d.kwh + offset * factor))
        fit = fit_demeaned(y, X, names, d.household, d.day_code)
        for j, (_, lab, _) in enumerate(terms):
            out.append({"level": lab["level"], "offset_kwh": offset * factor,
                        "pct_change": float(100 * np.expm1(fit.beta[j]))})  # fmt: skip
    return out


def _control_net(d: _Design, offset: float) -> tuple[np.ndarray, np.ndarray]:
    """(each reading's log consumption net of its household's slot mean and of the control
    households' mean at the same interval, rows that have a control mean)."""
    y = np.log(d.kwh + offset)
    first = d.sweep.first
    y_slot = y - (np.bincount(first, weights=y) / d.sweep.n1)[first]
    ctl = ~d.treated
    n_t = np.bincount(d.time_code[ctl], minlength=len(d.times))
    s_t = np.bincount(d.time_code[ctl], weights=y_slot[ctl], minlength=len(d.times))
    has = n_t[d.time_code] > 0
    return y_slot - np.where(has, s_t[d.time_code] / np.maximum(n_t[d.time_code], 1), 0.0), has


def _responders(d: _Design, spec: ResponseSpec, net: np.ndarray, has: np.ndarray) -> pd.DataFrame:
    """Each treated household's own change at each level, with a day-clustered 95% CI."""
    H = len(d.ids)
    day_code = pd.factorize(d.day)[0]
    ref_price = spec.prices.get(spec.reference)
    rows = []
    for k, level in enumerate(d.level_names):
        if k == d.ref:
            continue
        use = d.treated & has & ((d.level == k) | (d.level == d.ref))
        h, at, v = d.household[use], d.level[use] == k, net[use]
        key = h * 2 + at
        n = np.bincount(key, minlength=2 * H).reshape(H, 2)
        mean = np.bincount(key, weights=v, minlength=2 * H).reshape(H, 2) / np.maximum(n, 1)
        dev = (v - mean[h, at.astype(int)]) / np.maximum(n[h, at.astype(int)], 1)
        dev = np.where(at, dev, -dev)
        hd, hd_code = np.unique(h * (day_code.max() + 1) + day_code[use], return_inverse=True)
        s = np.bincount(hd_code, weights=dev)
        owner = hd // (day_code.max() + 1)
        var = np.bincount(owner, weights=s**2, minlength=H)
        days = np.bincount(owner, minlength=H)
        price = spec.prices.get(level)
        expect = np.sign(ref_price - price) if price is not None and ref_price else 0.0
        for i in np.flatnonzero(d.treated_h & (n[:, 0] >= 2) & (n[:, 1] >= 2)):
            b = float(mean[i, 1] - mean[i, 0])
            se = float(np.sqrt(var[i] * days[i] / max(days[i] - 1, 1)))
            lo, hi = b - Z95 * se, b + Z95 * se
            rows.append({"series_id": d.ids[i], "level": level,
                         "group": d.group_names[d.group_h[i]], "log_change": b, "ci_low": lo,
                         "ci_high": hi, "pct_change": 100 * np.expm1(b),
                         "readings_at_level": int(n[i, 1]),
                         "responder": bool((expect < 0 and hi < 0) or (expect > 0 and lo > 0))})  # fmt: skip
    return pd.DataFrame(rows)


def _by_slot(d: _Design, spec: ResponseSpec, net: np.ndarray, has: np.ndarray) -> pd.DataFrame:
    """Treated against control at each level against the reference, by local time of day:
    over treated households, the mean of each one's `_control_net` change at that time of day,
    with a household-clustered 95% CI (the response through the day)."""
    local = pd.DatetimeIndex(d.times[d.time_code]).tz_convert(spec.timezone)
    minute = np.asarray(local.hour * 60 + local.minute)
    minutes, m_code = np.unique(minute, return_inverse=True)
    H, M, L = len(d.ids), len(minutes), len(d.level_names)
    use = d.treated & has
    key = (d.household[use] * M + m_code[use]) * L + d.level[use]
    n = np.bincount(key, minlength=H * M * L).reshape(H, M, L)
    total = np.bincount(key, weights=net[use], minlength=H * M * L).reshape(H, M, L)
    mean = total / np.maximum(n, 1)
    rows = []
    for k, level in enumerate(d.level_names):
        if k == d.ref:
            continue
        ok = (n[:, :, k] > 0) & (n[:, :, d.ref] > 0)
        diff = np.where(ok, mean[:, :, k] - mean[:, :, d.ref], np.nan)
        for j, m in enumerate(minutes):
            x = diff[ok[:, j], j]
            if len(x) < 2:
                continue
            half = Z95 * x.std(ddof=1) / np.sqrt(len(x))
            rows.append({"level": level, "minute": int(m), "log_change": float(x.mean()),
                         "ci_low": float(x.mean() - half), "ci_high": float(x.mean() + half),
                         "households": len(x)})  # fmt: skip
    return pd.DataFrame(rows)
