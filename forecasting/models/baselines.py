"""Honest baselines in the forecaster interface.

`SeasonalNaive` repeats the value one season back (default the same hour last week) and
draws its quantiles from the empirical distribution of that season's changes in the history
(per series), so its intervals are calibrated on each series' own past.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.data.schema import SERIES, TARGET, TIME
from forecasting.evaluation.metrics import quantile_column


class SeasonalNaive:
    """P50 = y(t - season); other quantiles add that quantile of the series' past seasonal
    differences y(s) - y(s - season) within the history."""

    def __init__(
        self,
        season: int = 168,
        quantiles: list[float] | None = None,
        freq: str = "1h",
        nonnegative: bool = True,
    ):
        self.season = season
        self.quantiles = quantiles or [0.1, 0.5, 0.9]
        self.freq = freq
        self.nonnegative = nonnegative

    def fit(self, frame: pd.DataFrame) -> SeasonalNaive:
        return self  # nothing to learn globally: everything comes from each series' history

    def predict(self, history: pd.DataFrame, future: pd.DataFrame) -> pd.DataFrame:
        step = pd.Timedelta(self.freq)
        origin = future[TIME].min()
        hist = history[[SERIES, TIME, TARGET]]
        # value one season before each future timestamp, from history only (horizon <= season)
        lookup = hist.rename(columns={TIME: "_src", TARGET: "_base"})
        fut = future[[SERIES, TIME]].copy()
        fut["_src"] = fut[TIME] - self.season * step
        fut = fut.merge(lookup, on=[SERIES, "_src"], how="left")
        fut.loc[fut["_src"] >= origin, "_base"] = np.nan  # never reach into the horizon
        # per-series empirical quantiles of seasonal differences within the history
        h = hist.sort_values([SERIES, TIME])
        prev = h.rename(columns={TIME: "_t0", TARGET: "_y0"})
        h = h.assign(_t0=h[TIME] - self.season * step).merge(prev, on=[SERIES, "_t0"], how="left")
        h["_d"] = h[TARGET] - h["_y0"]
        qs = h.groupby(SERIES)["_d"].quantile(self.quantiles).unstack()
        qs.columns = [quantile_column(q) for q in qs.columns]
        fut = fut.merge(qs, left_on=SERIES, right_index=True, how="left")
        out = fut[[SERIES, TIME]].copy()
        out.insert(1, "origin", origin)
        out["horizon"] = ((out[TIME] - origin) / step).astype("int64") + 1
        for q in self.quantiles:
            col = quantile_column(q)
            spread = fut[col].fillna(0.0) if q != 0.5 else 0.0
            values = fut["_base"] + spread
            out[col] = values.clip(lower=0) if self.nonnegative else values
        cols = [quantile_column(q) for q in self.quantiles]
        out[cols] = np.sort(out[cols].to_numpy(), axis=1)  # no crossing
        return out
