"""The models the service holds: every bundle under `bundles/NAME/VERSION/`, loaded, checked
and swapped in without a pause.

`refresh()` (called at start and then every `reload_seconds` by a background thread) looks
at each version folder's files (names, sizes, times). A folder that is new or changed is
loaded beside the old copy: the manifest's seal and every file's sha256 are checked and the
onnxruntime sessions made; only then does the new table of models replace the old one in a
single assignment. A request holds the `Model` it started with, so nothing in flight is
dropped. A folder that fails the checks is refused with the reason (`/readyz`, `/v1/models`,
the server log) and whatever served before goes on serving; it is tried again when its files
change. A version folder without a manifest yet (a copy under way) is passed over quietly.

`get(name, version)`: a version by name, or the newest (versions compare as numbers where
they are numbers: 2 < 10, `2024-06-01` < `2024-12-01`).
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forecasting.bundle_format import MANIFEST, SEAL
from forecasting.errors import ForecastingError, InputError
from serving.load import load_bundle

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


class UnknownBundle(InputError):
    """No served bundle by that name or version (answered 404)."""


def version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"[._-]", version))


@dataclass
class Model:
    name: str
    version: str
    folder: Path
    bundle: Any
    sha: str
    load_seconds: float
    fingerprint: tuple[Any, ...]

    @property
    def manifest(self) -> dict[str, Any]:
        return dict(self.bundle.manifest)

    def describe(self) -> dict[str, Any]:
        m = self.bundle.manifest
        return {"name": self.name, "version": self.version, "sha": self.sha, "kind": m["kind"],
                "horizon": m["horizon"], "lookback": m["lookback"], "freq": m["freq"],
                "quantiles": m["quantiles"], "timezone": m["timezone"],
                "load_seconds": round(self.load_seconds, 4)}  # fmt: skip


def _fingerprint(folder: Path) -> tuple[Any, ...]:
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return tuple(
        (str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns) for p in files
    )


@dataclass
class Registry:
    root: Path
    threads: int | None = None
    models: dict[tuple[str, str], Model] = field(default_factory=dict)
    refused: dict[tuple[str, str], str] = field(default_factory=dict)
    loads: int = 0  # bundles loaded since start (metrics)
    _refused_prints: dict[tuple[str, str], tuple[Any, ...]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def refresh(self) -> list[str]:
        """Load what is new or changed, drop what is gone; the events, one line each."""
        with self._lock:  # one refresh at a time; readers never wait on it
            events: list[str] = []
            current = dict(self.models)
            seen: set[tuple[str, str]] = set()
            for folder in sorted(self._version_folders()):
                key = (folder.parent.name, folder.name)
                seen.add(key)
                if not (folder / MANIFEST).is_file():
                    continue
                fp = _fingerprint(folder)
                old = current.get(key)
                if (old is not None and old.fingerprint == fp) or self._refused_prints.get(
                    key
                ) == fp:
                    continue
                t0 = time.perf_counter()
                try:
                    bundle = load_bundle(folder, threads=self.threads)
                except ForecastingError as exc:
                    self.refused[key] = str(exc)
                    self._refused_prints[key] = fp
                    keep = "; the version loaded before keeps serving" if old else ""
                    events.append(f"refused {key[0]} {key[1]}: {exc}{keep}")
                    continue
                sha = str(bundle.manifest.get(SEAL) or "")
                current[key] = Model(*key, folder, bundle, sha, time.perf_counter() - t0, fp)
                self.refused.pop(key, None)
                self._refused_prints.pop(key, None)
                self.loads += 1
                events.append(f"{'reloaded' if old else 'loaded'} {key[0]} {key[1]} ({sha[:12]})")
            for key in [k for k in current if k not in seen]:
                del current[key]
                events.append(f"removed {key[0]} {key[1]}")
            self.refused = {k: v for k, v in self.refused.items() if k in seen}
            self.models = current  # the swap: one assignment
            return events

    def _version_folders(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return [v for n in self.root.iterdir() if n.is_dir() and NAME.match(n.name)
                for v in n.iterdir() if v.is_dir() and NAME.match(v.name)]  # fmt: skip

    def get(self, name: str, version: str | None = None) -> Model:
        models = self.models
        if version is not None:
            found = models.get((name, version))
            if found is None:
                have = sorted(v for n, v in models if n == name)
                raise UnknownBundle(f"bundle {name!r} has no version {version!r} (served: {have})")
            return found
        versions = [v for n, v in models if n == name]
        if not versions:
            raise UnknownBundle(f"no bundle named {name!r} (served: {self.names()})")
        return models[(name, max(versions, key=version_key))]

    def names(self) -> list[str]:
        return sorted({n for n, _ in self.models})

    def watch(self, every: float, stop: threading.Event, log: Any) -> threading.Thread:
        def loop() -> None:
            while not stop.wait(every):
                try:
                    for e in self.refresh():
                        log(e)
                except Exception as exc:  # a bad poll must never stop the watching
                    log(f"models folder poll failed: {type(exc).__name__}: {exc}")

        t = threading.Thread(target=loop, name="bundle-watch", daemon=True)
        t.start()
        return t
