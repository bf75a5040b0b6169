"""`forecasting demo`: the whole path so far, on data the package generates itself."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

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


def _train_lightgbm(
    cfg: DemoConfig, data_config: Path, prepared: Any, test_start: Any, run_dir: Path
) -> Any:
    """Train the demo's global LightGBM on everything before the backtest window."""
    import pandas as pd

    from forecasting.config.model import LightGBMConfig, Period, TrainConfig
    from training.train import train

    m = cfg.model
    valid_start = (test_start - pd.Timedelta(days=m.validation_days)).date()
    train_cfg = TrainConfig(
        name="demo_lightgbm",
        data=str(data_config),
        quantiles=cfg.quantiles,
        horizon=cfg.backtest.horizon,
        train=Period(
            start=prepared.frame["timestamp"].min().date(), end=valid_start - pd.Timedelta(days=1)
        ),
        validation=Period(start=valid_start, end=(test_start - pd.Timedelta(days=1)).date()),
        model=LightGBMConfig(
            n_estimators=m.n_estimators,
            learning_rate=m.learning_rate,
            num_leaves=m.num_leaves,
            early_stopping_rounds=30,
        ),
    )
    _step(
        4,
        f"train a global LightGBM (P10/P50/P90, horizon as a feature) on origins up to "
        f"{train_cfg.train.end if train_cfg.train else ''}, early stopping on the next "
        f"{m.validation_days} days",
    )
    result = train(train_cfg, run_dir, prepared=prepared)
    r = result.metrics
    typer.echo(
        f"    {r['train_rows']:,} rows x {len(result.files)} files; fit {r['fit_seconds']} s; "
        f"trees per quantile {r['best_iterations']} -> {run_dir}"
    )
    from forecasting.models.registry import load_run

    return load_run(run_dir)[0]


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
    from forecasting.models.baselines import SeasonalNaive, WeekdayHourProfile, Yesterday

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
    end = prepared.frame["timestamp"].max()
    test_start = (end - pd.Timedelta(days=b.last_days)).tz_convert(data_cfg.calendar.timezone)
    model = _train_lightgbm(cfg, raw["config"], prepared, test_start, output / "run_lightgbm")

    _step(
        5,
        f"rolling-origin backtest: {b.horizon} h ahead, origins daily at {b.origin_hour:02d}:00 local, last {b.last_days} days",
    )
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
    for name, m in {
        "seasonal_naive": SeasonalNaive(season=168, quantiles=cfg.quantiles),
        "yesterday": Yesterday(quantiles=cfg.quantiles),
        "weekday_profile": WeekdayHourProfile(
            weeks=2, quantiles=cfg.quantiles, timezone=data_cfg.calendar.timezone
        ),
        "lightgbm": model,
    }.items():
        t = time.perf_counter()
        fc = backtest(m, prepared.frame, splitter, static=prepared.static)
        forecasts[name] = fc
        results[name] = score(fc, cfg.quantiles)
        results[name]["seconds"] = round(time.perf_counter() - t, 2)
    n_origins = forecasts["seasonal_naive"]["origin"].nunique()
    typer.echo(
        f"    {n_origins} origins x {prepared.frame['series_id'].nunique()} series; kWh per hour"
    )
    typer.echo("    " + _metrics_table(results).replace("\n", "\n    "))
    fc = forecasts["lightgbm"]
    fc.to_parquet(output / "backtest_lightgbm.parquet", index=False)
    (output / "backtest_metrics.json").write_text(json.dumps(results, indent=2))
    ratio = results["lightgbm"]["mae"] / results["seasonal_naive"]["mae"]  # type: ignore[operator]
    typer.echo(f"    LightGBM MAE = {ratio:.2f} x seasonal naive")

    _step(6, "explain the LightGBM forecasts with SHAP (TreeExplainer)")
    from forecasting.explain.shap_report import explain_run

    t = time.perf_counter()
    ex = explain_run(output / "run_lightgbm", output / "explain", max_rows=1000)
    top = ", ".join(f"{r['feature']} {r['share']:.0%}" for r in ex["top_features"][:4])
    typer.echo(
        f"    top drivers of P50: {top}; additivity error {ex['additivity_max_abs_error']:.0e}"
    )
    typer.echo(f"    -> {output / 'explain' / 'report.html'} ({time.perf_counter() - t:.1f} s)")

    _step(7, "plot")
    series = cfg.plot_series or str(prepared.frame.groupby("series_id")["target"].mean().idxmax())
    last = fc[fc["origin"] >= fc["origin"].max() - pd.Timedelta(days=6)]
    png = plot_forecast(
        last,
        series,
        output / "forecast.png",
        data_cfg.calendar.timezone,
        f"{series}: LightGBM day-ahead forecasts (P10-P90), last 7 origins",
    )
    typer.echo(f"    {png}")

    typer.secho(
        f"\ndone in {time.perf_counter() - t_all:.1f} s; everything is under {output}/", bold=True
    )
