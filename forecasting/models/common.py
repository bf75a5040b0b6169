"""What the window models (boosted and deep) share on top of their own `forecast`."""

from __future__ import annotations

from typing import Any

import pandas as pd

from forecasting.data.schema import SERIES, TIME


class OriginPredictMixin:
    """The one-origin backtest interface `predict(history, future, static)`, built on a
    vectorised `forecast(frame, origins, static)`."""

    def forecast(self, frame: pd.DataFrame, origins: pd.DatetimeIndex, static: Any) -> Any:
        raise NotImplementedError

    def predict(
        self, history: pd.DataFrame, future: pd.DataFrame, static: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        origin = future[TIME].min()
        frame = pd.concat([history, future], ignore_index=True)
        fc = self.forecast(frame, pd.DatetimeIndex([origin]), static)
        keys = future[[SERIES, TIME]].astype({SERIES: "string"})
        return fc.merge(keys, on=[SERIES, TIME], how="inner")
