"""`forecasting demo`: the whole path so far, on data the package generates itself."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import typer

from forecasting.config.base import load_yaml_model
from forecasting.config.demo import DemoConfig
from forecasting.folders import check_output_folder, write_json

DEMO_MARKER = "demo.json"  # written first: marks a folder the demo may replace


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


def _periods(cfg: DemoConfig, prepared: Any, test_start: Any) -> dict[str, Any]:
    """Train on everything before the validation days that precede the backtest window."""
    import pandas as pd

    from forecasting.config.model import Period

    valid_start = (test_start - pd.Timedelta(days=cfg.model.validation_days)).date()
    return {
        "train": Period(
            start=prepared.frame["timestamp"].min().date(), end=valid_start - pd.Timedelta(days=1)
        ),
        "validation": Period(start=valid_start, end=(test_start - pd.Timedelta(days=1)).date()),
    }


def _train(
    cfg: DemoConfig, data_config: Path, prepared: Any, test_start: Any, run_dir: Path, **kw: Any
) -> Any:
    """Train one model of the demo (keyword arguments complete its TrainConfig)."""
    from forecasting.config.model import TrainConfig
    from forecasting.models.registry import load_run
    from training.train import train

    train_cfg = TrainConfig(
        data=str(data_config),
        quantiles=cfg.quantiles,
        horizon=cfg.backtest.horizon,
        **_periods(cfg, prepared, test_start),
        **kw,
    )
    result = train(train_cfg, run_dir, prepared=prepared)
    return load_run(run_dir)[0], result.metrics


def _lightgbm(cfg: DemoConfig) -> Any:
    from forecasting.config.model import LightGBMConfig

    m = cfg.model
    return LightGBMConfig(
        n_estimators=m.n_estimators, learning_rate=m.learning_rate,
        num_leaves=m.num_leaves, early_stopping_rounds=30,
    )  # fmt: skip


def _features(
    cfg: DemoConfig, data_config: Path, data_cfg: Any, prepared: Any, origin: Any
) -> None:
    """Step 3: the feature windows of the first backtest origin, from the same `make_windows`
    that training, backtests and the torch-free serving bundles run."""
    import pandas as pd

    from forecasting.config.model import TrainConfig
    from forecasting.features.windows import learn_categories, make_windows, window_families
    from training.train import resolve_features

    train_cfg = TrainConfig(
        data=str(data_config), name="demo_lightgbm", model=_lightgbm(cfg),
        horizon=cfg.backtest.horizon,
    )  # fmt: skip
    train_cfg = train_cfg.in_intervals(data_cfg.output_frequency.step)
    feats = resolve_features(train_cfg, prepared, data_cfg)
    _step(3, "build features: the windows training and the serving bundles both build")
    categories = learn_categories(prepared.static, feats.static)
    w = make_windows(
        prepared.frame, pd.DatetimeIndex([origin]), feats,
        *train_cfg.steps[:2], prepared.static, categories,
    )  # fmt: skip
    typer.echo(
        f"    first backtest origin {origin.tz_convert(feats.timezone):%Y-%m-%d %H:%M}: "
        f"{w.index['series_id'].nunique()} households x "
        f"{train_cfg.horizon} steps = {len(w):,} rows x {w.X.shape[1]} features"
    )
    for family, cols in window_families(feats, list(prepared.frame.columns)).items():
        if cols:
            typer.echo(f"    {family:<13} {len(cols):>2}: {', '.join(cols)}")


def _train_models(
    cfg: DemoConfig, data_config: Path, prepared: Any, test_start: Any, output: Path
) -> dict[str, Any]:
    """Step 4: the global LightGBM and CNN-LSTM forecasters and the LSTM autoencoder."""
    from forecasting.config.model import AutoencoderConfig, CNNLSTMConfig
    from forecasting.config.trainer import TrainerConfig

    m, d = cfg.model, cfg.deep
    end = _periods(cfg, prepared, test_start)["train"].end
    _step(
        4,
        f"train on origins up to {end} (early stopping on the next {m.validation_days} days): a "
        "global LightGBM and a CNN-LSTM (P10/P50/P90), and an LSTM autoencoder for anomalies",
    )
    trainer = TrainerConfig(
        accelerator="cpu", max_epochs=d.max_epochs, progress_bar="none", seed=cfg.synthetic.seed
    )
    deep_trainer = trainer.model_copy(update={"logger": "none"})
    runs: dict[str, dict[str, Any]] = {
        "lightgbm": {"model": _lightgbm(cfg)},
        "cnn_lstm": {
            "model": CNNLSTMConfig(hidden_size=d.hidden_size, conv_channels=d.hidden_size // 2),
            "trainer": deep_trainer,
        },
        "autoencoder": {
            "model": AutoencoderConfig(
                hidden_size=d.hidden_size, false_alarm_rate=d.anomaly_false_alarm_rate
            ),
            "trainer": deep_trainer,
            "origin_hour": None,  # windows at every 6th hour, not one origin a day
            "origin_step": 6,
        },
    }
    said = {  # what each run prints once it is trained, from its metrics
        "lightgbm": lambda r: (
            f"lightgbm   {r['train_rows']:,} rows; fit {r['fit_seconds']} s; "
            f"trees per quantile {r['best_iterations']}"
        ),
        "cnn_lstm": lambda r: (
            f"cnn_lstm   {r['train_windows']:,} windows; {r['epochs']} "
            f"epochs, {r['epoch_seconds_mean']:.1f} s each ({r['windows_per_second']:,.0f} windows/s)"
        ),
        "autoencoder": lambda r: (
            f"autoencoder {r['train_windows']:,} windows; {r['epochs']} "
            f"epochs; flag threshold calibrated for {d.anomaly_false_alarm_rate:.0%} false alarms"
        ),
    }
    models: dict[str, Any] = {}
    for kind, settings in runs.items():
        run_dir = output / f"run_{kind}"
        models[kind], r = _train(
            cfg, data_config, prepared, test_start, run_dir, name=f"demo_{kind}", **settings
        )
        typer.echo(f"    {said[kind](r)} -> {run_dir}")
    return models


def _tune_and_ensemble(cfg: DemoConfig, prepared: Any, output: Path) -> dict[str, Any]:
    """Step 5: a small Optuna study over the LightGBM (SQLite storage, pruning), then learned
    weights for an ensemble of the tuned LightGBM and the CNN-LSTM."""
    from forecasting.config.tuning import PrunerConfig, TuningConfig
    from forecasting.models.registry import load_run
    from training.ensemble import build_ensemble
    from training.tune import tune

    n = cfg.tuning.trials
    _step(5, f"tune the LightGBM with Optuna ({n} trials), then learn ensemble weights")
    t = time.perf_counter()
    shutil.rmtree(output / "tuning", ignore_errors=True)  # a fresh study on every demo run
    study = TuningConfig(
        name="demo_lightgbm",
        base=str(output / "run_lightgbm" / "config.yaml"),
        output=str(output / "tuning"),
        trials=n,
        params=["learning_rate", "num_leaves", "min_data_in_leaf", "feature_fraction"],
        fixed={"n_estimators": cfg.model.n_estimators},
        pruner=PrunerConfig(n_startup_trials=2, n_warmup_steps=20),
    )
    r = tune(study, prepared=prepared, echo=lambda _: None)
    s = r.summary
    states = ", ".join(f"{v} {k.lower()}" for k, v in s["states"].items())
    shown = ", ".join(
        f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in s["best_params"].items()
    )
    typer.echo(
        f"    study {r.study!r} in {r.storage}: {states} ({time.perf_counter() - t:.1f} s)\n"
        f"    best trial #{s['best_trial']}: validation pinball {s['best_value']:.4f} ({shown})\n"
        f"    -> {r.best_run}, {output / 'tuning' / 'summary.json'}, "
        f"{output / 'tuning' / 'history.png'}"
    )
    assert r.best_run is not None
    ens = output / "run_ensemble"
    e = build_ensemble([output / "run_cnn_lstm", r.best_run], ens, prepared=prepared)
    v = e.metrics["validation"]
    typer.echo(f"    ensemble weights (P10 / P50 / P90) on {e.metrics['validation_rows']:,} "
               "validation rows:")  # fmt: skip
    for i, name in enumerate(e.members):
        w = " / ".join(f"{x:.2f}" for x in e.weights[0, :, i])
        typer.echo(f"      {name:<20} {w}   (alone: pinball {v[name]['loss']:.4f})")
    typer.echo(
        f"      equal weights pinball {v['equal_weights']['loss']:.4f}, learned "
        f"{v['learned']['loss']:.4f} -> {ens}"
    )
    return {"lightgbm_tuned": load_run(r.best_run)[0], "ensemble": load_run(ens)[0]}


def _anomalies(model: Any, prepared: Any, faults: Any, output: Path) -> None:
    """Step: score every interval and compare the flags with the generator's meter faults."""
    import pandas as pd

    from forecasting.data.synthetic import ANOMALY_FAULTS

    scores = model.score(prepared.frame)
    scores.to_parquet(output / "anomalies.parquet", index=False)
    flagged = scores[scores["flag"]]
    f = faults[faults["kind"].isin(ANOMALY_FAULTS)].copy()
    for col in ("start", "end"):
        f[col] = pd.to_datetime(f[col], utc=True)
    f = f[(f["end"] >= scores["timestamp"].min()) & (f["start"] <= scores["timestamp"].max())]
    hit = [
        bool(
            (
                (flagged["series_id"] == row.series_id)
                & (flagged["timestamp"] >= row.start.floor("h"))
                & (flagged["timestamp"] <= row.end)
            ).any()
        )
        for row in f.itertuples()
    ]
    f = f.assign(detected=hit)
    typer.echo(
        f"    {len(flagged):,} of {len(scores):,} hourly intervals flagged "
        f"({flagged['series_id'].nunique()} households) -> {output / 'anomalies.parquet'}"
    )
    if len(f):
        by_kind = f.groupby("kind")["detected"].agg(["sum", "count"])
        text = ", ".join(f"{k} {int(r['sum'])}/{int(r['count'])}" for k, r in by_kind.iterrows())
        typer.echo(f"    meter faults of the generator caught (events with a flag): {text}")


