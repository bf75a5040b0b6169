"""Weather-year scenarios from an exported bundle: the load under another year's weather is
the model's, not a hand-set slope.

For each shift (e.g. -364 days: last year's weather, weekdays kept; read from the data config's
covariate sources over their whole span), the bundle forecasts
every day of the readings' span from local midnight twice: once with the real weather and once
with the weather of `shift` days earlier in its place (history and day ahead), both from the
customers' real readings as lookback. The scenario's load is the real readings plus the
difference of the two P50 forecasts (kept at or above zero), spread evenly over the readings'
intervals within each of the bundle's. Hours the shifted weather does not cover keep the real
weather (no change). torch-free: onnxruntime through `load_bundle`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from forecasting.data.covariates import covariates_by_time
from forecasting.data.prepare import prepare
from forecasting.data.schema import SERIES, TIME
from forecasting.errors import InputError
from forecasting.tariffs.calendar import utc_ns
from serving.load import load_bundle


def shifted(
    frame: pd.DataFrame, columns: list[str], days: int, by_time: pd.DataFrame
) -> pd.DataFrame:
    """`frame` with `columns` replaced by the weather of `days` later (negative: earlier) from
    `by_time` (indexed by UTC time, the sources' whole span); uncovered times keep their own."""
    source = by_time[columns].reindex(pd.DatetimeIndex(frame[TIME]) + pd.Timedelta(days=days))
    out = frame.copy()
    for c in columns:
        alt = source[c].to_numpy()
        out[c] = np.where(np.isnan(alt), frame[c].to_numpy(), alt)
    return out


def weather_deltas(data: Any, bundle_path: str, static: pd.DataFrame, shifts: list[int],
                   weather: list[str], ids: np.ndarray, start: pd.Timestamp, step: pd.Timedelta,
                   T: int, tz: str) -> tuple[list[np.ndarray], dict[str, Any]]:  # fmt: skip
    """One [customer, interval] matrix of kWh changes per shift, on the readings' grid;
    `weather` names the covariates that are weather (a price signal among the bundle's
    covariates stays as it was)."""
    bundle = load_bundle(bundle_path)
    reads = set(bundle.features.known_future) | set(bundle.features.observed)
    unknown = [c for c in weather if c not in reads]
    if unknown:
        raise InputError(f"{bundle_path}: the bundle does not read {unknown} (it reads: "
                         f"{', '.join(sorted(reads)) or 'no covariates'})")  # fmt: skip
    prepared = prepare(data)
    frame = prepared.frame
    by_time, _ = covariates_by_time(list(data.covariates), pd.Timedelta(bundle.manifest["freq"]))
    missing = [c for c in weather if c not in frame]
    if missing:
        raise InputError(f"the bundle's weather {missing} is not in the data config's covariates")
    days = pd.date_range(frame[TIME].min().tz_convert(tz).normalize() + pd.Timedelta(days=1),
                         frame[TIME].max().tz_convert(tz).normalize(), freq="1D")  # fmt: skip
    origins = pd.DatetimeIndex(days.tz_convert("UTC"))
    keep_static = (
        static[static[SERIES].isin(frame[SERIES].unique())] if bundle.features.static else None
    )
    real, _ = bundle.forecast(frame, origins, keep_static)
    out: list[np.ndarray] = []
    shifts_facts: dict[str, Any] = {}
    facts = {"bundle": bundle_path, "weather": weather, "origins": len(origins),
                      "shifts": shifts_facts}  # fmt: skip
    row = pd.Index([str(i) for i in ids])
    for d in shifts:
        alt, _ = bundle.forecast(shifted(frame, weather, d, by_time), origins, keep_static)
        m = real.merge(alt, on=[SERIES, "origin", TIME], suffixes=("", "_alt"))
        delta = m["p50_alt"] - m["p50"]
        M = np.zeros((len(ids), T))
        t = utc_ns(m[TIME])
        r = row.get_indexer(m[SERIES].astype(str))
        bstep = pd.Timedelta(bundle.manifest["freq"])
        k = max(int(bstep / step), 1)
        for j in range(k):
            col = (t - start.value) // step.value + j
            ok = (r >= 0) & (col >= 0) & (col < T)
            M[r[ok], col[ok]] = delta.to_numpy()[ok] / k
        out.append(M)
        shifts_facts[str(d)] = {"mean_kwh_per_customer": float(M.sum(axis=1).mean()),
                                   "hours": len(m)}  # fmt: skip
    return out, facts
