"""`forecasting train`: config -> prepared data -> fitted model -> run folder."""

from __future__ import annotations

import hashlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from forecasting.config.data import DataConfig, load_data_config
from forecasting.config.features import FeatureConfig
from forecasting.config.model import Period, TrainConfig, load_train_config
from forecasting.data.prepare import Prepared, prepare
from forecasting.data.schema import SERIES, TARGET, TIME, format_freq
from forecasting.errors import ConfigError
from forecasting.evaluation.backtest import RollingOrigin
from forecasting.folders import check_output_folder
from forecasting.forecasts.calibration import calibrate_backtest
from forecasting.models.kinds import model_kind
from forecasting.models.registry import make_model, save_run


@dataclass
class TrainResult:
    run_dir: Path
    files: list[str]
    metrics: dict[str, Any]


def resolve_features(cfg: TrainConfig, prepared: Prepared, data_cfg: DataConfig) -> FeatureConfig:
    """Fill what the config left unset from the data: local timezone, holidays, the
    known-future and observed covariates and the static columns present."""
    f = cfg.features
    given = f.model_fields_set
    covs = prepared.dataset.get("covariates", {})
    updates: dict[str, Any] = {}
    if "timezone" not in given:
        updates["timezone"] = data_cfg.calendar.timezone
    if "holidays" not in given:
        updates["holidays"] = prepared.dataset.get("holidays", {})
    if "known_future" not in given:
        updates["known_future"] = [c for c, m in covs.items() if m.get("known_future")]
    if "observed" not in given:
        updates["observed"] = [c for c, m in covs.items() if not m.get("known_future")]
    if "static" not in given:
        updates["static"] = [c for c in prepared.static.columns if c != SERIES]
    measured = covs.get(f.temperature or "", {}).get("known_future") is False
    if "temperature" not in given and (f.temperature not in prepared.frame or measured):
        updates["temperature"] = None  # degree hours read the target time's temperature
    features = f.model_copy(update=updates)
    check_covariate_roles(features, covs, str(cfg.data))
    return features


def check_covariate_roles(
    features: FeatureConfig, covariates: dict[str, dict[str, Any]], where: str
) -> None:
    """Refuse a model that would read the horizon of a covariate the data declares measured
    (`known_future: false`): in a backtest it would see the future."""
    leaking = [
        c for c in features.horizon_covariates if covariates.get(c, {}).get("known_future") is False
    ]
    if leaking:
        raise ConfigError(
            f"covariate(s) {leaking} are measured (known_future: false in {where}) but the model "
            "reads them at the target times (known-future, or the temperature of degree hours), "
            "which would read their values after the forecast origin; move them to "
            "`features.observed` (and set `features.temperature: null`), or declare them "
            "known_future: true if their horizon really is known (a forecast or a schedule)"
        )


def period_splitter(
    period: Period | None,
    cfg: TrainConfig,
    timezone: str,
    freq: str,
    before: Period | None = None,
) -> RollingOrigin:
    """Origins inside `period` (local dates, both ends included), or before `before` if None,
    at the config's origin hour and step."""
    step = pd.Timedelta(freq)
    if period is not None:
        start = pd.Timestamp(period.start)
        end = pd.Timestamp(period.end) + pd.Timedelta(days=1) - step
    elif before is not None:
        start, end = None, pd.Timestamp(before.start) - step
    else:
        start = end = None
    horizon, lookback, origin_step = cfg.in_intervals(step).steps
    return RollingOrigin(
        horizon=horizon,
        lookback=lookback,
        step=origin_step,
        freq=freq,
        start=start,
        end=end,
        origin_hour=cfg.origin_hour,
        timezone=timezone,
    )


def period_origins(
    period: Period | None,
    frame: pd.DataFrame,
    cfg: TrainConfig,
    timezone: str,
    freq: str,
    before: Period | None = None,
) -> pd.DatetimeIndex:
    return period_splitter(period, cfg, timezone, freq, before).origins(frame)


def fingerprint(prepared: Prepared) -> dict[str, Any]:
    """What the model was trained on: size, span and a hash of (series, time, target)."""
    f = prepared.frame
    digest = hashlib.sha256(
        pd.util.hash_pandas_object(f[[SERIES, TIME, TARGET]], index=False).to_numpy().tobytes()
    ).hexdigest()
    return {
        "dataset": prepared.dataset.get("name"),
        "rows": len(f),
        "series": int(f[SERIES].nunique()),
        "start": str(f[TIME].min()),
        "end": str(f[TIME].max()),
        "sha256": digest,
    }


