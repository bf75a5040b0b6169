"""`forecasting evaluate`: backtest a fitted run on any data, against seasonal naive.

Origins are daily at 00:00 local time (the data config's calendar timezone) from `start` to
`end` (local dates, both included). The model and the seasonal-naive baseline forecast the
same origins and series; each is scored on every target that exists, a row the model could
not forecast is counted (`n_missing_forecasts`), and `common` scores both only on the rows
where both forecast, so the ratio compares like with like.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd

from forecasting.config.data import DataConfig, load_data_config
from forecasting.data.prepare import Prepared, prepare
from forecasting.data.schema import SERIES, TIME
from forecasting.errors import InputError
from forecasting.evaluation.backtest import RollingOrigin, backtest
from forecasting.evaluation.metrics import quantile_column, score
from forecasting.models.baselines import SeasonalNaive
from forecasting.models.kinds import model_kind


def daily_origins(
    start: str,
    end: str,
    horizon: int,
    lookback: int,
    timezone: str,
    freq: str = "1h",
    hours: tuple[int, ...] = (0,),
) -> RollingOrigin:
    """Origins on every local day from `start` to `end`, at each of the local `hours`."""
    bad = [h for h in hours if not 0 <= h <= 23]
    if bad or not hours:
        raise InputError(f"--origin-hour must be hours of the day from 0 to 23, got {list(hours)}")
    step = pd.Timedelta(freq)
    per_day = int(pd.Timedelta("1D") / step)
    try:
        lo, hi = pd.Timestamp(start), pd.Timestamp(end) + pd.Timedelta(days=1) - step
    except ValueError as exc:
        raise InputError(f"--start/--end must be dates (YYYY-MM-DD): {exc}") from None
    if hi < lo:
        raise InputError(f"--end {end} is before --start {start}")
    return RollingOrigin(
        horizon=horizon,
        lookback=lookback,
        step=per_day,
        freq=freq,
        start=lo,
        end=hi,
        origin_hour=tuple(sorted(set(hours))),
        timezone=timezone,
    )


def evaluate_forecasts(
    forecasts: dict[str, pd.DataFrame], quantiles: list[float]
) -> dict[str, Any]:
    """Score each forecast frame; add a `common` block on rows every model forecast."""
    out: dict[str, Any] = {name: score(fc, quantiles) for name, fc in forecasts.items()}
    cols = [quantile_column(q) for q in quantiles]
    keys = [SERIES, "origin", TIME]
    common = None
    for fc in forecasts.values():
        ok = fc.loc[fc[cols].notna().all(axis=1) & fc["actual"].notna(), keys]
        common = ok if common is None else common.merge(ok, on=keys)
    if common is not None and len(forecasts) > 1:
        out["common"] = {
            name: score(fc.merge(common, on=keys), quantiles) for name, fc in forecasts.items()
        }
    return out


def _training_origins(run_dir: Path, meta: dict[str, Any], lookback: int,
                      splitter: RollingOrigin, tz: str) -> RollingOrigin:  # fmt: skip
    """Where a recalibration may take training windows: the run's own training origins (its
    origin hour and step, e.g. every hour for a deep model), else the evaluation's."""
    from forecasting.config.model import load_train_config

    config = run_dir / "config.yaml"
    hours: int | tuple[int, ...] | None
    if config.exists():
        cfg = load_train_config(config).in_intervals(pd.Timedelta(meta["freq"]))
        hours = cfg.origin_hour
        step = int(cfg.origin_step)
    else:
        hours, step = splitter.origin_hour, splitter.step
    return RollingOrigin(horizon=meta["horizon"], lookback=lookback, step=step, freq=meta["freq"],
                         start=None, end=None, origin_hour=hours, timezone=tz)  # fmt: skip


def evaluate_run(
    run_dir: Path,
    start: str,
    end: str,
    input_path: str | None = None,
    data_config: str | Path | None = None,
    prepared: Prepared | None = None,
    hours: tuple[int, ...] = (0,),
    recalibrate: str | None = None,
    calibration_days: int | None = None,
    epochs: int = 1,
    progress: Any = None,
) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
    """Metrics JSON (see the module docstring) and the forecasts of model and baseline, from
    origins on every local day at each of `hours`; with `recalibrate` (daily or weekly) the
    model is refitted as the origin moves (training/recalibrate.py)."""
    from forecasting.models.registry import load_run

    model, meta = load_run(run_dir)
    if model_kind(meta["kind"]).capabilities.anomaly:
        raise InputError(
            f"{run_dir} holds an anomaly model ({meta['kind']}), not a forecaster; score it "
            "with `forecasting anomalies --run RUNDIR --input PATH --output PATH`"
        )
    cfg: DataConfig = load_data_config(data_config or run_dir / "data_config.yaml")
    if prepared is None:
        prepared = prepare(cfg, input_path)
    frame = prepared.frame
    tz = cfg.calendar.timezone
    quantiles = meta["quantiles"]
    naive = SeasonalNaive(  # one week back at the data's interval, every origin at once
        None, quantiles, meta["freq"], meta["nonnegative"], horizon=meta["horizon"]
    )
    splitter = daily_origins(
        start, end, meta["horizon"], max(model.lookback, naive.lookback), tz, meta["freq"], hours
    )
    origins = splitter.origins(frame)
    if len(origins) == 0:
        raise InputError(
            f"no forecast origins between {start} and {end}: the data spans "
            f"{frame[TIME].min()} to {frame[TIME].max()} and each origin needs "
            f"{splitter.lookback} intervals of history and {meta['horizon']} after it"
        )
    covariates = prepared.dataset.get("covariates", {})
    known = [c for c, role in covariates.items() if role.get("known_future")]
    forecasts: dict[str, pd.DataFrame] = {}
    seconds: dict[str, float] = {}
    recal: dict[str, Any] | None = None
    for name, m in (("model", model), ("seasonal_naive", naive)):
        t = time.perf_counter()
        if name == "model" and recalibrate is not None:
            from forecasting.config.trainer import TrainerConfig
            from training.recalibrate import recalibrated_forecasts

            candidates = _training_origins(run_dir, meta, model.lookback, splitter, tz)
            warm = TrainerConfig(accelerator="cpu", max_epochs=epochs, logger="none")
            forecasts[name], recal = recalibrated_forecasts(
                model, frame, prepared.static, origins, candidates, recalibrate, tz,
                calibration_days, warm, progress,
            )  # fmt: skip
        else:
            forecasts[name] = backtest(m, frame, splitter, known, prepared.static)
        seconds[name] = round(time.perf_counter() - t, 2)
    result = evaluate_forecasts(forecasts, quantiles)
    for name in ("model", "seasonal_naive"):
        result[name]["predict_seconds"] = seconds[name]
    fc = forecasts["model"]
    skipped = getattr(model, "skipped_", None)
    result |= {
        "run": str(run_dir),
        "kind": meta["kind"],
        "input": input_path or cfg.input.path,
        "start": start,
        "end": end,
        "origin_hours": sorted(set(hours)),
        "timezone": tz,
        "n_series": int(fc[SERIES].nunique()) if len(fc) else 0,
        "n_series_in_data": int(frame[SERIES].nunique()),
        "n_origins": len(origins),
        "horizon": meta["horizon"],
        "quantiles": quantiles,
        "skipped": [] if skipped is None else skipped.astype(str).to_dict("records")[:50],
        "recalibration": recal,
    }
    if "common" in result:
        c = result["common"]
        result["mae_ratio_vs_seasonal_naive"] = c["model"]["mae"] / c["seasonal_naive"]["mae"]
    return result, forecasts
