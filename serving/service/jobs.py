"""Long-running jobs (`optimise-tariff`, `target-signals`): queued on disk, run one process
each, cancellable, and carried over a server restart.

Each job is a folder `state/jobs/<id>/`: `job.json` (kind, config, overrides, owner key id,
status, times, the error), `progress.log` (the job's own progress lines), `output/` (what the
command writes: report, KPIs, frontier) and `result.json` when done. `job.json` is replaced
atomically at every change of status, so a killed server leaves every job in a state it can
read back: on start, a job that was queued or running is queued again (a running job starts
over: its process died with the server). A job runs in its own process group, so `cancel`
stops it and everything it started.

A job names a config the server holds (`optimise_configs` / `targeting_configs` folders) and
may replace a few of its keys (`OVERRIDABLE`: weights, targets, the policy; never a path, so a
caller cannot make the server read a file of its choosing).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from forecasting.errors import InputError
from forecasting.folders import write_json

KINDS = ("optimise-tariff", "target-signals")
# top-level keys a request may replace, and for mappings the sub-keys it may set
OVERRIDABLE: dict[str, dict[str, set[str] | None]] = {
    "optimise-tariff": {"goals": None, "frontier": None, "breakdown": None,
                        "scenarios": {"count", "seed", "elasticity_draws", "ev_share", "pv_share"}},
    "target-signals": {"learn_until": None, "target": None, "max_signals": None,
                       "hour_weights": None, "policy": None, "grid": None,
                       "random_repeats": None, "seed": None},
}  # fmt: skip
TERMINAL = ("done", "failed", "cancelled")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def load_job_config(kind: str, path: Path, overrides: dict[str, Any]) -> Any:
    """The job's config with the overrides applied and checked (InputError naming the key)."""
    if kind == "optimise-tariff":
        from forecasting.optimise.config import load_optimise_config

        cfg: Any = load_optimise_config(path)
    else:
        from forecasting.targeting.config import load_targeting_config

        cfg = load_targeting_config(path)
    allowed = OVERRIDABLE[kind]
    for key, value in overrides.items():
        if key not in allowed:
            raise InputError(f"overrides.{key}: not one a request may replace "
                             f"({sorted(allowed)})")  # fmt: skip
        sub = allowed[key]
        if sub is not None or isinstance(value, dict):
            if not isinstance(value, dict):
                raise InputError(f"overrides.{key}: give a mapping")
            bad = sorted(set(value) - sub) if sub is not None else []
            if bad:
                raise InputError(f"overrides.{key}.{bad[0]}: not one a request may set "
                                 f"({sorted(sub or [])})")  # fmt: skip
            current = getattr(cfg, key)
            base = (
                current.model_dump()
                if current is not None and hasattr(current, "model_dump")
                else {}
            )
            value = {**base, **value}
        try:
            setattr(cfg, key, value)
        except ValidationError as exc:
            e = exc.errors()[0]
            loc = [str(p) for p in e["loc"]]
            where = ".".join(loc if loc[:1] == [key] else [key, *loc])
            raise InputError(f"overrides.{where}: {e['msg']}") from None
    return cfg


