"""Run the hostile corpus of bad inputs (tests/cli/corpus.py) and count its outcomes per command.

    python -m benchmarks.bad_input_corpus

Writes benchmarks/results/bad_input_corpus.{md,json}: cases per command, and how many ended in
an unhandled error, a traceback, an exit code other than the documented one, a message on more
than one line, output written on a refusal, or a lost row. Every count but the first should be 0.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections import Counter
from pathlib import Path

from tests.cli.corpus import run_all, workspace

RESULTS = Path(__file__).resolve().parent / "results"
KINDS = {
    "unhandled": "unexpected error",
    "traceback": "traceback",
    "exit_code": "exit ",
    "not_one_line": "lines on stderr",
    "wrote_on_refusal": "was written although",
    "lost_rows": "rows in !=",
    "quoted_a_file": "/etc/passwd",
    "message": "does not say",
}


def main() -> None:
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        w = workspace(Path(tmp))
        built = time.perf_counter() - t0
        outcomes = run_all(w)
    per: dict[str, Counter[str]] = {}
    for o in outcomes:
        c = per.setdefault(o.case.command, Counter())
        c["cases"] += 1
        c[f"exit_{o.code}"] += 1
        for kind, marker in KINDS.items():
            c[kind] += any(marker in p for p in o.problems)
    total = sum(per.values(), Counter())
    failing = [{"case": o.case.id, "problems": o.problems, "stderr": o.err[-300:]}
               for o in outcomes if o.problems]  # fmt: skip
    seconds = round(time.perf_counter() - t0, 1)
    doc = {"cases": len(outcomes), "seconds": seconds, "workspace_seconds": round(built, 1),
           "per_command": {k: dict(v) for k, v in sorted(per.items())},
           "total": dict(total), "failing": failing}  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bad_input_corpus.json").write_text(json.dumps(doc, indent=2))
    cols = ["cases", "exit_1", "exit_2", *KINDS]
    lines = [
        f"# Bad-input corpus: {len(outcomes)} cases, {seconds} s",
        "",
        "Each case runs `python -m forecasting ...` as a subprocess on a bad input. Columns after "
        "the exit codes count cases with that problem (all should be 0).",
        "",
        "| command | " + " | ".join(cols) + " |",
        "|---|" + "---:|" * len(cols),
    ]
    for name, c in [*sorted(per.items()), ("**all**", total)]:
        lines.append(f"| {name} | " + " | ".join(str(c.get(k, 0)) for k in cols) + " |")
    if failing:
        lines += ["", "## Failing cases", ""] + [f"- {f['case']}: {f['problems']}" for f in failing]
    (RESULTS / "bad_input_corpus.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
