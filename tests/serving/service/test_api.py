"""The API's answers against a real server: forecasts equal the bundle's own, profiles sum
to their totals, bills equal the bill engine's, the cheapest windows and schedules are
optimal; bad requests get one line naming the field."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.tariffs.engine import BillEngine
from forecasting.tariffs.spec import load_tariff
from serving.load import load_bundle
from tests.serving.service.server import KIT, ROOT, history_body


def test_health_and_models(server):
    c = server.client()
    assert c.get("/healthz").json() == {"status": "ok"}
    assert c.get("/readyz").json()["bundles"] == 1
    models = c.get("/v1/models").json()
    assert [(m["name"], m["version"], m["kind"]) for m in models["models"]] == [
        ("household", "1", "lightgbm")
    ]
    assert "refused" not in models  # reasons (server paths) for admin keys only
    manifest = c.get("/v1/models/household/1").json()
    assert manifest["manifest_sha256"] == models["models"][0]["sha"]


def test_forecast_equals_the_bundle_in_process(server):
    body = history_body(customers=3)
    r = server.client().post("/v1/forecast", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["bundle"]["name"] == "household" and out["bundle"]["version"] == "1"
    assert len(out["bundle"]["sha"]) == 64 and out["errors"] == []
    # the same rows through the bundle itself, as `predict` would run them
    frame = pd.read_parquet(KIT / "input.parquet")
    static = pd.read_csv(KIT / "static.csv", dtype=str)
    bundle = load_bundle(KIT / "bundle")
    for got in out["forecasts"]:
        one = frame[frame["series_id"] == got["customer_id"]].copy()
        one["series_id"] = one["series_id"].astype("string")
        origin = one["timestamp"].max() + pd.Timedelta(hours=1)
        st = static[static["series_id"] == got["customer_id"]].astype({"series_id": "string"})
        want, _ = bundle.forecast(one, pd.DatetimeIndex([origin]), st)
        assert pd.Timestamp(got["origin"]) == origin
        np.testing.assert_allclose(got["quantiles"]["p50"], want["p50"].to_numpy(), rtol=1e-5)
        assert len(got["timestamps"]) == 24
        q = got["quantiles"]
        assert all(a <= b <= c for a, b, c in zip(q["p10"], q["p50"], q["p90"], strict=True))


def test_a_bad_series_is_an_error_of_its_own(server):
    body = history_body(customers=2)
    bad = body["series"][1]
    bad["covariates"].pop("temperature")
    late = dict(body["series"][0], customer_id="late", start="2023-12-24T22:30:00Z")
    body["series"].append(late)
    out = server.client().post("/v1/forecast", json=body).json()
    assert [f["customer_id"] for f in out["forecasts"]] == [body["series"][0]["customer_id"]]
    why = {e["customer_id"]: e["reason"] for e in out["errors"]}
    assert "covariate 'temperature' is missing" in why[bad["customer_id"]]
    assert why["late"] == "start 2023-12-24 22:30:00+00:00 is not on the bundle's 1h grid"


@pytest.mark.parametrize("mutate, status, says", [
    (lambda b: b["series"][0]["values"].__setitem__(3, "x"), 422, "body.series.0.values.3"),
    (lambda b: b.pop("bundle"), 422, "body.bundle: Field required"),
    (lambda b: b.update(bundle="nope"), 404, "no bundle named 'nope'"),
    (lambda b: b.update(version="9"), 404, "has no version '9'"),
    (lambda b: b.update(series=b["series"] * 51), 413, "the limit is 50 per request"),
    (lambda b: b.update(extra=1), 422, "body.extra: Extra inputs are not permitted"),
    (lambda b: b["series"][0].update(start="2023-12-24T22:00:00"), 422, "body.series.0.start"),
])  # fmt: skip
def test_bad_requests_get_one_line_naming_the_field(server, mutate, status, says):
    body = history_body()
    mutate(body)
    r = server.client().post("/v1/forecast", json=body)
    assert r.status_code == status, r.text
    err = r.json()
    assert says in err["error"] and "\n" not in err["error"] and "Traceback" not in r.text
    assert err["request_id"] == r.headers["x-request-id"]


def test_body_over_the_limit_is_413(server):
    r = server.client().post("/v1/forecast", content=b"{" + b" " * 3_000_001 + b"}",
                             headers={"content-type": "application/json"})  # fmt: skip
    assert r.status_code == 413 and "3,000,000 bytes" in r.json()["error"]


def test_price_forecast_refuses_an_energy_bundle(server):
    r = server.client().post("/v1/price-forecast", json=history_body())
    assert r.status_code == 422 and "forecasts energy" in r.json()["error"]


def _profile_body(sid: str = "H0001") -> dict:
    monthly = pd.read_csv(KIT / "monthly.csv")
    static = pd.read_csv(KIT / "static.csv").set_index("series_id").loc[sid]
    w = pd.read_csv(KIT / "weather.csv")
    return {"bundle": "household", "customer_id": sid,
            "totals": [{"month": "2023-11", "kwh": float(monthly.set_index("series_id").loc[sid, "kwh"])}],
            "static": {k: (v.item() if hasattr(v, "item") else v) for k, v in static.items()},
            "weather": {"start": w["timestamp"].iloc[0],
                        "values": {c: w[c].tolist() for c in ("temperature", "cloud_cover")}}}  # fmt: skip


def test_hourly_profile_sums_to_the_total(server):
    body = _profile_body()
    r = server.client().post("/v1/hourly-profile", json=body)
    assert r.status_code == 200, r.text
    p = r.json()
    assert len(p["timestamps"]) == 30 * 24  # November 2023 in London: GMT throughout
    assert sum(p["p50"]) == pytest.approx(body["totals"][0]["kwh"], rel=1e-9)
    assert all(a <= b <= c for a, b, c in zip(p["p10"], p["p50"], p["p90"], strict=True))
    assert sum(p["archetypes"].values()) == pytest.approx(1.0)


def test_hourly_profile_of_a_stored_customer(server):
    r = server.client().get("/v1/infer/hourly_profile",
                            params={"customer_id": "H0002", "period": "2023-11", "bundle": "household"})  # fmt: skip
    assert r.status_code == 200, r.text
    want = pd.read_csv(KIT / "monthly.csv").set_index("series_id").loc["H0002", "kwh"]
    assert sum(r.json()["p50"]) == pytest.approx(float(want), rel=1e-9)
    missing = server.client().get("/v1/infer/hourly_profile",
                                  params={"customer_id": "H0002", "period": "2024-05", "bundle": "household"})  # fmt: skip
    assert missing.status_code == 404 and "no total for 2024-05" in missing.json()["error"]


def test_bill_equals_the_bill_engine(server):
    rng = np.random.default_rng(0)
    values = rng.gamma(2.0, 0.1, 48 * 45).round(3)  # half-hours: the demand charge's interval
    body = {"tariff": "uk_tou_demand_example", "usage": [
        {"customer_id": "a", "start": "2024-01-01T00:00:00Z", "interval_minutes": 30, "values": values.tolist()},
        {"customer_id": "b", "start": "2024-01-01T00:00:00Z", "interval_minutes": 30, "values": [0.5, -1.0]}]}  # fmt: skip
    r = server.client().post("/v1/bill", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    engine = BillEngine(load_tariff(ROOT / "configs" / "tariffs" / "uk_tou_demand_example.yaml"))
    t = pd.date_range("2024-01-01", periods=len(values), freq="30min", tz="UTC")
    want = engine.bill(pd.DataFrame({"series_id": "a", "timestamp": t, "kwh": values}), "kwh")
    assert [b["total"] for b in out["bills"]] == want["total"].tolist()
    assert [e["customer_id"] for e in out["errors"]] == ["b"]
    assert "values[1] = -1.0" in out["errors"][0]["reason"]
    lines = out["bills"][0]["lines"]
    assert sum(lines.values()) == pytest.approx(out["bills"][0]["total"], abs=0.011)


def test_savings_names_the_cheapest_tariff(server):
    night = [1.0 if h < 14 else 0.05 for h in range(48)] * 31  # half-hours: heavy before 7:00
    body = {"current": "uk_flat_example", "candidates": ["uk_tou_demand_example"], "usage": [
        {"customer_id": "n", "start": "2024-01-01T00:00:00Z", "interval_minutes": 30, "values": night}]}  # fmt: skip
    r = server.client().post("/v1/savings", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    c = out["customers"][0]
    assert c["cheapest"] == min(c["totals"], key=c["totals"].get)
    assert c["saving"] == pytest.approx(c["totals"]["uk_flat_example"] - c["totals"][c["cheapest"]])


def test_optimal_times_are_the_cheapest_windows(server):
    prices = [5.0, 4.0, 1.0, 1.0, 3.0, 0.5, 0.5, 9.0]
    body = {"prices": {"start": "2024-01-01T00:00:00Z", "interval_minutes": 60, "values": prices},
            "earliest": "2024-01-01T00:00:00Z", "latest": "2024-01-01T08:00:00Z",
            "duration_minutes": 120, "count": 2, "power_kw": 2.0}  # fmt: skip
    out = server.client().post("/v1/optimal-times", json=body).json()
    starts = [pd.Timestamp(w["start"]).hour for w in out["windows"]]
    assert starts == [5, 2]  # 0.5+0.5, then 1+1 (non-overlapping)
    assert out["windows"][0]["cost"] == pytest.approx(0.5 * 2.0 * 2)
    r = server.client().post("/v1/optimal-times", json={**body, "duration_minutes": 600})
    assert r.status_code == 422 and "does not fit" in r.json()["error"]


def test_schedule_is_no_dearer_than_the_greedy_rule(server):
    body = {"appliances": "home_example", "tariff": "uk_tou_demand_example", "date": "2024-01-10"}
    r = server.client().post("/v1/schedule", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["cost"] <= out["cost_greedy"] + 1e-9 <= out["cost_start_at_once"] + 1e-9
    assert sum(p["cost"] for p in out["plan"]) == pytest.approx(out["cost"], rel=1e-6)
    r = server.client().post("/v1/schedule", json={**body, "appliances": "missing"})
    assert r.status_code == 422 and "no appliance set named 'missing'" in r.json()["error"]


def test_metrics_count_requests_by_endpoint(server):
    c = server.client()
    c.get("/v1/models")
    text = c.get("/metrics").text
    assert 'forecasting_requests_total{method="GET",endpoint="/v1/models",status="200"}' in text
    assert 'forecasting_request_seconds_bucket{endpoint="/v1/models",le="+Inf"}' in text
    assert 'forecasting_model_load_seconds{name="household",version="1"}' in text
    assert 'forecasting_jobs{status="queued"} 0' in text
