"""`load_bundle`: any bundle folder, read by the reader its kind names in `serving.kinds`."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from serving.bundle import read_manifest
from serving.kinds import bundle_kind


def load_bundle(folder: str | Path, threads: int | None = None, int8: bool = False) -> Any:
    """A checked bundle with its onnxruntime sessions (a `Bundle`, or an `EnsembleBundle` of
    member bundles). `int8` runs a dynamically quantised copy of a deep graph (int8 weights):
    faster for some graphs, at an accuracy cost that benchmarks/onnx_throughput.py
    --quantize reports per model; in an ensemble it applies to the deep members."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    module, _, name = bundle_kind(manifest["kind"]).reader.partition(":")
    reader = getattr(importlib.import_module(module), name)
    return reader(folder, manifest, threads, int8)
