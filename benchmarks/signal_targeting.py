"""Benchmark: dToU signal targeting, learned on the first half of a year's events and replayed
on the second, on the real LCL trial and on a generated trial with planted engagement.

For each trial and each ranking rule (thompson, ucb, expected), `forecasting target-signals`
is run with the trial's config; reported per signal level: signals an event and the share of
events that reached the target for the Bayesian policy, sending to everyone, random sets of
the policy's size and random sets sized by an oracle to reach the target (the fewest a
random choice needs, found with the event's own outcomes); the mean absolute error to the
target and the shortfall; the probability that the policy's error is below the others'
(bootstrap over events); and the calibration of the learned posterior on the replayed
events (coverage of 90% predictive intervals, predicted against observed mean change).

    .venv/bin/python benchmarks/signal_targeting.py

The LCL part needs ../shared/data/lcl (14 ToU and 66 Std households there: small, so its
figures are noisy); the generated trial (400 households, half treated, a year, engagement
0.97 / 0.75 / 0.45 / 0 in equal shares) always runs. Writes
benchmarks/results/signal_targeting.{md,json}.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results"
LCL = ROOT.parent / "shared" / "data" / "lcl"
RULES = ("thompson", "ucb", "expected")


def run(config: Path, rule: str, out: Path) -> tuple[dict[str, Any], float]:
    t = time.perf_counter()
    subprocess.run([str(ROOT / ".venv/bin/forecasting"), "target-signals", "--config", str(config),
                    "--rule", rule, "--output", str(out)], check=True, stdout=subprocess.DEVNULL)  # fmt: skip
    return json.loads((out / "summary.json").read_text()), time.perf_counter() - t


def generated(work: Path) -> Path:
    from forecasting.response.trial import TrialSpec, write_trial

    spec = TrialSpec(households=400, days=364, start="2024-01-01", seed=11,
                     engagement={0.97: 0.25, 0.75: 0.25, 0.45: 0.25, 0.0: 0.25})  # fmt: skip
    paths = write_trial(spec, work / "trial")
    cfg = {"trial": str(paths["config"]), "learn_until": "2024-07-01",
           "target": {"High": -0.02, "Low": 0.015}, "random_repeats": 50,
           "hour_weights": [{"level": "High", "hours": "16:00-20:00", "weight": 2.0}]}  # fmt: skip
    (work / "generated.yaml").write_text(yaml.safe_dump(cfg))
    return work / "generated.yaml"


def table(name: str, results: dict[str, tuple[dict[str, Any], float]]) -> list[str]:
    lines = [f"## {name}", ""]
    first = next(iter(results.values()))[0]
    lines += [f"{first['treated']} treated and {first['control']} control households; "
              f"{first['events']['learn']} events learned from, {first['events']['test']} replayed; "
              f"targets {first['targets']} (relative change of the population's weighted mean "
              "over the event).", "",
              "| policy | level | events | signals an event | of households | reached target | "
              "achieved (mean) | mean abs error, points | mean shortfall, points |",
              "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    seen = set()
    for rule, (s, _) in results.items():
        for p in s["policies"]:
            key = (p["policy"], p["level"])
            if key in seen or (not p["policy"].startswith("bayes") and rule != RULES[0]):
                continue
            seen.add(key)
            lines.append(f"| {p['policy']} | {p['level']} | {p['events']} | {p['signals_per_event']:.1f} | "
                         f"{p['households_per_event']:.0f} | {p['reached_share']:.0%} | "
                         f"{p['achieved_pct']:+.2f}% (target {p['target_pct']:+.1f}%) | "
                         f"{p['mean_abs_error_pct']:.2f} | {p['mean_shortfall_pct']:.2f} |")  # fmt: skip
    lines += ["", "| rule | against | P(lower error) | error difference, points (90% CI) | "
              "signals an event, difference |", "|---|---|---|---|---|"]  # fmt: skip
    for rule, (s, _) in results.items():
        for other, v in s["versus"].items():
            lines.append(f"| {rule} | {other} | {v['p_lower_error']:.2f} | "
                         f"{v['error_difference_pct_points']:+.2f} ({v['error_difference_ci90'][0]:+.2f} "
                         f"to {v['error_difference_ci90'][1]:+.2f}) | {v['signals_difference_per_event']:+.1f} |")  # fmt: skip
    lines += ["", "Calibration of the posterior learned on the first half, on every treated "
              "household and replayed event:", "",
              "| level | household-events | 90% intervals cover | predicted mean change | observed mean change | correlation |",
              "|---|---|---|---|---|---|"]  # fmt: skip
    for lv, c in first["calibration"].items():
        corr = "-" if c["correlation"] is None else f"{c['correlation']:.2f}"
        lines.append(f"| {lv} | {c['household_events']} | {c['coverage_90']:.1%} | "
                     f"{100 * c['predicted_mean']:+.2f}% | {100 * c['observed_mean']:+.2f}% | {corr} |")  # fmt: skip
    eng = first.get("engagement", {})
    if eng:
        lines += ["", f"Households by posterior engagement group: {eng}"]
    times = ", ".join(f"{r} {t:.0f} s" for r, (_, t) in results.items())
    lines += ["", f"Run time: {times}.", ""]
    return lines


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="targeting-"))
    doc: dict[str, Any] = {"benchmark": "signal_targeting",
                           "machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "trials": {}}  # fmt: skip
    lines = ["# dToU signal targeting: learned on the first half of the events, replayed on the second", "",
             f"`python benchmarks/signal_targeting.py`; {doc['machine']}. See the script's docstring "
             "for what each column means. Policies rank households by a posterior draw "
             "(thompson), an upper bound (ucb) or the expected change (expected), then send until "
             "the target is reached with probability 0.8; they learn only from the households "
             "they signalled. `random, sized to reach` is given its size by an oracle that "
             "knows the event's outcomes: a flattering baseline.", ""]  # fmt: skip
    trials = {"generated trial, planted engagement": generated(work)}
    if LCL.exists():
        trials["LCL 2013 (real)"] = ROOT / "configs" / "targeting" / "lcl.yaml"
    for name, cfg in trials.items():
        results = {rule: run(cfg, rule, work / f"{name[:3]}-{rule}") for rule in RULES}
        doc["trials"][name] = {r: s for r, (s, _) in results.items()}
        lines += table(name, results)
        print("\n".join(lines[-12:]), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "signal_targeting.json").write_text(json.dumps(doc, indent=1, default=str))
    (RESULTS / "signal_targeting.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