@dataclass
class Jobs:
    root: Path
    folders: dict[str, Path | None]  # kind -> the configs folder it may name
    workers: int = 1
    log: Any = print
    _queue: queue.Queue[str] = field(default_factory=queue.Queue)
    _procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        for folder in sorted(self.root.iterdir(), key=lambda p: p.name):
            job = self._read(folder.name)
            if job is not None and job["status"] in ("queued", "running"):
                again = job["status"] == "running"
                if again and job.get("pid"):
                    _stop_orphan(int(job["pid"]), folder.name)
                self._write(folder.name, status="queued", pid=None,
                            progress="queued again after a server restart" if again else job["progress"])  # fmt: skip
                self._queue.put(folder.name)
        for i in range(self.workers):
            threading.Thread(target=self._work, name=f"job-{i}", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        for _ in range(self.workers):
            self._queue.put("")

    def config_path(self, kind: str, name: str) -> Path:
        folder = self.folders.get(kind)
        path = folder / f"{name}.yaml" if folder is not None else None
        if path is None or not path.is_file():
            held = (
                sorted(p.stem for p in folder.glob("*.yaml")) if folder and folder.is_dir() else []
            )
            raise InputError(
                f"config: no {kind} config named {name!r} on this server (held: {held})"
            )
        return path

    def submit(self, kind: str, name: str, overrides: dict[str, Any], owner: str,
               per_key: int) -> dict[str, Any]:  # fmt: skip
        path = self.config_path(kind, name)
        load_job_config(kind, path, overrides)  # a bad override is a 422 now, not a failed job
        with self._lock:
            mine = [j for j in self.list() if j["owner"] == owner and j["status"] not in TERMINAL]
            if len(mine) >= per_key:
                raise TooMany(
                    f"this key has {len(mine)} jobs queued or running; the limit is {per_key}"
                )
            jid = uuid.uuid4().hex[:16]
            (self.root / jid).mkdir(parents=True)
            job = {"id": jid, "kind": kind, "config": name, "config_path": str(path),
                   "overrides": overrides, "owner": owner, "status": "queued",
                   "progress": "queued", "created": now(), "started": None, "finished": None,
                   "error": None, "pid": None}  # fmt: skip
            write_json(self.root / jid / "job.json", job)
        self._queue.put(jid)
        return job

    def get(self, jid: str) -> dict[str, Any] | None:
        job = self._read(jid)
        if job is None:
            return None
        if job["status"] == "running":
            log = self.root / jid / "progress.log"
            lines = (
                log.read_text("utf-8", errors="replace").strip().splitlines()
                if log.exists()
                else []
            )
            if lines:
                job["progress"] = lines[-1][-300:]
        if job["status"] == "done" and (self.root / jid / "result.json").is_file():
            job["result"] = json.loads((self.root / jid / "result.json").read_text("utf-8"))
        return job

    def list(self) -> list[dict[str, Any]]:
        out = []
        for f in sorted(self.root.iterdir()) if self.root.is_dir() else []:
            job = self._read(f.name)
            if job is not None:
                out.append(job)
        return out

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(("queued", "running", *TERMINAL), 0)
        for j in self.list():
            out[j["status"]] += 1
        return out

    def cancel(self, jid: str) -> dict[str, Any]:
        with self._lock:
            job = self._read(jid)
            assert job is not None
            if job["status"] in TERMINAL:
                return job
            proc = self._procs.get(jid)
            self._write(jid, status="cancelled", finished=now(), progress="cancelled")
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        return self.get(jid) or job

    def _read(self, jid: str) -> dict[str, Any] | None:
        if not jid.isalnum():
            return None
        path = self.root / jid / "job.json"
        try:
            return dict(json.loads(path.read_text("utf-8")))
        except (OSError, ValueError):
            return None

    def _write(self, jid: str, **changes: Any) -> None:
        job = self._read(jid) or {}
        job.update(changes)
        write_json(self.root / jid / "job.json", job)

    def _work(self) -> None:
        while not self._stop.is_set():
            jid = self._queue.get()
            if not jid:
                return
            with self._lock:
                job = self._read(jid)
                if job is None or job["status"] != "queued":
                    continue
                folder = self.root / jid
                logf = (folder / "progress.log").open("ab")
                proc = subprocess.Popen([sys.executable, "-m", "serving.service.jobrun", str(folder)],
                                        stdout=logf, stderr=subprocess.STDOUT,
                                        start_new_session=True)  # fmt: skip
                self._procs[jid] = proc
                self._write(jid, status="running", started=now(), pid=proc.pid, progress="started")
            rc = proc.wait()
            logf.close()
            with self._lock:
                self._procs.pop(jid, None)
                job = self._read(jid) or {}
                if job.get("status") == "cancelled":
                    continue
                if rc == 0 and (folder / "result.json").is_file():
                    self._write(jid, status="done", finished=now(), progress="done", pid=None)
                else:
                    err = folder / "error.txt"
                    why = (
                        err.read_text("utf-8").strip()
                        if err.exists()
                        else f"the job's process ended with code {rc}"
                    )
                    self._write(jid, status="failed", finished=now(), error=why[-2000:], pid=None)
                self.log(f"job {jid} ({job.get('kind')}): {self._read(jid)['status']}")  # type: ignore[index]


def _stop_orphan(pid: int, jid: str) -> None:
    """Stop a job's process left running by a server that was killed (it would write the
    same folder as the rerun); only a process whose command line names the job's folder."""
    cmdline = Path(f"/proc/{pid}/cmdline")
    try:
        if jid in cmdline.read_bytes().decode("utf-8", "replace"):
            os.killpg(pid, signal.SIGKILL)
    except (OSError, ProcessLookupError):
        pass  # gone already (or no /proc here: the rerun writes after it anyway)


class TooMany(InputError):
    """A key has as many unfinished jobs as it may."""
