"""Command tree. Each command imports what it needs when it runs, so `--help` stays fast."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from forecasting.cli.engine_options import (
    ActorsOption,
    AddressOption,
    CpusPerActorOption,
    EngineOption,
    WorkersOption,
)
from forecasting.cli.extras import require_training_stack
from forecasting.folders import write_json

app = typer.Typer(
    help="Smart-meter forecasting: validate and prepare meter data, forecast, export, bill.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
data_app = typer.Typer(help="Validate, prepare and generate meter data.", no_args_is_help=True)
app.add_typer(data_app, name="data")

ConfigOpt = Annotated[
    Path, typer.Option("--config", "-c", help="data config YAML (configs/data/*.yaml)")
]
RunDataConfigOpt = Annotated[
    Path | None,
    typer.Option("--data-config", help="how to read INPUT; default: the run's data config"),
]
TrackOpt = Annotated[
    bool, typer.Option("--track", help="log to MLflow; default store ./mlruns.db + ./mlartifacts")
]
TrackingUriOpt = Annotated[
    str | None,
    typer.Option(help="MLflow tracking URI (default: MLFLOW_TRACKING_URI); turns tracking on"),
]
ExperimentOpt = Annotated[
    str | None,
    typer.Option(help="MLflow experiment; default MLFLOW_EXPERIMENT_NAME or forecasting"),
]


def open_tracker(uri: str | None, track: bool, experiment: str | None, command: str) -> Any:
    """The MLflow store a command logs to (checked now, before the work), or None: tracking
    is off unless --track, --tracking-uri or MLFLOW_TRACKING_URI says otherwise."""
    from forecasting.tracking import Tracker, tracking_uri

    where = tracking_uri(uri, track)
    if where is None:
        return None
    return Tracker.open(where, experiment, f"`forecasting {command}` with tracking")


@data_app.command("validate")
def validate(
    config: ConfigOpt,
    input: Annotated[
        str | None, typer.Argument(help="file, folder or glob; defaults to the config's path")
    ] = None,
    quarantine: Annotated[
        Path | None, typer.Option(help="write rejected rows here (parquet)")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print the full report as JSON")] = False,
) -> None:
    """Check INPUT against CFG and print the report.

    Exit 0 when clean, 1 when rows were quarantined or gaps remain, 2 when unusable.
    """
    import json

    from forecasting.config.data import load_data_config
    from forecasting.data.prepare import prepare, write_quarantine
    from forecasting.data.report import render_report

    cfg = load_data_config(config)
    prepared = prepare(cfg, input)
    if quarantine is not None:
        write_quarantine(prepared.quarantine, quarantine)
    if json_out:
        typer.echo(json.dumps(prepared.report, indent=2, default=str))
    else:
        typer.echo(render_report(prepared.report, cfg.calendar.timezone))
        if quarantine is not None:
            typer.echo(f"\nquarantine: {len(prepared.quarantine):,} rows written to {quarantine}")
        verdict = {0: "clean", 1: "issues found (rows quarantined or gaps remain)"}[
            prepared.exit_code
        ]
        typer.echo(f"result: {verdict}")
    raise typer.Exit(prepared.exit_code)


@data_app.command("prepare")
def prepare_cmd(
    config: ConfigOpt,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="folder for frame, static, report")
    ],
    input: Annotated[
        str | None, typer.Option("--input", "-i", help="override the config's input path")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Write the canonical hourly frame, static table, quarantine and report (JSON) to OUTPUT."""
    from forecasting.config.data import load_data_config
    from forecasting.data.prepare import prepare, write_prepared
    from forecasting.data.report import render_report

    cfg = load_data_config(config)
    prepared = prepare(cfg, input)
    paths = write_prepared(prepared, output)
    if not quiet:
        typer.echo(render_report(prepared.report, cfg.calendar.timezone))
        typer.echo("")
    typer.echo(
        f"wrote {len(prepared.frame):,} rows x {prepared.frame.shape[1]} columns for "
        f"{prepared.report['series']:,} series to {paths['frame']}"
    )
    for key in ("static", "quarantine", "gaps", "report", "dataset"):
        typer.echo(f"  {key:<10} {paths[key]}")


