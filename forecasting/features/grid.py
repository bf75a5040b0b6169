"""(series, origin) pairs on a [series, time] grid: the common ground of every windowed model.

Both the row-per-step windows of the boosted models (`windows.py`) and the sequence windows of
the deep models (`sequences.py`) start here: the canonical frame is pivoted once into dense
[series, time] arrays, and each origin is paired with every series that has rows around it
and enough observed history before it. Pure numpy/pandas, shared by training and serving.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import Any, Self

import numpy as np
import pandas as pd

from forecasting.data.schema import SERIES, TARGET, TIME
from forecasting.errors import InputError


def empty_skipped() -> pd.DataFrame:
    return pd.DataFrame({SERIES: [], "origin": [], "reason": []})


@dataclass
class PairGrid:
    """Dense grids of a frame and the (series, origin) pairs that can be forecast.

    `s_idx`/`o_idx` index `series`/`origins` for each kept pair; `hist` is the target over the
    `lookback` intervals before each pair's origin (NaN where missing); `skipped` lists pairs
    with rows near the origin but less observed history than asked for."""

    frame: pd.DataFrame
    series: pd.Index
    origins: pd.DatetimeIndex
    codes: np.ndarray
    ti: np.ndarray
    t0: pd.Timestamp
    step: pd.Timedelta
    n_t: int
    present: np.ndarray
    oi: np.ndarray
    s_idx: np.ndarray
    o_idx: np.ndarray
    hist: np.ndarray
    skipped: pd.DataFrame
    _grids: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.s_idx)

    @property
    def times(self) -> pd.DatetimeIndex:
        if "times" not in self._grids:  # kept beside the grids: asked for by several families
            ns = self.t0.value + np.arange(self.n_t, dtype="int64") * self.step.value
            self._grids["times"] = ns
        return pd.DatetimeIndex(self._grids["times"].astype("datetime64[ns]")).tz_localize("UTC")

    def grid(self, column: str) -> np.ndarray:
        """[series, time] float32 array of a column (built once per column)."""
        if column not in self._grids:
            g = np.full((len(self.series), self.n_t), np.nan, dtype="float32")
            g[self.codes, self.ti] = self.frame[column].to_numpy(dtype="float32", na_value=np.nan)
            self._grids[column] = g
        return self._grids[column]

    def positions(self, start: int, stop: int) -> np.ndarray:
        """[pairs, stop - start] grid time index of offsets start..stop-1 from each origin."""
        return self.oi[self.o_idx][:, None] + np.arange(start, stop)[None, :]

    def take(self, column: str, start: int, stop: int) -> np.ndarray:
        """[pairs, stop - start] values of `column` at offsets start..stop-1 from the origin."""
        return self.grid(column)[self.s_idx[:, None], self.positions(start, stop)]


def _utc_ns(times: pd.Series | pd.DatetimeIndex) -> np.ndarray:
    """Nanoseconds since the epoch (UTC) of tz-aware times, whatever their unit."""
    idx = pd.DatetimeIndex(times)
    return np.asarray(idx.tz_convert("UTC").as_unit("ns").asi8, dtype="int64")


def pair_grid(
    frame: pd.DataFrame,
    origins: pd.DatetimeIndex,
    horizon: int,
    lookback: int,
    freq: str | pd.Timedelta = "1h",
    min_history: float = 0.5,
) -> PairGrid | None:
    """Pivot `frame` and pair its series with `origins` (UTC); None if frame or origins are empty.

    A pair is kept when the series has at least `min_history` of its lookback observed."""
    step = pd.Timedelta(freq)
    origins = pd.DatetimeIndex(origins)
    if frame.empty or len(origins) == 0:
        return None
    codes, series = pd.factorize(frame[SERIES].astype("string"), sort=True)
    # integer nanoseconds since the epoch (UTC): the grid arithmetic without Timedelta objects
    t_ns = _utc_ns(frame[TIME])
    o_ns = _utc_ns(origins)
    s_ns = step.value
    t0_ns = min(int(t_ns.min()), int(o_ns.min()) - lookback * s_ns)
    t1_ns = max(int(t_ns.max()), int(o_ns.max()) + (horizon - 1) * s_ns)
    n_t = (t1_ns - t0_ns) // s_ns + 1
    ti, off = np.divmod(t_ns - t0_ns, s_ns)
    if off.any():
        raise InputError(f"timestamps are not on the {step} grid of the origins")
    t0 = pd.Timestamp(t0_ns, unit="ns", tz="UTC")
    present = np.zeros((len(series), n_t), dtype=bool)
    present[codes, ti] = True
    oi = (o_ns - t0_ns) // s_ns

    # all (series, origin) pairs where the series has rows around the origin
    s_idx = np.repeat(np.arange(len(series)), len(oi))
    o_idx = np.tile(np.arange(len(oi)), len(series))
    span = oi[o_idx][:, None] + np.arange(-lookback, horizon)[None, :]
    around = present[s_idx[:, None], span].any(axis=1)
    pg = PairGrid(
        frame, series, origins, codes, ti, t0, step, n_t, present, oi,
        s_idx[around], o_idx[around], np.zeros((0, lookback)), empty_skipped(),
    )  # fmt: skip
    hist = pg.take(TARGET, -lookback, 0)
    n_obs = np.isfinite(hist).sum(axis=1)
    ok = n_obs >= max(1, int(np.ceil(min_history * lookback)))
    pg.skipped = pd.DataFrame(
        {
            SERIES: series[pg.s_idx[~ok]].astype(str),
            "origin": origins[pg.o_idx[~ok]],
            "reason": [f"history has {n} of {lookback} intervals observed" for n in n_obs[~ok]],
        }
    )
    pg.s_idx, pg.o_idx, pg.hist = pg.s_idx[ok], pg.o_idx[ok], hist[ok]
    return pg


class RowsOfPairs:
    """What the window dataclasses share: their length and row selection (every table and
    array field is cut by the mask; `skipped` is kept whole)."""

    index: pd.DataFrame

    def __len__(self) -> int:
        return len(self.index)

    def select(self, mask: np.ndarray) -> Self:
        cut = {}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if f.name == "skipped":
                cut[f.name] = value
            elif isinstance(value, pd.DataFrame):
                cut[f.name] = value[mask].reset_index(drop=True)
            else:
                cut[f.name] = value[mask]
        return type(self)(**cut)


def missing_covariates(frame: pd.DataFrame, needed: list[str]) -> None:
    """Raise InputError naming the covariates a model needs that the frame lacks."""
    missing = [c for c in needed if c not in frame]
    if missing:
        raise InputError(
            f"the model needs covariate column(s) {missing}, which the data does not have; "
            f"columns present: {[c for c in frame.columns if c not in (SERIES, TIME, TARGET)]}"
        )


@contextmanager
def quiet_nan() -> Iterator[None]:
    """Silence numpy's 'mean of empty slice' warnings (all-missing windows give NaN by design)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


