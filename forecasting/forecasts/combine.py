"""Combining member forecasts into an ensemble forecast: numpy and pandas only, shared by the
native ensemble (`forecasting.models.ensemble`) and the torch-free bundle (`serving`).

Weights have shape [blocks, quantiles, members]: block b covers the horizon steps
`blocks[b][0]..blocks[b][1]` (1-based, both included). Each quantile of a row is the weighted
sum of the members' same quantile; the row is then sorted, so quantiles never cross.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np
import pandas as pd

from forecasting.data.schema import SERIES, TIME
from forecasting.evaluation.metrics import quantile_column

KEYS = [SERIES, "origin", TIME, "horizon"]


def horizon_blocks(horizon: int, n_blocks: int) -> list[list[int]]:
    """`n_blocks` contiguous, near-equal blocks of steps 1..horizon, as [first, last] pairs."""
    if not 1 <= n_blocks <= horizon:
        raise ValueError(f"horizon blocks must be between 1 and the horizon {horizon}")
    edges = np.linspace(0, horizon, n_blocks + 1).round().astype(int)
    return [[int(a) + 1, int(b)] for a, b in pairwise(edges)]


def block_index(horizon: np.ndarray, blocks: Sequence[Sequence[int]]) -> np.ndarray:
    """The block of each row's horizon step; -1 for a step outside every block."""
    out = np.full(len(horizon), -1, dtype=np.int64)
    for b, (lo, hi) in enumerate(blocks):
        out[(horizon >= lo) & (horizon <= hi)] = b
    return out


def align(
    frames: Sequence[pd.DataFrame], quantiles: Sequence[float]
) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    """(keys, predictions [rows, members, quantiles], dropped keys) for the rows every member
    forecast; `dropped` holds (series, origin) pairs some member could not forecast."""
    cols = [quantile_column(q) for q in quantiles]
    merged = None
    for i, fc in enumerate(frames):
        part = fc[[*KEYS, *cols]].rename(columns={c: f"{c}__{i}" for c in cols})
        merged = part if merged is None else merged.merge(part, on=KEYS, how="outer")
    assert merged is not None
    values = np.stack(
        [merged[[f"{c}__{i}" for c in cols]].to_numpy(float) for i in range(len(frames))], axis=1
    )
    ok = np.isfinite(values).all(axis=(1, 2))
    dropped = merged.loc[~ok, [SERIES, "origin"]].drop_duplicates()
    keys = merged.loc[ok, KEYS].reset_index(drop=True)
    return keys, values[ok], dropped.reset_index(drop=True)


def member_skipped(parts: dict[str, pd.DataFrame | None]) -> pd.DataFrame:
    """What the members skipped (series_id, origin, reason), each reason naming its member."""
    from forecasting.features.grid import empty_skipped

    named = [
        s.assign(reason=f"{name}: " + s["reason"].astype(str))
        for name, s in parts.items()
        if s is not None and len(s)
    ]
    return pd.concat(named, ignore_index=True) if named else empty_skipped()


def combine(
    pred: np.ndarray,
    horizon: np.ndarray,
    weights: np.ndarray,
    blocks: Sequence[Sequence[int]],
    nonnegative: bool,
) -> np.ndarray:
    """Ensemble quantiles [rows, quantiles] from member predictions [rows, members, quantiles]."""
    w = np.asarray(weights, dtype=float)  # [blocks, quantiles, members]
    b = block_index(np.asarray(horizon), blocks)
    if (b < 0).any():
        raise ValueError(f"horizon steps {sorted(set(horizon[b < 0]))} are outside {blocks}")
    out = np.einsum("rmq,rqm->rq", pred, w[b])
    out = np.sort(out, axis=1)
    return np.clip(out, 0, None) if nonnegative else out


def combined_frame(
    frames: Sequence[pd.DataFrame],
    quantiles: Sequence[float],
    weights: np.ndarray,
    blocks: Sequence[Sequence[int]],
    nonnegative: bool,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(long ensemble forecasts, (series, origin) pairs left out because a member lacked them)."""
    keys, pred, dropped = align(frames, quantiles)
    out = keys.copy()
    if len(keys):
        values = combine(pred, keys["horizon"].to_numpy(), weights, blocks, nonnegative)
    else:
        values = np.zeros((0, len(quantiles)))
    for i, q in enumerate(quantiles):
        out[quantile_column(q)] = values[:, i]
    return out, dropped
