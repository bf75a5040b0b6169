"""Origin-anchored feature windows: the rows a multi-horizon ("horizon as a feature") model sees.

A window is one (series, origin) pair: the `lookback` intervals of target before the origin
and the `horizon` intervals from it. Each horizon step becomes one row whose features are
- known at the origin: the series' level, recent statistics and its profile at the same hour
  over the last days, lags at the target time that lie before the origin, observed
  covariates at the last interval before the origin;
- known for the target time: calendar in local time (with holidays), known-future
  covariates (weather forecast, tariff signal) and heating/cooling degree hours;
- static attributes (categories coded with a mapping learned at fit and stored with the model);
- the step number `horizon` (1 = the interval starting at the origin).

No target at or after the origin is read for any feature; it is read only as the label `y`.
With `scaling: mean` every target-derived feature and the label are divided by the series'
mean |target| over the lookback (at least `scale_floor`), so one model serves households of
any size, including ones it never saw. Pure numpy/pandas, shared by training and serving.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecasting.config.features import FeatureConfig
from forecasting.data.holidays import HolidayCalendar
from forecasting.data.schema import SERIES, TARGET, TIME
from forecasting.errors import InputError
from forecasting.features.calendar import CALENDAR, calendar_features
from forecasting.features.grid import (
    PairGrid,
    RowsOfPairs,
    empty_skipped,
    lag_at_target,
    missing_covariates,
    pair_grid,
    quiet_nan,
    same_hour,
    scaled_history,
)

INDEX = [SERIES, "origin", TIME, "horizon"]


@dataclass
class Windows(RowsOfPairs):
    """Rows of (series, origin, step): `index` (series_id, origin, timestamp, horizon),
    float32 features `X`, label `y` in target units (NaN where unknown) and the per-row
    divisor `scale` (1 without scaling). `skipped` lists (series_id, origin, reason) pairs
    that could not be built (too little history)."""

    index: pd.DataFrame
    X: pd.DataFrame
    y: np.ndarray
    scale: np.ndarray
    skipped: pd.DataFrame


def learn_categories(static: pd.DataFrame | None, columns: list[str]) -> dict[str, list[str]]:
    """Sorted category labels of each non-numeric static column (the code is the position)."""
    out: dict[str, list[str]] = {}
    for col in columns:
        if static is None or col not in static:
            raise InputError(f"static column {col!r} is not in the static table")
        if not pd.api.types.is_numeric_dtype(static[col]):
            out[col] = sorted(static[col].dropna().astype(str).unique().tolist())
    return out


def static_codes(
    static: pd.DataFrame | None,
    series: pd.Index,
    columns: list[str],
    categories: dict[str, list[str]],
) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for col in columns:
        if static is None or col not in static:
            raise InputError(
                f"static column {col!r} is needed by the model but missing from the static table"
            )
    if not columns:
        return out
    assert static is not None
    table = static.drop_duplicates(SERIES)
    rows = pd.Index(table[SERIES].astype(str)).get_indexer(pd.Index(series).astype(str))
    absent = rows < 0  # series the table lacks: no value
    for col in columns:
        values = table[col].to_numpy(dtype=object)[np.maximum(rows, 0)]
        if col in categories:  # the label as text (5.0 -> "5.0"), its position in the list
            lookup = {c: float(i) for i, c in enumerate(categories[col])}
            codes = [np.nan if v is None or (not isinstance(v, str) and pd.isna(v))
                     else lookup.get(v if isinstance(v, str) else str(v), np.nan)
                     for v in values]  # fmt: skip
            out[col] = np.where(absent, np.nan, np.asarray(codes, dtype="float64")).astype(
                "float32"
            )
        else:
            num = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype="float32")
            out[col] = np.where(absent, np.float32(np.nan), num)
    return out


def window_families(
    cfg: FeatureConfig,
    frame_columns: list[str] | None = None,
    freq: str | pd.Timedelta | None = None,
) -> dict[str, list[str]]:
    """The features `make_windows` builds for `cfg`, by family, in column order:
    the step, the history at the origin, target lags, same-hour profiles, calendar,
    known-future covariates (with degree hours), observed covariates and static attributes.
    A recipe with durations ('1D') needs the data's interval `freq` to name its lags."""
    if freq is not None:
        cfg = cfg.in_intervals(pd.Timedelta(freq))
    history = ["level", "last"]
    for w in cfg.window_steps:
        history += [f"roll_{s}_{w}" for s in cfg.rolling_stats]
    profile = ["profile_mean", "profile_median", "profile_std", "profile_near_mean"]
    analog = ["analog_mean", "analog_std"] if cfg.analog_days else []
    known = list(cfg.known_future)
    known += [f"{c}_lag_{k}" for c in cfg.known_future for k in cfg.covariate_lag_steps]
    if cfg.covariate_horizon_stats:
        known += [f"{c}_horizon_{s}" for c in cfg.known_future for s in ("mean", "min", "max")]
    if cfg.temperature and (frame_columns is None or cfg.temperature in frame_columns):
        known += ["hdh", "cdh"]
    history += [f"recent_{k}" for k in range(1, cfg.recent_values + 1)]
    return {
        "step": ["horizon"],
        "history": history,
        "lags": [f"lag_{k}" for k in cfg.lag_steps],
        "profile": profile if cfg.profile_days else [],
        "analog": analog,
        # weekday enters as `dow`; trees need no weekday circle
        "calendar": [c for c in CALENDAR if c not in ("dow_sin", "dow_cos")]
        if cfg.calendar
        else [],
        "known_future": known,
        "observed": [f"{c}_last" for c in cfg.observed],
        "static": list(cfg.static),
    }