# ---- what both window layouts compute from each pair's history ---------------------------


def scaled_history(hist: np.ndarray, cfg: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(level, scale, scaled history) per pair: the mean |target| over the lookback, the
    divisor (at least `cfg.scale_floor`; 1 without scaling, float32) and `hist / scale`."""
    with np.errstate(all="ignore"), quiet_nan():
        level = np.nanmean(np.abs(hist), axis=1)
    scale = np.maximum(level, cfg.scale_floor) if cfg.scaling == "mean" else np.ones_like(level)
    scale = scale.astype("float32")
    return level, scale, hist / scale[:, None]


def lag_at_target(hs: np.ndarray, k: int, horizon: int) -> np.ndarray:
    """The scaled target `k` intervals before each target time [pairs, horizon]: NaN where that
    time is at or after the origin (never read from the horizon)."""
    lookback = hs.shape[1]
    pos = lookback - k + np.arange(horizon)
    lag = np.full((len(hs), horizon), np.nan, dtype="float32")
    valid = (pos < lookback) & (pos >= 0)
    lag[:, valid] = hs[:, pos[valid]]
    return lag


def same_hour(hs: np.ndarray, days: int, per_day: int, horizon: int, shift: int = 0) -> np.ndarray:
    """The scaled target at the same time of day (+ `shift` intervals) on each of the last
    `days` days before each target time [pairs, horizon, days]; NaN inside the horizon."""
    lookback = hs.shape[1]
    d = np.arange(1, days + 1)
    pos = lookback - per_day * d[None, :] + np.arange(horizon)[:, None] + shift  # [horizon, days]
    ok = (pos < lookback) & (pos >= 0)
    return np.where(ok[None], hs[:, np.clip(pos, 0, lookback - 1)], np.nan)
