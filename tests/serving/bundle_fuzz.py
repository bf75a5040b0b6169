"""A fuzz target for bundles: random mutations of a real bundle's manifest and files.

Each mutation is applied to a fresh copy of the bundle, which is then loaded and asked to
forecast, in this process, with an audit hook recording every file Python opens. The outcome
is one of:
- `refused`: a `BundleError`/`InputError` with a one-line message (the expected end of most);
- `identical`: the forecasts equal the unmutated bundle's (an edit of a field that does not
  change them, such as `name` or `metrics`, resealed);
- `different`: the forecasts differ: only possible when the edit was resealed (a deliberate
  editor who recomputed the seal) and changed what the model reads;
- `unhandled`: any other exception: a bug;
and, whatever the outcome, `read_outside` when a file outside the bundle, the input and the
Python installation was opened. `unhandled` and `read_outside` must never happen.
"""

from __future__ import annotations

import json
import random
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecasting.bundle_format import SEAL, write_manifest
from forecasting.errors import InputError

POOL: list[Any] = [
    None, True, False, 0, -1, 1, 1.0, 0.5, 1e308, -1e308, "", "x", "../x", "/etc/passwd",
    "../../../../etc/passwd", [], [1], ["x"], {}, {"a": 1}, [[1, 2], [3]], 2**63, "NaN", 24,
    [0.1, 0.5], [0.1, 0.5, 0.9, 0.99], "1h", "Mars/Base", "model.onnx",
]  # fmt: skip
HOSTILE_PATHS = ["../outside.onnx", "/etc/passwd", "../../../../../etc/passwd", "./../x",
                 "a/../../x", "link.onnx", "", ".", "sub\\..\\x", "\x00"]  # fmt: skip


@dataclass
class Mutation:
    kind: str
    detail: str
    apply: Callable[[Path], None]
    resealed: bool = False


def key_paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += key_paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:4]):
            out += key_paths(v, (*prefix, i))
    return out


def _set(obj: Any, path: tuple[Any, ...], value: Any, delete: bool = False) -> None:
    for p in path[:-1]:
        obj = obj[p]
    if delete:
        del obj[path[-1]]
    else:
        obj[path[-1]] = value


def edit_manifest(bundle: Path, edit: Callable[[dict[str, Any]], None], reseal: bool) -> None:
    """Change the manifest of `bundle` in place: resealed (a deliberate editor) or not."""
    m = json.loads((bundle / "manifest.json").read_text())
    edit(m)
    if reseal:
        write_manifest(bundle / "manifest.json", m)
    else:
        (bundle / "manifest.json").write_text(json.dumps(m))


def _edit_manifest(edit: Callable[[dict[str, Any]], None], reseal: bool) -> Callable[[Path], None]:
    return lambda b: edit_manifest(b, edit, reseal)


def mutations(manifest: dict[str, Any], n: int, seed: int = 0) -> list[Mutation]:
    rng = random.Random(seed)
    paths = [p for p in key_paths(manifest) if p[0] != SEAL]
    files = list(manifest["files"])
    sealed = SEAL in manifest
    out: list[Mutation] = []
    for _ in range(n):
        kind = rng.choice(["value", "value", "value", "delete", "bytes", "truncate", "flip",
                           "symlink", "entry", "remove"])  # fmt: skip
        reseal = rng.random() < 0.5 and sealed  # a format 1 manifest has no seal to redo
        if kind == "value":
            path, value = rng.choice(paths), rng.choice(POOL)
            edit = _edit_manifest(lambda m, p=path, v=value: _set(m, p, v), reseal)
            out.append(Mutation(kind, f"{list(path)} = {value!r}", edit, reseal))
        elif kind == "delete":
            path = rng.choice(paths)
            edit = _edit_manifest(lambda m, p=path: _set(m, p, None, delete=True), reseal)
            out.append(Mutation(kind, f"del {list(path)}", edit, reseal))
        elif kind == "entry":
            name = rng.choice(HOSTILE_PATHS)
            edit = _edit_manifest(lambda m, x=name: m["files"].update({x: "0" * 64}), sealed)
            out.append(Mutation(kind, f"files[{name!r}]", edit, sealed))
        elif kind == "bytes":
            k = rng.randrange(1, 8)
            spots = [rng.random() for _ in range(k)]
            out.append(Mutation(kind, f"{k} bytes of manifest.json", _flip("manifest.json", spots)))
        elif kind in ("truncate", "flip", "symlink", "remove"):
            name = rng.choice(files)
            frac = rng.random()
            act = {"truncate": _truncate(name, frac), "flip": _flip(name, [frac]),
                   "symlink": _symlink(name), "remove": _remove(name)}[kind]  # fmt: skip
            out.append(Mutation(kind, f"{name} ({frac:.2f})", act))
    return out


