"""What the global window models (boosted and deep) share: construction from a config, the
one-origin backtest interface on top of their vectorised `forecast`, and the common part of
their saved `model.json`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from forecasting.config.features import FeatureConfig
from forecasting.data.schema import SERIES, TIME
from forecasting.errors import InputError
from forecasting.forecasts.calibration import IntervalCalibration


class WindowModel:
    """Base of the global models. Constructor arguments are the config (scikit-learn habit);
    learned state ends in `_`. `calibration_` (set after training from the validation
    backtest, `forecasting.forecasts.calibration`) adjusts every forecast's quantiles."""

    calibration_: IntervalCalibration | None = None

    def __init__(
        self,
        config: Any,
        features: FeatureConfig,
        quantiles: list[float] | None = None,
        horizon: int = 24,
        lookback: int = 168,
        freq: str = "1h",
        nonnegative: bool = True,
    ):
        self.config = config
        self.features = features.in_intervals(pd.Timedelta(freq))  # durations -> intervals
        self.quantiles = sorted(quantiles or [0.1, 0.5, 0.9])
        self.horizon, self.lookback = horizon, lookback
        self.freq, self.nonnegative = freq, nonnegative

    @property
    def kind(self) -> str:
        return str(self.config.kind)

    def base_meta(self) -> dict[str, Any]:
        """The part of `model.json` every window model writes."""
        return {
            "kind": self.kind,
            "config": self.config.model_dump(mode="json"),
            "features": self.features.model_dump(mode="json"),
            "quantiles": self.quantiles,
            "horizon": self.horizon,
            "lookback": self.lookback,
            "freq": self.freq,
            "nonnegative": self.nonnegative,
            "calibration": self.calibration_.to_json() if self.calibration_ else None,
        }

    @classmethod
    def from_meta(cls, config: Any, meta: dict[str, Any]) -> Any:
        """An unfitted model with the settings `base_meta` wrote."""
        model = cls(
            config,
            FeatureConfig(**meta["features"]),
            meta["quantiles"],
            meta["horizon"],
            meta["lookback"],
            meta["freq"],
            meta["nonnegative"],
        )
        try:
            model.calibration_ = IntervalCalibration.from_json(
                meta.get("calibration"), model.quantiles, model.horizon
            )
        except ValueError as exc:
            raise InputError(f"model.json: {exc}") from None
        return model

    def forecast(self, frame: pd.DataFrame, origins: pd.DatetimeIndex, static: Any) -> Any:
        raise NotImplementedError

    def predict(
        self, history: pd.DataFrame, future: pd.DataFrame, static: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        """Forecast from the first time of `future` (one origin), as the backtest asks."""
        origin = future[TIME].min()
        frame = pd.concat([history, future], ignore_index=True)
        fc = self.forecast(frame, pd.DatetimeIndex([origin]), static)
        keys = future[[SERIES, TIME]].astype({SERIES: "string"})
        return fc.merge(keys, on=[SERIES, TIME], how="inner")


def training_windows(
    build: Callable[[pd.DatetimeIndex], Any],
    labelled: Callable[[Any], Any],
    train_origins: pd.DatetimeIndex,
    valid_origins: pd.DatetimeIndex | None,
    lookback: int,
) -> tuple[Any, Any]:
    """(training windows, validation windows or None), keeping only labelled windows; a clear
    error when no training window can be built."""
    train = labelled(build(train_origins))
    if len(train) == 0:
        raise no_training_windows(len(train_origins), lookback)
    valid = None
    if valid_origins is not None and len(valid_origins):
        valid = labelled(build(valid_origins))
        valid = valid if len(valid) else None
    return train, valid


def no_training_windows(n_origins: int, lookback: int) -> InputError:
    return InputError(
        "no training windows: no series has enough history and a known target at the "
        f"{n_origins} training origins (lookback {lookback} intervals)"
    )