def _serve(output: Path, paths: dict[str, Path]) -> None:
    """Export the LightGBM and CNN-LSTM runs, then forecast every household from the end of
    the data with `forecasting predict`'s job (torch-free, streamed, resumable)."""
    import pandas as pd

    from forecasting.export import export_run
    from serving.predict import PredictJob

    for kind in ("lightgbm", "cnn_lstm", "ensemble"):
        t = time.perf_counter()
        m = export_run(output / f"run_{kind}", output / f"bundle_{kind}")
        real = m["parity"]["real"]
        typer.echo(
            f"    {kind:<9} -> {output / f'bundle_{kind}'}: parity on {real['rows']:,} real input rows, "
            f"max abs diff {real['max_abs_diff']:.1e} ({time.perf_counter() - t:.1f} s)"
        )
    out = output / "predictions"
    shutil.rmtree(out, ignore_errors=True)  # a fresh job: the bundles were just re-exported
    job = PredictJob(
        output / "bundle_ensemble", str(paths["frame"]), out, static=str(paths["static"]),
        batch_size=20, progress=False, echo=lambda _: None, peaks=True,
    )  # fmt: skip
    s = job.run()
    typer.echo(
        f"    forecasting predict --bundle {output / 'bundle_ensemble'} --input {paths['frame']} "
        f"--static {paths['static']} --output {out} --batch-size 20 --peaks"
    )
    typer.echo(
        f"    {s['series_forecast']} of {s['series']} households from {s['origins'][0]}: "
        f"{s['forecast_rows']:,} rows in {s['parts']} parts, {s['seconds_this_run']:.1f} s; "
        f"series with errors: {s['series_with_errors']}"
    )
    if s["forecast_rows_without_future_covariates"]:
        typer.echo(
            f"    the data ends with the readings, so no weather forecast came with it: "
            f"{s['forecast_rows_without_future_covariates']:,} rows used the training mean"
        )
    f = pd.read_parquet(out / "forecasts")
    first = f[f["series_id"] == f["series_id"].min()].head(4)
    table = first.drop(columns=["origin"]).to_string(index=False, float_format=lambda v: f"{v:.3f}")
    typer.echo("    " + table.replace("\n", "\n    "))
    peaks = pd.read_parquet(out / "peaks").sort_values(["series_id", "day"]).head(3)
    typer.echo(f"    daily peaks ({s['peak_days']} household-days; {s['peak_paths']}):")
    shown = peaks[["series_id", "day", "peak_p10", "peak_p50", "peak_p90", "peak_hour",
                   "likeliest_probability"]]  # fmt: skip
    table = shown.to_string(index=False, float_format=lambda v: f"{v:.3f}")
    typer.echo("    " + table.replace("\n", "\n    "))


