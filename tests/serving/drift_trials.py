"""Planted-drift trials of the monitor (serving/monitor.py), shared by its test and by
`benchmarks/monitor_drift.py`.

A trial generates households with a drift planted from `DRIFT_DAY` (an EV for a share of the
homes, or a heat pump; in winter, from 7 January, or in spring, from 8 April, when the PV
homes' import falls as the days lengthen) and the undrifted copy of the same seed (every reading before the
drift day is the same in both). The reference is the 28 days that end 15 days before the
drift; then the monitor runs as a scheduler would, once a day on the last `window` days,
from 14 days before the drift to `after` days after it, on both copies. The detection delay
is the days from the drift's first day to the end of the first window that reaches a level;
a false alarm is a daily run of the undrifted copy (or of the drifted one before its drift)
that reaches it.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

DRIFT_DAY = 84  # from the start: 2024-01-07 in winter, 2024-04-08 in spring
SEASONS = {"winter": "2023-10-15", "spring": "2024-01-15"}  # the data's first day
TZ = "Europe/London"


@dataclass
class Trial:
    drift: str
    seed: int
    season: str
    levels: dict[int, str]  # day from the drift (window end) -> level, drifted copy
    undrifted: dict[int, str]  # the same days, the undrifted copy

    def delay(self, level: str) -> int | None:
        """Days from the drift to the first window end at `level` or worse (None: never)."""
        hit = [d for d, v in sorted(self.levels.items()) if d >= 0 and _reaches(v, level)]
        return hit[0] if hit else None

    def false_alarms(self, level: str) -> tuple[int, int]:
        """(runs at `level` or worse, runs) on data without drift: the undrifted copy, and
        the drifted one before its drift."""
        runs = list(self.undrifted.values()) + [v for d, v in self.levels.items() if d < 0]
        return sum(_reaches(v, level) for v in runs), len(runs)


def _reaches(value: str, level: str) -> bool:
    order = ("none", "warning", "drift")
    return order.index(value) >= order.index(level)


def run_trial(drift: str, seed: int, households: int = 40, after: int = 35,
              window: int = 14, share: float = 0.3, season: str = "winter",
              last_year: bool = False) -> Trial:  # fmt: skip
    """`last_year`: the data starts a year earlier, and each daily run's reference is the 28
    days ending 364 days before its window's end (`forecasting monitor --reference-end`)."""
    from forecasting.config.data import load_data_config
    from forecasting.config.monitor import MonitorConfig
    from forecasting.data.prepare import prepare
    from forecasting.data.synthetic import SyntheticSpec, write_synthetic
    from serving.monitor import monitor, profile, recent_window, reference_from

    frames = {}
    root = Path(tempfile.mkdtemp(prefix="drift_trial_"))
    back = 364 if last_year else 0  # whole weeks: the same weekdays a year before
    drift_day = DRIFT_DAY + back
    first = pd.Timestamp(SEASONS[season]) - pd.Timedelta(days=back)
    days = drift_day + after + 2
    for name, kind in (("drifted", drift), ("undrifted", "none")):
        spec = SyntheticSpec(households=households, days=days, start=str(first.date()), seed=seed,
                             faults=False, drift=kind, drift_day=drift_day, drift_share=share)  # fmt: skip
        paths = write_synthetic(spec, root / name)
        frames[name] = prepare(load_data_config(paths["config"])).frame
    start = pd.Timestamp(SEASONS[season])
    ref_end = str((start + pd.Timedelta(days=DRIFT_DAY - 15)).date())
    reference = profile(recent_window(frames["undrifted"], TZ, 28, ref_end), TZ)
    cfg = MonitorConfig(window_days=window)
    out: dict[str, dict[int, str]] = {"drifted": {}, "undrifted": {}}
    for d in range(-14, after + 1):
        day = start + pd.Timedelta(days=DRIFT_DAY + d)
        if last_year:  # before the drift: the same in both copies
            a_year = str((day - pd.Timedelta(days=back)).date())
            reference = reference_from(frames["undrifted"], TZ, a_year)
        for name, frame in frames.items():
            out[name][d] = monitor(reference, frame, TZ, cfg, str(day.date()))["level"]
    return Trial(drift, seed, season, out["drifted"], out["undrifted"])
