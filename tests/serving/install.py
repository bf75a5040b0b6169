"""Fresh virtual environments with the package installed from a clean copy of its sources
(so a build never writes `build/` into the working tree, nor packs stale files from it)."""

from __future__ import annotations

import shutil
import subprocess
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "forecasting", "training", "serving")


def source_copy(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in SOURCES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dest / name)
    return dest


def fresh_install(
    env: Path, extras: str = "", timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    """`pip install <copy>[extras]` into a new venv at `env`, with the pinned constraints."""
    venv.create(env, with_pip=True)
    src = source_copy(env.parent / f"{env.name}-src")
    target = f"{src}[{extras}]" if extras else str(src)
    return subprocess.run(
        [env / "bin" / "python", "-m", "pip", "install", "--quiet", "-c",
         ROOT / "constraints.txt", target],
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
