"""The bundle format shared by the exporter and the torch-free loader in `serving/`."""

from __future__ import annotations

import hashlib
from pathlib import Path

BUNDLE_FORMAT = 1
MODEL_FILE = "model.onnx"
MANIFEST = "manifest.json"


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
