"""An ensemble run: member runs combined with learned non-negative weights per quantile (and
horizon block). Made by `forecasting ensemble` (training/ensemble.py).

    RUNDIR/run.json        kind "ensemble", quantiles, horizon, lookback, members, files
    RUNDIR/weights.json    blocks, members, weights [blocks][quantiles][members]
    RUNDIR/metrics.json    validation pinball of every member, of equal and fixed weights,
                           and of the learned weights
    RUNDIR/data_config.yaml  the members' data config (evaluate defaults to it)
    RUNDIR/members/NAME/   a copy of each member's run folder

It forecasts and backtests like any model; `forecasting export` writes a bundle of member
bundles plus the weights, which `serving` combines the same way (`forecasting.forecasts.combine`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecasting.errors import InputError
from forecasting.forecasts.calibration import IntervalCalibration, calibrated
from forecasting.forecasts.combine import combined_frame, member_skipped

WEIGHTS = "weights.json"
MEMBERS = "members"


class EnsembleForecaster:
    """Member models and their weights. `forecast(frame, origins, static)` forecasts with every
    member and combines the rows all members forecast; `skipped_` says what was left out."""

    kind = "ensemble"

    def __init__(
        self,
        members: dict[str, Any],
        weights: np.ndarray,
        blocks: list[list[int]],
        quantiles: list[float],
        horizon: int,
        freq: str,
        nonnegative: bool,
        calibration: IntervalCalibration | None = None,
    ):
        self.members = members
        self.calibration_ = calibration
        self.weights = np.asarray(weights, dtype=float)
        self.blocks = blocks
        self.quantiles = quantiles
        self.horizon = horizon
        self.freq = freq
        self.nonnegative = nonnegative
        self.lookback = max(m.lookback for m in members.values())
        expected = (len(blocks), len(quantiles), len(members))
        if self.weights.shape != expected:
            raise InputError(f"ensemble weights have shape {self.weights.shape}, not {expected}")

    def member_forecasts(
        self, frame: pd.DataFrame, origins: pd.DatetimeIndex, static: pd.DataFrame | None
    ) -> tuple[list[pd.DataFrame], pd.DataFrame]:
        """Each member's forecasts, and what the members skipped (with the member named)."""
        frames = [m.forecast(frame, origins, static) for m in self.members.values()]
        skipped = {n: getattr(m, "skipped_", None) for n, m in self.members.items()}
        return frames, member_skipped(skipped)

    def training_rows(
        self, frame: pd.DataFrame, origins: pd.DatetimeIndex, static: pd.DataFrame | None
    ) -> dict[str, Any]:
        """Each member's labelled windows (members that learn nothing, the baselines, none)."""
        return {n: m.training_rows(frame, origins, static) for n, m in self.members.items()
                if hasattr(m, "training_rows")}  # fmt: skip

    def refit_rows(self, rows: dict[str, Any], trainer: Any = None) -> EnsembleForecaster:
        """Recalibrate every member on its rows; the combination weights stay as learned."""
        for name, member_rows in rows.items():
            self.members[name].refit_rows(member_rows, trainer)
        return self

    def forecast(
        self, frame: pd.DataFrame, origins: pd.DatetimeIndex, static: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        frames, skipped = self.member_forecasts(frame, origins, static)
        out, _ = combined_frame(frames, self.quantiles, self.weights, self.blocks, self.nonnegative)
        self.skipped_ = skipped
        return calibrated(out, self.calibration_, self.nonnegative)  # the combination's own

    @classmethod
    def load(cls, folder: Path) -> EnsembleForecaster:
        from forecasting.models.registry import load_run

        path = folder / WEIGHTS
        try:
            spec = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(f"{path}: cannot read the ensemble weights ({exc})") from None
        members = {name: load_run(folder / MEMBERS / name)[0] for name in spec["members"]}
        try:
            calibration = IntervalCalibration.from_json(
                spec.get("calibration"), spec["quantiles"], spec["horizon"]
            )
        except ValueError as exc:
            raise InputError(f"{path}: {exc}") from None
        return cls(
            members,
            np.asarray(spec["weights"]),
            spec["blocks"],
            spec["quantiles"],
            spec["horizon"],
            spec["freq"],
            spec["nonnegative"],
            calibration,
        )
