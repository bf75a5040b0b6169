"""Benchmark: hourly profiles imputed from monthly totals, on held-out LCL households.

Households of `../shared/data/lcl` with at least 300 days of readings are split into K folds
(a stable hash of the id). Per fold: a LightGBM day-ahead model is trained on the other
households (hourly, weather covariates, static tariff/ACORN) and exported; the export fits
the load-shape archetypes on those same training households. The held-out households are
stripped to their calendar-month totals (London time; months with any missing hour are left
out, as a missed read would be), then `forecasting impute` rebuilds their hours, with the
model and with archetype shapes only. Everything is compared with their real hourly data.

Methods, all scaled to the same monthly totals:
- `impute` (archetypes + the bundle's model), `archetypes` (shapes only, `--no-model`);
- `flat`: the same kWh every hour of the month;
- `bdew_h0`: the German BDEW H0 household standard profile 2025 (../shared/data/bdew/h25.csv;
  Saturday, Sunday/holiday and weekday tables by month, on London local time and holidays);
- `mean_profile`: the mean normalised profile of all training smart-meter customers.

Metrics: hourly MAE (kWh); the largest monthly total error (zero by construction); the
per-customer error in the peak of each month's average-day profile, relative to the actual;
the error in the peak of the held-out customers' aggregate hourly load, relative (the year's
peak, and the mean over months of each month's peak).

    .venv/bin/python benchmarks/imputation.py [--folds 4] [--trees 300]

Writes benchmarks/results/imputation.{md,json}.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results"
DATA = ROOT / ".." / "shared" / "data"
TZ = "Europe/London"
COVARIATES = ["temperature", "apparent_temperature", "humidity"]
METHODS = ["impute", "archetypes", "mean_profile", "bdew_h0", "flat"]


def bdew_h0(hours: pd.DatetimeIndex, holidays: set[Any]) -> np.ndarray:
    """H0 2025 weight of each hour (UTC index) by London month, day type and local hour."""
    raw = pd.read_csv(DATA / "bdew" / "h25.csv", header=None, skiprows=2)
    values = raw.iloc[:96, 1:37].to_numpy(dtype=float).reshape(24, 4, 12, 3).sum(axis=1)
    local = hours.tz_convert(TZ)
    dow = local.dayofweek.to_numpy()
    hol = np.isin(local.tz_localize(None).normalize().date, list(holidays))
    kind = np.where((dow == 6) | hol, 1, np.where(dow == 5, 0, 2))  # SA, FT, WT columns
    return values[local.hour.to_numpy(), local.month.to_numpy() - 1, kind]


def mean_profile(train_frame: pd.DataFrame) -> dict[str, Any]:
    """One archetype made of every training customer (the 'mean of all customers' baseline)."""
    from forecasting.impute.archetypes import customer_shapes, describe

    rows = customer_shapes(train_frame, TZ)
    labels = pd.Series(0, index=pd.Index(sorted(rows["series_id"].unique())))
    return describe(rows, labels, None, 1, {1: 0.0}, TZ)


def monthly_totals(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(monthly totals of complete London months, the actual hours of those months)."""
    local = frame["timestamp"].dt.tz_convert(TZ)
    f = frame.assign(month=local.dt.strftime("%Y-%m"))
    hours_in_month = f.groupby("month")["timestamp"].nunique()
    g = f.groupby(["series_id", "month"])["target"].agg(["count", "sum"])
    full = g[
        g["count"].to_numpy() == hours_in_month.reindex(g.index.get_level_values(1)).to_numpy()
    ]
    full = full[full["count"] >= 24 * 27]
    monthly = full["sum"].rename("kwh").reset_index()
    keep = f.set_index(["series_id", "month"]).index.isin(full.index)
    return monthly, f[keep]


def scale_rows(actual: pd.DataFrame, weight: np.ndarray) -> np.ndarray:
    """`weight` per row scaled so each (customer, month) sums to its actual total."""
    w = pd.Series(weight, index=actual.index)
    key = [actual["series_id"], actual["month"]]
    return (
        w / w.groupby(key).transform("sum") * actual["target"].groupby(key).transform("sum")
    ).to_numpy()