@data_app.command("init")
def init_cmd(
    path: Annotated[str, typer.Argument(help="a readings file (CSV or parquet), folder or glob")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="data config YAML to write")
    ] = Path("data.yaml"),
    name: Annotated[str | None, typer.Option(help="dataset name (default: the file's)")] = None,
    force: Annotated[bool, typer.Option(help="replace an existing OUTPUT")] = False,
) -> None:
    """Inspect a readings file and write a starting data config (columns, interval, clock,
    candidate covariates), each guess commented for you to check."""
    from forecasting.data.init import inspect_file, write_config
    from forecasting.errors import InputError

    if output.exists() and not force:
        raise InputError(f"{output} exists; choose another --output or pass --force")
    guess = inspect_file(path)
    write_config(guess, output, name)
    typer.echo(
        f"{guess.path}: timestamp {guess.timestamp!r}"
        + (f" ({guess.timestamp_format})" if guess.timestamp_format else "")
        + f", series {guess.series_id!r}, target {guess.target!r} ({guess.kind}), "
        f"every {guess.frequency}; {len(guess.covariates)} covariate(s), "
        f"{len(guess.static)} static column(s)"
    )
    typer.echo(f"wrote {output}: check the lines marked CHECK, then `forecasting data validate "
               f"--config {output}`")  # fmt: skip


@data_app.command("synth")
def synth(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="folder for the raw files and data.yaml")
    ],
    households: Annotated[int, typer.Option(min=1, help="number of households")] = 40,
    days: Annotated[int, typer.Option(min=2, help="days of data")] = 180,
    start: Annotated[str, typer.Option(help="first day (local time)")] = "2023-10-15",
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    faults: Annotated[bool, typer.Option(help="inject faults (bad rows, gaps, anomalies)")] = True,
    interval: Annotated[
        str, typer.Option(help="reading interval: 5min, 10min, 15min or 30min")
    ] = "30min",
    output_interval: Annotated[
        str, typer.Option(help="the data config's output_frequency (a multiple of the interval)")
    ] = "1h",
    drift: Annotated[
        str, typer.Option(help="plant a drift for monitors: none, ev or heating (drift.csv)")
    ] = "none",
    drift_day: Annotated[int, typer.Option(help="the day (from 0) the drift starts")] = 0,
    drift_share: Annotated[
        float, typer.Option(help="share of the households without it that gain it")
    ] = 0.3,
) -> None:
    """Generate a synthetic smart-meter dataset (raw files with dirt, plus its data config)."""
    from forecasting.data.synthetic import SyntheticSpec, write_synthetic

    spec = SyntheticSpec(
        households=households, days=days, start=start, seed=seed, faults=faults,
        interval=interval, output_interval=output_interval, drift=drift, drift_day=drift_day,
        drift_share=drift_share,
    )  # fmt: skip
    paths = write_synthetic(spec, output)
    for key, path in paths.items():
        typer.echo(f"{key:<10} {path}")


@app.command("demo")
def demo(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="folder for everything the demo writes")
    ] = Path("demo_output"),
    config: Annotated[Path, typer.Option("--config", "-c", help="demo config")] = Path(
        "configs/demo/demo.yaml"
    ),
) -> None:
    """Run the whole path on generated data and print what happened at each step."""
    require_training_stack("demo")
    from forecasting.cli.demo import run_demo

    run_demo(config, output)


@app.command("train")
def train_cmd(
    config: Annotated[
        Path, typer.Option("--config", "-c", help="model config YAML (configs/models/*.yaml)")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="run folder to write")],
    input: Annotated[
        str | None, typer.Option("--input", "-i", help="override the data config's input path")
    ] = None,
    track: TrackOpt = False,
    tracking_uri: TrackingUriOpt = None,
    experiment: ExperimentOpt = None,
) -> None:
    """Train the model of CFG on its data and write a run folder (model, config, metrics)."""
    require_training_stack("train")
    import json

    from training.train import train

    tracker = open_tracker(tracking_uri, track, experiment, "train")
    result = train(config, output, input)
    m = result.metrics
    if m.get("global_rank", 0) != 0:  # a DDP worker: rank 0 writes and reports the run
        return
    if tracker is not None:
        from training.tracking import log_run_folder

        run_id = log_run_folder(tracker, result.run_dir, "train")
        result.files.append("tracking.json")
        typer.echo(f"tracked as MLflow run {run_id} in {tracker.uri}")
    typer.echo(f"trained {config} -> {result.run_dir}")
    keys = ("train_rows", "train_windows", "train_series", "train_origins", "fit_seconds")
    for key in (*keys, "best_iterations", "epochs", "windows_per_second", "threshold"):
        if key in m:
            typer.echo(f"  {key:<19} {m[key]}")
    if "validation" in m:
        typer.echo(f"  {'validation':<19} {json.dumps(m['validation'])}")
    if "interval_calibration" in m:
        typer.echo(f"  {'intervals':<19} {calibration_line(m['interval_calibration'])}")
    typer.echo(f"  {'files':<19} {', '.join(result.files)}")


