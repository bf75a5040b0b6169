"""Commands over meter data and exported bundles that end in money or profiles: `bill`, `impute`."""

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

MAX_SAMPLES = 1000  # sample paths per customer: each is a year of hours in memory


def bill_cmd(
    tariff: Annotated[Path, typer.Option("--tariff", "-t", help="tariff YAML (configs/tariffs)")],
    usage: Annotated[
        str, typer.Option("--usage", "-u", help="usage: file, folder or glob (long format)")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="folder for bills and summary")],
    baseline: Annotated[
        Path | None, typer.Option("--baseline", help="compare with the bills of this tariff")
    ] = None,
    static: Annotated[
        str | None, typer.Option("--static", help="per-customer table for --group-by")
    ] = None,
    static_id: Annotated[
        str | None, typer.Option("--static-id", help="id column of --static (default series_id)")
    ] = None,
    group_by: Annotated[
        list[str] | None,
        typer.Option("--group-by", "-g", help="static column to break the changes down by"),
    ] = None,
    data_config: Annotated[
        Path | None,
        typer.Option("--data-config", help="read --usage in this data config's input format"),
    ] = None,
    column: Annotated[
        str | None, typer.Option("--column", help="kWh column (default: kwh, target or p50)")
    ] = None,
    export_column: Annotated[
        str | None, typer.Option("--export-column", help="exported kWh column, for feed-in")
    ] = None,
    cycle_months: Annotated[
        int, typer.Option(min=1, max=12, help="billing period length in months")
    ] = 1,
    cycle_day: Annotated[
        int, typer.Option(min=1, max=28, help="local day of the month periods start")
    ] = 1,
    batch_size: Annotated[int, typer.Option(min=1, help="customers billed together")] = 2000,
    engine: EngineOption = "local",
    workers: WorkersOption = 1,
    address: AddressOption = None,
    actors: ActorsOption = None,
    cpus_per_actor: CpusPerActorOption = 1,
) -> None:
    """Bill every customer in USAGE under TARIFF: one bill per customer and billing period.

    With --baseline, also bill under the baseline tariff and write each customer's change and
    a summary (mean/median change, customers with increases over 5/10/20%) by --group-by.
    Groups of --batch-size customers are billed here, by --workers processes, or on Ray
    (--engine ray); the output is the same on each.
    """
    from forecasting.tariffs.calendar import Cycle
    from forecasting.tariffs.engine import BillEngine
    from forecasting.tariffs.spec import load_tariff
    from serving.bill import BillJob
    from serving.engines import engine_for
    from serving.tables import read_static

    runner = engine_for(engine, workers, address, actors, cpus_per_actor)
    if runner is not None and data_config is not None:
        from forecasting.errors import InputError

        raise InputError(
            "--data-config bills in this process (the config reads the usage into memory); "
            "prepare the usage first (`forecasting data prepare`) to bill on --workers or Ray"
        )
    cycle = Cycle(cycle_months, cycle_day)
    bill_engine = BillEngine(load_tariff(tariff), cycle)
    base = BillEngine(load_tariff(baseline), cycle) if baseline is not None else None
    table = read_static(static, static_id) if static else None
    groups = list(group_by or [])
    if groups and table is None and data_config is None:
        from forecasting.errors import InputError

        raise InputError("--group-by needs a static table: give --static (or --data-config)")
    job = BillJob(
        bill_engine, usage, output, base, column, export_column, table, groups, batch_size, runner
    )
    run_job = job.run if data_config is None else lambda: bill_with_config(job, data_config, usage)
    summary = run_job()
    typer.echo((output / "summary.md").read_text("utf-8").rstrip())
    typer.echo(f"wrote {output}/ (bills.parquet, summary.json" + (
        ", changes.csv" if base else "") + (", quarantine.csv" if summary["rows_quarantined"] else "")
        + ")")  # fmt: skip


def bill_with_config(job: object, config: Path, usage: str | None) -> dict[str, Any]:
    """Read raw usage through a data config at its native interval (no resampling, no gap
    filling: bills use only real readings), then bill it."""
    import pandas as pd

    from forecasting.config.data import load_data_config
    from forecasting.data.ingest import ingest
    from forecasting.data.static import join_static_file
    from forecasting.errors import InputError
    from serving.bill import BillJob

    assert isinstance(job, BillJob)
    cfg = load_data_config(config)
    ing = ingest(cfg, usage)
    frame = ing.readings.rename(columns={"target": "kwh"})
    if job.static is None and job.group_by:
        static = frame.groupby("series_id", sort=True)[cfg.input.static_columns].first()
        static = static.reset_index()
        if cfg.static is not None:
            static, _ = join_static_file(static, cfg.static)
        job.static = static.astype({"series_id": "string"})
    keep = ["series_id", "timestamp", "kwh", "_file", "_row"]
    if job.export is not None:
        if job.export not in frame:
            raise InputError(
                f"--export-column {job.export!r}: the data config reads no such column "
                f"(its covariates: {list(cfg.input.covariates)})"
            )
        keep.append(job.export)
    frame = frame[keep]
    q = ing.quarantine.frame()
    if len(q):
        q = q.astype({"source_row": "int64"})
    return job.bill_frame(frame, "kwh", q if len(q) else pd.DataFrame())