def window_columns(cfg: FeatureConfig, frame_columns: list[str] | None = None) -> list[str]:
    """Names of the features `make_windows` builds for `cfg` (in order)."""
    return [c for cols in window_families(cfg, frame_columns).values() for c in cols]


def check_geometry(cfg: FeatureConfig, lookback: int, horizon: int, per_day: int) -> None:
    """Raise InputError if a feature needs more history than `lookback` intervals."""
    if horizon < 1 or lookback < 1:
        raise InputError(f"horizon and lookback must be positive, got {horizon} and {lookback}")
    need = {f"lag_{k}": k for k in cfg.lag_steps}
    need |= {f"rolling window {w}": w for w in cfg.window_steps}
    need |= {f"covariate lag {k}": k for k in cfg.covariate_lag_steps}
    if cfg.recent_values:
        need["recent_values"] = cfg.recent_values
    if cfg.profile_days:
        need["profile_days"] = cfg.profile_days * per_day
    if cfg.analog_days:  # the candidate days before yesterday, and yesterday
        need["analog_days"] = (cfg.analog_days + 1) * per_day
    too_long = {k: v for k, v in need.items() if v > lookback}
    if too_long:
        raise InputError(
            f"features need more history than lookback={lookback} intervals: {too_long}; "
            "raise the lookback or shorten them"
        )