def calibration_line(info: dict[str, Any]) -> str:
    """What the interval calibration did, in one line (or why there is none)."""
    if info.get("method") == "none":
        return f"not calibrated ({info.get('skipped', 'interval_calibration: none')})"
    before, after = info.get("coverage_before"), info.get("coverage_after")
    cover = f": outer interval covers {before:.1%} -> {after:.1%}" if before is not None else ""
    return (f"calibrated per horizon step on {info['validation_rows']:,} validation rows "
            f"(split conformal){cover}")  # fmt: skip


@app.command("tune")
def tune_cmd(
    config: Annotated[
        Path, typer.Option("--config", "-c", help="tuning config YAML (configs/tuning/*.yaml)")
    ],
    trials: Annotated[
        int | None, typer.Option(help="finished trials the study should hold (all workers)")
    ] = None,
    storage: Annotated[
        str | None,
        typer.Option(help="SQLAlchemy URL of the study database; default OUTPUT/study.db"),
    ] = None,
    study: Annotated[str | None, typer.Option(help="study name; default: the config's")] = None,
    timeout: Annotated[
        float | None, typer.Option(help="minutes after which this worker starts no new trial")
    ] = None,
    worker: Annotated[
        int, typer.Option(help="this worker's number (0, 1, ...): seeds its sampler apart")
    ] = 0,
    train_best: Annotated[
        bool, typer.Option(help="train the best trial into OUTPUT/best when the study is done")
    ] = True,
    input: Annotated[
        str | None, typer.Option("--input", "-i", help="override the data config's input path")
    ] = None,
    threads: Annotated[
        int | None,
        typer.Option(help="cores this worker's models use (split the cores between workers)"),
    ] = None,
    track: TrackOpt = False,
    tracking_uri: TrackingUriOpt = None,
    experiment: ExperimentOpt = None,
) -> None:
    """Search a model family's hyper-parameters with Optuna (resumable, shareable by workers).

    The objective is the validation pinball loss of a rolling-origin backtest. Run the same
    command in several processes, or on several machines with one --storage URL, to share
    the study; a killed worker's study resumes where it stopped.
    """
    require_training_stack("tune")
    from training.tune import tune

    if trials is not None and trials < 1:
        from forecasting.errors import InputError

        raise InputError(f"--trials must be at least 1, got {trials}")
    tracker = open_tracker(tracking_uri, track, experiment, "tune")
    r = tune(
        config, trials, storage, study, timeout, worker, train_best, input, typer.echo, threads
    )
    s = r.summary
    if tracker is not None:
        from training.tracking import log_tune

        run_id = log_tune(tracker, s, r.output, r.best_run, worker)
        typer.echo(f"tracked as MLflow run {run_id} (a child run per trial) in {tracker.uri}")
    states = ", ".join(f"{n} {k.lower()}" for k, n in s["states"].items())
    typer.echo(f"study {r.study!r} ({r.storage}): {states or 'no trials'}")
    if "best_value" in s:
        typer.echo(f"  best trial #{s['best_trial']}: loss {s['best_value']:.5f}")
        typer.echo(f"  best params: {json_line(s['best_params'])}")
        if s.get("param_importances"):
            typer.echo(f"  importances: {json_line(s['param_importances'])}")
    if r.best_run is not None:
        typer.echo(f"  best run: {r.best_run}")
    typer.echo(f"  summary: {r.output / 'summary.json'}, {r.output / 'history.png'}")


def json_line(obj: dict[str, object]) -> str:
    """A flat mapping on one line, floats to 4 significant digits."""
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in obj.items())


