"""Detection metrics against injected fault events.

- event recall: share of events with at least one flagged interval inside them;
- precision: share of flagged intervals that lie inside an event;
- F1: harmonic mean of the two; point recall (share of faulty intervals flagged) is reported
  too, since long faults can be caught at one interval and still count as detected.
Scored per fault kind on a scenario holding only that kind, so precision is that kind's own.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from forecasting.data.schema import SERIES, TIME


def detection_scores(
    flags: pd.DataFrame, truth: pd.DataFrame, events: pd.DataFrame
) -> dict[str, Any]:
    """`flags` (series_id, timestamp, flag) against `truth` (series_id, timestamp, fault) and
    `events` (series_id, kind, start, end)."""
    m = flags[[SERIES, TIME, "flag"]].merge(
        truth[[SERIES, TIME, "fault"]].astype({SERIES: "string"}), on=[SERIES, TIME], how="inner"
    )
    flagged = m["flag"].to_numpy(bool)
    fault = m["fault"].to_numpy(bool)
    tp = int((flagged & fault).sum())
    precision = tp / flagged.sum() if flagged.sum() else 0.0
    point_recall = tp / fault.sum() if fault.sum() else float("nan")
    hits = 0
    by_series = {sid: g for sid, g in m[m["flag"]].groupby(SERIES, observed=True)}
    for ev in events.itertuples(index=False):
        g = by_series.get(getattr(ev, SERIES))
        if g is not None and ((g[TIME] >= ev.start) & (g[TIME] <= ev.end)).any():
            hits += 1
    recall = hits / len(events) if len(events) else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {
        "events": len(events),
        "events_detected": hits,
        "event_recall": recall,
        "precision": float(precision),
        "f1": float(f1) if np.isfinite(f1) else float("nan"),
        "point_recall": float(point_recall),
        "flagged_intervals": int(flagged.sum()),
        "scored_intervals": len(m),
        "false_alarm_share": float((flagged & ~fault).sum() / max(1, (~fault).sum())),
    }
