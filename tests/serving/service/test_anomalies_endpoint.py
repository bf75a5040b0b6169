"""`POST /v1/anomalies` on a real server: an autoencoder bundle scores recent readings
torch-free, the scores equal the bundle's own in process, and a planted spike is an event."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.serving.service.server import Server, setup_folder


@pytest.fixture(scope="module")
def ae_server(corpus_workspace, tmp_path_factory):
    from forecasting.export import export_run

    root = tmp_path_factory.mktemp("ae")
    config, keys = setup_folder(root)
    export_run(corpus_workspace["ae_run"], root / "models" / "ae" / "1")
    s = Server(root, config, keys).start()
    yield s
    s.stop()


@pytest.mark.slow
def test_a_planted_spike_is_an_event_and_scores_match_the_bundle(ae_server, corpus_workspace):
    from serving.anomalies import score_bundle
    from serving.load import load_bundle

    frame = pd.read_parquet(corpus_workspace["canonical"])
    ids = sorted(frame["series_id"].unique())[:2]
    last = frame[frame["series_id"].isin(ids)].sort_values(["series_id", "timestamp"])
    last = last[last["timestamp"] > last["timestamp"].max() - pd.Timedelta(days=12)].copy()
    spike = last.index[(last["series_id"] == ids[0])][-30]
    last.loc[spike, "target"] = 25.0  # far above any hour of this household
    series = [{"customer_id": str(sid), "start": g["timestamp"].iloc[0].isoformat(),
               "values": [None if pd.isna(v) else float(v) for v in g["target"]]}
              for sid, g in last.groupby("series_id")]  # fmt: skip
    r = ae_server.client().post("/v1/anomalies", json={"bundle": "ae", "series": series})
    assert r.status_code == 200, r.text
    out = {s["customer_id"]: s for s in r.json()["series"]}
    assert set(out) == {str(i) for i in ids} and r.json()["errors"] == []
    hit = out[str(ids[0])]
    when = last.loc[spike, "timestamp"]
    assert any(pd.Timestamp(e["start"]) <= when < pd.Timestamp(e["end"]) for e in hit["events"])
    canonical = last[["series_id", "timestamp", "target"]].copy()
    canonical["series_id"] = canonical["series_id"].astype("string")
    want, _ = score_bundle(load_bundle(ae_server.root / "models" / "ae" / "1"), canonical)
    got = want[want["series_id"] == str(ids[0])].dropna(subset=["score"])
    np.testing.assert_allclose(hit["scores"], got["score"].round(6), atol=1e-6)
    r = ae_server.client().post("/v1/anomalies", json={"bundle": "household", "series": series})
    assert r.status_code == 422 and "name an anomaly (autoencoder) bundle" in r.json()["error"]