def impute_cmd(
    bundle: Annotated[Path, typer.Option("--bundle", "-b", help="exported bundle with archetypes")],
    monthly: Annotated[
        str, typer.Option("--monthly", "-m", help="series_id, month (YYYY-MM), kwh[, months]")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="folder for profiles")],
    static: Annotated[
        str | None,
        typer.Option(
            "--static", "-s", help="per-customer static table (default: the data config's)"
        ),
    ] = None,
    weather: Annotated[
        str | None,
        typer.Option("--weather", "-w", help="timestamp (UTC) + the bundle's covariates"),
    ] = None,
    data_config: Annotated[
        Path | None,
        typer.Option(
            "--data-config",
            help="read the weather and the static table as this data config declares them "
            "(its covariate sources and static file, with their clocks and number formats)",
        ),
    ] = None,
    samples: Annotated[int, typer.Option(help="sample paths per customer (0: none)")] = 0,
    static_id: Annotated[
        str | None, typer.Option("--static-id", help="id column of --static (default series_id)")
    ] = None,
    no_model: Annotated[
        bool, typer.Option("--no-model", help="archetype shapes only, without the bundle's model")
    ] = False,
    batch_size: Annotated[
        int, typer.Option(min=1, max=100_000, help="customers imputed together (a task)")
    ] = 200,
    engine: EngineOption = "local",
    workers: WorkersOption = 1,
    address: AddressOption = None,
    actors: ActorsOption = None,
    cpus_per_actor: CpusPerActorOption = 1,
) -> None:
    """Hourly profiles for customers with only monthly (or quarterly) totals.

    Each profile sums exactly to the recorded totals; P10/P90 bands, and --samples paths that
    each sum to the totals. Customers that cannot be imputed are listed in errors.csv.
    With --data-config, the weather comes from its covariate sources and the static table from
    its static file, read as `data prepare` reads them; --weather and --static still win.
    Batches of --batch-size customers are imputed here, by --workers processes, or on Ray
    (--engine ray); the output is the same on each.
    """
    from forecasting.errors import InputError
    from serving.engines import engine_for
    from serving.impute import ImputeJob
    from serving.tables import read_static

    runner = engine_for(engine, workers, address, actors, cpus_per_actor)
    if not 0 <= samples <= MAX_SAMPLES:
        raise InputError(f"--samples must be between 0 and {MAX_SAMPLES:,}, got {samples}")
    table, sources = inputs_from_config(data_config, static, static_id)
    if table is None:
        assert static is not None  # inputs_from_config refuses a job with no static table
        table = read_static(static, static_id)
    job = ImputeJob(str(bundle), monthly, table, output, weather, samples,
                    covariate_sources=sources, use_model=not no_model, batch_size=batch_size,
                    runner=runner)  # fmt: skip
    s = job.run()
    typer.echo(
        f"imputed {s['customers_imputed']:,} of {s['customers_in']:,} customers "
        f"({s['hours']:,} hours, {s['kwh']:,.1f} kWh; {s['archetypes']} archetypes"
        + (", archetype shapes only" if no_model else ", shaped by the bundle's model")
        + ")"
    )
    if s["customers_failed"]:
        typer.echo(
            f"{s['customers_failed']:,} customers could not be imputed: see {output}/errors.csv"
        )
        import pandas as pd

        for row in pd.read_csv(output / "errors.csv", dtype=str).head(5).itertuples():
            typer.echo(f"  {row.series_id}: {row.reason}")
    typer.echo(f"wrote {output}/ (profiles.parquet, assignments.csv, errors.csv, summary.json"
               + (", samples.parquet" if samples else "") + ")")  # fmt: skip
    if s["customers_imputed"] == 0:
        raise typer.Exit(1)


def inputs_from_config(
    config: Path | None, static: str | None, static_id: str | None
) -> tuple[Any, list[Any]]:
    """(static table or None, covariate sources) that impute reads from a data config; the
    static table is None when --static gives it."""
    from forecasting.errors import InputError

    if config is None:
        if static is None:
            raise InputError("give the customers' static table with --static (or --data-config)")
        return None, []
    from forecasting.config.data import load_data_config
    from serving.tables import read_static

    cfg = load_data_config(config)
    table = None
    if static is None:
        if cfg.static is None:
            raise InputError(f"{config}: the data config has no `static` section: give --static")
        spec = cfg.static
        table = read_static(spec.path.expanded, static_id or spec.id_column,
                            spec.columns or None, spec.delimiter)  # fmt: skip
    return table, list(cfg.covariates)


def register(app: typer.Typer) -> None:
    app.command("bill")(bill_cmd)
    app.command("impute")(impute_cmd)
