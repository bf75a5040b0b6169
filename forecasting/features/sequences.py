"""Sequence windows for the deep models: tensors of history and horizon per (series, origin).

Each (series, origin) pair gives
- `past`   [pairs, lookback, P]: the scaled target (0 where missing), an observed flag,
  calendar encodings in local time, known-future covariates and observed covariates;
- `future` [pairs, horizon, F]: calendar encodings and known-future covariates at the target
  times, the scaled target one season back (`lags`) and the same-hour mean over the last
  `profile_days` days where those lie before the origin (0 otherwise), and the step position;
- `static_cat` [pairs, C] int64 codes (0 = unknown category, so unseen households work) and
  `static_real` [pairs, R]: log of the series scale, numeric static columns;
- `y` [pairs, horizon]: the scaled target (NaN where unknown; never read for the inputs).

Normalisation is per series and per origin, from the lookback only (the encoder normaliser
idea): with `scaling: mean` the target is divided by its mean |target| over the lookback (at
least `scale_floor`), so a model serves households of any size, seen in training or not.
Covariates are standardised with means and deviations learned from the training frame and
stored with the model. Pure numpy/pandas, shared by training and serving.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecasting.config.features import FeatureConfig
from forecasting.data.holidays import HolidayCalendar
from forecasting.data.schema import SERIES, TARGET
from forecasting.features import grid
from forecasting.features.calendar import calendar_features
from forecasting.features.grid import PairGrid, RowsOfPairs
from forecasting.features.windows import static_codes

# bounded calendar encodings: the networks need no raw hour or month numbers
SEQ_CALENDAR = [
    "hour_sin", "hour_cos", "dow_sin", "dow_cos", "doy_sin", "doy_cos", "is_weekend", "is_holiday",
]  # fmt: skip


@dataclass
class Sequences(RowsOfPairs):
    """Model-ready arrays of every (series, origin) pair; `index` holds series_id and origin."""

    index: pd.DataFrame
    past: np.ndarray
    future: np.ndarray
    static_cat: np.ndarray
    static_real: np.ndarray
    y: np.ndarray
    scale: np.ndarray
    skipped: pd.DataFrame

    def arrays(self) -> tuple[np.ndarray, ...]:
        """The network inputs and label, in the order the deep models take them."""
        return self.past, self.future, self.static_cat, self.static_real, self.y


def sequence_columns(cfg: FeatureConfig, lookback: int, horizon: int) -> dict[str, list[str]]:
    """Channel names of `past`, `future`, `static_cat` and `static_real` for `cfg`."""
    cal = SEQ_CALENDAR if cfg.calendar else []
    lags = [k for k in cfg.lag_steps if k <= lookback]
    future = [*cal, *cfg.known_future, *(f"lag_{k}" for k in lags)]
    if cfg.profile_days:
        future.append("profile_mean")
    return {
        "past": ["target", "observed", *cal, *cfg.known_future, *cfg.observed],
        "future": [*future, "step"],
        "static_cat": [],  # filled by `static_layout`
        "static_real": ["log_scale"],
    }


def covariate_norms(frame: pd.DataFrame, cfg: FeatureConfig) -> dict[str, list[float]]:
    """Mean and standard deviation of each covariate column (learned at fit)."""
    out = {}
    for c in [*cfg.known_future, *cfg.observed]:
        v = frame[c].to_numpy(dtype="float64", na_value=np.nan)
        mean = float(np.nanmean(v)) if np.isfinite(v).any() else 0.0
        std = float(np.nanstd(v)) if np.isfinite(v).any() else 1.0
        out[c] = [mean, std if std > 1e-9 else 1.0]
    return out


def static_layout(
    cfg: FeatureConfig, categories: dict[str, list[str]]
) -> tuple[list[str], list[str]]:
    """(categorical, numeric) static columns: categorical ones are those with learned labels."""
    cat = [c for c in cfg.static if c in categories]
    return cat, [c for c in cfg.static if c not in categories]


def make_sequences(
    frame: pd.DataFrame,
    origins: pd.DatetimeIndex,
    cfg: FeatureConfig,
    horizon: int,
    lookback: int,
    norms: dict[str, list[float]],
    static: pd.DataFrame | None = None,
    categories: dict[str, list[str]] | None = None,
    freq: str | pd.Timedelta = "1h",
    min_history: float = 0.5,
) -> Sequences:
    """Sequence windows of every series of `frame` at every origin (UTC); see the module doc.

    `frame` may carry rows after the origin with known-future covariates and a missing
    target (serving) or with the target (backtests: it becomes `y` only)."""
    categories = categories or {}
    cfg = cfg.in_intervals(pd.Timedelta(freq))
    grid.missing_covariates(frame, [*cfg.known_future, *cfg.observed])
    cols = sequence_columns(cfg, lookback, horizon)
    cat_cols, real_cols = static_layout(cfg, categories)
    pg = grid.pair_grid(frame, origins, horizon, lookback, freq, min_history)
    if pg is None or len(pg) == 0:
        skipped = grid.empty_skipped() if pg is None else pg.skipped
        return _empty(cols, len(cat_cols), 1 + len(real_cols), lookback, horizon, skipped)
    n = len(pg)
    hist = pg.hist
    _, scale, hs = grid.scaled_history(hist, cfg)
    observed = np.isfinite(hs)

    def standard(column: str, start: int, stop: int) -> np.ndarray:
        mean, std = norms.get(column, [0.0, 1.0])
        return np.nan_to_num((pg.take(column, start, stop) - mean) / std)

    cal = _calendar(pg, cfg) if cfg.calendar else None
    past = [np.nan_to_num(hs), observed.astype("float32")]
    future = []
    if cal is not None:
        past_t, fut_t = pg.positions(-lookback, 0), pg.positions(0, horizon)
        past += [cal[c][past_t] for c in SEQ_CALENDAR]
        future += [cal[c][fut_t] for c in SEQ_CALENDAR]
    past += [standard(c, -lookback, 0) for c in [*cfg.known_future, *cfg.observed]]
    future += [standard(c, 0, horizon) for c in cfg.known_future]
    h = np.arange(horizon)
    for k in (k for k in cfg.lag_steps if k <= lookback):
        future.append(np.nan_to_num(grid.lag_at_target(hs, k, horizon)))
    if cfg.profile_days:
        per_day = max(1, int(pd.Timedelta("1D") / pg.step))
        stack = grid.same_hour(hs, cfg.profile_days, per_day, horizon)
        with np.errstate(all="ignore"), grid.quiet_nan():
            future.append(np.nan_to_num(np.nanmean(stack, axis=2)))
    future.append(np.broadcast_to((h + 1) / horizon, (n, horizon)))

    codes = static_codes(static, pg.series, cfg.static, categories)
    static_cat = np.zeros((n, len(cat_cols)), dtype="int64")
    for j, c in enumerate(cat_cols):
        v = codes[c][pg.s_idx]
        static_cat[:, j] = np.where(np.isfinite(v), v + 1, 0)
    reals = [np.log(scale)]
    for c in real_cols:
        mean, std = norms.get(c, [0.0, 1.0])
        reals.append(np.nan_to_num((codes[c][pg.s_idx] - mean) / std))

    y = pg.take(TARGET, 0, horizon) / scale[:, None]
    y[~pg.present[pg.s_idx[:, None], pg.positions(0, horizon)]] = np.nan
    index = pd.DataFrame(
        {SERIES: pg.series[pg.s_idx].astype(str), "origin": pg.origins[pg.o_idx]}
    ).astype({SERIES: "string"})
    return Sequences(
        index,
        np.stack(past, axis=2).astype("float32"),
        np.stack(future, axis=2).astype("float32"),
        static_cat,
        np.stack(reals, axis=1).astype("float32"),
        y.astype("float32"),
        scale,
        pg.skipped,
    )


def static_norms(static: pd.DataFrame | None, columns: list[str]) -> dict[str, list[float]]:
    """Mean and deviation of numeric static columns (learned at fit)."""
    out = {}
    for c in columns:
        assert static is not None
        v = pd.to_numeric(static[c], errors="coerce").to_numpy(dtype="float64")
        std = float(np.nanstd(v)) if np.isfinite(v).any() else 1.0
        out[c] = [float(np.nanmean(v)) if np.isfinite(v).any() else 0.0, std or 1.0]
    return out


def _calendar(pg: PairGrid, cfg: FeatureConfig) -> dict[str, np.ndarray]:
    cal = HolidayCalendar.from_dict(cfg.holidays) if cfg.holidays else None
    frame = calendar_features(pd.Series(pg.times), cfg.timezone, cal)
    return {c: frame[c].to_numpy(dtype="float32") for c in SEQ_CALENDAR}


def _empty(
    cols: dict[str, list[str]],
    n_cat: int,
    n_real: int,
    lookback: int,
    horizon: int,
    skipped: pd.DataFrame,
) -> Sequences:
    index = pd.DataFrame(
        {
            SERIES: pd.Series([], dtype="string"),
            "origin": pd.Series([], dtype="datetime64[us, UTC]"),
        }
    )
    return Sequences(
        index,
        np.zeros((0, lookback, len(cols["past"])), dtype="float32"),
        np.zeros((0, horizon, len(cols["future"])), dtype="float32"),
        np.zeros((0, n_cat), dtype="int64"),
        np.zeros((0, n_real), dtype="float32"),
        np.zeros((0, horizon), dtype="float32"),
        np.zeros(0, dtype="float32"),
        skipped,
    )


def load_windows(
    frame: pd.DataFrame,
    origins: pd.DatetimeIndex,
    features: FeatureConfig,
    window: int,
    lookback: int,
    freq: str,
) -> tuple[Sequences, np.ndarray, np.ndarray]:
    """What the anomaly autoencoder reads, for every (series, origin): (the sequences,
    inputs [N, window, 2 + K]: the load, its expected value (the same hour's mean over the
    lookback days) and K calendar channels, all divided by the recent level; the observed
    mask [N, window]). Shared by the native detector and its served bundle."""
    s = make_sequences(frame, origins, features, window, lookback, {}, freq=freq)
    cols = sequence_columns(features, lookback, window)["future"]
    cal = [cols.index(c) for c in SEQ_CALENDAR if c in cols]
    expected = s.future[:, :, [cols.index("profile_mean")]]
    mask = np.isfinite(s.y)
    x = np.concatenate([np.nan_to_num(s.y)[:, :, None], expected, s.future[:, :, cal]], axis=2)
    return s, x.astype("float32"), mask.astype("float32")
