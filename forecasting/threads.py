"""How many threads a job may use, and OpenMP told to sleep rather than spin when asked.

Two LightGBM fits side by side on 2 cores each started as many OpenMP threads as the machine
has cores, and OpenMP threads that wait spin on the CPU for a while before sleeping: each job
burned the other's time (a fit of 80 s took over 15 minutes beside a tune). So:

- `usable_cpus()`: the CPUs this process may run on: its affinity mask, capped by a cgroup CPU
  quota (containers, Kubernetes limits, Ray's share), or `FORECASTING_THREADS` when set. The
  boosters, torch and onnxruntime default to it instead of every core of the machine.
- `calm_openmp()`: with `FORECASTING_OPENMP=calm`, before any OpenMP library loads,
  `OMP_WAIT_POLICY=PASSIVE`, `GOMP_SPINCOUNT=0` and `KMP_BLOCKTIME=0` (a waiting thread
  sleeps), unless the user set them. The `forecasting` command calls it first thing.

Why calm is not the default: `benchmarks/side_by_side.py` measured a lone LightGBM fit 2.3x
slower with sleeping threads (6.0 s -> 14 s: its many short parallel loops pay a wake-up
each), while two fits side by side went from 4-6x their lone time to 11 s each (under 2x the
spinning lone time). A machine that runs several jobs at once (a tuning farm, Ray workers)
sets it; one job alone runs fastest without it.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

THREADS_ENV = "FORECASTING_THREADS"
SPIN_ENV = "FORECASTING_OPENMP"  # "calm": waiting OpenMP threads sleep (shared machines)
OPENMP_DEFAULTS = {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "0", "KMP_BLOCKTIME": "0"}


def _cgroup_quota(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """CPUs allowed by the cgroup's quota (v2 `cpu.max`, v1 `cpu.cfs_quota_us`), or None."""
    try:
        text = (root / "cpu.max").read_text().split()
        if text and text[0] != "max":
            return int(text[0]) / int(text[1])
    except (OSError, ValueError, IndexError):
        pass
    try:
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        if quota > 0 and period > 0:
            return quota / period
    except (OSError, ValueError):
        pass
    return None


def usable_cpus() -> int:
    """Threads a job should use by default (at least 1)."""
    given = os.environ.get(THREADS_ENV, "").strip()
    if given.isdigit() and int(given) > 0:
        return int(given)
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        n = os.cpu_count() or 1
    quota = _cgroup_quota()
    if quota is not None:
        n = min(n, max(1, math.ceil(quota)))
    return max(1, n)


def calm_openmp() -> None:
    """With FORECASTING_OPENMP=calm, waiting OpenMP threads sleep instead of spinning
    (effective only before the OpenMP runtime loads, so the CLI calls it first); a value the
    user set is kept."""
    if os.environ.get(SPIN_ENV, "").strip().lower() != "calm":
        return
    for key, value in OPENMP_DEFAULTS.items():
        os.environ.setdefault(key, value)
