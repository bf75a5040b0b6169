"""The autoencoder's bundle scored torch-free equals the native detector's scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


@pytest.mark.slow
def test_the_bundle_scores_as_the_native_detector(corpus_workspace, tmp_path):
    from forecasting.export import export_run
    from forecasting.models.registry import load_run
    from serving.anomalies import score_bundle
    from serving.load import load_bundle

    w = corpus_workspace
    export_run(w["ae_run"], tmp_path / "ae")
    frame = pd.read_parquet(w["canonical"])
    frame["series_id"] = frame["series_id"].astype("string")
    model, _ = load_run(w["ae_run"])
    native = model.score(frame)
    onnx, skipped = score_bundle(load_bundle(tmp_path / "ae"), frame)
    assert len(skipped) == len(model.skipped_)
    assert len(onnx) == len(native) > 1000
    pd.testing.assert_frame_equal(onnx[["series_id", "timestamp", "flag"]],
                                  native[["series_id", "timestamp", "flag"]])  # fmt: skip
    np.testing.assert_allclose(onnx["score"], native["score"], atol=1e-4)
    assert onnx["flag"].sum() == native["flag"].sum()