def fit_model(
    cfg: TrainConfig,
    data_cfg: DataConfig,
    prepared: Prepared,
    run_dir: Path | None = None,
    trial: Any = None,
) -> tuple[Any, TrainConfig, dict[str, Any]]:
    """Fit the model of `cfg` on prepared data: (fitted model, config with the features
    resolved, metrics). `trial` (an Optuna trial) turns on pruning: boosted models report
    their validation loss per iteration, deep models per epoch, and a pruned trial raises
    `optuna.TrialPruned`."""
    freq = format_freq(data_cfg.output_frequency.step)
    tz = data_cfg.calendar.timezone
    cfg = cfg.in_intervals(data_cfg.output_frequency.step)  # durations become intervals
    features = resolve_features(cfg, prepared, data_cfg)
    cfg = cfg.model_copy(update={"features": features})
    model = make_model(cfg, features, freq, not data_cfg.target_rules.allow_negative, tz)
    frame = prepared.frame
    valid = period_origins(cfg.validation, frame, cfg, tz, freq) if cfg.validation else None
    train_origins = period_origins(cfg.train, frame, cfg, tz, freq, before=cfg.validation)
    metrics: dict[str, Any] = {}
    if valid is not None and len(valid) == 0:
        raise ConfigError(
            f"no validation origins: the data spans {frame[TIME].min()} to {frame[TIME].max()}, "
            f"the validation period is {cfg.validation.start}..{cfg.validation.end}"  # type: ignore[union-attr]
            f", and each origin needs {cfg.lookback} intervals of history before it"
        )
    if model_kind(cfg.model.kind).capabilities.exportable:  # the baselines learn nothing globally
        if len(train_origins) == 0:
            raise ConfigError(
                f"no training origins: the data spans {frame[TIME].min()} to {frame[TIME].max()}"
                f", the train period is {cfg.train}, and each origin needs {cfg.lookback} "
                "intervals of history before it"
            )
        model.fit(frame, prepared.static, train_origins, valid, cfg.trainer, run_dir, trial=trial)
        metrics |= model.fit_info_
        if trial is None and metrics.get("global_rank", 0) == 0:
            metrics["interval_calibration"] = calibrate_intervals(model, cfg, prepared, valid)
    metrics["train_origins"] = len(train_origins)
    metrics["validation_origins"] = 0 if valid is None else len(valid)
    few = model_kind(cfg.model.kind).few_origins
    if len(train_origins) < few:
        leaf = "".join(f"; {k} {v}" for k, v in metrics.items() if k.startswith("min_"))
        metrics["warnings"] = [
            f"{cfg.model.kind} trains on {len(train_origins)} origins "
            f"({metrics.get('train_rows', metrics.get('train_windows', 0)):,} rows): fewer than "
            f"the {few} it needs to reliably beat the baselines; expect a weak model{leaf}"
        ]
        print(f"warning: {metrics['warnings'][0]}", file=sys.stderr, flush=True)
    return model, cfg, metrics


def calibrate_intervals(
    model: Any, cfg: TrainConfig, prepared: Prepared, valid: pd.DatetimeIndex | None
) -> dict[str, Any]:
    """Fit the model's interval calibration (`forecasting.forecasts.calibration`) on its
    forecasts at the validation origins and set it on the model; what it did, or why not."""
    if cfg.interval_calibration == "none":
        return {"method": "none"}
    if not model_kind(cfg.model.kind).capabilities.quantiles:
        return {"method": "none", "skipped": "the model scores anomalies; it has no quantiles"}
    if valid is None or not len(valid):
        return {"method": "none", "skipped": "no validation period to calibrate on"}
    model.calibration_ = None  # calibrate the model's own quantiles
    fc = model.forecast(prepared.frame, valid, prepared.static)
    actual = prepared.frame[[SERIES, TIME, TARGET]].astype({SERIES: "string"})
    y = fc[[SERIES, TIME]].astype({SERIES: "string"}).merge(actual, on=[SERIES, TIME], how="left")
    # local days for the peak: the resolved features carry the data's zone
    model.calibration_, info = calibrate_backtest(
        fc.assign(actual=y[TARGET].to_numpy()), model.quantiles, model.horizon,
        cfg.features.timezone, model.nonnegative,
    )  # fmt: skip
    return info


def train(
    config: str | Path | TrainConfig,
    output: Path,
    input_path: str | None = None,
    prepared: Prepared | None = None,
) -> TrainResult:
    """Fit the model of `config` and write its run folder to `output`."""
    cfg = config if isinstance(config, TrainConfig) else load_train_config(config)
    inputs = [cfg.data, input_path or cfg.input] + (
        [config] if not isinstance(config, TrainConfig) else []
    )
    check_output_folder(output, "run.json", "run folder", inputs)
    data_cfg = load_data_config(cfg.data)
    t0 = time.perf_counter()
    if prepared is None:
        prepared = prepare(data_cfg, input_path or cfg.input)
    prepare_s = time.perf_counter() - t0
    model, cfg, fitted = fit_model(cfg, data_cfg, prepared, output)
    metrics: dict[str, Any] = {"prepare_seconds": round(prepare_s, 2), **fitted}
    if metrics.get("global_rank", 0) != 0:  # DDP: only rank 0 writes the run folder
        return TrainResult(output, [], metrics)
    tz = data_cfg.calendar.timezone
    files = save_run(output, model, cfg, data_cfg, metrics, fingerprint(prepared), tz)
    return TrainResult(output, files, metrics)
