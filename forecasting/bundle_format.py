"""The bundle format shared by the exporter and the torch-free loader in `serving/`."""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from forecasting.folders import sha256 as sha256  # re-exported: the bundle format's digest
from forecasting.folders import write_json

BUNDLE_FORMAT = 2  # 2: the manifest carries its own seal (`manifest_sha256`)
READABLE_FORMATS = (1, 2)
SEAL = "manifest_sha256"
MODEL_FILE = "model.onnx"
MANIFEST = "manifest.json"


def manifest_digest(manifest: dict[str, Any]) -> str:
    """sha256 of the manifest's canonical JSON (sorted keys, no spaces), the seal left out."""
    body = {k: v for k, v in manifest.items() if k != SEAL}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_manifest(path: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Write `manifest` sealed: the seal is computed on the JSON as it will be read back."""
    plain = json.loads(json.dumps({k: v for k, v in manifest.items() if k != SEAL}, default=str))
    plain[SEAL] = manifest_digest(plain)
    write_json(path, plain)
    return plain


@contextmanager
def staged_folder(output: Path) -> Iterator[Path]:
    """A temporary folder beside `output` that replaces it whole when the block succeeds, and
    is removed when it fails: a bundle appears complete or not at all."""
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))
    try:
        yield tmp
        tmp.chmod(0o755)  # mkdtemp makes it private; a bundle is meant to be shared
        if output.exists():
            shutil.rmtree(output)
        tmp.rename(output)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def tensor(name: str, shape: list[Any], dtype: str) -> dict[str, Any]:
    """One graph input or output as the manifest lists it ("batch" is the dynamic axis)."""
    return {"name": name, "shape": shape, "dtype": dtype}
