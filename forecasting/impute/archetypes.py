"""Load-shape archetypes of smart-meter customers, fitted once and shipped inside a bundle.

Each customer's normalised average day (24 local hours, weekday and weekend, each summing to
one) is clustered with K-Means; the number of archetypes is the one with the best silhouette
score over `k_range`, and all scores are recorded. Per archetype the bundle keeps what
imputation needs to turn monthly totals into hours and to assign customers it has never
seen (`serving/impute.py`):

- `profile[month, day type, hour]`: the members' mean share of a day's energy in each local
  hour, by calendar month (seasonal changes of the daily shape: lighting, heating);
- `weekend_ratio[month]`: weekend day energy over weekday day energy;
- `seasonal[month]`: the members' mean daily energy in each month over their yearly mean,
  and `seasonal_sigma`, the spread of a member's log ratio around it;
- `static[column][value]`: how many members have each static value (tariff, ACORN group),
  and `prior`: the share of customers in the archetype.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from forecasting.data.schema import SERIES, TARGET, TIME
from forecasting.errors import InputError

MIN_DAYS = 28  # a customer needs this many complete local days to shape an archetype
MIN_SHARE = 0.05  # each archetype holds at least this share of the customers (and 2)


def local_calendar(timestamps: pd.Series | pd.DatetimeIndex, timezone: str) -> pd.DataFrame:
    """Local month (1-12), day type (0 weekday, 1 weekend), hour and date of UTC timestamps."""
    local = pd.DatetimeIndex(timestamps).tz_convert(timezone)
    return pd.DataFrame(
        {
            "month": local.month.to_numpy(),
            "weekend": (local.dayofweek.to_numpy() >= 5).astype("int64"),
            "hour": local.hour.to_numpy(),
            "date": local.tz_localize(None).normalize().to_numpy(),
        }
    )


def customer_shapes(frame: pd.DataFrame, timezone: str) -> pd.DataFrame:
    """Mean kWh per (series, month, day type, hour) over complete local days, and day totals."""
    rows = frame[[SERIES, TIME, TARGET]].dropna(subset=[TARGET]).reset_index(drop=True)
    cal = local_calendar(rows[TIME], timezone)
    rows = pd.concat([rows, cal], axis=1)
    per_day = rows.groupby([SERIES, "date"])[TARGET].agg(["size", "sum"])
    complete = per_day[per_day["size"] >= 23].index  # 23-25 local hours on complete days
    rows = rows.set_index([SERIES, "date"]).loc[lambda d: d.index.isin(complete)].reset_index()
    return rows


def _average_days(rows: pd.DataFrame) -> pd.DataFrame:
    """Per series: 48 shares (weekday hours 0-23, weekend hours 0-23), each half summing to one."""
    mean = rows.groupby([SERIES, "weekend", "hour"])[TARGET].mean().unstack(["weekend", "hour"])
    mean = mean.reindex(columns=pd.MultiIndex.from_product([[0, 1], range(24)])).fillna(0.0)
    values = mean.to_numpy().reshape(len(mean), 2, 24)
    sums = values.sum(axis=2, keepdims=True)
    shares = np.divide(values, sums, out=np.full_like(values, 1 / 24), where=sums > 0)
    return pd.DataFrame(shares.reshape(len(mean), 48), index=mean.index)


def fit_archetypes(
    frame: pd.DataFrame,
    static: pd.DataFrame | None,
    timezone: str,
    k_range: tuple[int, int] = (2, 8),
    seed: int = 0,
) -> dict[str, Any]:
    """Cluster the customers of a canonical hourly frame into load-shape archetypes.

    For each k, clusters smaller than 5% of the customers (or 2) are merged into the nearest
    larger one; the labelling with the best silhouette wins (its archetype count can be
    below its k, and the scores are recorded by k)."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    rows = customer_shapes(frame, timezone)
    days = rows.groupby(SERIES)["date"].nunique()
    keep = days[days >= MIN_DAYS].index
    rows = rows[rows[SERIES].isin(keep)]
    shapes = _average_days(rows)
    n = len(shapes)
    if n < 3:
        raise InputError(
            f"archetypes need at least 3 customers with {MIN_DAYS}+ complete days; got {n}"
        )
    X = shapes.to_numpy()
    scores: dict[int, float] = {}
    fits = {}
    for k in range(k_range[0], min(k_range[1], n - 1) + 1):
        km = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(X)
        labels = _merge_small(X, km.labels_, km.cluster_centers_, max(2, MIN_SHARE * n))
        if labels is None:
            continue
        scores[k] = float(silhouette_score(X, labels))
        fits[k] = labels
    if not scores:
        raise InputError(
            f"archetypes: no clustering of the {n} customers into {k_range[0]}-{k_range[1]} groups "
            f"gives every group {MIN_SHARE:.0%} of them (and at least 2)"
        )
    best = max(scores, key=lambda k: scores[k])
    labels = pd.Series(fits[best], index=shapes.index)
    return describe(rows, labels, static, int(labels.max()) + 1, scores, timezone)


