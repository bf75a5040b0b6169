"""An anomaly bundle (the LSTM autoencoder) scored on onnxruntime, torch-free: the same windows
(`load_windows`, by the manifest's recipe) and the same scoring (`features.reconstruction`) as
the native detector, with the graph's reconstructions in place of the network's."""

from __future__ import annotations

from typing import Any

import pandas as pd

from forecasting.errors import BundleError
from forecasting.features.reconstruction import flagged, raw_signals, scoring_origins
from serving.kinds import bundle_kind


def score_bundle(bundle: Any, frame: pd.DataFrame, start: Any = None, end: Any = None,
                 stride: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:  # fmt: skip
    """(scores per series and interval: series_id, timestamp, target, score, point, window,
    threshold, flag; the series that could not be scored, with why) between `start` and `end`
    (UTC, inclusive; default: everything after the first lookback)."""
    kind = bundle_kind(bundle.kind)
    if kind.layout != "load_windows":
        raise BundleError(
            f"a {bundle.kind!r} bundle forecasts; anomalies need an autoencoder bundle"
        )
    meta = bundle.manifest["model"]
    cfg = meta["config"]
    origins = scoring_origins(frame, start, end, int(stride or cfg["stride"]), int(cfg["window"]),
                              int(meta["lookback"]), str(meta["freq"]))  # fmt: skip
    s, x, mask = bundle.load_windows(frame, origins)
    recon = bundle.run({"window": x}, kind.session_batch)[0]
    raw = raw_signals(s.index, x, mask, recon, frame, str(meta["freq"]), start, end)
    return flagged(raw, meta["standard"], float(meta["threshold"])), s.skipped