def metrics(actual: pd.DataFrame, pred: np.ndarray) -> dict[str, float]:
    a = actual.assign(pred=pred, hour=actual["timestamp"].dt.tz_convert(TZ).dt.hour)
    mae = float(np.abs(a["pred"] - a["target"]).mean())
    tot = a.groupby(["series_id", "month"])[["pred", "target"]].sum()
    day = a.groupby(["series_id", "month", "hour"])[["pred", "target"]].mean()
    peaks = day.groupby(level=[0, 1]).max()
    rel = (peaks["pred"] - peaks["target"]).abs() / peaks["target"]
    agg = a.groupby("timestamp")[["pred", "target"]].sum()
    agg_month = agg.groupby(agg.index.tz_convert(TZ).strftime("%Y-%m")).max()
    return {
        "hourly_mae_kwh": round(mae, 5),
        "max_monthly_total_error_kwh": float(np.abs(tot["pred"] - tot["target"]).max()),
        "avg_day_peak_error_rel": round(float(rel.mean()), 4),
        "avg_day_peak_error_rel_median": round(float(rel.median()), 4),
        "aggregate_peak_error_rel": round(
            float(abs(agg["pred"].max() - agg["target"].max()) / agg["target"].max()), 4
        ),
        "aggregate_monthly_peak_error_rel": round(
            float(((agg_month["pred"] - agg_month["target"]).abs() / agg_month["target"]).mean()), 4
        ),
    }