def _merge_small(
    X: np.ndarray, labels: np.ndarray, centres: np.ndarray, min_size: float
) -> np.ndarray | None:
    """Labels 0..m-1 after moving the members of clusters under `min_size` customers to the
    nearest large cluster (one odd household is not a type); None when fewer than 2 remain."""
    sizes = np.bincount(labels, minlength=len(centres))
    big = np.flatnonzero(sizes >= min_size)
    if len(big) < 2:
        return None
    d = ((X[:, None, :] - centres[None, big, :]) ** 2).sum(axis=2)
    nearest = big[np.argmin(d, axis=1)]
    merged = np.where(np.isin(labels, big), labels, nearest)
    return np.searchsorted(big, merged)


def describe(
    rows: pd.DataFrame,
    labels: pd.Series,
    static: pd.DataFrame | None,
    k: int,
    scores: dict[int, float],
    timezone: str,
) -> dict[str, Any]:
    """The archetypes document for customers labelled 0..k-1 (`customer_shapes` rows); one
    label for everyone gives the mean profile of all customers."""
    rows = rows.assign(archetype=rows[SERIES].map(labels))
    # hourly shares within each customer's (month, day type) average day, then member means
    mean = rows.groupby([SERIES, "month", "weekend", "hour"])[TARGET].mean()
    share = mean / mean.groupby(level=[0, 1, 2]).transform("sum")
    share = share.fillna(1 / 24).to_frame("share")
    share["archetype"] = share.index.get_level_values(0).map(labels)
    prof = share.groupby(["archetype", "month", "weekend", "hour"])["share"].mean()
    daily = rows.groupby([SERIES, "date", "month", "weekend"])[TARGET].sum().reset_index()
    by_type = daily.groupby([SERIES, "month", "weekend"])[TARGET].mean().unstack("weekend")
    ratio = (by_type.get(1) / by_type.get(0)).replace([np.inf, -np.inf], np.nan)
    monthly = daily.groupby([SERIES, "month"])[TARGET].mean().unstack("month")
    seasonal = monthly.div(monthly.mean(axis=1), axis=0).reindex(columns=range(1, 13))

    out: dict[str, Any] = {
        "method": "kmeans on normalised average weekday/weekend days (48 local-hour shares)",
        "timezone": timezone,
        "k": k,
        "min_share": MIN_SHARE,
        "silhouette": {str(kk): round(v, 4) for kk, v in scores.items()},  # by K-Means k
        "customers": len(labels),
        "archetypes": [],
    }
    static_cols = [c for c in (static.columns if static is not None else []) if c != SERIES]
    for a in range(k):
        members = labels.index[labels == a]
        p = np.full((12, 2, 24), np.nan)
        if a in prof.index.get_level_values(0):
            sub = prof.loc[a]
            for (m, w, h), v in sub.items():
                p[m - 1, w, h] = v
        overall = np.nanmean(p, axis=0)  # the archetype's average over months for gaps
        overall = np.where(np.isnan(overall), 1 / 24, overall)
        p = np.where(np.isnan(p), overall[None], p)
        p = p / p.sum(axis=2, keepdims=True)
        r = ratio.loc[ratio.index.get_level_values(0).isin(members)].groupby(level=1).mean()
        wr = np.array([r.get(m, np.nan) for m in range(1, 13)], dtype=float)
        wr = np.where(np.isnan(wr), np.nanmean(wr) if np.isfinite(wr).any() else 1.0, wr)
        s = seasonal.loc[seasonal.index.isin(members)]
        sm = s.mean(axis=0).to_numpy(dtype=float)
        sm = np.where(np.isnan(sm), 1.0, sm)
        logdev = np.log(s.to_numpy(dtype=float).clip(1e-3)) - np.log(sm.clip(1e-3))[None, :]
        sigma = float(np.nanstd(logdev)) if np.isfinite(logdev).any() else 0.3
        entry: dict[str, Any] = {
            "id": a,
            "members": len(members),
            "prior": round(len(members) / len(labels), 6),
            "profile": np.round(p, 8).tolist(),
            "weekend_ratio": np.round(wr, 6).tolist(),
            "seasonal": np.round(sm, 6).tolist(),
            "seasonal_sigma": round(max(sigma, 0.05), 6),
            "static": {},
        }
        if static is not None:
            st = static.set_index(SERIES).reindex(members)
            for col in static_cols:
                counts = st[col].astype("string").value_counts(dropna=True)
                entry["static"][col] = {str(v): int(c) for v, c in counts.items()}
        out["archetypes"].append(entry)
    out["static_columns"] = static_cols
    return out
