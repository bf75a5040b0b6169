"""What makes a batch job (`predict`, `bill`, `impute`) resumable: a job folder in its output.

    OUTPUT/_job/plan.json      the arguments the job was started with (input files by path,
                               size and modification time; bundles and tariffs by content)
    OUTPUT/_job/scan.json      the series counted and the groups sized (partitioned jobs)
    OUTPUT/_job/partition/     the input in groups of whole series, renamed into place whole
    OUTPUT/_job/ledger.jsonl   one line per finished task (a group or a batch), fsynced,
                               written by the job's driver alone, on every engine

A task writes its part files whole or not at all (temporary file, fsync, rename) before the
driver appends its entry, so a job killed at any point and run again with the same arguments
does only the tasks without an entry, or whose parts are gone, and ends as an uninterrupted
run does. A line cut by the kill counts as no entry: that task is done again, with the same
result. Torch-free.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from forecasting.errors import InputError
from forecasting.folders import write_json
from serving.engines import partition_processes
from serving.stream import Source, distinct_series, forget_partition, partition

JOB, PARTITION, LEDGER, PLAN, SCAN = "_job", "partition", "ledger.jsonl", "plan.json", "scan.json"


def frame_fingerprint(frame: pd.DataFrame | None) -> str | None:
    """A table's content as a short hash (columns, values and their order)."""
    if frame is None:
        return None
    h = hashlib.sha256(json.dumps([str(c) for c in frame.columns]).encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()[:16]


def text_fingerprint(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class JobFolder:
    """A job's `_job` folder in `output`; `key` names a task in the ledger entries."""

    output: Path
    key: str = "group"

    @property
    def path(self) -> Path:
        return self.output / JOB

    def changed(self, args: dict[str, Any]) -> list[str] | None:
        """The arguments that differ from the plan on record; None when there is none."""
        path = self.path / PLAN
        if not path.is_file():
            return None
        old = json.loads(path.read_text("utf-8"))
        fresh = json.loads(json.dumps(args, default=str))  # as it reads back from JSON
        return [k for k in fresh if old.get(k) != fresh[k]]

    def open(self, args: dict[str, Any]) -> bool:
        """Start the job, or take up the one on record if it has the same arguments; one with
        other arguments is dropped (its outputs are replaced anyway). Whether one was taken up."""
        changed = self.changed(args)
        if changed == []:
            return True
        if changed is not None:
            self.drop()
        self._write_plan(args)
        return False

    def refuse_other(self, args: dict[str, Any]) -> None:
        """Refuse a job on record that was started with other arguments (`predict`: its
        output folder is its own; the user says which run they meant)."""
        changed = self.changed(args)
        if changed:
            raise InputError(
                f"{self.output} holds a job started with other arguments ({', '.join(changed)} "
                "differ); run it again with its own arguments or write to another --output"
            )
        if changed is None:
            self._write_plan(args)

    def _write_plan(self, args: dict[str, Any]) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        write_json(self.path / PLAN, json.loads(json.dumps(args, default=str)))

    def finished(self, whole: Callable[[dict[str, Any]], bool]) -> dict[int, dict[str, Any]]:
        """Ledger entries by task whose parts are still there (`whole(entry)`)."""
        path = self.path / LEDGER
        done: dict[int, dict[str, Any]] = {}
        if path.is_file():
            for line in path.read_text("utf-8").splitlines():
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:  # a line cut by a kill: that task is done again
                    continue
                if whole(entry):
                    done[int(entry[self.key])] = entry
        return done

    def record(self, entry: dict[str, Any]) -> None:
        with (self.path / LEDGER).open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def scan(self, source: Source, batch_size: int) -> dict[str, Any]:
        """Distinct series and groups of about `batch_size` series (counted once per job)."""
        path = self.path / SCAN
        if path.is_file():
            return dict(json.loads(path.read_text("utf-8")))
        n = distinct_series(source)
        scan = {"series": n, "groups": max(1, math.ceil(n / batch_size))}
        write_json(path, scan)
        return scan

    def partition(
        self, source: Source, groups: int, engine: Any, value: str, step: pd.Timedelta | None
    ) -> dict[str, Any]:
        """The partition pass (see `serving.stream.partition`), once per job."""
        processes = partition_processes(engine)
        return self.written_once(
            PARTITION,
            lambda tmp: partition(source, groups, tmp, value, step=step, processes=processes),
        )

    def written_once(self, name: str, write: Callable[[Path], dict[str, Any]]) -> dict[str, Any]:
        """Folder `name` of the job, written once per job by `write(folder)` (which returns
        its meta): written beside and renamed, so it is whole or absent; a resumed job reads
        the meta back."""
        final = self.path / name
        if (final / "_meta.json").is_file():
            return dict(json.loads((final / "_meta.json").read_text("utf-8")))
        tmp = self.path / f"{name}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(final, ignore_errors=True)
        tmp.mkdir(parents=True)
        meta = write(tmp)
        write_json(tmp / "_meta.json", meta)
        tmp.rename(final)
        return meta

    def grouped(self, name: str = PARTITION) -> Path:
        """A grouped folder of the job (the partition, the static split)."""
        return self.path / name

    def drop_folder(self, name: str = PARTITION) -> None:
        """A grouped folder (the partition, the static split) once no task needs it: this
        process's open files of it closed first."""
        forget_partition(self.path / name)
        shutil.rmtree(self.path / name, ignore_errors=True)

    def drop(self) -> None:
        """The whole job folder (a finished job whose parts are joined)."""
        forget_partition(self.path / PARTITION)
        shutil.rmtree(self.path, ignore_errors=True)