@app.command("ensemble")
def ensemble_cmd(
    runs: Annotated[
        list[Path], typer.Option("--runs", "-r", help="member run folders (2 or more)")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="ensemble run folder to write")],
    start: Annotated[
        str | None, typer.Option(help="first weight-fitting origin date; default: validation")
    ] = None,
    end: Annotated[str | None, typer.Option(help="last weight-fitting origin date")] = None,
    horizon_blocks: Annotated[
        int, typer.Option(help="separate weights for this many blocks of horizon steps")
    ] = 1,
    sum_to_one: Annotated[
        bool, typer.Option(help="constrain each quantile's weights to sum to 1")
    ] = False,
    input: Annotated[
        str | None, typer.Option("--input", "-i", help="data for the validation backtests")
    ] = None,
    data_config: RunDataConfigOpt = None,
    interval_calibration: Annotated[
        str,
        typer.Option(
            help="conformal: calibrate the combined quantiles per horizon step on the "
            "same validation backtests; none: leave them as combined"
        ),
    ] = "conformal",
    track: TrackOpt = False,
    tracking_uri: TrackingUriOpt = None,
    experiment: ExperimentOpt = None,
) -> None:
    """Learn non-negative member weights per quantile minimising validation pinball loss.

    The ensemble run evaluates, exports and predicts like any run.
    """
    require_training_stack("ensemble")
    import json

    from forecasting.errors import InputError
    from training.ensemble import build_ensemble

    if interval_calibration not in ("conformal", "none"):
        raise InputError(f"--interval-calibration {interval_calibration!r}: use conformal or none")
    tracker = open_tracker(tracking_uri, track, experiment, "ensemble")
    r = build_ensemble(runs, output, start, end, input, data_config, horizon_blocks, sum_to_one,
                       interval_calibration=interval_calibration)  # fmt: skip
    if tracker is not None:
        from training.tracking import linked_run, log_run_folder

        members: dict[str, str | None] = {f"member.{i}": str(r) for i, r in enumerate(runs)}
        members |= {f"member_run_id.{i}": linked_run(r, tracker) for i, r in enumerate(runs)}
        extra = {"horizon_blocks": horizon_blocks, "sum_to_one": sum_to_one, **members}
        run_id = log_run_folder(tracker, output, "ensemble", extra=extra)
        typer.echo(f"tracked as MLflow run {run_id} in {tracker.uri}")
    m = r.metrics
    typer.echo(
        f"ensemble of {len(r.members)} runs -> {r.run_dir} (validation "
        f"{m['validation_period']['start']}..{m['validation_period']['end']}, "
        f"{m['validation_rows']:,} rows)"
    )
    from forecasting.evaluation.metrics import quantile_column

    quantiles = json.loads((output / "run.json").read_text())["quantiles"]
    cols = [quantile_column(q) for q in quantiles]
    typer.echo("  weights " + " ".join(f"{n:>14}" for n in r.members))
    for k, block in enumerate(r.blocks):
        for j, c in enumerate(cols):
            label = f"{c} h{block[0]}-{block[1]}" if len(r.blocks) > 1 else c
            row = " ".join(f"{w:>14.3f}" for w in r.weights[k, j])
            typer.echo(f"  {label:<14}{row}")
    typer.echo(f"  {'validation':<22}{'loss':>9}{'MAE':>9}")
    for name, s in m["validation"].items():
        typer.echo(f"  {name:<22}{s['loss']:>9.5f}{s.get('mae', float('nan')):>9.4f}")
    typer.echo(f"  intervals: {calibration_line(m['interval_calibration'])}")


