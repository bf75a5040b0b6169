"""Fuzz bundles (tests/serving/bundle_fuzz.py) at scale and count the outcomes per mutation kind.

    python -m benchmarks.bundle_fuzz [--sealed 2000] [--golden 1000] [--seed 1]

Mutates a sealed (format 2) LightGBM bundle trained here and the golden format-1 CNN-LSTM bundle
kept in tests/export/golden, loads each mutant in this process and asks it to forecast. Writes
benchmarks/results/bundle_fuzz.{md,json}: per bundle and mutation kind, how many were refused
with one line, forecast identically, forecast differently (only possible for a resealed edit, or
for any edit of a format-1 bundle, which has no seal), ended in an unhandled error, or opened a
file outside the bundle. The last two must be 0.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

import pandas as pd

from tests.cli.corpus import workspace
from tests.export.make_golden import GOLDEN, ORIGINS
from tests.serving.bundle_fuzz import FuzzResult, fuzz

RESULTS = Path(__file__).resolve().parent / "results"
OUTCOMES = ["refused", "identical", "different", "unhandled"]


def tally(results: list[FuzzResult]) -> dict[str, dict[str, int]]:
    per: dict[str, Counter[str]] = {}
    for r in results:
        kind = r.mutation.kind + (" (resealed)" if r.mutation.resealed else "")
        for key in (kind, "all"):
            c = per.setdefault(key, Counter())
            c["mutations"] += 1
            c[r.outcome] += 1
            c["read_outside"] += bool(r.outside)
            c["different_unsealed"] += r.outcome == "different" and not r.mutation.resealed
    return {k: dict(per[k]) for k in sorted(per, key=lambda k: (k == "all", k))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sealed", type=int, default=2000, help="mutations of the sealed bundle")
    ap.add_argument("--golden", type=int, default=1000, help="mutations of the golden bundle")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    doc: dict[str, object] = {"seed": args.seed}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        w = workspace(root / "ws")
        doc["workspace_seconds"] = round(time.perf_counter() - t0, 1)
        frame = pd.read_parquet(w["canonical"])
        static = pd.read_csv(w["static"], dtype=str)
        origins = pd.DatetimeIndex([frame["timestamp"].max().floor("D") - pd.Timedelta(days=2)])
        runs = {
            "sealed LightGBM (format 2)": (w["bundle"], frame, static, origins, args.sealed),
            "golden CNN-LSTM (format 1)": (
                GOLDEN / "bundle",
                pd.read_parquet(GOLDEN / "input.parquet"),
                pd.read_parquet(GOLDEN / "static.parquet"),
                ORIGINS,
                args.golden,
            ),
        }
        for name, (bundle, fr, st, orig, n) in runs.items():
            t0 = time.perf_counter()
            results = fuzz(bundle, fr, st, orig, root / "fuzz", n=n, seed=args.seed)
            seconds = round(time.perf_counter() - t0, 1)
            unhandled = [{"mutation": r.mutation.detail, "message": r.message[:300]}
                         for r in results if r.outcome == "unhandled"]  # fmt: skip
            outside = [{"mutation": r.mutation.detail, "paths": r.outside[:3]}
                       for r in results if r.outside]  # fmt: skip
            different = [r.mutation.detail[:160] for r in results if r.outcome == "different"]
            doc[name] = {"seconds": seconds, "per_kind": tally(results), "different": different,
                         "unhandled": unhandled[:20], "read_outside": outside[:20]}  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bundle_fuzz.json").write_text(json.dumps(doc, indent=2))
    cols = ["mutations", *OUTCOMES, "read_outside", "different_unsealed"]
    lines = [f"# Bundle fuzz (seed {args.seed})", ""]
    for name in runs:
        part = doc[name]
        assert isinstance(part, dict)
        lines += [f"## {name}: {part['seconds']} s", "",
                  "| mutation | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]  # fmt: skip
        for kind, c in part["per_kind"].items():
            label = "**all**" if kind == "all" else kind
            lines.append(f"| {label} | " + " | ".join(str(c.get(k, 0)) for k in cols) + " |")
        lines += ["", "Edits that changed the forecasts:", ""]
        lines += [f"- `{d}`" for d in part["different"]] or ["- none"]
        lines += [""] + [f"- unhandled: {u}" for u in part["unhandled"]]
        lines += [f"- read outside: {o}" for o in part["read_outside"]]
    lines += [
        "`different_unsealed` counts edits that changed the forecasts without a new seal: "
        "always 0 for format 2; format 1 bundles carry no seal, so such edits go unseen there.",
    ]
    (RESULTS / "bundle_fuzz.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