def _generate(cfg: DemoConfig, output: Path) -> tuple[dict[str, Path], Any]:
    """Step 1: synthetic households with the generator's listed faults."""
    import pandas as pd

    from forecasting.data.synthetic import SyntheticSpec, write_synthetic

    s = cfg.synthetic
    _step(
        1,
        f"generate {s.households} synthetic households x {s.days} days of half-hourly kWh (seed {s.seed})",
    )
    spec = SyntheticSpec(households=s.households, days=s.days, start=s.start, seed=s.seed)
    raw = write_synthetic(spec, output / "raw")
    faults = pd.read_csv(raw["faults"])
    counts = faults["kind"].value_counts().sort_index().items()
    typer.echo(
        f"    raw files in {raw['readings'].parent}; {len(faults)} faults injected "
        f"({', '.join(f'{k} {v}' for k, v in counts)})"
    )
    return raw, faults


def _prepare(data_config: Path, output: Path) -> tuple[Any, Any, dict[str, Path]]:
    """Step 2: validate, quarantine and prepare the raw files; report what happened."""
    from forecasting.config.data import load_data_config
    from forecasting.data.prepare import prepare, write_prepared
    from forecasting.data.report import render_report

    _step(2, f"validate and prepare with {data_config}")
    data_cfg = load_data_config(data_config)
    t = time.perf_counter()
    prepared = prepare(data_cfg)
    paths = write_prepared(prepared, output / "prepared")
    report = render_report(prepared.report, data_cfg.calendar.timezone)
    typer.echo("    " + report.replace("\n", "\n    "))
    typer.echo(
        f"    -> {paths['frame']} ({len(prepared.frame):,} hourly rows, {time.perf_counter() - t:.1f} s)"
    )
    return data_cfg, prepared, paths


