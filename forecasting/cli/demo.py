"""`forecasting demo`: the whole path so far, on data the package generates itself."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

from forecasting.config.base import load_yaml_model
from forecasting.config.demo import DemoConfig


def _step(n: int, text: str) -> None:
    typer.secho(f"\n[{n}] {text}", bold=True)


def _metrics_table(rows: dict[str, dict[str, object]]) -> str:
    head = f"{'model':<16}{'MAE':>8}{'RMSE':>8}{'sMAPE%':>8}{'qrisk50':>9}{'qrisk90':>9}{'cover':>7}{'peak':>7}{'n':>8}"
    lines = [head, "-" * len(head)]
    for name, m in rows.items():
        q = m["qrisk"]
        assert isinstance(q, dict)
        lines.append(
            f"{name:<16}{m['mae']:>8.3f}{m['rmse']:>8.3f}{m['smape']:>8.1f}{q['p50']:>9.3f}{q['p90']:>9.3f}"
            f"{m['coverage_p10_p90']:>7.2f}{m['peak_error']:>7.3f}{m['n_forecasts']:>8,}"
        )
    return "\n".join(lines)


def run_demo(config_path: Path, output: Path) -> None:
    import pandas as pd

    from forecasting.config.data import load_data_config
    from forecasting.data.prepare import prepare, write_prepared
    from forecasting.data.report import render_report
    from forecasting.data.synthetic import SyntheticSpec, write_synthetic
    from forecasting.evaluation.backtest import RollingOrigin, backtest
    from forecasting.evaluation.metrics import score
    from forecasting.evaluation.plots import plot_forecast
    from forecasting.features import FeatureConfig, build_features, feature_groups
    from forecasting.models.baselines import SeasonalNaive

    cfg = load_yaml_model(DemoConfig, config_path)
    t_all = time.perf_counter()
    output.mkdir(parents=True, exist_ok=True)

    s = cfg.synthetic
    _step(
        1,
        f"generate {s.households} synthetic households x {s.days} days of half-hourly kWh (seed {s.seed})",
    )
    spec = SyntheticSpec(households=s.households, days=s.days, start=s.start, seed=s.seed)
    raw = write_synthetic(spec, output / "raw")
    faults = pd.read_csv(raw["faults"])
    typer.echo(
        f"    raw files in {raw['readings'].parent}; {len(faults)} faults injected "
        f"({', '.join(f'{k} {v}' for k, v in faults['kind'].value_counts().sort_index().items())})"
    )

    _step(2, f"validate and prepare with {raw['config']}")
    data_cfg = load_data_config(raw["config"])
    t = time.perf_counter()
    prepared = prepare(data_cfg)
    paths = write_prepared(prepared, output / "prepared")
    typer.echo(
        "    " + render_report(prepared.report, data_cfg.calendar.timezone).replace("\n", "\n    ")
    )
    typer.echo(
        f"    -> {paths['frame']} ({len(prepared.frame):,} hourly rows, {time.perf_counter() - t:.1f} s)"
    )

    _step(3, "build features (the same code serving will use)")
    feat_cfg = FeatureConfig(
        timezone=data_cfg.calendar.timezone,
        holidays=prepared.dataset["holidays"],
        known_future=["temperature", "cloud_cover"],
        observed=["export_kwh"],
        static=["archetype", "heating", "has_pv", "has_ev"],
    )
    feats = build_features(prepared.frame, feat_cfg, prepared.static)
    for group, cols in feature_groups(feat_cfg, list(feats.columns)).items():
        typer.echo(f"    {group:<13} {len(cols):>2}: {', '.join(cols)}")

    b = cfg.backtest
    _step(
        4,
        f"rolling-origin backtest: {b.horizon} h ahead, origins daily at {b.origin_hour:02d}:00 local, last {b.last_days} days",
    )
    end = prepared.frame["timestamp"].max()
    splitter = RollingOrigin(
        horizon=b.horizon,
        lookback=b.lookback,
        step=b.step,
        origin_hour=b.origin_hour,
        timezone=data_cfg.calendar.timezone,
        start=end - pd.Timedelta(days=b.last_days),
        end=end,
    )
    results, forecasts = {}, {}
    for name, model in {
        "seasonal_naive": SeasonalNaive(season=168, quantiles=cfg.quantiles),
        "yesterday": SeasonalNaive(season=24, quantiles=cfg.quantiles),
    }.items():
        t = time.perf_counter()
        fc = backtest(model, prepared.frame, splitter)
        forecasts[name] = fc
        results[name] = score(fc, cfg.quantiles)
        results[name]["seconds"] = round(time.perf_counter() - t, 2)
    n_origins = forecasts["seasonal_naive"]["origin"].nunique()
    typer.echo(
        f"    {n_origins} origins x {prepared.frame['series_id'].nunique()} series; kWh per hour"
    )
    typer.echo("    " + _metrics_table(results).replace("\n", "\n    "))
    fc = forecasts["seasonal_naive"]
    fc.to_parquet(output / "backtest_seasonal_naive.parquet", index=False)
    (output / "backtest_metrics.json").write_text(json.dumps(results, indent=2))

    _step(5, "plot")
    series = cfg.plot_series or str(prepared.frame.groupby("series_id")["target"].mean().idxmax())
    last = fc[fc["origin"] >= fc["origin"].max() - pd.Timedelta(days=6)]
    png = plot_forecast(
        last,
        series,
        output / "forecast.png",
        data_cfg.calendar.timezone,
        f"{series}: seasonal-naive day-ahead forecasts, last 7 origins",
    )
    typer.echo(f"    {png}")

    typer.secho(
        f"\ndone in {time.perf_counter() - t_all:.1f} s; everything is under {output}/", bold=True
    )
