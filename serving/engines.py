"""Where the groups of a `forecasting predict` job run, besides this process.

- `ProcessEngine` (`--workers N`): N worker processes on this machine, each building the job
  once (bundle sessions with the CPUs split between them), so reading, checking, features,
  the graph and writing of different groups run side by side on every core.
- `RayEngine` (`--engine ray`): the same on the actors of a Ray cluster, one machine or many.

Both leave the scan and partition passes and the ledger to the driver: output, resumption and
the ledger are the local engine's, and a job started on one engine can be finished on another.

Ray: the job is the local engine's, pass for pass: the driver scans and partitions the input into
groups of whole series (`OUTPUT/_job/partition`, columnar parquet), exactly as it does alone.
Then each group is a task for a pool of actors. An actor builds the job once (the bundle's
onnxruntime sessions loaded once, threads sized to the actor's CPUs, the static table read
once), reads its group's parquet itself, and writes the group's part and error file the way
the local engine does (temporary file, rename). The driver alone appends each finished
group to the ledger. So the output folder is the same on either engine, and a job started
on one can be resumed on the other.

A worker process that dies mid-group is restarted by Ray and its group is run again
(`max_restarts`, `max_task_retries`): a group's files are written whole or not at all, and
the same group gives the same files, so the output equals an uninterrupted run's.

Ray Data is not used: the partition pass already groups rows by series into files, which is
the unit of work an actor needs; a Ray Data group-by would shuffle the same rows again.
On a cluster of several machines, OUTPUT (and INPUT, static, the bundle) must be on a file
system every node sees (NFS, a mounted bucket): actors read and write there.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd

from forecasting.errors import InputError


def require_ray() -> Any:
    try:
        import ray
    except ModuleNotFoundError as exc:
        raise InputError(
            f"--engine ray needs Ray ({exc.name} is not installed): pip install 'meterforecast[ray]'"
        ) from None
    return ray


class GroupWorker:
    """One actor: a predict job built once, forecasting the groups it is given."""

    def __init__(self, spec: dict[str, Any], threads: int) -> None:
        from serving.predict import PredictJob

        self.job = PredictJob(**spec, threads=threads, progress=False, echo=lambda _: None)
        self.static = self.job._static()

    def group(self, g: int, origins: list[str]) -> dict[str, Any]:
        index = pd.DatetimeIndex([pd.Timestamp(o) for o in origins]).as_unit("ns")
        entry: dict[str, Any] = self.job.process_group(g, index, self.static)
        return entry


_WORKER: GroupWorker | None = None  # the job of a `ProcessEngine` worker process


def _start_worker(spec: dict[str, Any], threads: int) -> None:
    global _WORKER
    _WORKER = GroupWorker(spec, threads)


def _run_group(g: int, origins: list[str]) -> dict[str, Any]:
    assert _WORKER is not None, "the worker process was not started with its job"
    return _WORKER.group(g, origins)


@dataclass
class ProcessEngine:
    """`workers` processes on this machine (started fresh, not forked: onnxruntime's threads
    do not survive a fork), the CPUs this process may use split between them."""

    workers: int

    name = "processes"

    def run_groups(
        self, job: Any, todo: list[int], origins: pd.DatetimeIndex
    ) -> Iterator[dict[str, Any]]:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed
        from concurrent.futures.process import BrokenProcessPool

        from forecasting.threads import usable_cpus

        if not todo:
            return
        n = min(self.workers, len(todo))
        threads = max(1, usable_cpus() // n)
        iso = [o.isoformat() for o in origins]
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(n, mp_context=ctx, initializer=_start_worker,
                                 initargs=(job.worker_spec(), threads)) as pool:  # fmt: skip
            futures = [pool.submit(_run_group, g, iso) for g in todo]
            try:
                for done in as_completed(futures):
                    yield done.result()
            except BrokenProcessPool:
                for f in futures:
                    f.cancel()
                raise InputError(
                    "a worker process died (killed, or out of memory?); the groups it finished "
                    "are kept: run the same command again to resume, with fewer --workers or a "
                    "smaller --batch-size if memory ran out"
                ) from None


@dataclass
class RayEngine:
    """Where and how wide: `address` None starts a local cluster on this machine (its usable
    CPUs) and stops it after the job; "auto" joins the cluster running here; "ray://host:10001"
    a remote one. `actors` defaults to the cluster's CPUs over `cpus_per_actor`."""

    address: str | None = None
    actors: int | None = None
    cpus_per_actor: int = 1
    retries: int = 3  # restarts of a dead actor, and retries of the group it held

    name = "ray"

    def run_groups(
        self, job: Any, todo: list[int], origins: pd.DatetimeIndex
    ) -> Iterator[dict[str, Any]]:
        """Ledger entries of the groups in `todo`, in the order they finish."""
        if not todo:
            return
        ray = require_ray()
        from ray.util import ActorPool

        started = self._connect(ray)
        workers: list[Any] = []
        try:
            cpus = int(ray.cluster_resources().get("CPU", 1))
            n = self.actors or max(1, cpus // self.cpus_per_actor)
            remote = ray.remote(
                num_cpus=self.cpus_per_actor,
                max_restarts=self.retries,
                max_task_retries=self.retries,
            )(GroupWorker)
            spec = job.worker_spec()
            workers = [remote.remote(spec, self.cpus_per_actor) for _ in range(min(n, len(todo)))]
            iso = [o.isoformat() for o in origins]
            pool = ActorPool(workers)
            yield from pool.map_unordered(lambda a, g: a.group.remote(g, iso), todo)
        finally:
            for w in workers:
                ray.kill(w)
            if started:
                ray.shutdown()

    def _connect(self, ray: Any) -> bool:
        """Join or start the cluster; whether this call started it (and so must stop it)."""
        if ray.is_initialized():
            return False
        from forecasting.threads import usable_cpus

        quiet = {"include_dashboard": False, "log_to_driver": False, "logging_level": "warning"}
        try:
            if self.address is None:
                ray.init(num_cpus=usable_cpus(), **quiet)
            else:
                ray.init(address=self.address, **quiet)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = self.address or "a local cluster"
            raise InputError(f"--engine ray: cannot reach {where}: {exc}") from None
        return True
