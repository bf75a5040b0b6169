"""Benchmark: price response (`forecasting elasticity`), planted and real.

1. Recovery: synthetic trials (forecasting/response/trial.py: 60 households, half treated,
   two groups, 8 weeks of half-hours, High/Low events, a planted arc elasticity per band and
   group, household-level spread) estimated `--seeds` times. For each of the three intervals
   (the default wild bootstrap clustered by household and day, the household bootstrap, the
   analytic household-clustered SE): coverage of the planted log change, pooled and per term;
   bias against the interval's width.
2. The real LCL dToU trial (configs/elasticity/lcl.yaml, skipped without ../shared/data):
   High and Low against Normal, overall, by band, by ACORN group, by band x group; the
   responders; the zero-offset sensitivity; wall time and peak RSS.

    .venv/bin/python benchmarks/price_response.py [--seeds 20] [--replicates 499]

Writes benchmarks/results/price_response.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results"
DATA = ROOT / ".." / "shared" / "data"
INTERVALS = {"wild bootstrap (household + day)": "", "household bootstrap": "_household_bootstrap",
             "analytic (household CR1)": "_analytic"}  # fmt: skip


def recovery(seeds: int, replicates: int) -> tuple[pd.DataFrame, dict[str, Any]]:
    from forecasting.response.estimate import ResponseSpec, TrialPanel, estimate_response
    from forecasting.response.trial import TrialSpec, generate_trial

    found = []
    t0 = time.perf_counter()
    for seed in range(seeds):
        spec = TrialSpec(seed=seed)
        t = generate_trial(spec)
        hh = t.households.assign(treated=t.households["tariff"] == "ToU")
        idx = t.readings["timestamp"]
        level = t.signal.set_index("timestamp")["level"].reindex(idx).to_numpy()
        weather = t.weather.set_index("timestamp").reindex(idx).reset_index(drop=True)
        panel = TrialPanel(t.readings, hh, level, weather, pd.Timedelta("30min"))
        rs = ResponseSpec(bands=spec.bands, timezone=spec.timezone, prices=spec.prices,
                          replicates=replicates, seed=seed)  # fmt: skip
        e = estimate_response(panel, rs).estimates
        m = e[e["spec"] == "level x band x group"].merge(
            t.truth, on=["level", "band", "group"], suffixes=("", "_true"))  # fmt: skip
        found.append(m.assign(seed=seed))
    m = pd.concat(found, ignore_index=True)
    rows, pooled = [], {}
    for name, sfx in INTERVALS.items():
        lo, hi = m[f"ci_low{sfx}"], m[f"ci_high{sfx}"]
        m[f"covered{sfx}"] = (lo <= m["log_change_true"]) & (m["log_change_true"] <= hi)
        pooled[name] = {"covered": int(m[f"covered{sfx}"].sum()), "of": len(m),
                        "mean_width": float((hi - lo).mean())}  # fmt: skip
    m["error"] = m["log_change"] - m["log_change_true"]
    m["width"] = m["ci_high"] - m["ci_low"]
    for key, g in m.groupby(["level", "band", "group"]):
        rows.append({"level": key[0], "band": key[1], "group": key[2],
                     "planted_elasticity": float(g["elasticity_true"].iloc[0]),
                     "planted_log_change": float(g["log_change_true"].iloc[0]),
                     "mean_estimate": float(g["log_change"].mean()),
                     "bias": float(g["error"].mean()), "mean_ci_width": float(g["width"].mean()),
                     "bias_over_width": float(abs(g["error"].mean()) / g["width"].mean()),
                     **{f"covered {n}": int(g[f"covered{s}"].sum()) for n, s in INTERVALS.items()}})  # fmt: skip
    facts = {"seeds": seeds, "replicates": replicates, "seconds": time.perf_counter() - t0,
             "pooled": pooled, "terms": len(rows)}  # fmt: skip
    return pd.DataFrame(rows), facts


def lcl(replicates: int) -> dict[str, Any] | None:
    if not (DATA / "lcl" / "halfhourly_kwh_2013.parquet").exists():
        return None
    import os

    from forecasting.response.config import load_elasticity_config
    from forecasting.response.job import run_elasticity

    os.chdir(ROOT)
    cfg = load_elasticity_config("configs/elasticity/lcl.yaml")
    cfg.bootstrap = replicates
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        result, doc = run_elasticity(cfg, Path("configs/elasticity/lcl.yaml"), Path(tmp))
    seconds = time.perf_counter() - t0
    est = result.estimates
    cols = ["spec", "level", "band", "group", "pct_change", "pct_ci_low", "pct_ci_high",
            "elasticity", "elasticity_ci_low", "elasticity_ci_high", "households",
            "treated_readings"]  # fmt: skip
    return {"seconds": seconds, "estimates": est[cols].to_dict(orient="records"),
            "responders": doc["responders"], "sensitivity": doc["sensitivity"],
            "source": doc["source"], "facts": doc["facts"]}  # fmt: skip


def _md_table(frame: pd.DataFrame) -> str:
    head = "| " + " | ".join(frame.columns) + " |\n|" + "---|" * len(frame.columns) + "\n"
    body = "".join("| " + " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in r)
                   + " |\n" for r in frame.itertuples(index=False))  # fmt: skip
    return head + body


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--replicates", type=int, default=499)
    args = ap.parse_args()
    terms, facts = recovery(args.seeds, args.replicates)
    real = lcl(max(args.replicates, 999))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = {"machine": platform.platform(), "recovery": facts, "terms": terms.to_dict(orient="records"),
           "lcl": real, "peak_rss_mb": rss}  # fmt: skip
    (RESULTS / "price_response.json").write_text(json.dumps(out, indent=1, default=str))
    lines = ["# Price response: planted trials and the LCL dToU trial", "",
             "`.venv/bin/python benchmarks/price_response.py --seeds "
             f"{args.seeds} --replicates {args.replicates}` on {platform.machine()}, "
             f"peak RSS {rss:,.0f} MB.", "", "## Planted response recovered", "",
             f"{facts['seeds']} seeded trials x {facts['terms']} planted terms (level x band x "
             f"group), {facts['seconds']:.0f} s in all. Pooled coverage of the 95% intervals:", ""]  # fmt: skip
    for name, p in facts["pooled"].items():
        lines.append(f"- {name}: {p['covered']} of {p['of']} ({p['covered'] / p['of']:.1%}), "
                     f"mean width {p['mean_width']:.3f}")  # fmt: skip
    lines += ["", _md_table(terms.round(4))]
    if real is not None:
        e = pd.DataFrame(real["estimates"])
        e["change % [95% CI]"] = [f"{p:+.1f} [{lo:+.1f}, {hi:+.1f}]" for p, lo, hi in
                                  zip(e["pct_change"], e["pct_ci_low"], e["pct_ci_high"], strict=True)]  # fmt: skip
        e["arc elasticity [95% CI]"] = [f"{v:.3f} [{lo:.3f}, {hi:.3f}]" for v, lo, hi in
                                        zip(e["elasticity"], e["elasticity_ci_low"], e["elasticity_ci_high"], strict=True)]  # fmt: skip
        show = ["spec", "level", "band", "group", "change % [95% CI]", "arc elasticity [95% CI]",
                "households"]  # fmt: skip
        src = real["source"]
        lines += ["## The LCL dToU trial (2013)", "",
                  f"{src['rows_used']:,} half-hourly readings of {real['facts']['treated_households']} "
                  f"treated (ToU) and {real['facts']['control_households']} control (Std) households, "
                  f"{real['seconds']:.1f} s. Against Normal (11.76 p/kWh): High 67.20, Low 3.99 p/kWh.", "",
                  _md_table(e[show]), "Responders (own 95% interval excludes zero in the price's direction): "
                  + "; ".join(f"{k} {v['responders']} of {v['households']} ({v['share']:.0%})"
                              for k, v in real["responders"].items()), "",
                  "Zero offset (kWh per half-hour added before the log): "
                  + "; ".join(f"{s['level']} {s['pct_change']:+.1f}% at {s['offset_kwh']:g}"
                              for s in real["sensitivity"]), ""]  # fmt: skip
    (RESULTS / "price_response.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
