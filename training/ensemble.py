"""`forecasting ensemble`: learn how much to trust each member run.

Every member forecasts the same validation origins (a rolling-origin backtest over the
members' validation period, or `--start/--end`). For each quantile q (and each horizon block),
the weights w >= 0 minimise the pinball loss of sum_m w_m * member_m's q-forecast: a linear
program, solved exactly through its dual (one variable per row, one constraint per member)
with HiGHS. Rows beyond `max_rows` per (block, quantile) are subsampled, seeded. After
combination each row's quantiles are sorted, so they never cross (`forecasting.forecasts.combine`).

The validation scores of every member, of equal weights, of the fixed 50/30/20
CNN-LSTM/XGBoost/LightGBM weights this project grew from (when those three are the members)
and of the learned weights are written to the run's metrics.json.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from forecasting import __version__
from forecasting.config.data import load_data_config
from forecasting.config.model import Period, TrainConfig
from forecasting.data.prepare import Prepared, prepare
from forecasting.data.schema import SERIES, TARGET, TIME
from forecasting.errors import InputError
from forecasting.evaluation.metrics import pinball, quantile_column
from forecasting.folders import check_output_folder, write_json
from forecasting.forecasts.calibration import IntervalCalibration, calibrate_backtest
from forecasting.forecasts.combine import align, block_index, combine, horizon_blocks
from forecasting.models.ensemble import MEMBERS, WEIGHTS
from forecasting.models.kinds import KINDS, model_kind
from forecasting.models.registry import RUN_FORMAT, load_run, read_run, seal_run

FIXED_50_30_20 = {"cnn_lstm": 0.5, "xgboost": 0.3, "lightgbm": 0.2}
RUN_FILES = ("run.json", "config.yaml", "data_config.yaml", "features.json", "metrics.json")


@dataclass
class EnsembleResult:
    run_dir: Path
    members: list[str]
    weights: np.ndarray  # [blocks, quantiles, members]
    blocks: list[list[int]]
    metrics: dict[str, Any]


def solve_weights(F: np.ndarray, y: np.ndarray, q: float, sum_to_one: bool = False) -> np.ndarray:
    """Non-negative w minimising mean pinball_q(y - F w), F [rows, members].

    Primal: min sum(q u + (1-q) v) s.t. F w + u - v = y; w, u, v >= 0. Its dual has one
    bounded variable per row and one constraint per member: max y'd s.t. F'd <= 0,
    q-1 <= d <= q (with sum(w) = 1, a free variable e: max y'd + e s.t. F'd + e <= 0). The
    weights are the duals of the member constraints."""
    from scipy.optimize import linprog

    n, m = F.shape
    if sum_to_one:
        c = np.concatenate([-y, [-1.0]])
        A = np.hstack([F.T, np.ones((m, 1))])
        bounds = [(q - 1, q)] * n + [(None, None)]
    else:
        c, A, bounds = -y, F.T, [(q - 1, q)] * n
    res = linprog(c, A_ub=A, b_ub=np.zeros(m), bounds=bounds, method="highs")
    if res.status != 0:
        raise InputError(f"the weight problem for quantile {q} did not solve: {res.message}")
    return np.clip(-res.ineqlin.marginals, 0, None)


def fit_weights(
    pred: np.ndarray,
    y: np.ndarray,
    horizon: np.ndarray,
    quantiles: list[float],
    blocks: list[list[int]],
    sum_to_one: bool = False,
    max_rows: int = 50_000,
    seed: int = 0,
) -> np.ndarray:
    """Weights [blocks, quantiles, members] from member predictions [rows, members, quantiles]."""
    rng = np.random.default_rng(seed)
    b = block_index(horizon, blocks)
    out = np.zeros((len(blocks), len(quantiles), pred.shape[1]))
    for k in range(len(blocks)):
        rows = np.flatnonzero(b == k)
        if len(rows) == 0:
            raise InputError(f"no validation rows in horizon block {blocks[k]}")
        if len(rows) > max_rows:
            rows = np.sort(rng.choice(rows, max_rows, replace=False))
        for j, q in enumerate(quantiles):
            out[k, j] = solve_weights(pred[rows, :, j], y[rows], q, sum_to_one)
    return out


def scores(
    pred: np.ndarray, y: np.ndarray, quantiles: list[float], point: int | None
) -> dict[str, float]:
    """Pinball per quantile, their mean (`loss`) and the MAE of the median, pred [rows, Q]."""
    out = {quantile_column(q): pinball(y, pred[:, i], q) for i, q in enumerate(quantiles)}
    out["loss"] = float(np.mean([out[quantile_column(q)] for q in quantiles]))
    if point is not None:
        out["mae"] = float(np.mean(np.abs(y - pred[:, point])))
    return out


def build_ensemble(
    runs: list[Path],
    output: Path,
    start: str | None = None,
    end: str | None = None,
    input_path: str | None = None,
    data_config: str | Path | None = None,
    n_blocks: int = 1,
    sum_to_one: bool = False,
    max_rows: int = 50_000,
    prepared: Prepared | None = None,
    interval_calibration: str = "conformal",
) -> EnsembleResult:
    """Learn the weights of the member `runs` on their validation backtests and write the
    ensemble run folder `output`."""
    if len(runs) < 2:
        raise InputError(f"an ensemble needs at least 2 member runs, got {len(runs)}")
    members, metas, cfgs, names = _read_members(runs)
    first = metas[0]
    quantiles, horizon = first["quantiles"], first["horizon"]
    try:
        blocks = horizon_blocks(horizon, n_blocks)
    except ValueError as exc:
        raise InputError(f"--horizon-blocks {n_blocks}: {exc}") from None
    data_path = Path(data_config or runs[0] / "data_config.yaml")
    data_cfg = load_data_config(data_path)
    if prepared is None:
        prepared = prepare(data_cfg, input_path)
    period = _period(runs, cfgs, start, end)
    from training.train import period_splitter

    splitter = period_splitter(period, cfgs[0], first["timezone"], first["freq"])
    splitter = _widest(splitter, members)
    frame = prepared.frame
    origins = splitter.origins(frame)
    if len(origins) == 0:
        raise InputError(
            f"no validation origins between {period.start} and {period.end}: the data spans "
            f"{frame[TIME].min()} to {frame[TIME].max()}"
        )
    frames = [m.forecast(frame, origins, prepared.static) for m in members]
    keys, pred, dropped = align(frames, quantiles)
    actual = frame[[SERIES, TIME, TARGET]].astype({SERIES: "string"})
    y = keys.astype({SERIES: "string"}).merge(actual, on=[SERIES, TIME], how="left")[TARGET]
    known = np.isfinite(y.to_numpy(float))
    y_k, pred_k = y.to_numpy(float)[known], pred[known]
    h_k = keys["horizon"].to_numpy()[known]
    if len(y_k) == 0:
        raise InputError("the validation backtest has no rows with a known target")
    weights = fit_weights(pred_k, y_k, h_k, quantiles, blocks, sum_to_one, max_rows)
    nonneg = bool(first["nonnegative"])
    point = quantiles.index(0.5) if 0.5 in quantiles else None
    validation: dict[str, Any] = {
        name: scores(pred_k[:, i], y_k, quantiles, point) for i, name in enumerate(names)
    }
    equal = np.full_like(weights, 1 / len(names))
    validation["equal_weights"] = scores(
        combine(pred_k, h_k, equal, blocks, nonneg), y_k, quantiles, point
    )
    fixed = fixed_weights([m["kind"] for m in metas], weights.shape)
    if fixed is not None:
        validation["fixed_50_30_20"] = scores(
            combine(pred_k, h_k, fixed, blocks, nonneg), y_k, quantiles, point
        )
    learned = combine(pred_k, h_k, weights, blocks, nonneg)
    validation["learned"] = scores(learned, y_k, quantiles, point)
    calibration, calibration_info = None, None
    if interval_calibration == "conformal":
        rows = keys[known].reset_index(drop=True).assign(actual=y_k)
        for j, q in enumerate(quantiles):
            rows[quantile_column(q)] = learned[:, j]
        calibration, calibration_info = calibrate_backtest(
            rows, quantiles, horizon, first["timezone"], nonneg
        )
    metrics = {
        "validation_period": {"start": str(period.start), "end": str(period.end)},
        "validation_origins": len(origins),
        "validation_rows": len(y_k),
        "pairs_dropped": len(dropped),
        "sum_to_one": sum_to_one,
        "max_rows_per_fit": max_rows,
        "validation": validation,
        "interval_calibration": calibration_info or {"method": "none"},
    }
    _write(output, runs, names, metas, weights, blocks, metrics, data_path, sum_to_one,
           calibration)  # fmt: skip
    return EnsembleResult(output, names, weights, blocks, metrics)


def fixed_weights(kinds: list[str], shape: tuple[int, ...]) -> np.ndarray | None:
    """The 50/30/20 CNN-LSTM/XGBoost/LightGBM weights, when those are exactly the members."""
    if sorted(kinds) != sorted(FIXED_50_30_20):
        return None
    w = np.array([FIXED_50_30_20[k] for k in kinds])
    return np.broadcast_to(w, shape).copy()


def _read_members(
    runs: list[Path],
) -> tuple[list[Any], list[dict[str, Any]], list[TrainConfig], list[str]]:
    members, metas, cfgs, names = [], [], [], []
    for run in runs:
        meta, cfg = read_run(run)
        if cfg is None:
            raise InputError(f"{run}: an ensemble cannot be a member of an ensemble")
        can = model_kind(meta["kind"]).capabilities
        if can.anomaly:
            raise InputError(f"{run}: a {meta['kind']!r} run detects anomalies; not a forecaster")
        if not can.exportable:
            members_ok = [k for k, v in KINDS.items() if v.capabilities.exportable
                          and v.capabilities.quantiles and not v.combines_members]  # fmt: skip
            raise InputError(
                f"{run}: a {meta['kind']!r} run cannot be a member (members are trained, "
                f"exportable forecasters: {', '.join(members_ok)})"
            )
        model, _ = load_run(run)
        members.append(model)
        metas.append(meta)
        cfgs.append(cfg)
        base = re.sub(r"[^A-Za-z0-9_.-]+", "_", meta.get("name") or run.name)
        if base in names:
            base = f"{base}_{meta['kind']}"
        name, k = base, 2
        while name in names:
            name, k = f"{base}_{k}", k + 1
        names.append(name)
    first = metas[0]
    for run, meta in zip(runs[1:], metas[1:], strict=True):
        for key in ("quantiles", "horizon", "freq", "nonnegative", "timezone"):
            if meta[key] != first[key]:
                raise InputError(
                    f"{run}: {key} {meta[key]!r} differs from {first[key]!r} of {runs[0]}; "
                    "members must forecast the same quantiles, horizon and frequency"
                )
    return members, metas, cfgs, names


def _period(
    runs: list[Path], cfgs: list[TrainConfig], start: str | None, end: str | None
) -> Period:
    if start or end:
        if not (start and end):
            raise InputError("give both --start and --end, or neither")
        try:
            return Period(start=pd.Timestamp(start).date(), end=pd.Timestamp(end).date())
        except ValueError as exc:
            raise InputError(f"--start/--end: {exc}") from None
    periods = {(c.validation.start, c.validation.end) if c.validation else None for c in cfgs}
    if None in periods:
        missing = [str(r) for r, c in zip(runs, cfgs, strict=True) if c.validation is None]
        raise InputError(
            f"{', '.join(missing)}: no validation period; give the weights' period with "
            "--start and --end"
        )
    if len(periods) > 1:
        raise InputError(
            f"the members were validated on different periods {sorted(map(str, periods))}; give "
            "the "
            "weights' period with --start and --end"
        )
    found = periods.pop()
    assert found is not None
    a, b = found
    return Period(start=a, end=b)


def _widest(splitter: Any, members: list[Any]) -> Any:
    """The splitter with the longest lookback of the members (origins every member can use)."""
    import dataclasses

    return dataclasses.replace(splitter, lookback=max(m.lookback for m in members))


def _write(
    output: Path,
    runs: list[Path],
    names: list[str],
    metas: list[dict[str, Any]],
    weights: np.ndarray,
    blocks: list[list[int]],
    metrics: dict[str, Any],
    data_path: Path,
    sum_to_one: bool,
    calibration: IntervalCalibration | None = None,
) -> None:
    first = metas[0]
    check_output_folder(output, "run.json", "run folder", [*runs, data_path])
    if output.exists():
        shutil.rmtree(output)
    (output / MEMBERS).mkdir(parents=True)
    files = [WEIGHTS]
    for run, name, meta in zip(runs, names, metas, strict=True):
        dest = output / MEMBERS / name
        for f in (*RUN_FILES, *meta.get("files", [])):
            (dest / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(run / f, dest / f)
        files += [f"{MEMBERS}/{name}/{f}" for f in (*RUN_FILES, *meta.get("files", []))]
    shutil.copy2(data_path, output / "data_config.yaml")
    spec = {
        "members": names,
        "member_kinds": [m["kind"] for m in metas],
        "quantiles": first["quantiles"],
        "horizon": first["horizon"],
        "freq": first["freq"],
        "nonnegative": first["nonnegative"],
        "blocks": blocks,
        "sum_to_one": sum_to_one,
        "weights": np.round(weights, 10).tolist(),
        "calibration": calibration.to_json() if calibration else None,
    }
    run_meta = {
        "format_version": RUN_FORMAT,
        "package_version": __version__,
        "name": output.name,
        "kind": "ensemble",
        "quantiles": first["quantiles"],
        "horizon": first["horizon"],
        "lookback": max(m["lookback"] for m in metas),
        "freq": first["freq"],
        "nonnegative": first["nonnegative"],
        "timezone": first["timezone"],
        "members": [
            {"name": n, "kind": m["kind"], "source": str(r)}
            for n, m, r in zip(names, metas, runs, strict=True)
        ],
        "data_fingerprint": first.get("data_fingerprint"),
        "files": files,
    }
    for name, obj in ((WEIGHTS, spec), ("metrics.json", metrics)):
        write_json(output / name, obj)
    (output / "config.yaml").write_text(
        yaml.safe_dump({"ensemble": {"runs": [str(r) for r in runs], "sum_to_one": sum_to_one}}),
        encoding="utf-8",
    )
    seal_run(output, run_meta, [*files, "config.yaml", "metrics.json", "data_config.yaml"])