@app.command("evaluate")
def evaluate_cmd(
    run: Annotated[Path, typer.Option("--run", "-r", help="run folder from `train`")],
    start: Annotated[str, typer.Option(help="first origin date, local time (YYYY-MM-DD)")],
    end: Annotated[str, typer.Option(help="last origin date, local time (YYYY-MM-DD)")],
    output: Annotated[Path, typer.Option("--output", "-o", help="metrics JSON to write")],
    input: Annotated[
        str | None, typer.Option("--input", "-i", help="data to backtest on (file/folder/glob)")
    ] = None,
    data_config: RunDataConfigOpt = None,
    forecasts: Annotated[
        Path | None, typer.Option(help="also write the model's forecasts here (parquet)")
    ] = None,
    origin_hour: Annotated[
        list[int] | None,
        typer.Option(help="local hour of the daily origins (repeat it for several a day)"),
    ] = None,
    recalibrate: Annotated[
        str | None,
        typer.Option(help="refit as the origin moves: daily or weekly (rolling recalibration)"),
    ] = None,
    calibration_days: Annotated[
        int | None,
        typer.Option(min=1, help="--recalibrate: refit on the last N days (default: all before)"),
    ] = None,
    epochs: Annotated[
        int, typer.Option(min=1, help="--recalibrate, deep models: warm-start epochs per refit")
    ] = 1,
    track: TrackOpt = False,
    tracking_uri: TrackingUriOpt = None,
    experiment: ExperimentOpt = None,
) -> None:
    """Backtest a run with origins every local day (at 00:00, or each --origin-hour), against
    a seasonal naive of one week at the data's interval. With --recalibrate the model is
    refitted before each day (or week) of origins on the data known by then, as the price
    literature evaluates (boosted models from scratch, deep ones warm-started)."""
    require_training_stack("evaluate")

    from forecasting.cli.tables import number, table
    from training.evaluate import evaluate_run

    hours = tuple(origin_hour) if origin_hour else (0,)
    if recalibrate is not None and recalibrate not in ("daily", "weekly"):
        from forecasting.errors import InputError

        raise InputError(f"--recalibrate {recalibrate!r}: use daily or weekly")
    tracker = open_tracker(tracking_uri, track, experiment, "evaluate")
    result, fcs = evaluate_run(run, start, end, input, data_config, hours=hours,
                               recalibrate=recalibrate, calibration_days=calibration_days,
                               epochs=epochs, progress=typer.echo)  # fmt: skip
    output.parent.mkdir(parents=True, exist_ok=True)
    write_json(output, result)
    if forecasts is not None:
        fcs["model"].to_parquet(forecasts, index=False)
    m, b = result["model"], result["seasonal_naive"]
    at = ", ".join(f"{h:02d}:00" for h in result["origin_hours"])
    typer.echo(
        f"{result['n_series']} series x {result['n_origins']} origins "
        f"({result['start']}..{result['end']} at {at}, {result['timezone']})"
    )
    cover = next((k for k in m if k.startswith("coverage_")), None)
    rows = [
        [
            name,
            number(r["mae"]),
            number(r["rmse"]),
            number(r["qrisk"].get("p50")),
            number(r["qrisk"].get("p90")),
            number(r[cover] if cover else None, 3),
            number(r["peak_error"]),
        ]
        for name, r in (("model", m), ("seasonal_naive", b))
    ]
    typer.echo(table(["", "MAE", "RMSE", "qrisk50", "qrisk90", "cover", "peak"], rows))
    if "mae_ratio_vs_seasonal_naive" in result:
        typer.echo(f"MAE ratio vs seasonal naive: {result['mae_ratio_vs_seasonal_naive']:.3f}")
    if result.get("recalibration"):
        r = result["recalibration"]
        typer.echo(
            f"recalibrated {r['recalibrate']}: {r['blocks']} refits in {r['refit_seconds']} s"
        )
    if m["n_missing_forecasts"]:
        typer.echo(f"rows without a model forecast: {m['n_missing_forecasts']:,}")
    typer.echo(f"wrote {output}")
    if tracker is not None:
        from training.tracking import log_evaluate

        params = {"run": str(run), "start": start, "end": end, "origin_hours": list(hours),
                  "recalibrate": recalibrate, "calibration_days": calibration_days,
                  "input": input}  # fmt: skip
        run_id = log_evaluate(tracker, run, result, output, params)
        typer.echo(f"tracked as MLflow run {run_id} in {tracker.uri}")


@app.command("export")
def export_cmd(
    run: Annotated[Path, typer.Option("--run", "-r", help="run folder from `train`")],
    output: Annotated[Path, typer.Option("--output", "-o", help="bundle folder to write")],
    input: Annotated[
        str | None, typer.Option("--input", "-i", help="data for the parity check on real windows")
    ] = None,
    data_config: RunDataConfigOpt = None,
    rtol: Annotated[float, typer.Option(help="parity: relative tolerance")] = 1e-4,
    atol: Annotated[float, typer.Option(help="parity: absolute tolerance")] = 1e-5,
    register: Annotated[
        str | None,
        typer.Option(help="register the bundle as a new version of this MLflow model name"),
    ] = None,
    alias: Annotated[
        str | None, typer.Option(help="--register: point this alias (e.g. champion) at it")
    ] = None,
    track: TrackOpt = False,
    tracking_uri: TrackingUriOpt = None,
    experiment: ExperimentOpt = None,
) -> None:
    """Export a run to an ONNX bundle, after checking ONNX against the native model.

    Parity runs on fresh random inputs and, when the run's data can be read, on real windows;
    above the tolerance nothing is written.
    """
    require_training_stack("export")
    from forecasting.export import export_run

    if alias is not None and register is None:
        from forecasting.errors import InputError

        raise InputError("--alias names a version of a registered model: give --register NAME")
    tracker = open_tracker(tracking_uri, track or register is not None, experiment, "export")
    manifest = export_run(run, output, input, data_config, rtol, atol)
    p = manifest["parity"]
    typer.echo(f"exported {manifest['kind']} run {run} -> {output}")
    for case in ("random", "real"):
        r = p.get(case, {})
        if "max_abs_diff" in r:
            typer.echo(
                f"  parity {case:<7} {r['rows']} rows: max abs diff {r['max_abs_diff']:.2e}, "
                f"max rel diff {r['max_rel_diff']:.2e}"
                + (
                    f" (against native float64; native float32 differs by "
                    f"{r['native_float32_max_abs_diff']:.2e})"
                    if "native_float32_max_abs_diff" in r
                    else ""
                )
            )
        elif r:
            typer.echo(f"  parity {case:<7} {r['skipped']}")
    typer.echo(f"  files {', '.join(manifest['files'])} + manifest.json")
    if tracker is not None:
        from training.tracking import log_export

        run_id, version = log_export(tracker, run, output, manifest, register, alias)
        typer.echo(f"tracked as MLflow run {run_id} in {tracker.uri}")
        if version is not None:
            named = f" (alias {alias})" if alias else ""
            typer.echo(f"registered models:/{register}/{version}{named}")


