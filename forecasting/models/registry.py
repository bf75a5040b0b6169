"""Build models from configs, and save / load run folders.

A run folder (written by `forecasting train`) holds:
    run.json          kind, package version, quantiles, horizon, lookback, data fingerprint, files
    config.yaml       the resolved training config (features filled in from the data)
    data_config.yaml  the data config it was trained with (evaluate/explain default to it)
    features.json     the feature recipe, the built feature columns and category codes
    metrics.json      training metrics: validation pinball per quantile, fit seconds, ...
    model/            the fitted model in its library's own format (+ model.json), no pickles
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from forecasting import __version__
from forecasting.config.base import load_yaml_model
from forecasting.config.data import DataConfig
from forecasting.config.features import FeatureConfig
from forecasting.config.model import (
    ProfileConfig,
    SeasonalNaiveConfig,
    TrainConfig,
    YesterdayConfig,
)
from forecasting.errors import ForecastingError, InputError
from forecasting.folders import contained_path, sha256, write_json
from forecasting.models.baselines import SeasonalNaive, WeekdayHourProfile, Yesterday
from forecasting.models.kinds import KINDS, model_kind

RUN_FORMAT = 1
RUN_FILES = ("config.yaml", "data_config.yaml", "features.json", "metrics.json")
Model = Any  # an estimator of a registered kind (`forecasting.models.kinds`)


def make_model(
    cfg: TrainConfig, features: FeatureConfig, freq: str, nonnegative: bool, timezone: str
) -> Model:
    """An unfitted estimator of the config's kind."""
    m = cfg.model
    if isinstance(m, SeasonalNaiveConfig | YesterdayConfig | ProfileConfig):
        return make_baseline(m, cfg.quantiles, freq, nonnegative, timezone)
    cls = model_kind(m.kind).estimator_class()
    return cls(m, features, cfg.quantiles, cfg.horizon, cfg.lookback, freq, nonnegative)


def make_baseline(
    m: SeasonalNaiveConfig | YesterdayConfig | ProfileConfig,
    quantiles: list[float],
    freq: str,
    nonnegative: bool,
    timezone: str,
) -> SeasonalNaive | WeekdayHourProfile:
    if isinstance(m, SeasonalNaiveConfig):
        return SeasonalNaive(m.season, quantiles, freq, nonnegative, history=m.history)
    if isinstance(m, YesterdayConfig):
        return Yesterday(quantiles, freq, nonnegative=nonnegative, history=m.history)
    return WeekdayHourProfile(m.weeks, quantiles, freq, timezone, nonnegative)


def save_run(
    folder: Path,
    model: Model,
    cfg: TrainConfig,
    data_cfg: DataConfig,
    metrics: dict[str, Any],
    fingerprint: dict[str, Any],
    timezone: str,
) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    if model_kind(cfg.model.kind).capabilities.exportable:
        files = [f"model/{f}" for f in model.save(folder / "model")]
        features = {
            "config": model.features.model_dump(mode="json"),
            "columns": getattr(model, "feature_names_", None) or getattr(model, "columns_", []),
            "categories": model.categories_,
        }
    else:
        files = []
        features = {"config": cfg.features.model_dump(mode="json"), "columns": []}
    run = {
        "format_version": RUN_FORMAT,
        "package_version": __version__,
        "name": cfg.name,
        "kind": cfg.model.kind,
        "quantiles": cfg.quantiles,
        "horizon": cfg.horizon,
        "lookback": model.lookback,
        "freq": getattr(model, "freq", "1h"),
        "nonnegative": bool(getattr(model, "nonnegative", True)),
        "timezone": timezone,
        "data_fingerprint": fingerprint,
        "files": files,
    }
    _dump_json(folder / "features.json", features)
    _dump_json(folder / "metrics.json", metrics)
    # the data config as its author wrote it (parsed): a key it did not set stays unset, so
    # what depends on whether a key was given (the target's unit, one description of the
    # target) reads the same from the run folder
    for name, obj, unset in (("config.yaml", cfg, False), ("data_config.yaml", data_cfg, True)):
        text = yaml.safe_dump(obj.model_dump(mode="json", exclude_unset=unset), sort_keys=False)
        (folder / name).write_text(text, encoding="utf-8")
    seal_run(folder, run, [*RUN_FILES, *files])
    return [
        "run.json",
        "config.yaml",
        "data_config.yaml",
        "features.json",
        "metrics.json",
        *files,
    ]


