"""The dashboard's customer view: the forecast fan chart from the customer's recent readings,
the hourly profile imputed from its latest monthly total, and that month's bills under each
tariff the server holds. Each part that cannot be drawn says why; the others still show."""

from __future__ import annotations

import html
from typing import Any

import pandas as pd

from forecasting.data.schema import SERIES
from forecasting.errors import ForecastingError
from serving.service import adapters, charts, infer
from serving.service.customers import series_body
from serving.service.schemas import BillRequest, ForecastRequest, ProfileRequest, UsageSeries

E = html.escape
HISTORY_DAYS = 14  # readings sent to the model (it reads its own lookback from them)
SHOWN_HOURS = 72  # history drawn before the forecast


def customer_page(svc: Any, customer_id: str, bundle: str) -> str:
    store = svc.customers
    if store is None:
        return "<p>This server holds no customer store (config key <code>customers</code>).</p>"
    ids = sorted(store.monthly[SERIES].unique())
    names = svc.registry.names()
    bundle = bundle or (names[0] if names else "")
    options = "".join(
        f"<option{' selected' if i == customer_id else ''}>{E(i)}</option>" for i in ids
    )
    bopts = "".join(f"<option{' selected' if n == bundle else ''}>{E(n)}</option>" for n in names)
    body = (f'<form method="get" action="/dashboard/customer" class="pick"><label>Customer '
            f'<select name="customer_id">{options}</select></label> <label>Bundle <select '
            f'name="bundle">{bopts}</select></label> <button type="submit">Show</button></form>')  # fmt: skip
    if not customer_id:
        return body + "<p>Pick a customer.</p>"
    try:
        model = svc.registry.get(bundle)
    except ForecastingError as exc:
        return body + f'<p class="error">{E(str(exc))}</p>'
    body += "<h2>Forecast</h2>" + _part(lambda: _forecast(store, model, customer_id))
    profile: dict[str, Any] = {}
    body += "<h2>Imputed hourly profile</h2>" + _part(
        lambda: _profile(svc, store, model, customer_id, profile)
    )
    body += "<h2>Bills under the server's tariffs</h2>" + _part(
        lambda: _bills(svc, customer_id, profile)
    )
    return body


def _part(draw: Any) -> str:
    try:
        return str(draw())
    except ForecastingError as exc:
        return f'<p class="error">{E(str(exc))}</p>'


def _forecast(store: Any, model: Any, cid: str) -> str:
    if store.readings is None:
        return (
            "<p>No readings in the customer store (config key <code>customers.readings</code>).</p>"
        )
    one = series_body(
        store.readings, cid, model.bundle.manifest, store.static.get(cid), HISTORY_DAYS
    )
    req = ForecastRequest(bundle=model.name, version=model.version, series=[one])  # type: ignore[list-item]
    out = infer.forecast(model, req)
    if not out.forecasts:
        why = out.errors[0].reason if out.errors else "no forecast"
        return f'<p class="error">{E(why)}</p>'
    f = out.forecasts[0]
    shown = one["values"][-SHOWN_HOURS:]
    step = pd.Timedelta(model.bundle.manifest["freq"])
    first = pd.Timestamp(f.origin) - len(shown) * step
    labels = [(first + i * step).strftime("%d %b %H:%M") for i in range(len(shown))]
    labels += [t.strftime("%d %b %H:%M") for t in f.timestamps]
    q = f.quantiles
    chart = charts.fan(labels, shown, q["p10"], q["p50"], q["p90"],
                       f"{cid}: the last {len(shown)} readings and the forecast from {f.origin:%d %b %H:%M} UTC")  # fmt: skip
    return (
        chart
        + f"<p>Next {len(f.timestamps)} intervals: {sum(q['p50']):.2f} kWh (P50), P10-P90 band shaded.</p>"
    )


def _profile(svc: Any, store: Any, model: Any, cid: str, keep: dict[str, Any]) -> str:
    totals = store.totals(cid)
    static = {k: str(v) for k, v in store.static.get(cid, {}).items()}
    req = ProfileRequest(bundle=model.name, customer_id=cid, totals=totals, static=static)  # type: ignore[arg-type]
    res = infer.hourly_profile(model, req, store.weather)
    last = totals[-1]["month"]
    one = infer.one_period(res, last)
    keep.update(start=one.timestamps[0], values=one.p50, month=last, kwh=totals[-1]["kwh"])
    labels = [t.strftime("%d %b %H:%M") for t in one.timestamps]
    chart = charts.fan(labels, [], one.p10, one.p50, one.p90,
                       f"{cid}, {last}: hourly kWh imputed from the month's total")  # fmt: skip
    return chart + (f"<p>{last}: {totals[-1]['kwh']:.1f} kWh read; the P50 sums to it exactly. "
                    f"Archetype probabilities: {', '.join(f'{k} {v:.2f}' for k, v in res.archetypes.items())}.</p>")  # fmt: skip


def _bills(svc: Any, cid: str, profile: dict[str, Any]) -> str:
    if not profile:
        return "<p>No imputed profile to bill.</p>"
    rows = []
    for name in svc.tariffs.names():
        usage = UsageSeries(
            customer_id=cid, start=profile["start"], interval_minutes=60, values=profile["values"]
        )
        try:
            out = adapters.bill(BillRequest(tariff=name, usage=[usage]), svc.tariffs)
            total = sum(b.total for b in out.bills)
            rows.append(
                f"<tr><td>{E(name)}</td><td>{total:,.2f} {E(out.currency)}</td><td></td></tr>"
            )
        except ForecastingError as exc:
            rows.append(f'<tr><td>{E(name)}</td><td></td><td class="error">{E(str(exc))}</td></tr>')
    return (f'<table class="bills"><thead><tr><th>tariff</th><th>{E(profile["month"])} bill</th>'
            f"<th>note</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")  # fmt: skip
