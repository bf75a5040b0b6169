"""The customers a service knows by id (the config's `customers`): monthly totals, static
attributes and hourly weather, read once at start, for
`GET /v1/infer/hourly_profile?customer_id=..&period=YYYY-MM`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from forecasting.data.prepare import read_frame
from forecasting.data.schema import SERIES, TARGET, TIME
from forecasting.errors import InputError
from serving.impute import Periods, read_monthly
from serving.service.config import ServiceConfig
from serving.tables import read_static, read_time_table


@dataclass
class Customers:
    monthly: pd.DataFrame  # series_id, month, kwh, months
    static: dict[str, dict[str, Any]]
    weather: pd.DataFrame | None
    readings: pd.DataFrame | None = None  # series_id, timestamp (UTC), target, covariates

    def totals(self, customer_id: str) -> list[dict[str, Any]]:
        rows = self.monthly[self.monthly[SERIES] == customer_id]
        if rows.empty:
            raise InputError("customer_id: no monthly totals for this customer on this server")
        return [{"month": m, "kwh": float(k), "months": int(n)}
                for m, k, n in zip(rows["month"], rows["kwh"], rows["months"], strict=True)]  # fmt: skip


def load_customers(cfg: ServiceConfig) -> Customers | None:
    c = cfg.customers
    if c is None:
        return None
    periods, _errors = read_monthly(c.monthly, "UTC")
    rows = []
    for sid, p in periods.items():
        rows += [
            (sid, label, float(k), len(m))
            for label, k, m in zip(p.labels, p.kwh, p.months, strict=True)
        ]
    monthly = pd.DataFrame(rows, columns=[SERIES, "month", "kwh", "months"])
    static = read_static(c.static).set_index(SERIES).to_dict("index")
    weather = None
    if c.weather is not None:
        cols = [x for x in pd.read_csv(c.weather, nrows=0).columns if x != "timestamp"]
        weather = read_time_table(c.weather, cols, "weather")
    readings = None
    if c.readings is not None:
        readings = read_frame(c.readings)  # a canonical frame (parquet), as `predict` reads
    return Customers(monthly, {str(k): v for k, v in static.items()}, weather, readings)


def series_body(readings: pd.DataFrame, customer_id: str, manifest: dict[str, Any],
                static: dict[str, Any] | None = None, days: int = 14) -> dict[str, Any]:  # fmt: skip
    """One customer's last `days` of readings as a `forecast` (or `anomalies`) series: the
    values, the covariates the bundle reads, the static attributes (JSON, ready to send)."""
    from serving.predict import covariates_needed

    rows = readings[readings[SERIES] == customer_id].sort_values(TIME)
    if rows.empty:
        raise InputError("customer_id: no readings for this customer on this server")
    rows = rows[rows[TIME] > rows[TIME].max() - pd.Timedelta(days=days)]
    needed = covariates_needed(manifest)
    missing = [c for c in needed if c not in rows]
    if missing:
        raise InputError(f"the readings lack covariates {missing} the bundle reads")

    def values(col: str) -> list[float | None]:
        return [None if pd.isna(v) else float(v) for v in rows[col]]

    return {"customer_id": customer_id, "start": rows[TIME].iloc[0].isoformat(),
            "values": values(TARGET), "covariates": {c: values(c) for c in needed},
            "static": {k: str(v) for k, v in (static or {}).items()}}  # fmt: skip


__all__ = ["Customers", "Periods", "load_customers", "series_body"]
