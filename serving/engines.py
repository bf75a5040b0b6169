"""Where the groups of a batch job (`predict`, `bill`, `impute`) run, besides this process.

A job hands an engine a worker spec (`{"build": "module:Class", "kwargs": {...}}`: what another
process needs to build the job's worker once) and its tasks (argument tuples, one a group or
batch); the engine yields each task's entry as it finishes, and the job's driver alone records
them and assembles the output. `run_in_process` is the local engine: the same worker, here.

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

import importlib
import os
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from forecasting.errors import InputError


def engine_for(
    engine: str,
    workers: int = 1,
    address: str | None = None,
    actors: int | None = None,
    cpus_per_actor: int = 1,
) -> Any:
    """The engine the command line names: None (this process), a `ProcessEngine` or a
    `RayEngine`; a wrong combination is an `InputError`, said before any work."""
    if engine == "ray":
        if workers > 1:
            raise InputError("--workers sizes the local engine; with --engine ray use --actors")
        require_ray()  # a missing extra is said at once
        return RayEngine(address, actors, cpus_per_actor)
    if engine != "local":
        raise InputError(f"--engine {engine!r}: use local or ray")
    if address is not None or actors is not None:
        raise InputError("--address and --actors are for --engine ray")
    return ProcessEngine(workers) if workers > 1 else None


def partition_processes(engine: Any) -> int:
    """How many processes a job's partition pass uses on `engine`: 1 in process (the local
    engine keeps to this process)."""
    return int(engine.partition_processes()) if engine is not None else 1


def worker_stamp() -> dict[str, Any]:
    """Who did a task: host:pid and its peak RSS, for an entry."""
    return {"worker": f"{socket.gethostname()}:{os.getpid()}",
            "worker_peak_rss_mib": _peak_rss_mib()}  # fmt: skip


def _peak_rss_mib() -> float | None:
    """This process's peak resident memory so far (MiB), where the OS says it. On Linux the
    high-water mark of its own memory (`VmHWM`): `ru_maxrss` would carry over the peak of the
    process it was started from, which a fresh worker process is not."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource
    except ImportError:  # not on this platform
        return None
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(kib / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def engine_summary(engine: Any, entries: list[dict[str, Any]]) -> dict[str, Any]:
    """What a job's summary says of where it ran: the engine, how many worker processes did
    its tasks, and the largest peak RSS among them (MiB)."""
    peaks = [e["worker_peak_rss_mib"] for e in entries if e.get("worker_peak_rss_mib")]
    return {
        "engine": getattr(engine, "name", "local"),
        "worker_processes": len({e["worker"] for e in entries}),
        "worker_peak_rss_mib": max(peaks) if peaks else None,
    }


def require_ray() -> Any:
    try:
        import ray
    except ModuleNotFoundError as exc:
        raise InputError(
            f"--engine ray needs Ray ({exc.name} is not installed): pip install 'meterforecast[ray]'"
        ) from None
    return ray


def build_worker(spec: dict[str, Any], threads: int) -> Any:
    """The worker side of a job: `spec["build"]` ("module:Class") called with `spec["kwargs"]`
    and the threads it may use; its `group(*task)` does one task and returns its entry."""
    module, name = spec["build"].split(":")
    return getattr(importlib.import_module(module), name)(threads=threads, **spec["kwargs"])


class GroupWorker:
    """One actor (or worker process): a job's worker built once, doing the tasks it is given."""

    def __init__(self, spec: dict[str, Any], threads: int) -> None:
        self.worker = build_worker(spec, threads)

    def group(self, *task: Any) -> dict[str, Any]:
        entry: dict[str, Any] = self.worker.group(*task)
        return entry


_WORKER: GroupWorker | None = None  # the job of a `ProcessEngine` worker process


def _start_worker(spec: dict[str, Any], threads: int) -> None:
    global _WORKER
    _WORKER = GroupWorker(spec, threads)


def _run_group(task: tuple[Any, ...]) -> dict[str, Any]:
    assert _WORKER is not None, "the worker process was not started with its job"
    return _WORKER.group(*task)


def run_in_process(spec: dict[str, Any], tasks: list[tuple[Any, ...]]) -> Iterator[dict[str, Any]]:
    """The local engine: the tasks one after another in this process, the worker built once."""
    from forecasting.threads import usable_cpus

    if tasks:
        worker = build_worker(spec, usable_cpus())
        for task in tasks:
            yield worker.group(*task)


@dataclass
class ProcessEngine:
    """`workers` processes on this machine (started fresh, not forked: onnxruntime's threads
    do not survive a fork), the CPUs this process may use split between them."""

    workers: int

    name = "processes"

    def partition_processes(self) -> int:
        """Processes the driver's partition pass may use: as many as the workers."""
        return self.workers

    def run_groups(
        self, spec: dict[str, Any], tasks: list[tuple[Any, ...]]
    ) -> Iterator[dict[str, Any]]:
        """Entries of the tasks, in the order they finish."""
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed
        from concurrent.futures.process import BrokenProcessPool

        from forecasting.threads import usable_cpus

        if not tasks:
            return
        n = min(self.workers, len(tasks))
        threads = max(1, usable_cpus() // n)
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(n, mp_context=ctx, initializer=_start_worker,
                                 initargs=(spec, threads)) as pool:  # fmt: skip
            futures = [pool.submit(_run_group, task) for task in tasks]
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

    def partition_processes(self) -> int:
        """Processes the driver's partition pass may use: this machine's CPUs (the pass runs
        before any actor works)."""
        from forecasting.threads import usable_cpus

        return usable_cpus()

    def run_groups(
        self, spec: dict[str, Any], tasks: list[tuple[Any, ...]]
    ) -> Iterator[dict[str, Any]]:
        """Entries of the tasks, in the order they finish."""
        if not tasks:
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
            workers = [remote.remote(spec, self.cpus_per_actor) for _ in range(min(n, len(tasks)))]
            pool = ActorPool(workers)
            yield from pool.map_unordered(lambda a, task: a.group.remote(*task), tasks)
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