@app.command("predict")
def predict_cmd(
    bundle: Annotated[
        str,
        typer.Option(
            "--bundle", "-b", help="bundle folder from `export`, or models:/NAME/VERSION|@ALIAS"
        ),
    ],
    input: Annotated[
        str,
        typer.Option(
            "--input", "-i", help="canonical long data: a parquet file, a folder of parts, or CSV"
        ),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="folder for the forecast parts")],
    origin: Annotated[
        list[str] | None,
        typer.Option(help="forecast origin, UTC ISO time (repeat it); default: end of the input"),
    ] = None,
    batch_size: Annotated[
        int, typer.Option(min=1, help="series per group (memory grows with this, not the input)")
    ] = 1000,
    static: Annotated[
        str | None, typer.Option(help="static table (series_id + the bundle's static columns)")
    ] = None,
    threads: Annotated[
        int | None, typer.Option(min=1, help="onnxruntime threads (default: all cores)")
    ] = None,
    session_batch: Annotated[
        int | None, typer.Option(min=1, help="rows per onnxruntime call (default: tuned per kind)")
    ] = None,
    progress: Annotated[
        bool | None, typer.Option("--progress/--no-progress", help="default: bar on a terminal")
    ] = None,
    int8: Annotated[
        bool,
        typer.Option(help="deep bundles: int8 dynamic quantisation (see onnx_throughput for cost)"),
    ] = False,
    peaks: Annotated[
        bool,
        typer.Option(
            help="also write peaks/: each series' daily peak (size with P10/P50/P90, "
            "likeliest time and its probability) from the same forecast"
        ),
    ] = False,
    data_config: Annotated[
        Path | None,
        typer.Option(
            "--data-config",
            help="INPUT is raw meter files: read them with this data config (as `data prepare`)",
        ),
    ] = None,
    tracking_uri: Annotated[
        str | None, typer.Option(help="--bundle models:/...: the MLflow registry's URI")
    ] = None,
    engine: EngineOption = "local",
    workers: WorkersOption = 1,
    address: AddressOption = None,
    actors: ActorsOption = None,
    cpus_per_actor: CpusPerActorOption = 1,
) -> None:
    """Forecast every series of INPUT with a bundle on onnxruntime (torch-free), in constant memory.

    INPUT is the canonical long frame, or with --data-config the raw meter files as the data
    config reads them (validated, quarantined, resampled, with its covariates and static table;
    prepared once into OUTPUT/_job/prepared, reused when the job resumes).

    Writes part-*.parquet (series_id, origin, timestamp, horizon, one column per quantile),
    errors.csv (series that could not be forecast, with the reason) and summary.json. A killed
    job run again with the same arguments resumes where it stopped.

    Exit 0 when at least one series was forecast (the others are in errors.csv), 1 when none
    could be, 2 when the bundle or the input cannot be used at all.
    """
    from forecasting.tracking import bundle_folder
    from serving.engines import engine_for
    from serving.predict import PredictJob

    origins = [_utc(o, "--origin") for o in origin] if origin else None
    runner = engine_for(engine, workers, address, actors, cpus_per_actor)
    folder = bundle_folder(bundle, tracking_uri)  # a registered bundle: downloaded once
    if data_config is not None:
        from serving.predict import JOB, check_job_folder
        from serving.raw_input import prepared_input

        check_job_folder(output)
        input, prepared_static = prepared_input(input, data_config, output / JOB, typer.echo)
        static = static or prepared_static
    job = PredictJob(
        folder, input, output, origins, batch_size, static, threads, session_batch, progress,
        int8, peaks, echo=typer.echo, engine=runner,
    )  # fmt: skip
    s = job.run()
    if s.get("already_done"):
        typer.echo(f"{output} is already complete; nothing to do")
    typer.echo(
        f"forecast {s['series_forecast']:,} of {s['series']:,} series from "
        f"{', '.join(s['origins'])} with the {s['kind']} bundle: {s['forecast_rows']:,} rows in "
        f"{s['parts']} parts ({s['series_per_s']:,.0f} series/s this run)"
    )
    if s["forecast_rows_without_future_covariates"]:
        typer.echo(
            f"forecast rows whose known-future covariates are missing from the input (filled "
            f"with the training mean): {s['forecast_rows_without_future_covariates']:,}"
        )
    if s["series_with_errors"]:
        typer.echo(f"series with errors: {s['series_with_errors']:,} (see {output}/errors.csv)")
    if "peak_days" in s:
        typer.echo(f"daily peaks: {s['peak_days']:,} series-days in {output}/peaks "
                   f"({s['peak_paths']})")  # fmt: skip
    typer.echo(f"wrote {output}")
    if s["series_forecast"] == 0:
        typer.echo(
            f"error: none of the {s['series']:,} series could be forecast; the reasons are in "
            f"{output}/errors.csv",
            err=True,
        )
        raise typer.Exit(1)