def _backtest(
    cfg: DemoConfig, prepared: Any, splitter: Any, models: dict[str, Any], output: Path
) -> Any:
    """Step 6: every baseline and model over the same rolling origins; returns the
    LightGBM's forecasts (plotted in step 10)."""
    from forecasting.evaluation.backtest import backtest
    from forecasting.evaluation.metrics import score
    from forecasting.models.baselines import SeasonalNaive, WeekdayHourProfile, Yesterday

    b, q = cfg.backtest, cfg.quantiles
    freq = prepared.dataset["frequency"]
    _step(
        6,
        f"rolling-origin backtest: {b.horizon} h ahead, origins daily at {b.origin_hour:02d}:00 local, last {b.last_days} days",
    )
    contenders = {
        "seasonal_naive": SeasonalNaive(quantiles=q, freq=freq, horizon=b.horizon),
        "yesterday": Yesterday(quantiles=q, freq=freq, horizon=b.horizon),
        "weekday_profile": WeekdayHourProfile(
            weeks=2, quantiles=q, freq=freq, timezone=splitter.timezone
        ),
        **{k: models[k] for k in ("lightgbm", "lightgbm_tuned", "cnn_lstm", "ensemble")},
    }
    results, forecasts = {}, {}
    for name, m in contenders.items():
        t = time.perf_counter()
        fc = backtest(m, prepared.frame, splitter, static=prepared.static)
        forecasts[name] = fc
        results[name] = score(fc, q)
        results[name]["seconds"] = round(time.perf_counter() - t, 2)
    n_origins = forecasts["seasonal_naive"]["origin"].nunique()
    typer.echo(
        f"    {n_origins} origins x {prepared.frame['series_id'].nunique()} series; kWh per hour"
    )
    typer.echo("    " + _metrics_table(results).replace("\n", "\n    "))
    forecasts["lightgbm"].to_parquet(output / "backtest_lightgbm.parquet", index=False)
    write_json(output / "backtest_metrics.json", results)
    naive = results["seasonal_naive"]["mae"]
    ratios = {k: results[k]["mae"] / naive for k in ("lightgbm", "cnn_lstm", "ensemble")}  # type: ignore[operator]
    typer.echo(
        f"    MAE vs seasonal naive: LightGBM {ratios['lightgbm']:.2f}x, "
        f"CNN-LSTM {ratios['cnn_lstm']:.2f}x, ensemble {ratios['ensemble']:.2f}x"
    )
    return forecasts["lightgbm"]


def _explain(output: Path) -> None:
    """Step 7: SHAP values of the LightGBM run's P50, with the report."""
    from forecasting.explain.shap_report import explain_run

    _step(7, "explain the LightGBM forecasts with SHAP (TreeExplainer)")
    t = time.perf_counter()
    ex = explain_run(output / "run_lightgbm", output / "explain", max_rows=1000)
    top = ", ".join(f"{r['feature']} {r['share']:.0%}" for r in ex["top_features"][:4])
    typer.echo(
        f"    top drivers of P50: {top}; additivity error {ex['additivity_max_abs_error']:.0e}"
    )
    typer.echo(f"    -> {output / 'explain' / 'report.html'} ({time.perf_counter() - t:.1f} s)")