def _flip(name: str, spots: list[float]) -> Callable[[Path], None]:
    def apply(b: Path) -> None:
        data = bytearray((b / name).read_bytes())
        for s in spots:
            i = int(s * (len(data) - 1))
            data[i] = (data[i] + 1 + int(s * 254)) % 256
        (b / name).write_bytes(bytes(data))

    return apply


def _truncate(name: str, frac: float) -> Callable[[Path], None]:
    def apply(b: Path) -> None:
        data = (b / name).read_bytes()
        (b / name).write_bytes(data[: int(frac * len(data))])

    return apply


def _symlink(name: str) -> Callable[[Path], None]:
    def apply(b: Path) -> None:
        outside = b.parent / f"outside-{name.replace('/', '_')}"
        shutil.copy2(b / name, outside)
        (b / name).unlink()
        (b / name).symlink_to(outside.resolve())

    return apply


def _remove(name: str) -> Callable[[Path], None]:
    return lambda b: (b / name).unlink()


@dataclass
class FuzzResult:
    mutation: Mutation
    outcome: str
    message: str
    outside: list[str]


class OpenAudit:
    """Every path Python opens while `active`, outside the allowed roots."""

    def __init__(self) -> None:
        self.active = False
        self.allowed: list[str] = []
        self.seen: list[str] = []
        sys.addaudithook(self._hook)

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if not self.active or event != "open" or not args or not isinstance(args[0], str | Path):
            return
        path = str(Path(str(args[0])).resolve()) if str(args[0]) else ""
        if not any(path.startswith(a) for a in self.allowed):
            self.seen.append(path)


_AUDIT: OpenAudit | None = None


def fuzz(bundle: Path, frame: pd.DataFrame, static: pd.DataFrame | None,
         origins: pd.DatetimeIndex, work: Path, n: int, seed: int = 0) -> list[FuzzResult]:  # fmt: skip
    """Apply `n` mutations to copies of `bundle` under `work`; classify each outcome."""
    global _AUDIT
    from serving.load import load_bundle

    baseline, _ = load_bundle(bundle).forecast(frame, origins, static)
    manifest = json.loads((bundle / "manifest.json").read_text())
    _AUDIT = _AUDIT or OpenAudit()
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, "/usr/share/zoneinfo", "/etc/localtime",
             "/proc", "/dev", "/sys", str(Path(__file__).resolve().parents[2])}  # fmt: skip
    results = []
    for k, mut in enumerate(mutations(manifest, n, seed)):
        case = work / f"m{k:05d}"
        b = case / "bundle"
        shutil.copytree(bundle, b)
        mut.apply(b)
        _AUDIT.allowed = [str(Path(r).resolve()) for r in roots] + [str(b.resolve())]
        _AUDIT.seen = []
        _AUDIT.active = True
        outcome, message = _try(b, frame, static, origins, baseline)
        _AUDIT.active = False
        results.append(FuzzResult(mut, outcome, message, list(_AUDIT.seen)))
        shutil.rmtree(case, ignore_errors=True)
    return results


def _try(b: Path, frame: pd.DataFrame, static: pd.DataFrame | None, origins: pd.DatetimeIndex,
         baseline: pd.DataFrame) -> tuple[str, str]:  # fmt: skip
    from serving.load import load_bundle

    try:
        fc, _ = load_bundle(b).forecast(frame, origins, static)
    except InputError as exc:
        text = str(exc)
        return ("refused" if "\n" not in text.strip() else "unhandled"), text
    except Exception as exc:
        return "unhandled", f"{type(exc).__name__}: {exc}"
    same = fc.shape == baseline.shape and all(
        np.allclose(fc[c].to_numpy(float), baseline[c].to_numpy(float), equal_nan=True)
        for c in baseline.columns if c.startswith("p")
    )  # fmt: skip
    return ("identical" if same else "different"), ""
