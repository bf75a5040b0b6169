"""Where commands write: never replace or delete what the command did not make.

A command that writes a folder (a run, a bundle, a study) may replace an earlier folder of its
own kind, recognised by its marker file (`run.json`, `manifest.json`, ...). It refuses, before
any work, an `--output` that is a file, a symbolic link, a non-empty folder of another kind,
or one of its own inputs (or a folder holding one, or inside one).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from forecasting.errors import InputError


def _overlaps(a: Path, b: Path) -> bool:
    return a == b or a in b.parents or b in a.parents


def check_output_folder(
    output: Path,
    marker: str | tuple[str, ...],
    kind: str,
    inputs: Iterable[str | Path | None] = (),
    option: str = "--output",
) -> None:
    """Raise `InputError` unless `output` may be (re)written as a `kind` folder."""
    output = Path(output)
    if output.is_symlink():
        raise InputError(f"{option} {output} is a symbolic link; name a real folder")
    if output.exists() and not output.is_dir():
        raise InputError(f"{option} {output} is a file; name a folder for the {kind}")
    target = output.resolve()
    for item in inputs:
        if item is None or any(ch in str(item) for ch in "*?["):
            continue
        source = Path(item).resolve()
        if _overlaps(target, source):
            raise InputError(
                f"{option} {output} would overwrite the input {item}; write the {kind} elsewhere"
            )
    markers = (marker,) if isinstance(marker, str) else marker
    if (
        output.is_dir()
        and any(output.iterdir())
        and not any((output / m).is_file() for m in markers)
    ):
        raise InputError(
            f"{option} {output} is a folder that holds other files and is not a {kind} "
            f"({' or '.join(markers)} missing); choose a new or empty folder"
        )
    parent = target.parent
    while not parent.exists():
        parent = parent.parent
    if parent.is_file():
        raise InputError(f"{option} {output}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK):
        raise InputError(f"{option} {output}: {parent} is not writable")


def _relative_parts(name: object, what: str) -> tuple[str, ...]:
    if not isinstance(name, str) or not name.strip():
        raise InputError(f"{what}: {name!r} is not a file name")
    if "\x00" in name or "\\" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise InputError(f"{what}: {name!r} must be a relative path inside the folder")
    parts = tuple(p for p in name.split("/") if p not in ("", "."))
    if not parts or ".." in parts:
        raise InputError(
            f"{what}: {name!r} must be a relative path inside the folder, without '..'"
        )
    return parts


def contained_path(
    folder: Path, name: object, what: str, kind: str = "file", owner: str = "folder"
) -> Path:
    """`folder / name` when it is a regular file (or, with kind="folder", a folder) inside
    `folder`, reached without symbolic links; otherwise `InputError`. A manifest or run.json
    may only name what lies in its own folder: never `../x`, an absolute path or a link."""
    parts = _relative_parts(name, what)
    if folder.is_symlink():
        raise InputError(f"{what}: {folder} is a symbolic link; a folder is read only as itself")
    path = folder
    for part in parts:
        path = path / part
        if path.is_symlink():
            raise InputError(f"{what}: {name!r} is a symbolic link; only regular files are read")
    root = folder.resolve()
    if root not in path.resolve().parents:
        raise InputError(f"{what}: {name!r} lies outside {folder}")
    if kind == "folder":
        if not path.is_dir():
            raise InputError(f"{what}: folder {name} of the {owner} is missing")
    elif not path.is_file():
        raise InputError(f"{what}: file {name} of the {owner} is missing" if not path.exists()
                         else f"{what}: {name!r} is not a regular file")  # fmt: skip
    return path


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_atomic(path: Path, write: Callable[[Path], object]) -> None:
    """`write(tmp)` to a hidden file beside `path`, fsynced, then renamed over `path`: a reader
    sees the old file or the new one, never half of one."""
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    with tmp.open("rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_json(path: Path, obj: Any, indent: int | None = 2) -> None:
    """The one JSON writer: UTF-8, indented, values JSON lacks (timestamps, paths) as text,
    written atomically."""
    text = json.dumps(obj, indent=indent, default=str)
    write_atomic(path, lambda p: p.write_text(text, encoding="utf-8"))
