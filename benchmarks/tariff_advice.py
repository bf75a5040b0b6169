"""Benchmark: cheapest-tariff advice on the LCL households of 2013 (flat vs dToU).

Every LCL household's 2013 half-hourly usage is billed under the trial's two tariffs, the
flat 14.228 p/kWh the Std group paid and the dynamic time-of-use the ToU group paid (High
67.20, Normal 11.76, Low 3.99 p/kWh), by `forecasting recommend` with usage paths made by
moving each week by up to four weeks (the usage the household would have had, give or take
which weeks fell where). Reported:

- the share of households for whom dToU would have been cheaper in 2013: on the usage as
  it was, as the mean probability over the paths, and with a 90% bootstrap interval over
  households; by trial group (the ToU group saw the prices and may have responded; the Std
  group did not: their figure is "without any response");
- equality with exhaustive billing: `forecasting bill` under each tariff, to the penny;
- time: the advice (all paths, both tariffs) against the two exhaustive bill runs.

    .venv/bin/python benchmarks/tariff_advice.py [--samples 100]

Needs ../shared/data/lcl. Writes benchmarks/results/tariff_advice.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
LCL = ROOT.parent / "shared" / "data" / "lcl"
TARIFFS = {
    "flat": ROOT / "configs/tariffs/lcl_flat_2013.yaml",
    "dtou": ROOT / "configs/tariffs/lcl_dtou_2013.yaml",
}


def cli(*args: object) -> float:
    t = time.perf_counter()
    subprocess.run([str(ROOT / ".venv/bin/forecasting"), *map(str, args)], check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--boot", type=int, default=2000)
    args = ap.parse_args()
    if not LCL.exists():
        sys.exit(f"{LCL} is absent: this benchmark needs the LCL data")
    work = Path(tempfile.mkdtemp(prefix="advice-"))
    d = pd.read_parquet(
        LCL / "halfhourly_kwh_2013.parquet", columns=["LCLid", "tstp", "kwh", "stdorToU"]
    )
    d = d.rename(columns={"LCLid": "series_id", "tstp": "timestamp"})
    d["timestamp"] = d["timestamp"].dt.tz_localize("UTC")  # the file's clock is UTC
    d[["series_id", "timestamp", "kwh"]].to_parquet(work / "usage.parquet")
    group = d.groupby("series_id")["stdorToU"].first()
    static = (
        group.map({"Std": "lcl_flat_2013", "ToU": "lcl_dtou_2013"}).rename("tariff").reset_index()
    )
    static.to_csv(work / "static.csv", index=False)

    advice_s = cli("recommend", "--tariffs", TARIFFS["flat"], "--tariffs", TARIFFS["dtou"], "--usage",
                   work / "usage.parquet", "--static", work / "static.csv", "--current-column", "tariff",
                   "--samples", args.samples, "--output", work / "advice")  # fmt: skip
    bill_s = {k: cli("bill", "--tariff", t, "--usage", work / "usage.parquet", "--output", work / k)
              for k, t in TARIFFS.items()}  # fmt: skip
    bills = pd.read_csv(work / "advice" / "bills.csv")
    worst = 0.0
    for k, t in TARIFFS.items():
        exhaustive = pd.read_parquet(work / k / "bills.parquet").groupby("series_id")["total"].sum()
        mine = bills[bills["tariff"] == t.stem].set_index("series_id")["bill"]
        worst = max(worst, float((mine - exhaustive.reindex(mine.index)).abs().max()))
    point = bills.pivot(index="series_id", columns="tariff", values="bill")
    cheaper = (point["lcl_dtou_2013"] < point["lcl_flat_2013"]).reindex(group.index)
    saving = (point["lcl_flat_2013"] - point["lcl_dtou_2013"]).reindex(group.index)
    rec = pd.read_csv(work / "advice" / "recommendations.csv").set_index("series_id")
    p_dtou = rec["p_cheapest_lcl_dtou_2013"].reindex(group.index).to_numpy()  # over the paths
    rng = np.random.default_rng(0)
    out = {}
    for name, mask in (("all", np.ones(len(group), bool)), ("Std", (group == "Std").to_numpy()),
                       ("ToU", (group == "ToU").to_numpy())):  # fmt: skip
        c = cheaper.to_numpy()[mask].astype(float)
        boot = rng.choice(c, (args.boot, len(c))).mean(axis=1)
        out[name] = {"households": int(mask.sum()), "dtou_cheaper_share": float(c.mean()),
                     "ci90": [float(np.quantile(boot, 0.05)), float(np.quantile(boot, 0.95))],
                     "mean_probability_dtou_cheaper": float(p_dtou[mask].mean()),
                     "median_saving_on_dtou_gbp": float(np.median(saving.to_numpy()[mask])),
                     "sure_either_way": float(((p_dtou[mask] >= 0.9) | (p_dtou[mask] <= 0.1)).mean())}  # fmt: skip
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs"
    doc = {"benchmark": "tariff_advice", "machine": machine, "samples": args.samples,
           "max_difference_to_exhaustive_gbp": worst, "advice_seconds": advice_s,
           "exhaustive_bill_seconds": bill_s, "groups": out}  # fmt: skip
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "tariff_advice.json").write_text(json.dumps(doc, indent=2))
    rows = "\n".join(
        f"| {k} | {v['households']} | **{v['dtou_cheaper_share']:.0%}** ({v['ci90'][0]:.0%} to "
        f"{v['ci90'][1]:.0%}) | {v['mean_probability_dtou_cheaper']:.0%} | "
        f"{v['median_saving_on_dtou_gbp']:+.2f} | {v['sure_either_way']:.0%} |"
        for k, v in out.items()
    )
    md = f"""# Cheapest-tariff advice: would dToU have been cheaper for the LCL households in 2013?

`python benchmarks/tariff_advice.py --samples {args.samples}`; {machine}. The LCL households
of `../shared/data/lcl` (2013, half-hourly), billed by `forecasting recommend` under the
trial's flat tariff (14.228 p/kWh) and its dynamic time-of-use (High 67.20, Normal 11.76,
Low 3.99 p/kWh), over the usage as it was and {args.samples} paths with each week moved by
up to four weeks either way. Std households never saw the prices: their figure is the
saving without any response. ToU households saw them and may have shifted.

| group | households | dToU cheaper on 2013's usage (90% bootstrap CI over households) | mean probability over paths | median saving on dToU, GBP/year | households sure either way (p >= 0.9 or <= 0.1) |
|---|---|---|---|---|---|
{rows}

Equality with exhaustive billing (`forecasting bill` under each tariff, summed per
household): largest difference {worst:.2e} GBP. Time: the advice with all paths and both
tariffs {advice_s:.1f} s; the two exhaustive bill runs {bill_s["flat"]:.1f} s and
{bill_s["dtou"]:.1f} s (one path each).
"""
    (RESULTS / "tariff_advice.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
