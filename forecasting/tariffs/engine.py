"""The bill engine: interval usage of many customers in, one bill per customer and period out.

Vectorised over customers: a chunk of customers becomes a matrix (customers x intervals) on
one regular UTC grid, and the energy in every (period, band) is one matrix product with a
0/1 table of the grid (`facts`). The grid is the data's own interval: half-hourly usage is
billed half-hour by half-hour, never resampled.

Money: every line item is computed unrounded in the tariff's units, scaled to major units,
then rounded half-up to `decimals`; taxes are computed on the unrounded components they
apply to; `total` is the sum of the rounded line items (what a printed bill adds up to).
Partial periods (a customer's first and last months, or a range that starts mid-period)
bill the days the customer was on supply: the fixed charge per day counts those days, and
the minimum charge and (with `prorate`) block sizes shrink by days / days in the period.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecasting.errors import InputError
from forecasting.tariffs.calendar import Cycle, GridFacts, TariffCalendar, utc_ns
from forecasting.tariffs.spec import Blocks, Flat, Tariff, TimeOfUse

SERIES, TIME = "series_id", "timestamp"
CHUNK_CELLS = 16_000_000  # customers x intervals per matrix: 128 MB of float64


def round_money(x: np.ndarray, decimals: int) -> np.ndarray:
    """Half away from zero at `decimals` (a float just under .5 from arithmetic still rounds up)."""
    f = 10.0**decimals
    return np.sign(x) * np.floor(np.abs(x) * f + 0.5 + 1e-7) / f


def customer_codes(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Each row's customer code (customers numbered in sorted id order) and the ids, as
    `pd.factorize(sort=True)` gives them. Rows grouped by customer, as most usage files are,
    are coded from their runs: only the run boundaries are compared, no row is hashed."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        arr = pa.array(series.array)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        arr = None
    text = arr is not None and (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type))
    if text and arr.null_count == 0 and len(arr) > 0:
        changes = pc.not_equal(arr[1:], arr[:-1]).to_numpy(zero_copy_only=False)
        starts = np.r_[0, np.flatnonzero(changes) + 1]
        values = np.asarray(arr.take(pa.array(starts)).to_pylist(), dtype=object)
        if len(set(values)) == len(values):  # each customer in one run: grouped
            order = np.argsort(values, kind="stable")
            rank = np.empty(len(values), dtype="int64")
            rank[order] = np.arange(len(values))
            lengths = np.diff(np.r_[starts, len(arr)])
            return np.repeat(rank, lengths), values[order]
    codes, uniques = pd.factorize(series, sort=True)
    return codes.astype("int64"), np.asarray(uniques.astype("string").to_numpy(dtype=object))


def infer_step(frame: pd.DataFrame) -> pd.Timedelta:
    """The most common step between consecutive readings of a series."""
    t = utc_ns(frame[TIME])
    codes = pd.factorize(frame[SERIES])[0]
    order = np.lexsort((t, codes))
    diffs = np.diff(t[order])[np.diff(codes[order]) == 0]
    diffs = diffs[diffs > 0]
    if not len(diffs):
        raise InputError("cannot tell the usage interval: no series has two readings")
    values, counts = np.unique(diffs, return_counts=True)
    return pd.Timedelta(int(values[np.argmax(counts)]), unit="ns")


@dataclass
class _Grid:
    """One chunk of customers on the tariff calendar: what every charge line reads.
    `U` is usage with 0 where `present` is False; `days` the days on supply per (customer,
    period), 0 where not `billed`; `share` = days / period_days."""

    ids: np.ndarray
    start: pd.Timestamp
    step: pd.Timedelta
    facts: GridFacts
    U: np.ndarray
    present: np.ndarray
    periods: np.ndarray
    pcode: np.ndarray
    onehot: np.ndarray
    days: np.ndarray
    period_days: np.ndarray
    billed: np.ndarray
    b_start: np.ndarray
    b_end: np.ndarray
    items: np.ndarray | None = None  # kWh per (customer, period, energy item), once computed

    @property
    def S(self) -> int:
        return self.U.shape[0]

    @property
    def P(self) -> int:
        return len(self.periods)

    @property
    def share(self) -> np.ndarray:
        return self.days / self.period_days


class BillEngine:
    """Bills under one tariff and billing cycle. `bill` takes long usage, `bill_wide` a matrix."""

    def __init__(self, tariff: Tariff, cycle: Cycle | None = None) -> None:
        self.tariff = tariff
        self.calendar = TariffCalendar(tariff, cycle)
        self.cycle = self.calendar.cycle
        self.items = tariff.energy_items()
        e = tariff.energy
        if isinstance(e, Flat):
            self.rates = np.array([e.rate])
        elif isinstance(e, Blocks):
            self.rates = np.array([b.rate for b in e.blocks])
        elif hasattr(e, "bands"):
            self.rates = np.array([b.rate for b in e.bands])
        else:
            self.rates = np.array(list(e.rates.values()))

    def unit_rates(self, start: pd.Timestamp, n: int, step: pd.Timedelta) -> np.ndarray:
        """The energy price of one kWh in each of `n` intervals from `start` (UTC), in the
        tariff's currency before taxes: what a schedule minimises. Block tariffs price by
        the month's volume, not the hour: refused."""
        if isinstance(self.tariff.energy, Blocks):
            raise InputError(f"tariff {self.tariff.name!r} prices by volume (blocks): a schedule "
                             "needs a price per hour (flat, time-of-use or dynamic)")  # fmt: skip
        item = self.calendar.facts(start, n, step).energy_item
        if (item < 0).any():
            when = start + step * int(np.flatnonzero(item < 0)[0])
            raise InputError(f"tariff {self.tariff.name!r}: {when} is outside its price signal "
                             "and it has no `default` level")  # fmt: skip
        return np.asarray(self.rates, dtype=float)[item] * self.tariff.scale

    # ---- long input -------------------------------------------------------------------------
    def bill(
        self,
        frame: pd.DataFrame,
        usage: str = "kwh",
        export: str | None = None,
        step: pd.Timedelta | None = None,
        chunk_cells: int = CHUNK_CELLS,
    ) -> pd.DataFrame:
        """Bills of every customer in a long frame (`series_id`, `timestamp` UTC, `usage` kWh
        imported per interval, optionally `export` kWh exported), `chunk_cells` matrix cells
        (customers x intervals) at a time."""
        if frame.empty:
            return self.empty()
        parts = []
        step = step or infer_step(frame)
        ns = int(step / pd.Timedelta(1, unit="ns"))
        t = utc_ns(frame[TIME])
        t0, t1 = int(t.min()), int(t.max())
        epoch_off = t0 % ns
        t0 -= epoch_off  # grids start on a multiple of the step since the epoch
        n = (t1 - t0) // ns + 1
        col, rem = np.divmod(t - t0, ns)
        if rem.any():
            i = int(np.flatnonzero(rem)[0])
            raise InputError(
                f"series {frame[SERIES].iloc[i]}: reading at {frame[TIME].iloc[i]} is off the "
                f"{step} grid of the usage"
            )
        codes, ids = customer_codes(frame[SERIES])
        u = frame[usage].to_numpy(dtype="float64")
        x = frame[export].to_numpy(dtype="float64") if export else None
        if len(codes) > 1 and not (np.diff(codes) >= 0).all():
            order = np.argsort(codes, kind="stable")  # group rows by customer
            codes, col, u = codes[order], col[order], u[order]
            x = x[order] if x is not None else None
        # every customer on every interval, in time order (a file of whole customer-years, as
        # most are): the rows are already the matrix, no scatter needed
        whole = len(col) == len(ids) * n and bool((col.reshape(-1, n) == np.arange(n)).all())
        per = max(1, int(chunk_cells // n))
        bounds = np.searchsorted(codes, np.arange(0, len(ids) + per, per))
        start = pd.Timestamp(t0, unit="ns", tz="UTC")
        for a, b in itertools.pairwise(bounds):
            if a == b:
                continue
            lo = int(codes[a])
            k = int(codes[b - 1]) - lo + 1
            if whole:
                U = u[a:b].reshape(k, n)
                X = x[a:b].reshape(k, n) if x is not None else None
            else:
                where = (codes[a:b] - lo, col[a:b])
                U = np.full((k, n), np.nan)
                U[where] = u[a:b]
                X = None
                if x is not None:
                    X = np.full((k, n), np.nan)
                    X[where] = x[a:b]
            parts.append(self.bill_wide(ids[lo : lo + k], start, step, U, X))
        return pd.concat(parts, ignore_index=True)

    # ---- matrix input -----------------------------------------------------------------------
    def bill_wide(
        self,
        ids: np.ndarray,
        start: pd.Timestamp,
        step: pd.Timedelta,
        usage: np.ndarray,
        export: np.ndarray | None = None,
    ) -> pd.DataFrame:
        """Bills from `usage[customer, k]`: kWh in the interval starting `start + k * step`
        (UTC), NaN where there is no reading."""
        g = self._grid(ids, start, step, usage)
        kwh, extra, rounded = self._lines(g, start, step, export)
        return self._bills(g, kwh, extra, rounded)

    def totals_wide(
        self,
        ids: np.ndarray,
        start: pd.Timestamp,
        step: pd.Timedelta,
        usage: np.ndarray,
        item_factors: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:
        """What `bill_wide` bills, summed over each customer's billing periods, as arrays in
        the order of `ids` (no table is built): `total`, `days`, `kwh` and `kwh_<item>` for
        each energy item of a tariff with several. `item_factors`: see `totals`."""
        return self.totals(self.grid(ids, start, step, usage), item_factors)

    def grid(self, ids: np.ndarray, start: pd.Timestamp, step: pd.Timedelta,
             usage: np.ndarray) -> _Grid:  # fmt: skip
        """A block of usage on this tariff's calendar (billing periods, days on supply, kWh per
        period and energy item), to bill with `totals` once or many times."""
        g = self._grid(ids, start, step, usage)
        g.items = self._items(g)
        return g

    def with_rows(self, g: _Grid, rows: np.ndarray, other: _Grid) -> _Grid:
        """`g` with the customers at positions `rows` taken from `other` (a grid of just those
        customers, on the same intervals)."""
        assert g.items is not None and other.items is not None
        out = dataclasses.replace(g)
        for name in ("ids", "U", "present", "days", "billed", "b_start", "b_end", "items"):
            a = getattr(g, name).copy()
            a[rows] = getattr(other, name)
            setattr(out, name, a)
        return out

    def totals(self, g: _Grid, item_factors: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Bills of a `grid` summed over each customer's billing periods (see `totals_wide`).
        `item_factors` [customer, energy item] bills the usage with every interval of an item
        multiplied by that factor (a flat or time-of-use tariff: the factor is applied to the
        item's kWh in each period, the same sum without building the scaled matrix)."""
        if item_factors is not None and not isinstance(self.tariff.energy, Flat | TimeOfUse):
            raise ValueError("item_factors needs a flat or time-of-use tariff")
        kwh, _, rounded = self._lines(g, g.start, g.step, None, item_factors)
        total = round_money(sum(rounded.values()), self.tariff.decimals)  # type: ignore[arg-type]
        out = {"total": np.where(g.billed, total, 0.0).sum(axis=1),
               "days": np.where(g.billed, g.days, 0).sum(axis=1)}  # fmt: skip
        for k, v in kwh.items():
            out[k] = np.where(g.billed, v, 0.0).sum(axis=1)
        return out

    def _lines(
        self,
        g: _Grid,
        start: pd.Timestamp,
        step: pd.Timedelta,
        export: np.ndarray | None,
        item_factors: np.ndarray | None = None,
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray]]:
        """(kWh columns, extra columns, rounded line items) per customer and period."""
        t = self.tariff
        energy, kwh = self._energy(g, item_factors)
        lines: dict[str, np.ndarray] = {"fixed": t.fixed_per_day * g.days * t.scale}
        for name, v in energy.items():
            lines["energy" if isinstance(t.energy, Flat) else f"energy_{name}"] = v
        extra: dict[str, np.ndarray] = {}
        if t.demand is not None:
            extra["demand_kw"] = self._demand(g.U, start, step, g.periods, g.facts.demand_in_window)
            lines["demand"] = t.demand.rate * extra["demand_kw"] * t.scale
        if export is not None:
            extra["kwh_export"], credit = self._export(g, export)
            if credit is not None:
                lines["feed_in"] = -credit * t.scale
        elif t.feed_in is not None:
            lines["feed_in"] = np.zeros((g.S, g.P))
        components = {
            "fixed": lines["fixed"],
            "energy": sum(energy.values()),
            "demand": lines.get("demand", 0.0),
            "feed_in": lines.get("feed_in", 0.0),
            **energy,
        }
        if t.minimum_charge is not None:
            subtotal = sum(components[c] for c in ("fixed", "energy", "demand", "feed_in"))
            floor = t.minimum_charge * g.share * t.scale
            lines["minimum_topup"] = components["minimum"] = np.maximum(floor - subtotal, 0.0)
        for tax in t.taxes:
            base = np.zeros((g.S, g.P))
            for c in tax.applies_to:
                base = base + components[c]
            lines[f"tax_{tax.name}"] = tax.rate * base
        rounded = {
            k: round_money(np.broadcast_to(v, (g.S, g.P)), t.decimals) for k, v in lines.items()
        }
        return kwh, extra, rounded

    def _grid(
        self, ids: np.ndarray, start: pd.Timestamp, step: pd.Timedelta, usage: np.ndarray
    ) -> _Grid:
        """The chunk on the tariff calendar: billing periods and each customer's days on supply."""
        T = usage.shape[1]
        f = self.calendar.facts(start, T, step)
        present = ~np.isnan(usage)
        periods, pcode = np.unique(f.period, return_inverse=True)
        onehot = np.zeros((T, len(periods)))
        onehot[np.arange(T), pcode] = 1.0
        has = present.any(axis=1)
        first = np.argmax(present, axis=1)
        last = T - 1 - np.argmax(present[:, ::-1], axis=1)
        p_start, p_end = self.cycle.start(periods), self.cycle.end(periods)
        b_start = np.maximum(p_start[None, :], f.date[first][:, None])
        b_end = np.minimum(p_end[None, :], f.date[last][:, None])
        days = (b_end - b_start).astype("int64") + 1
        billed = (days > 0) & has[:, None]
        g = _Grid(
            ids, start, step, f, np.where(present, usage, 0.0), present, periods, pcode, onehot,
            np.where(billed, days, 0), ((p_end - p_start).astype("int64") + 1)[None, :],
            billed, b_start, b_end,
        )  # fmt: skip
        self._check_signal_covers(g)
        return g

    def _check_signal_covers(self, g: _Grid) -> None:
        """Refuse usage at times the price signal does not price (no `default` level)."""
        uncovered = g.facts.energy_item < 0
        hit = g.present[:, uncovered]
        if hit.any():
            s, j = np.argwhere(hit)[0]
            when = pd.Timestamp(g.start) + g.step * int(np.flatnonzero(uncovered)[j])
            raise InputError(
                f"series {g.ids[s]}: usage at {when} is outside the price signal "
                f"({self.calendar.signal.where if self.calendar.signal else ''}) and the "
                "tariff has no `default` level"
            )

    def _items(self, g: _Grid) -> np.ndarray:
        """kWh per (customer, period, energy item): one matrix product with the 0/1 table of
        the grid (one item for flat and block tariffs)."""
        B = len(self.items) if not isinstance(self.tariff.energy, Flat | Blocks) else 1
        table = np.zeros((len(g.pcode), g.P * B))
        ok = g.facts.energy_item >= 0
        table[np.flatnonzero(ok), g.pcode[ok] * B + g.facts.energy_item[ok]] = 1.0
        return (g.U @ table).reshape(g.S, g.P, B)

    def _energy(
        self, g: _Grid, item_factors: np.ndarray | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """(energy charge per item, kWh columns); blocks split each period's total."""
        t = self.tariff
        kwh_items = g.items if g.items is not None else self._items(g)
        if item_factors is not None:
            kwh_items = kwh_items * item_factors[:, None, :]
        kwh = {"kwh": kwh_items.sum(axis=2)}
        if isinstance(t.energy, Blocks):
            limits = np.array([b.up_to if b.up_to is not None else np.inf for b in t.energy.blocks])
            size = g.share[..., None] if t.energy.prorate else np.ones_like(g.share)[..., None]
            upper = limits[None, None, :] * size
            lower = np.concatenate([np.zeros_like(upper[..., :1]), upper[..., :-1]], axis=2)
            kwh_items = np.clip(kwh["kwh"][..., None] - lower, 0.0, upper - lower)
        if (len(self.items) > 1 and not isinstance(t.energy, Flat)) or isinstance(t.energy, Blocks):
            kwh |= {f"kwh_{n}": kwh_items[..., i] for i, n in enumerate(self.items)}
        energy = {n: kwh_items[..., i] * self.rates[i] * t.scale for i, n in enumerate(self.items)}
        return energy, kwh

    def _export(self, g: _Grid, export: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(kWh exported per period, feed-in credit in tariff units or None without feed-in)."""
        fi = self.tariff.feed_in
        X = np.where(np.isnan(export), 0.0, export)
        if (X < 0).any():
            raise InputError("export kWh must not be negative")
        kwh_export = X @ g.onehot
        if fi is None:
            return kwh_export, None
        if fi.rate is not None:
            return kwh_export, kwh_export * fi.rate
        assert g.facts.feed_in_band is not None and fi.bands is not None
        rates = np.array([b.rate for b in fi.bands])
        return kwh_export, X @ (g.onehot * rates[g.facts.feed_in_band][:, None])

    def _bills(
        self,
        g: _Grid,
        kwh: dict[str, np.ndarray],
        extra: dict[str, np.ndarray],
        rounded: dict[str, np.ndarray],
    ) -> pd.DataFrame:
        """One row per customer and billed period; `total` adds the rounded line items."""
        t = self.tariff
        total = round_money(sum(rounded.values()), t.decimals)  # type: ignore[arg-type]
        s_idx, p_idx = np.nonzero(g.billed)

        def take(a: np.ndarray) -> np.ndarray:
            return np.broadcast_to(a, (g.S, g.P))[s_idx, p_idx]

        expected = self._expected(g.facts.date, g.b_start, g.b_end, g.billed, g.step)
        out = pd.DataFrame(
            {
                SERIES: pd.array(g.ids[s_idx], dtype="string"),
                "period": self.cycle.label(g.periods)[p_idx],
                "period_start": g.b_start[s_idx, p_idx],
                "period_end": g.b_end[s_idx, p_idx],
                "days": take(g.days),
                "period_days": take(g.period_days),
            }
        )
        out["partial"] = out["days"] < out["period_days"]
        out["intervals"] = take(g.present.astype("float64") @ g.onehot).astype("int64")
        out["missing_intervals"] = take(expected).astype("int64") - out["intervals"]
        for k, v in {**kwh, **extra}.items():
            out[k] = take(v)
        out["currency"] = t.currency
        for k, v in rounded.items():
            out[k] = take(v)
        out["total"] = take(total)
        return out

    def _expected(
        self,
        dates: np.ndarray,
        b_start: np.ndarray,
        b_end: np.ndarray,
        billed: np.ndarray,
        step: pd.Timedelta,
    ) -> np.ndarray:
        """Intervals in each customer's billed days (46/50 half-hours on DST change days)."""
        days, counts = self.calendar.day_intervals(dates.min(), dates.max(), step)
        cum = np.concatenate([[0], np.cumsum(counts)])
        lo = np.searchsorted(days, np.where(billed, b_start, days[0]))
        hi = np.searchsorted(days, np.where(billed, b_end, days[0]), side="right")
        return np.where(billed, cum[hi] - cum[lo], 0)

    def _demand(
        self,
        U: np.ndarray,
        start: pd.Timestamp,
        step: pd.Timedelta,
        periods: np.ndarray,
        in_window: np.ndarray | None,
    ) -> np.ndarray:
        """Highest mean kW over a demand interval in the demand windows, per customer and period."""
        cal = self.calendar
        assert cal.demand_step is not None
        k, pad, count = cal.demand_grid(start, U.shape[1], step)
        S = U.shape[0]
        padded = np.zeros((S, count * k))
        padded[:, pad : pad + U.shape[1]] = U
        kw = padded.reshape(S, count, k).sum(axis=2) / (cal.demand_step / pd.Timedelta(hours=1))
        assert in_window is not None
        first = pd.date_range(start - pad * step, periods=count, freq=cal.demand_step)
        local = first.tz_convert(self.tariff.timezone).tz_localize(None).normalize()
        dperiod = self.cycle.period_index(local.to_numpy().astype("datetime64[D]"))
        out = np.zeros((S, len(periods)))
        for j, p in enumerate(periods):
            cols = (dperiod == p) & in_window
            if cols.any():
                out[:, j] = kw[:, cols].max(axis=1)
        return out

    def empty(self) -> pd.DataFrame:
        ids = np.array([], dtype=object)
        return self.bill_wide(ids, pd.Timestamp("2000-01-01", tz="UTC"), pd.Timedelta("1h"),
                              np.full((0, 24), np.nan))  # fmt: skip