def make_windows(
    frame: pd.DataFrame,
    origins: pd.DatetimeIndex,
    cfg: FeatureConfig,
    horizon: int,
    lookback: int,
    static: pd.DataFrame | None = None,
    categories: dict[str, list[str]] | None = None,
    freq: str | pd.Timedelta = "1h",
    min_history: float = 0.5,
) -> Windows:
    """Feature rows for every series of `frame` at every origin in `origins` (UTC).

    `frame` is canonical; it may carry rows after the origin with known-future covariates and
    a missing target (serving) or with the target (backtests: it becomes `y` only). A pair is
    built when the series has at least `min_history` of its lookback observed; a series with
    some rows in the window but less history than that is listed in `skipped`.
    """
    step = pd.Timedelta(freq)
    cfg = cfg.in_intervals(step)
    per_day = max(1, int(pd.Timedelta("1D") / step))
    check_geometry(cfg, lookback, horizon, per_day)
    missing_covariates(frame, [*cfg.known_future, *cfg.observed])
    cols = window_columns(cfg, list(frame.columns))
    pg = pair_grid(frame, origins, horizon, lookback, step, min_history)
    if pg is None or len(pg) == 0:
        return _empty(cols, empty_skipped() if pg is None else pg.skipped)
    s_idx, o_idx, hist, n_pairs = pg.s_idx, pg.o_idx, pg.hist, len(pg)
    series = pg.series

    level, scale, hs = scaled_history(hist, cfg)
    rows_t = pg.positions(0, horizon)  # grid index of each target time
    # per-row arrays [pairs, horizon], one family at a time
    feats: dict[str, np.ndarray] = {
        "horizon": np.broadcast_to(np.arange(1, horizon + 1), (n_pairs, horizon)),
        **_history_family(level, hs, cfg, horizon),
        **{f"lag_{k}": lag_at_target(hs, k, horizon) for k in cfg.lag_steps},
        **_profile_family(hs, cfg, per_day, horizon),
        **_analog_family(hs, cfg, per_day, horizon),
        **_calendar_family(pg, cfg, rows_t),
        **_covariate_family(pg, cfg, cols, horizon),
    }
    codes = static_codes(static, series, cfg.static, categories or {})
    for c, values in codes.items():
        feats[c] = np.broadcast_to(values[s_idx][:, None], (n_pairs, horizon))

    X = pd.DataFrame({c: np.asarray(feats[c], dtype="float32").reshape(-1) for c in cols})
    index = pd.DataFrame(
        {
            SERIES: np.repeat(series[s_idx].astype(str), horizon),
            "origin": np.repeat(pg.origins[o_idx], horizon),
            TIME: pg.times[rows_t.reshape(-1)],
            "horizon": np.tile(np.arange(1, horizon + 1), n_pairs).astype("int64"),
        }
    )
    index[SERIES] = index[SERIES].astype("string")
    y = pg.take(TARGET, 0, horizon).reshape(-1).astype("float64")
    y[~pg.present[s_idx[:, None], rows_t].reshape(-1)] = np.nan
    return Windows(index, X, y, np.repeat(scale, horizon).astype("float64"), pg.skipped)


def _history_family(
    level: np.ndarray, hs: np.ndarray, cfg: FeatureConfig, horizon: int
) -> dict[str, np.ndarray]:
    """The series at the origin: its level, last value and rolling statistics of the
    lookback's end (the same for every step of a pair)."""
    pair: dict[str, np.ndarray] = {"level": level.astype("float32"), "last": hs[:, -1]}
    with np.errstate(all="ignore"), quiet_nan():
        for w in cfg.window_steps:
            block = hs[:, -w:]
            for stat in cfg.rolling_stats:
                pair[f"roll_{stat}_{w}"] = getattr(np, f"nan{stat}")(block, axis=1)
    for k in range(1, cfg.recent_values + 1):  # recent_1 is the last interval before the origin
        pair[f"recent_{k}"] = hs[:, -k]
    return {k: np.broadcast_to(v[:, None], (len(hs), horizon)) for k, v in pair.items()}


def _profile_family(
    hs: np.ndarray, cfg: FeatureConfig, per_day: int, horizon: int
) -> dict[str, np.ndarray]:
    """The series at the same time of day over the last `profile_days` days before each
    target time, and at the same hour +-1 interval (routines shift a little from day to day)."""
    if not cfg.profile_days:
        return {}
    stack = same_hour(hs, cfg.profile_days, per_day, horizon)
    near = [stack] + [same_hour(hs, cfg.profile_days, per_day, horizon, shift) for shift in (-1, 1)]
    with np.errstate(all="ignore"), quiet_nan():
        return {
            "profile_mean": np.nanmean(stack, axis=2),
            "profile_median": np.nanmedian(stack, axis=2),
            "profile_std": np.nanstd(stack, axis=2),
            "profile_near_mean": np.nanmean(np.concatenate(near, axis=2), axis=2),
        }


