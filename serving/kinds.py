"""The bundle kinds serving reads: the served side's own registry, importing nothing from the
model side. A bundle's graph reads tabular rows (`make_windows`, the boosted models), sequences
(`make_sequences`, the deep forecasters), windows of load (the anomaly autoencoder), or it is an
ensemble of member bundles. Adding a kind of bundle means one entry here and, for a new layout,
its reader."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from forecasting.errors import BundleError

Layout = Literal["rows", "sequences", "load_windows", "members"]


@dataclass(frozen=True)
class BundleKind:
    name: str
    layout: Layout
    reader: str  # "module:function(folder, manifest, threads, int8)" that loads it
    session_batch: int = 16  # rows per onnxruntime call, measured best on CPU (onnx_throughput)

    @property
    def forecasts(self) -> bool:
        """Whether it gives quantile forecasts (the autoencoder scores anomalies instead)."""
        return self.layout in ("rows", "sequences", "members")

    @property
    def quantizable(self) -> bool:
        """Whether `--int8` applies: deep graphs; trees have no weights to quantise."""
        return self.layout in ("sequences", "load_windows")


_MODEL = "serving.bundle:load_model_bundle"
BUNDLE_KINDS: dict[str, BundleKind] = {
    k.name: k
    for k in (
        BundleKind("lightgbm", "rows", _MODEL, 4096),
        BundleKind("xgboost", "rows", _MODEL, 4096),
        BundleKind("cnn_lstm", "sequences", _MODEL),
        BundleKind("tft", "sequences", _MODEL),
        BundleKind("patchtst", "sequences", _MODEL),
        BundleKind("lstm_autoencoder", "load_windows", _MODEL, 512),
        BundleKind("ensemble", "members", "serving.ensemble:load_ensemble"),
    )
}
MEMBER_KINDS = tuple(k for k, v in BUNDLE_KINDS.items() if v.layout != "members")


def bundle_kind(name: object) -> BundleKind:
    if not isinstance(name, str) or name not in BUNDLE_KINDS:
        raise BundleError(
            f"bundle kind {name!r} is not one this version serves ({', '.join(BUNDLE_KINDS)})"
        )
    return BUNDLE_KINDS[name]
