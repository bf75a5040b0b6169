"""Benchmark: the serving install (`pip install .`) against the full one (`pip install .[train]`).

Both are made fresh, in the same run, into temporary virtual environments with the pinned
`constraints.txt`; the serving one then runs `forecasting predict` on the committed serving kit.

    .venv/bin/python -m benchmarks.serving_install

Writes benchmarks/results/serving_install.{md,json}: install seconds, size on disk, the largest
packages, and whether torch is there.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from pathlib import Path

from tests.serving.install import fresh_install

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
KIT = ROOT / "tests" / "fixtures" / "serving_kit"


def size_mib(path: Path) -> float:
    return (
        sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 2**20
    )


def install(env: Path, extras: str = "") -> dict[str, object]:
    t0 = time.perf_counter()
    pip = fresh_install(env, extras)
    if pip.returncode != 0:
        raise SystemExit(f"pip install failed: {pip.stderr[-1000:]}")
    seconds = time.perf_counter() - t0
    site = next(env.glob("lib/python*/site-packages"))
    packages = sorted(((size_mib(p), p.name) for p in site.iterdir() if p.is_dir()), reverse=True)
    return {
        "install_seconds": round(seconds, 1),
        "size_mib": round(size_mib(env), 1),
        "largest": [f"{name} {mib:.0f} MiB" for mib, name in packages[:6]],
        "torch": (site / "torch").exists(),
    }


def main() -> None:
    doc: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        doc["serving: pip install ."] = install(root / "serve")
        t0 = time.perf_counter()
        subprocess.run([root / "serve" / "bin" / "forecasting", "predict", "--bundle",
                        KIT / "bundle", "--input", KIT / "input.parquet", "--static",
                        KIT / "static.csv", "--output", root / "fc", "--no-progress"],
                       check=True, capture_output=True)  # fmt: skip
        doc["serving: pip install ."]["predict_seconds"] = round(time.perf_counter() - t0, 1)
        doc["full: pip install .[train]"] = install(root / "full", "train")
    serve, full = doc["serving: pip install ."], doc["full: pip install .[train]"]
    ratio = float(serve["size_mib"]) / float(full["size_mib"])  # type: ignore[arg-type]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "serving_install.json").write_text(
        json.dumps(doc | {"size_ratio": round(ratio, 3)}, indent=2)
    )
    lines = ["# Serving install vs full install", "",
             "| install | size MiB | install s | torch | largest packages |", "|---|---:|---:|---|---|"]  # fmt: skip
    for name, d in doc.items():
        lines.append(f"| {name} | {d['size_mib']:,} | {d['install_seconds']} | {d['torch']} | "
                     f"{', '.join(d['largest'])} |")  # type: ignore[arg-type]  # fmt: skip
    lines += ["", f"The serving install is {ratio:.0%} of the full one; `forecasting predict` on the "
              f"serving kit ran in {serve['predict_seconds']} s from it."]  # fmt: skip
    (RESULTS / "serving_install.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