def _plots(cfg: DemoConfig, prepared: Any, fc: Any, cnn_lstm: Any, tz: str, output: Path) -> None:
    """Step 10: one household's last week of LightGBM forecasts and the CNN-LSTM's attention."""
    import numpy as np
    import pandas as pd

    from forecasting.evaluation.plots import plot_attention, plot_forecast

    _step(10, "plot")
    series = cfg.plot_series or str(prepared.frame.groupby("series_id")["target"].mean().idxmax())
    last = fc[fc["origin"] >= fc["origin"].max() - pd.Timedelta(days=6)]
    png = plot_forecast(
        last, series, output / "forecast.png", tz,
        f"{series}: LightGBM day-ahead forecasts (P10-P90), last 7 origins",
    )  # fmt: skip
    origin = fc["origin"].max()
    index, weights = cnn_lstm.attention(prepared.frame, pd.DatetimeIndex([origin]), prepared.static)
    row = int(np.flatnonzero(index["series_id"].to_numpy() == series)[0])
    att = plot_attention(
        weights[row], output / "attention.png",
        f"{series}: CNN-LSTM attention over the last {weights.shape[2]} h, "
        f"origin {origin.tz_convert(tz):%Y-%m-%d %H:%M}",
    )  # fmt: skip
    typer.echo(f"    {png}\n    {att}")


def run_demo(config_path: Path, output: Path) -> None:
    """The sixteen steps, each printing what it did; everything lands under `output`."""
    import pandas as pd

    from forecasting.cli.demo_adapters import (
        bills_step,
        flexibility_step,
        impute_step,
        monitor_step,
        tariff_step,
    )
    from forecasting.evaluation.backtest import RollingOrigin

    cfg = load_yaml_model(DemoConfig, config_path)
    t_all = time.perf_counter()
    # the demo replaces its own earlier output (it removes its study and predictions), so it
    # refuses a folder it did not make; `backtest_metrics.json` marks outputs from before demo.json
    check_output_folder(
        output, (DEMO_MARKER, "backtest_metrics.json"), "demo output", [config_path]
    )
    output.mkdir(parents=True, exist_ok=True)
    write_json(output / DEMO_MARKER, {"config": str(config_path)})

    raw, faults = _generate(cfg, output)
    data_cfg, prepared, paths = _prepare(raw["config"], output)
    tz, b = data_cfg.calendar.timezone, cfg.backtest
    end = prepared.frame["timestamp"].max()
    splitter = RollingOrigin(
        horizon=b.horizon, lookback=b.lookback, step=b.step, origin_hour=b.origin_hour,
        timezone=tz, start=end - pd.Timedelta(days=b.last_days), end=end,
    )  # fmt: skip
    _features(cfg, raw["config"], data_cfg, prepared, splitter.origins(prepared.frame)[0])
    test_start = (end - pd.Timedelta(days=b.last_days)).tz_convert(tz)
    models = _train_models(cfg, raw["config"], prepared, test_start, output)
    models |= _tune_and_ensemble(cfg, prepared, output)
    fc = _backtest(cfg, prepared, splitter, models, output)
    _explain(output)
    _step(8, "score every hour of every household with the LSTM autoencoder and flag anomalies")
    _anomalies(models["autoencoder"], prepared, faults, output)
    _step(9, "export to ONNX bundles (parity checked) and batch-forecast on onnxruntime")
    _serve(output, paths)
    _plots(cfg, prepared, fc, models["cnn_lstm"], tz, output)
    _step(
        11,
        "bill every household's readings under a flat and a TOU tariff; bill tomorrow's forecasts",
    )
    bills_step(output, raw["config"], raw["households"])
    _step(12, "impute hourly profiles from monthly totals with the LightGBM bundle's archetypes")
    impute_step(output, prepared)
    _step(13, "measure a trial's price response, then choose a tariff for its households")
    tariff_step(output)
    _step(14, "watch for drift: recent data against the reference the LightGBM bundle stored")
    monitor_step(output, cfg.synthetic, raw["config"])
    _step(15, "flexibility: schedule a home's appliances, advise on tariffs, target dToU signals")
    flexibility_step(output, raw["config"], tz)
    _step(16, "serve: the HTTP API on 127.0.0.1, each endpoint family called once with a demo key")
    from forecasting.cli.demo_service import service_step

    service_step(output)
    typer.secho(
        f"\ndone in {time.perf_counter() - t_all:.1f} s; everything is under {output}/", bold=True
    )