def _utc(text: str, option: str) -> object:
    import pandas as pd

    from forecasting.errors import InputError

    try:
        ts = pd.Timestamp(text)
    except (ValueError, OverflowError):
        ts = pd.NaT
    if pd.isna(ts):
        raise InputError(f"{option} {text!r} is not an ISO 8601 date-time")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


@app.command("anomalies")
def anomalies_cmd(
    run: Annotated[Path, typer.Option("--run", "-r", help="run folder of an anomaly model")],
    input: Annotated[str, typer.Option("--input", "-i", help="data to score (file/folder/glob)")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="scores and flags per interval (.parquet/.csv)")
    ],
    data_config: RunDataConfigOpt = None,
    start: Annotated[
        str | None, typer.Option(help="first date to score, local time (default: all)")
    ] = None,
    end: Annotated[str | None, typer.Option(help="last date to score, local time")] = None,
) -> None:
    """Score every series and interval with an LSTM-autoencoder run and flag anomalies.

    Writes series_id, timestamp, target, score (point, window), threshold, flag, and a summary
    JSON beside it.
    """
    require_training_stack("anomalies")

    from forecasting.anomaly.detect import detect_run, write_scores

    scores, summary = detect_run(run, input, data_config, start, end)
    write_scores(scores, output)
    summary_path = output.with_suffix(".summary.json")
    write_json(summary_path, summary)
    typer.echo(
        f"scored {summary['scored_intervals']:,} intervals of {summary['series']} series "
        f"({summary['start']} .. {summary['end']}); threshold {summary['threshold']:.3f}"
    )
    typer.echo(f"flagged {summary['flagged_intervals']:,} intervals")
    for sid, n in list(summary["top_series"].items())[:5]:
        typer.echo(f"  {sid:<16}{n:>6} flagged")
    if summary["skipped"]:
        typer.echo(f"skipped (too little history): {summary['series_skipped']} series/windows")
    typer.echo(f"wrote {output} and {summary_path}")


