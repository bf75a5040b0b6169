"""`forecasting anomalies`: score data with a trained anomaly run and write per-interval flags."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from forecasting.config.data import load_data_config
from forecasting.data.prepare import Prepared, prepare
from forecasting.data.schema import SERIES, TIME
from forecasting.errors import InputError


def local_span(
    start: str | None, end: str | None, timezone: str
) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """UTC bounds of local dates: `start` at 00:00, `end` through its last interval."""
    try:
        lo = pd.Timestamp(start).tz_localize(timezone).tz_convert("UTC") if start else None
        hi = (
            (pd.Timestamp(end) + pd.Timedelta(days=1)).tz_localize(timezone).tz_convert("UTC")
            - pd.Timedelta(seconds=1)
            if end
            else None
        )
    except (ValueError, TypeError, OverflowError) as exc:
        raise InputError(f"--start/--end must be dates (YYYY-MM-DD): {exc}") from None
    if (start and pd.isna(lo)) or (end and pd.isna(hi)):
        raise InputError(f"--start/--end must be dates (YYYY-MM-DD), got {start!r}, {end!r}")
    if lo is not None and hi is not None and hi < lo:
        raise InputError(f"--end {end} is before --start {start}")
    return lo, hi


def detect_run(
    run_dir: Path,
    input_path: str | None = None,
    data_config: str | Path | None = None,
    start: str | None = None,
    end: str | None = None,
    prepared: Prepared | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """(scores per series and interval, summary) for the anomaly run in `run_dir`."""
    from forecasting.models.kinds import KINDS, model_kind
    from forecasting.models.registry import load_run

    model, meta = load_run(run_dir)
    if not model_kind(meta["kind"]).capabilities.anomaly:
        detectors = [k for k, v in KINDS.items() if v.capabilities.anomaly]
        raise InputError(
            f"{run_dir} holds a {meta['kind']!r} forecaster; `anomalies` needs a run of an "
            f"anomaly model (kind: {', '.join(detectors)}), e.g. configs/models/lstm_autoencoder.yaml"
        )
    cfg = load_data_config(data_config or run_dir / "data_config.yaml")
    if prepared is None:
        prepared = prepare(cfg, input_path)
    lo, hi = local_span(start, end, cfg.calendar.timezone)
    frame = prepared.frame
    if frame.empty:
        raise InputError(f"{input_path or cfg.input.path}: no readings to score")
    first, last = frame[TIME].min(), frame[TIME].max()
    if (lo is not None and lo > last) or (hi is not None and hi < first):
        raise InputError(
            f"--start {start} / --end {end} lie outside the data ({first} .. {last} UTC)"
        )
    scores = model.score(frame, lo, hi)
    skipped = model.skipped_.astype(str).to_dict("records")
    scored = set(scores.loc[scores["score"].notna(), SERIES].astype(str))
    told = {r.get(SERIES) for r in skipped}
    need = f"{model.lookback} intervals ({model.lookback * pd.Timedelta(model.freq)}) of history"
    for sid in sorted(set(frame[SERIES].astype(str)) - scored - told):
        skipped.append({SERIES: sid, "reason": f"too little history: scoring needs {need}"})
    if not scored:
        raise InputError(
            f"no interval of the {frame[SERIES].nunique()} series could be scored: each needs "
            f"{need} before the first interval scored"
            + (f" ({skipped[0]['reason']})" if skipped and "reason" in skipped[0] else "")
        )
    flagged = scores[scores["flag"]]
    per_series = flagged.groupby(SERIES, observed=True).size().sort_values(ascending=False)
    summary = {
        "run": str(run_dir),
        "input": input_path or cfg.input.path,
        "series": int(scores[SERIES].nunique()),
        "series_in_data": int(prepared.frame[SERIES].nunique()),
        "intervals": len(scores),
        "scored_intervals": int(scores["score"].notna().sum()),
        "flagged_intervals": len(flagged),
        "threshold": float(model.threshold_),
        "start": str(scores[TIME].min()) if len(scores) else None,
        "end": str(scores[TIME].max()) if len(scores) else None,
        "top_series": {str(k): int(v) for k, v in per_series.head(10).items()},
        "series_skipped": len(skipped),
        "skipped": skipped[:50],
    }
    return scores, summary


def write_scores(scores: pd.DataFrame, output: Path) -> None:
    """Parquet, or CSV when the name ends in .csv."""
    output.parent.mkdir(parents=True, exist_ok=True)
    if output.suffix.lower() == ".csv":
        scores.to_csv(output, index=False)
    else:
        scores.to_parquet(output, index=False)