def run_fold(fold: int, test_ids: list[str], prepared: Any, raw: pd.DataFrame, work: Path,
             trees: int, holidays: set[Any]) -> pd.DataFrame:  # fmt: skip
    from forecasting.config.model import load_train_config
    from forecasting.export import export_run
    from serving.impute import ImputeJob
    from training.train import train

    d = work / f"fold{fold}"
    d.mkdir(parents=True, exist_ok=True)
    train_raw = raw[~raw["LCLid"].isin(test_ids)]
    train_raw.to_parquet(d / "train.parquet")
    frame, static = prepared.frame, prepared.static
    is_test = frame["series_id"].isin(test_ids)
    sub = dataclasses.replace(prepared, frame=frame[~is_test].reset_index(drop=True),
                              static=static[~static["series_id"].isin(test_ids)])  # fmt: skip
    cfg = load_train_config(ROOT / "configs" / "models" / "lightgbm.yaml")
    cfg = cfg.model_copy(update={"name": f"impute_fold{fold}"})
    cfg.model.n_estimators = trees
    cfg.features.known_future = COVARIATES
    t = time.perf_counter()
    train(cfg, d / "run", str(d / "train.parquet"), sub)
    export_run(d / "run", d / "bundle", str(d / "train.parquet"))
    fit_s = time.perf_counter() - t

    test = frame[is_test]
    monthly, actual = monthly_totals(test)
    monthly.to_csv(d / "monthly.csv", index=False)
    static[static["series_id"].isin(test_ids)].to_csv(d / "static.csv", index=False)
    w = pd.read_csv(DATA / "lcl" / "weather_hourly_london.csv")  # 2011-2014: covers lookbacks
    weather = pd.DataFrame({"timestamp": pd.to_datetime(w["time"], utc=True), "temperature": w["temperature"],
                            "apparent_temperature": w["apparentTemperature"], "humidity": w["humidity"]})  # fmt: skip
    weather = weather.drop_duplicates("timestamp").sort_values("timestamp")
    weather = weather.set_index("timestamp").asfreq("1h").interpolate(limit=6).reset_index()
    weather.to_csv(d / "weather.csv", index=False)
    preds = actual[["series_id", "timestamp", "month", "target"]].reset_index(drop=True)
    t = time.perf_counter()
    for method, use_model in (("impute", True), ("archetypes", False)):
        from serving.tables import read_static

        job = ImputeJob(str(d / "bundle"), str(d / "monthly.csv"), read_static(d / "static.csv"),
                        d / method, str(d / "weather.csv"), use_model=use_model)  # fmt: skip
        job.run()
        prof = pd.read_parquet(d / method / "profiles.parquet")
        got = preds.merge(
            prof[["series_id", "timestamp", "p50"]], on=["series_id", "timestamp"], how="left"
        )
        preds[method] = got["p50"].to_numpy()
    impute_s = time.perf_counter() - t
    hours = pd.DatetimeIndex(preds["timestamp"])
    preds["flat"] = scale_rows(preds, np.ones(len(preds)))
    preds["bdew_h0"] = scale_rows(preds, bdew_h0(hours, holidays))
    from serving.impute import Archetypes

    mp = Archetypes(mean_profile(sub.frame))
    preds["mean_profile"] = scale_rows(preds, mp.shares(hours)[0])
    preds["fold"] = fold
    print(f"fold {fold}: {len(test_ids)} held out, fit+export {fit_s:.0f}s, impute {impute_s:.0f}s, "
          f"archetypes k={json.loads((d / 'bundle' / 'archetypes.json').read_text())['k']}", flush=True)  # fmt: skip
    return preds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folds", type=int, default=4)
    ap.add_argument("--trees", type=int, default=300)
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()
    if not (DATA / "lcl" / "halfhourly_kwh_2013.parquet").exists():
        raise SystemExit(f"needs the LCL data in {DATA / 'lcl'}")
    from forecasting.config.data import load_data_config
    from forecasting.data.holidays import HolidayCalendar
    from forecasting.data.prepare import prepare
    from serving.stream import stable_group

    t0 = time.perf_counter()
    os.chdir(ROOT)
    cfg = load_data_config(ROOT / "configs" / "data" / "lcl.yaml")
    prepared = prepare(cfg)
    raw = pd.read_parquet(DATA / "lcl" / "halfhourly_kwh_2013.parquet")
    days = prepared.frame.dropna(subset=["target"]).groupby("series_id")["timestamp"].count() / 24
    ids = pd.Series(sorted(days[days >= 300].index), dtype="string")
    fold_of = stable_group(ids, args.folds)
    holidays = HolidayCalendar.from_spec(cfg.calendar.holidays).holiday_dates([2012, 2013, 2014])
    work = args.workdir or Path(tempfile.mkdtemp(prefix="impute_bench_"))
    parts = []
    for k in range(args.folds):
        test_ids = list(ids[fold_of == k])
        if test_ids:
            parts.append(run_fold(k, test_ids, prepared, raw, work, args.trees, holidays))
    preds = pd.concat(parts, ignore_index=True)
    table = {m: metrics(preds, preds[m].to_numpy()) for m in METHODS}
    bdew = table["bdew_h0"]["hourly_mae_kwh"]
    for m in METHODS:
        table[m]["mae_vs_bdew"] = round(table[m]["hourly_mae_kwh"] / bdew - 1, 4)
    best = table["impute"]
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "households": len(ids),
        "folds": args.folds,
        "customer_months": int(preds.groupby(["series_id", "month"]).ngroups),
        "trees": args.trees,
        "seconds": round(time.perf_counter() - t0, 1),
        "methods": table,
        "targets": {
            "avg_day_peak_error_le_15pct": best["avg_day_peak_error_rel"] <= 0.15,
            "aggregate_peak_error_le_15pct": best["aggregate_peak_error_rel"] <= 0.15,
            "hourly_mae_10pct_below_bdew": best["mae_vs_bdew"] <= -0.10,
        },
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "imputation.json").write_text(json.dumps(result, indent=2), "utf-8")
    (RESULTS / "imputation.md").write_text(markdown(result), "utf-8")
    print(markdown(result))


def markdown(r: dict[str, Any]) -> str:
    lines = [
        "# Imputation of hourly profiles from monthly totals (LCL, held-out households)",
        "",
        f"{r['machine']}; {r['households']} households in {r['folds']} folds, "
        f"{r['customer_months']:,} customer-months; LightGBM {r['trees']} trees; {r['seconds']:.0f} s.",
        "",
        "| method | hourly MAE kWh | vs BDEW | avg-day peak err | (median) | aggregate peak err "
        "| aggregate monthly peak err | max monthly total err kWh |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for m, x in r["methods"].items():
        lines.append(
            f"| {m} | {x['hourly_mae_kwh']:.4f} | {x['mae_vs_bdew']:+.1%} | "
            f"{x['avg_day_peak_error_rel']:.1%} | {x['avg_day_peak_error_rel_median']:.1%} | "
            f"{x['aggregate_peak_error_rel']:.1%} | {x['aggregate_monthly_peak_error_rel']:.1%} | "
            f"{x['max_monthly_total_error_kwh']:.2e} |"
        )
    t = r["targets"]
    lines += [
        "",
        "Targets (impute): " + ", ".join(f"{k}: {'met' if v else 'MISSED'}" for k, v in t.items()),
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