def _dump_json(path: Path, obj: Any) -> None:
    write_json(path, obj)


def seal_run(folder: Path, run: dict[str, Any], files: list[str]) -> None:
    """Write run.json with the sha256 of every other file of the run, so a truncated or
    swapped model file is refused with a message before a library parses it."""
    digests = {f: sha256(folder / f) for f in files}
    _dump_json(folder / "run.json", {**run, "sha256": digests})


def _check_run_files(folder: Path, meta: dict[str, Any]) -> None:
    files = meta.get("files", [])
    if not isinstance(files, list):
        raise InputError(f"{folder / 'run.json'}: 'files' is not a list")
    digests = meta.get("sha256", {})
    if not isinstance(digests, dict):
        raise InputError(f"{folder / 'run.json'}: 'sha256' is not a mapping")
    for f in dict.fromkeys([*files, *digests]):
        path = contained_path(folder, f, str(folder), owner="run")
        if f in digests and sha256(path) != digests[f]:
            raise InputError(
                f"{path}: sha256 does not match run.json; the file is truncated, edited or from "
                "another run"
            )


def read_run(folder: Path) -> tuple[dict[str, Any], TrainConfig | None]:
    """run.json and the training config of a run folder (None for an ensemble, which has
    member configs), with clear errors."""
    if not folder.is_dir():
        raise InputError(f"run folder not found: {folder}")
    meta_path = folder / "run.json"
    if not meta_path.exists():
        raise InputError(f"{folder}: not a run folder (run.json missing); make one with `train`")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise InputError(f"{meta_path}: not valid JSON ({str(exc)[:200]})") from None
    if not isinstance(meta, dict):
        raise InputError(f"{meta_path}: not a run description (a JSON {type(meta).__name__})")
    version = meta.get("format_version")
    if type(version) is not int or version != RUN_FORMAT:
        raise InputError(f"{meta_path}: run format {version!r}, this version reads {RUN_FORMAT}")
    if meta.get("kind") not in KINDS:
        raise InputError(
            f"{meta_path}: kind {meta.get('kind')!r} is not one this version knows "
            f"({', '.join(KINDS)})"
        )
    _check_run_files(folder, meta)
    if KINDS[meta["kind"]].combines_members:
        return meta, None
    cfg = load_yaml_model(
        TrainConfig, contained_path(folder, "config.yaml", str(folder), owner="run")
    )
    if cfg.model.kind != meta["kind"]:
        raise InputError(
            f"{folder}: run.json says {meta['kind']!r}, config.yaml trains {cfg.model.kind!r}"
        )
    return meta, cfg


def load_run(folder: Path) -> tuple[Model, dict[str, Any]]:
    """The fitted model of a run folder and its run.json; a model file its library cannot
    read is an `InputError` naming the run, never a library traceback."""
    meta, cfg = read_run(folder)
    try:
        return _load_model(folder, meta, cfg)
    except (ForecastingError, ImportError):
        raise
    except Exception as exc:  # the model libraries raise their own types
        raise InputError(
            f"{folder}: the {meta['kind']} model cannot be loaded ({type(exc).__name__}: "
            f"{str(exc).strip()[:200]})"
        ) from None


def _load_model(
    folder: Path, meta: dict[str, Any], cfg: TrainConfig | None
) -> tuple[Model, dict[str, Any]]:
    kind = model_kind(meta["kind"])
    if kind.combines_members:  # members in subfolders, each a run of its own
        return kind.estimator_class().load(folder), meta
    if kind.capabilities.exportable:  # learned weights under model/
        return kind.estimator_class().load(folder / "model"), meta
    assert cfg is not None
    m = cfg.model
    assert isinstance(m, SeasonalNaiveConfig | YesterdayConfig | ProfileConfig)
    return make_baseline(
        m, meta["quantiles"], meta["freq"], meta["nonnegative"], meta["timezone"]
    ), meta
