"""The contract every trained model kind implements, checked for every registered kind by
`tests/models/test_contract.py`. What a kind can do beyond it is in its `Capabilities`
(`forecasting/models/kinds.py`), never guessed from its class or its kind string."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd


@runtime_checkable
class TrainedModel(Protocol):
    """A model that learns weights: the same `fit` for every kind, saved and loaded without
    pickles (`save` returns the files written under `folder`)."""

    quantiles: list[float]
    horizon: int
    lookback: int

    @property
    def kind(self) -> str: ...

    def fit(
        self,
        frame: pd.DataFrame,
        static: pd.DataFrame | None,
        train_origins: pd.DatetimeIndex,
        valid_origins: pd.DatetimeIndex | None = None,
        trainer: Any = None,
        run_dir: Path | None = None,
        trial: Any = None,
    ) -> Any: ...

    def save(self, folder: Path) -> list[str]: ...


@runtime_checkable
class Forecaster(TrainedModel, Protocol):
    def forecast(
        self, frame: pd.DataFrame, origins: pd.DatetimeIndex, static: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        """Long rows (series_id, origin, timestamp, horizon, p10, p50, p90) for every series
        with enough history at every origin."""
        ...


@runtime_checkable
class ExportableGraph(Protocol):
    """A model that describes and converts its own ONNX graph (what `export` needs)."""

    def onnx_spec(self) -> dict[str, list[dict[str, Any]]]: ...

    def to_onnx(self, example: dict[str, np.ndarray]) -> bytes: ...

    def native_outputs(
        self, inputs: dict[str, np.ndarray], *, exact: bool = False
    ) -> list[np.ndarray]: ...

    def graph_inputs(
        self, frame: pd.DataFrame, origins: pd.DatetimeIndex, static: pd.DataFrame | None
    ) -> dict[str, np.ndarray]: ...