@app.command("explain")
def explain_cmd(
    output: Annotated[Path, typer.Option("--output", "-o", help="folder for the report")],
    run: Annotated[
        Path | None, typer.Option("--run", "-r", help="run folder of a tree model (TreeSHAP)")
    ] = None,
    bundle: Annotated[
        Path | None,
        typer.Option(
            "--bundle", "-b", help="an exported forecasting bundle (any kind; torch-free)"
        ),
    ] = None,
    input: Annotated[
        str | None, typer.Option("--input", "-i", help="data to explain forecasts on")
    ] = None,
    data_config: RunDataConfigOpt = None,
    start: Annotated[
        str | None, typer.Option(help="first origin date (default: 4 weeks before the end)")
    ] = None,
    end: Annotated[
        str | None, typer.Option(help="last origin date (default: last full day)")
    ] = None,
    quantile: Annotated[float, typer.Option(help="which quantile's output to explain")] = 0.5,
    max_rows: Annotated[
        int, typer.Option(min=10, help="forecast rows (--run) or windows (--bundle) to explain")
    ] = 2000,
    permutations: Annotated[
        int, typer.Option(min=2, help="--bundle: orders of the families sampled")
    ] = 8,
    customer: Annotated[
        str | None, typer.Option(help="--bundle: a household to explain in words and a waterfall")
    ] = None,
) -> None:
    """Explain forecasts. --run: SHAP (TreeExplainer) of a tree model's features, importance
    CSV, plots and an HTML report. --bundle: Shapley values of feature families (history by
    how far back, each covariate, calendar, each household attribute) of any exported
    forecaster on onnxruntime, per step ahead and quantile, with a household's story."""
    from forecasting.errors import InputError

    if (run is None) == (bundle is None):
        raise InputError("give one of --run (a tree model's run folder) or --bundle (any bundle)")
    if bundle is not None:
        _explain_bundle(bundle, output, input, data_config, start, end, max_rows, permutations,
                        customer)  # fmt: skip
        return
    assert run is not None
    require_training_stack("explain")
    from forecasting.explain.shap_report import explain_run
    from forecasting.models.deep.estimator import SequenceForecaster
    from forecasting.models.kinds import model_kind
    from forecasting.models.registry import load_run

    model, meta = load_run(run)
    if model_kind(meta["kind"]).capabilities.anomaly:  # the autoencoder: why days look unusual
        from forecasting.explain.deep import explain_anomaly_run

        a = explain_anomaly_run(model, meta, run, output, input, data_config, start, end,
                                min(max_rows, 100_000), permutations, customer)  # fmt: skip
        _say_families(a)
        typer.echo(f"wrote {', '.join(a['files'])} to {output}")
        return
    if isinstance(model, SequenceForecaster):  # family Shapley on the network, and its attention
        from forecasting.explain.deep import explain_deep_run

        d = explain_deep_run(model, meta, run, output, input, data_config, start, end,
                             min(max_rows, 100_000), permutations, customer)  # fmt: skip
        _say_families(d)
        bands = ", ".join(f"{r['band']} {r['attention']:.0%}" for r in d["attention_by_band"])
        typer.echo(f"  attention over the history: {bands} (rank agreement with Shapley "
                   f"{d['attention_rank_agreement']:+.2f})")  # fmt: skip
        if "variable_selection" in d:
            top = ", ".join(
                f"{r['family']} {r['selection']:.0%}" for r in d["variable_selection"][:4]
            )
            typer.echo(f"  variable selection: {top} (rank agreement with Shapley "
                       f"{d['selection_rank_agreement']:+.2f})")  # fmt: skip
        typer.echo(f"wrote {', '.join(d['files'])} to {output}")
        return
    s = explain_run(run, output, input, data_config, start, end, quantile, max_rows)
    typer.echo(
        f"explained {s['rows_explained']:,} {s['quantile']} forecast rows ({s['origins']}); "
        f"additivity error {s['additivity_max_abs_error']:.1e}"
    )
    for r in s["top_features"][:5]:
        typer.echo(f"  {r['feature']:<20} {r['share']:.1%}")
    typer.echo(f"wrote {', '.join(s['files'])} to {output}")


def _explain_bundle(bundle: Path, output: Path, input: str | None, data_config: Path | None,
                    start: str | None, end: str | None, windows: int, permutations: int,
                    customer: str | None) -> None:  # fmt: skip
    from forecasting.config.data import load_data_config
    from forecasting.data.prepare import prepare
    from forecasting.errors import InputError
    from serving.bundle import read_manifest
    from serving.explain import explain_bundle
    from serving.explain_anomaly import explain_anomaly_bundle
    from serving.kinds import bundle_kind

    if data_config is None:
        raise InputError("--bundle needs --data-config: how to read the data to explain on")
    forecasts = bundle_kind(read_manifest(bundle)["kind"]).forecasts
    cfg = load_data_config(data_config)
    prepared = prepare(cfg, input)
    tz, windows = cfg.calendar.timezone, min(windows, 100_000)
    if forecasts:
        s = explain_bundle(bundle, prepared.frame, prepared.static, output, tz, start, end, windows,
                           permutations, customer=customer)  # fmt: skip
    else:  # the anomaly autoencoder: why days look unusual
        s = explain_anomaly_bundle(bundle, prepared.frame, output, tz, start, end, windows,
                                   permutations, customer=customer)  # fmt: skip
    _say_families(s)
    typer.echo(f"wrote {', '.join(s['files'])} to {output}")


def _say_families(s: dict[str, Any]) -> None:
    typer.echo(f"explained {s['windows']:,} windows of a {s['kind']} model in {s['seconds']:.1f} s; "
               f"additivity error {s['additivity_max_abs_error']:.1e}")  # fmt: skip
    for r in s["families"][:6]:
        typer.echo(f"  {r['family']:<26} {r['share']:.1%}")
    if s["members"]:
        typer.echo("  members: " + ", ".join(f"{k} {v:.0%}" for k, v in s["members"].items()))
    if s["customer"]:
        typer.echo(s["customer"]["text"])


@app.command("version")
def version() -> None:
    """Print the package version."""
    from forecasting import __version__

    typer.echo(__version__)


def _register_adapters() -> None:
    from forecasting.cli import (
        adapters,
        monitor,
        optimise,
        recommend,
        response,
        schedule,
        serve,
        targeting,
    )

    adapters.register(app)
    response.register(app)
    optimise.register(app)
    monitor.register(app)
    schedule.register(app)
    recommend.register(app)
    targeting.register(app)
    serve.register(app)


_register_adapters()
