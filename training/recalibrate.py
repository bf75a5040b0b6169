"""Rolling recalibration, as the price-forecasting literature evaluates: as the forecast origin
moves through the test period, the model is refitted on the data known by then.

The test origins are cut into blocks (`daily`: each day's origins; `weekly`: seven days at a
time from the first). Before each block the model is refitted on the training windows whose
whole horizon ends at or before the block's first origin (labels it could have known), all of
them or those of the last `calibration_days` days; then it forecasts the block. Boosted models
are refitted from scratch with as many trees as their first fit kept; deep models are warm
started (trained on for `epochs` more epochs from their current weights); an ensemble
refits its members and keeps its weights. The training windows are built once and sliced.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from forecasting.config.trainer import TrainerConfig
from forecasting.data.schema import SERIES, TARGET, TIME
from forecasting.errors import InputError
from forecasting.evaluation.backtest import RollingOrigin

EVERY = {"daily": 1, "weekly": 7}


def recalibration_blocks(
    origins: pd.DatetimeIndex, every: str, timezone: str
) -> list[pd.DatetimeIndex]:
    """The test origins cut into blocks of `every` (daily or weekly) local days."""
    if every not in EVERY:
        raise InputError(f"--recalibrate {every!r}: use daily or weekly")
    local = origins.tz_convert(timezone) if origins.tz is not None else origins
    days = np.asarray((local.normalize() - local.normalize()[0]).days)
    block = days // EVERY[every]
    return [origins[block == b] for b in np.unique(block)]


def _select(rows: Any, origins: pd.DatetimeIndex) -> Any:
    if isinstance(rows, dict):
        return {k: _select(v, origins) for k, v in rows.items()}
    return rows.select(rows.index["origin"].isin(origins).to_numpy())


def recalibrated_forecasts(
    model: Any,
    frame: pd.DataFrame,
    static: pd.DataFrame | None,
    test: pd.DatetimeIndex,
    candidates: RollingOrigin,
    every: str,
    timezone: str,
    calibration_days: int | None = None,
    trainer: TrainerConfig | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The model's forecasts at every `test` origin, refitted before each block (see the
    module docstring), with the `actual` target joined; and what was done."""
    if not hasattr(model, "refit_rows"):
        raise InputError(f"--recalibrate: a {getattr(model, 'kind', type(model).__name__)} model "
                         "learns nothing to recalibrate (a baseline); evaluate it without")  # fmt: skip
    t0 = time.perf_counter()
    pool = candidates.origins(frame)
    pool = pool[pool < test.max()]
    rows = model.training_rows(frame, pool, static)
    step = pd.Timedelta(candidates.freq)
    span = candidates.horizon * step
    blocks = recalibration_blocks(test, every, timezone)
    actual = frame[[SERIES, TIME, TARGET]].rename(columns={TARGET: "actual"})
    parts, sizes, fit_s = [], [], 0.0
    for i, block in enumerate(blocks):
        first = block.min()
        known = pool[pool + span <= first]
        if calibration_days is not None:
            known = known[known >= first - pd.Timedelta(days=calibration_days)]
        if not len(known):
            raise InputError(f"--recalibrate: no training origin has its whole horizon before "
                             f"{first} (the first test origin needs history to refit on)")  # fmt: skip
        t = time.perf_counter()
        model.refit_rows(_select(rows, known), trainer)
        fit_s += time.perf_counter() - t
        sizes.append(len(known))
        parts.append(model.forecast(frame, block, static))
        if progress and (i + 1) % max(1, len(blocks) // 10) == 0:
            progress(
                f"  recalibrated {i + 1} of {len(blocks)} blocks ({time.perf_counter() - t0:.0f} s)"
            )
    fc = pd.concat(parts, ignore_index=True).merge(actual, on=[SERIES, TIME], how="left")
    info = {
        "recalibrate": every, "blocks": len(blocks),
        "calibration_days": calibration_days, "train_origins_per_refit": [min(sizes), max(sizes)],
        "refit_seconds": round(fit_s, 1), "seconds": round(time.perf_counter() - t0, 1),
        "warm_start_epochs": trainer.max_epochs if trainer is not None else None,
    }  # fmt: skip
    return fc, info