def _analog_family(
    hs: np.ndarray, cfg: FeatureConfig, per_day: int, horizon: int
) -> dict[str, np.ndarray]:
    """Similar-day analogues: the past days whose shape was closest (mean absolute difference
    of the scaled load, interval by interval) to the last day before the origin; the mean and
    standard deviation, over the `analog_days` closest, of the day that followed each, at each
    target's time of day (a lag of whole days: never read from the horizon)."""
    if not cfg.analog_days:
        return {}
    days = hs.shape[1] // per_day - 1  # candidate days d: the d-th day before yesterday
    last = hs[:, -per_day:]
    dist = np.full((len(hs), days), np.nan, dtype="float32")
    follow = np.full((len(hs), horizon, days), np.nan, dtype="float32")
    with np.errstate(all="ignore"), quiet_nan():
        for d in range(1, days + 1):
            past = hs[:, -(d + 1) * per_day : -d * per_day]
            dist[:, d - 1] = np.nanmean(np.abs(past - last), axis=1)
            follow[:, :, d - 1] = lag_at_target(hs, d * per_day, horizon)  # the day after it
        follow[np.broadcast_to(np.isnan(dist)[:, None, :], follow.shape)] = np.nan  # no shape
        dist = np.where(np.isnan(dist), np.inf, dist)
        nearest = np.argsort(dist, axis=1, kind="stable")[:, : cfg.analog_days]  # [pairs, N]
        picked = np.take_along_axis(follow, nearest[:, None, :], axis=2)
        return {"analog_mean": np.nanmean(picked, axis=2), "analog_std": np.nanstd(picked, axis=2)}


def _calendar_family(pg: PairGrid, cfg: FeatureConfig, rows_t: np.ndarray) -> dict[str, np.ndarray]:
    """Calendar encodings of each target time in local time, with holidays."""
    if not cfg.calendar:
        return {}
    cal = HolidayCalendar.from_dict(cfg.holidays) if cfg.holidays else None
    cal_frame = calendar_features(pd.Series(pg.times), cfg.timezone, cal)
    names = window_families(cfg)["calendar"]
    return {c: cal_frame[c].to_numpy(dtype="float32")[rows_t] for c in names}


def _covariate_family(
    pg: PairGrid, cfg: FeatureConfig, cols: list[str], horizon: int
) -> dict[str, np.ndarray]:
    """Known-future covariates at each target time (with heating and cooling degree hours),
    at the target time less each covariate lag, and their mean, min and max over the horizon;
    observed covariates at the last interval before the origin."""
    out = {c: pg.take(c, 0, horizon) for c in cfg.known_future}
    for c in cfg.known_future:
        for k in cfg.covariate_lag_steps:
            out[f"{c}_lag_{k}"] = pg.take(c, -k, horizon - k)
        if cfg.covariate_horizon_stats:
            with np.errstate(all="ignore"), quiet_nan():
                for stat in ("mean", "min", "max"):
                    value = getattr(np, f"nan{stat}")(out[c], axis=1)
                    out[f"{c}_horizon_{stat}"] = np.broadcast_to(value[:, None], (len(pg), horizon))
    if "hdh" in cols and cfg.temperature:
        temp = pg.take(cfg.temperature, 0, horizon)
        out["hdh"] = np.clip(cfg.heating_base - temp, 0, None)
        out["cdh"] = np.clip(temp - cfg.cooling_base, 0, None)
    for c in cfg.observed:
        last = pg.take(c, -1, 0)[:, 0]
        out[f"{c}_last"] = np.broadcast_to(last[:, None], (len(pg), horizon))
    return out


def _empty(cols: list[str], skipped: pd.DataFrame) -> Windows:
    index = pd.DataFrame(
        {
            SERIES: pd.Series([], dtype="string"),
            "origin": pd.Series([], dtype="datetime64[us, UTC]"),
            TIME: pd.Series([], dtype="datetime64[us, UTC]"),
            "horizon": pd.Series([], dtype="int64"),
        }
    )
    X = pd.DataFrame({c: pd.Series([], dtype="float32") for c in cols})
    return Windows(index, X, np.zeros(0), np.zeros(0), skipped)
