"""The registry of model kinds: one entry per kind, its family, its estimator class (imported
only when asked, so listing the kinds never loads torch) and what it can do.

Adding a model kind means one entry here, its config class in `forecasting/config/model.py`
and its own module or folder under `forecasting/models/`. Code that needs to know what a
model can do asks its `Capabilities`, never its kind string.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Literal

from forecasting.errors import InputError

Family = Literal["boosted", "deep", "baseline", "ensemble"]


@dataclass(frozen=True)
class Capabilities:
    """What a kind of model can do; the code reads these flags instead of kind strings."""

    quantiles: bool = True  # forecasts P10/P50/P90 (an anomaly detector scores instead)
    static: bool = True  # uses per-series static attributes
    known_future: bool = True  # uses covariates known ahead (weather forecasts, calendar)
    observed: bool = True  # uses covariates only known up to the origin
    exportable: bool = True  # learns weights that `export` writes to an ONNX bundle
    unseen_series: bool = True  # forecasts households it never saw in training
    anomaly: bool = False  # flags anomalous intervals (`forecasting anomalies`)


@dataclass(frozen=True)
class ModelKind:
    name: str
    family: Family
    estimator: str  # "module:Class"
    capabilities: Capabilities
    threads_option: str | None = None  # the library's own thread-count parameter, if any
    few_origins: int = 0  # training on fewer origins than this gets a warning with the figure

    def estimator_class(self) -> Any:
        """The class that fits, forecasts, saves and loads this kind (imported now)."""
        module, _, cls = self.estimator.partition(":")
        return getattr(importlib.import_module(module), cls)

    @property
    def boosted(self) -> bool:
        return self.family == "boosted"

    @property
    def deep(self) -> bool:
        return self.family == "deep"

    @property
    def combines_members(self) -> bool:
        """An ensemble: its run (and bundle) holds member runs (bundles) of other kinds."""
        return self.family == "ensemble"


_BASELINE = Capabilities(static=False, known_future=False, observed=False, exportable=False)

KINDS: dict[str, ModelKind] = {
    k.name: k
    for k in (
        ModelKind("lightgbm", "boosted", "forecasting.models.gbm:GBMForecaster", Capabilities(),
                  "num_threads", few_origins=60),
        ModelKind("xgboost", "boosted", "forecasting.models.gbm:GBMForecaster", Capabilities(),
                  "n_jobs", few_origins=60),
        ModelKind("cnn_lstm", "deep", "forecasting.models.deep.estimator:CNNLSTMForecaster",
                  Capabilities(), few_origins=90),
        ModelKind("tft", "deep", "forecasting.models.deep.tft:TFTForecaster", Capabilities(),
                  few_origins=90),
        ModelKind("patchtst", "deep", "forecasting.models.deep.patch:PatchForecaster",
                  Capabilities(), few_origins=90),
        ModelKind("lstm_autoencoder", "deep", "forecasting.models.deep.anomaly:AnomalyDetector",
                  Capabilities(quantiles=False, static=False, known_future=False,
                               observed=False, anomaly=True)),
        ModelKind("seasonal_naive", "baseline", "forecasting.models.baselines:SeasonalNaive",
                  _BASELINE),
        ModelKind("yesterday", "baseline", "forecasting.models.baselines:Yesterday", _BASELINE),
        ModelKind("profile", "baseline", "forecasting.models.baselines:WeekdayHourProfile",
                  _BASELINE),
        ModelKind("ensemble", "ensemble", "forecasting.models.ensemble:EnsembleForecaster",
                  Capabilities()),
    )
}  # fmt: skip


def model_kind(name: object) -> ModelKind:
    """The registry entry of `name`; an `InputError` listing the known kinds otherwise."""
    if not isinstance(name, str) or name not in KINDS:
        raise InputError(f"model kind {name!r} is not one this version knows ({', '.join(KINDS)})")
    return KINDS[name]


def kinds(family: Family) -> tuple[str, ...]:
    """The kinds of one family, in registry order."""
    return tuple(k for k, v in KINDS.items() if v.family == family)
