"""`forecasting serve` with `registered: [models:/NAME@ALIAS]`: the bundle is fetched from a real
MLflow registry (a SQLite store) into the models folder at start and served by name."""

from __future__ import annotations

import pytest

from tests.serving.service.server import KIT, Server, history_body, setup_folder

pytest.importorskip("mlflow", reason="MLflow is the [tracking] extra; make test installs it")


def test_a_registered_bundle_is_fetched_and_served(tmp_path, monkeypatch):
    from forecasting.tracking import Tracker

    monkeypatch.setenv("FORECASTING_CACHE", str(tmp_path / "cache"))
    uri = f"sqlite:///{tmp_path / 'registry.db'}"
    tracker = Tracker.open(uri, None, "test")
    run_id = tracker.start("export kit", {})
    tracker.log_folder(run_id, KIT / "bundle", "bundle")
    tracker.finish(run_id)
    assert tracker.register("feeder", run_id, "bundle", {}, alias="champion") == "1"

    service = tmp_path / "svc"
    service.mkdir()
    extra = {"registered": ["models:/feeder@champion"], "tracking_uri": uri}
    config, keys = setup_folder(service, extra=extra)
    server = Server(service, config, keys).start()
    try:
        assert (service / "models" / "feeder" / "1" / "manifest.json").is_file()
        listed = server.client("admin").get("/v1/models").json()
        assert {(m["name"], m["version"]) for m in listed["models"]} == {
            ("household", "1"), ("feeder", "1")
        }  # fmt: skip
        with server.client() as c:
            r = c.post("/v1/forecast", json=history_body(bundle="feeder"))
        assert r.status_code == 200, r.text
        assert r.json()["bundle"]["name"] == "feeder"
        with server.client() as c:
            same = c.post("/v1/forecast", json=history_body()).json()["forecasts"]
        assert r.json()["forecasts"] == same  # the same bundle under another name forecasts alike
    finally:
        server.stop()
