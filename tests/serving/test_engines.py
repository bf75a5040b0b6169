"""The engines of `predict`, `bill` and `impute` against the job run in one process.

`--workers N`: worker processes give the same output, and a killed worker stops the job with a
one-line error that keeps the finished groups (the job then resumes).

`--engine ray` on a real local Ray cluster (two worker CPUs on this machine, started here and
stopped after): its output equals the local engine's, exactly for trees and within float
tolerance for a deep model; a worker killed mid-job is restarted by Ray and the output still
equals the uninterrupted run's; a job begun on one engine finishes on the other."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from serving.engines import ProcessEngine, RayEngine
from serving.job_folder import JOB, LEDGER
from serving.predict import FORECASTS, PredictJob

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cluster():
    ray = pytest.importorskip("ray", reason="Ray is the [ray] extra; make test installs it")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="warning")
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def many(corpus_workspace, tmp_path_factory) -> dict[str, Path]:
    """The corpus households copied at other levels: 48 series, so a job has many groups."""
    root = tmp_path_factory.mktemp("ray_input")
    frame = pd.read_parquet(corpus_workspace["canonical"])
    static = pd.read_csv(corpus_workspace["static"])
    copies, statics = [], []
    for k in range(8):
        ids = frame["series_id"].astype(str) + f"_{k}"
        copies.append(frame.assign(series_id=ids, target=frame["target"] * (1 + k / 10)))
        statics.append(static.assign(series_id=static["series_id"].astype(str) + f"_{k}"))
    # three files, a series' rows across two of them: an engine partitions them in parallel
    rows = pd.concat(copies, ignore_index=True)
    (root / "input").mkdir()
    for k, part in enumerate(np.array_split(np.arange(len(rows)), 3)):
        rows.iloc[part].to_parquet(root / "input" / f"part-{k}.parquet", index=False)
    pd.concat(statics).to_csv(root / "static.csv", index=False)
    return {"input": root / "input", "static": root / "static.csv"}


def run(bundle: Path, data: dict[str, Path], out: Path, engine=None, batch: int = 2) -> dict:
    job = PredictJob(bundle, str(data["input"]), out, batch_size=batch,
                     static=str(data["static"]), progress=False, echo=lambda _: None,
                     engine=engine)  # fmt: skip
    return job.run()


def forecasts(out: Path) -> pd.DataFrame:
    frame = pd.read_parquet(out / FORECASTS)
    return frame.sort_values(["series_id", "origin", "horizon"]).reset_index(drop=True)


def ledger(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / JOB / LEDGER).read_text().splitlines()]


def test_the_ray_engine_equals_the_local_one_for_trees(cluster, corpus_workspace, many, tmp_path):
    bundle = corpus_workspace["bundle"]
    local = run(bundle, many, tmp_path / "local")
    on_ray = run(bundle, many, tmp_path / "ray", RayEngine(actors=2))
    assert on_ray["engine"] == "ray" and local["engine"] == "local"
    assert on_ray["series_forecast"] == local["series_forecast"] == 48
    pd.testing.assert_frame_equal(forecasts(tmp_path / "ray"), forecasts(tmp_path / "local"))
    workers = {e["worker"] for e in ledger(tmp_path / "ray")}
    assert len(workers) == 2 and f"{os.uname().nodename}:{os.getpid()}" not in workers
    assert sorted(e["group"] for e in ledger(tmp_path / "ray")) == list(range(local["groups"]))


def test_the_ray_engine_equals_the_local_one_for_a_deep_model(cluster, corpus_workspace, cli,
                                                              many, tmp_path, monkeypatch):  # fmt: skip
    monkeypatch.chdir(corpus_workspace["root"])
    config = yaml.safe_load(corpus_workspace["train_config"].read_text())
    config["model"] = {"kind": "cnn_lstm", "hidden_size": 8, "conv_channels": 4}
    config["trainer"] = {"accelerator": "cpu", "max_epochs": 1, "progress_bar": "none",
                         "checkpoints": False, "logger": "none"}  # fmt: skip
    (tmp_path / "deep.yaml").write_text(yaml.safe_dump(config))
    assert cli("train", "-c", tmp_path / "deep.yaml", "-o", tmp_path / "run").code == 0
    assert cli("export", "-r", tmp_path / "run", "-o", tmp_path / "bundle").code == 0
    run(tmp_path / "bundle", many, tmp_path / "local", batch=12)
    run(tmp_path / "bundle", many, tmp_path / "ray", RayEngine(actors=2), batch=12)
    a, b = forecasts(tmp_path / "ray"), forecasts(tmp_path / "local")
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-5, atol=1e-6)
    assert len(a) == 48 * 24


def _group_workers() -> list[int]:
    """PIDs of this machine's Ray actor processes that hold a predict job (`ray::GroupWorker`)."""
    found = []
    for pid in os.listdir("/proc"):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if pid.isdigit() and b"ray::GroupWorker" in cmd:
            found.append(int(pid))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds Ray's workers in /proc")
def test_a_worker_killed_mid_job_is_retried_and_the_output_is_unchanged(
    cluster, corpus_workspace, many, tmp_path
):
    bundle = corpus_workspace["bundle"]
    run(bundle, many, tmp_path / "local", batch=1)
    out = tmp_path / "ray"
    killed: list[tuple[int, int]] = []  # (pid, groups in the ledger when it was killed)

    def kill_first_worker() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            done = len(ledger(out)) if (out / JOB / LEDGER).is_file() else 0
            pids = _group_workers()
            if pids and done >= 2:  # both actors at work, groups coming back
                os.kill(pids[0], signal.SIGKILL)
                killed.append((pids[0], done))
            time.sleep(0.005)

    killer = threading.Thread(target=kill_first_worker)
    killer.start()
    summary = run(bundle, many, out, RayEngine(actors=2), batch=1)
    killer.join()
    assert killed, "no Ray worker was found to kill"
    pid, done_then = killed[0]
    assert done_then < summary["groups"], "the job had finished before the kill"
    assert summary["series_forecast"] == 48
    pd.testing.assert_frame_equal(forecasts(out), forecasts(tmp_path / "local"))
    after = [e["worker"] for e in ledger(out)[done_then:]]
    assert not any(w.endswith(f":{pid}") for w in after)  # the dead process did no more
    assert len({w for w in after}) == 2  # its actor was restarted in a new process
    assert len(ledger(out)) == summary["groups"]


def test_a_job_begun_on_ray_is_finished_by_the_local_engine(cluster, corpus_workspace, many,
                                                            tmp_path):  # fmt: skip
    bundle = corpus_workspace["bundle"]
    run(bundle, many, tmp_path / "local", batch=4)
    out = tmp_path / "mixed"
    summary = run(bundle, many, out, RayEngine(actors=2), batch=4)
    # as if stopped after some groups: the last entries and the summary gone
    lines = (out / JOB / LEDGER).read_text().splitlines()
    (out / JOB / LEDGER).write_text("\n".join(lines[:5]) + "\n")
    (out / "summary.json").unlink()
    shutil.rmtree(out / JOB / "partition", ignore_errors=True)  # a finished job drops it
    resumed = run(bundle, many, out, None, batch=4)
    assert resumed["engine"] == "local" and resumed["groups"] == summary["groups"]
    pd.testing.assert_frame_equal(forecasts(out), forecasts(tmp_path / "local"))


def test_worker_processes_give_the_local_output(corpus_workspace, many, tmp_path):
    bundle = corpus_workspace["bundle"]
    run(bundle, many, tmp_path / "local", batch=4)
    s = run(bundle, many, tmp_path / "pool", ProcessEngine(2), batch=4)
    assert s["engine"] == "processes" and s["series_forecast"] == 48
    pd.testing.assert_frame_equal(forecasts(tmp_path / "pool"), forecasts(tmp_path / "local"))
    # forecast by the worker processes, not here (how the groups spread between them depends
    # on how fast each one starts)
    workers = {e["worker"] for e in ledger(tmp_path / "pool")}
    assert workers and f"{os.uname().nodename}:{os.getpid()}" not in workers


def test_a_killed_worker_process_stops_the_job_in_one_line_and_it_resumes(
    corpus_workspace, many, tmp_path
):
    from forecasting.errors import InputError

    bundle = corpus_workspace["bundle"]
    run(bundle, many, tmp_path / "local", batch=1)
    out = tmp_path / "pool"
    killed: list[int] = []

    def kill_a_worker() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            done = len(ledger(out)) if (out / JOB / LEDGER).is_file() else 0
            if done >= 2:
                pids = [p.pid for p in _pool_children()]
                if pids:
                    os.kill(pids[0], signal.SIGKILL)
                    killed.append(done)
            time.sleep(0.005)

    killer = threading.Thread(target=kill_a_worker)
    killer.start()
    with pytest.raises(InputError, match="a worker process died"):
        run(bundle, many, out, ProcessEngine(2), batch=1)
    killer.join()
    assert killed and 2 <= len(ledger(out)) < 48  # the finished groups are kept
    s = run(bundle, many, out, None, batch=1)  # resumed, here in this process
    assert s["series_forecast"] == 48
    pd.testing.assert_frame_equal(forecasts(out), forecasts(tmp_path / "local"))


def _pool_children() -> list:
    import multiprocessing

    return [p for p in multiprocessing.active_children() if p.name.startswith("SpawnProcess")]


def _bill(usage: Path, baseline: Path, out: Path, runner=None, batch: int = 5) -> dict:
    from forecasting.tariffs.calendar import Cycle
    from forecasting.tariffs.engine import BillEngine
    from forecasting.tariffs.spec import load_tariff
    from serving.bill import BillJob

    cycle = Cycle(1, 1)
    new = BillEngine(load_tariff(ROOT / "configs/tariffs/uk_flat_example.yaml"), cycle)
    base = BillEngine(load_tariff(baseline), cycle)
    job = BillJob(new, str(usage), out, base, column="target", batch_size=batch, runner=runner)
    return job.run()


def _impute(w: dict[str, Path], weather: Path, out: Path, runner=None, batch: int = 4) -> dict:
    from serving.impute import ImputeJob
    from serving.tables import read_static

    job = ImputeJob(str(w["bundle"]), str(w["monthly"]), read_static(str(w["static"])), out,
                    str(weather), samples=2, batch_size=batch, runner=runner)  # fmt: skip
    return job.run()


def _longer_weather(w: dict[str, Path], path: Path) -> None:
    """The corpus weather covers its 40 days; the months and the model's lookback need more."""
    weather = pd.read_csv(w["weather"], parse_dates=["timestamp"])
    hours = pd.date_range("2023-08-01", "2024-01-01", freq="h", tz="UTC")
    longer = weather.iloc[np.arange(len(hours)) % len(weather)].assign(timestamp=hours)
    longer.to_csv(path, index=False)


def _same_summary(local: dict, other: dict, engine: str) -> None:
    ran = ("engine", "worker_processes", "worker_peak_rss_mib")
    assert other["engine"] == engine and local["engine"] == "local"
    # Ray's pool hands each of its 2 actors a task at once; a worker process can start late
    # and find the tasks taken
    assert other["worker_processes"] == 2 if engine == "ray" else other["worker_processes"] >= 1
    assert local["worker_processes"] == 1
    assert {k: v for k, v in other.items() if k not in ran} == {
        k: v for k, v in local.items() if k not in ran
    }


def _same_files(a: Path, b: Path, names: list[str]) -> None:
    for name in names:
        read = pd.read_parquet if name.endswith(".parquet") else pd.read_csv
        pd.testing.assert_frame_equal(read(a / name), read(b / name), obj=name)


def test_bill_and_impute_on_worker_processes_and_on_ray_equal_the_local_run(
    cluster, corpus_workspace, many, tmp_path
):
    usage = pd.read_parquet(many["input"])  # the three files as one
    usage.loc[usage.index[[5, 900, 4000]], "target"] = [-1.0, float("nan"), -2.0]  # quarantined
    usage = pd.concat([usage, usage.iloc[[7]]])  # a duplicate reading
    (tmp_path / "usage").mkdir()
    for k, part in enumerate(np.array_split(np.arange(len(usage)), 3)):
        usage.iloc[part].to_parquet(tmp_path / "usage" / f"part-{k}.parquet", index=False)
    bills = ["bills.parquet", "bills_baseline.parquet", "quarantine.csv", "changes.csv"]
    tariff = corpus_workspace["tariff"]
    local = _bill(tmp_path / "usage", tariff, tmp_path / "bill_local")
    bad = int(usage["target"].isna().sum() + (usage["target"] < 0).sum()) + 1  # + the duplicate
    assert local["rows_quarantined"] == bad and local["customers_billed"] == 48
    for name, runner in (("pool", ProcessEngine(2)), ("ray", RayEngine(actors=2))):
        other = _bill(tmp_path / "usage", tariff, tmp_path / f"bill_{name}", runner)
        _same_summary(local, other, runner.name)
        _same_files(tmp_path / "bill_local", tmp_path / f"bill_{name}", bills)
    profiles = ["profiles.parquet", "samples.parquet", "assignments.csv", "errors.csv"]
    _longer_weather(corpus_workspace, tmp_path / "weather.csv")
    local = _impute(corpus_workspace, tmp_path / "weather.csv", tmp_path / "impute_local")
    assert local["customers_imputed"] == 6 and local["customers_failed"] == 0
    for name, runner in (("pool", ProcessEngine(2)), ("ray", RayEngine(actors=2))):
        other = _impute(corpus_workspace, tmp_path / "weather.csv", tmp_path / f"impute_{name}",
                        runner)  # fmt: skip
        _same_summary(local, other, runner.name)
        _same_files(tmp_path / "impute_local", tmp_path / f"impute_{name}", profiles)


def test_the_engine_options_are_checked_before_any_work():
    from forecasting.errors import InputError
    from serving.engines import engine_for

    assert engine_for("local") is None and isinstance(engine_for("local", 3), ProcessEngine)
    for args, said in [(("spark",), "use local or ray"), (("ray", 2), "use --actors"),
                       (("local", 1, "auto"), "are for --engine ray")]:  # fmt: skip
        with pytest.raises(InputError, match=said):
            engine_for(*args)


def test_without_ray_the_engine_names_the_extra(monkeypatch):
    from forecasting.errors import InputError
    from serving.engines import require_ray

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(InputError, match=r"pip install 'meterforecast\[ray\]'"):
        require_ray()


def _stop_after(monkeypatch, worker: type, tasks: int, ran: list[int]) -> None:
    """The worker's tasks run as before, counted in `ran`; the one after `tasks` (if set) is
    stopped as by Ctrl-C."""
    group = worker.group

    def counted(self, *task):
        if tasks and len(ran) == tasks:
            raise KeyboardInterrupt
        ran.append(task[0])
        return group(self, *task)

    monkeypatch.setattr(worker, "group", counted)


def test_bill_and_impute_stopped_part_way_resume_on_either_engine(
    corpus_workspace, many, tmp_path, monkeypatch, capsys
):
    from serving.bill import BillWorker
    from serving.impute import ImputeWorker

    tariff = corpus_workspace["tariff"]
    whole = _bill(many["input"], tariff, tmp_path / "bill_whole")
    out = tmp_path / "bill"
    with monkeypatch.context() as m:
        _stop_after(m, BillWorker, 3, [])
        with pytest.raises(KeyboardInterrupt):
            _bill(many["input"], tariff, out)
    assert len(ledger(out)) == 3 and not (out / "summary.json").exists()
    capsys.readouterr()
    resumed = _bill(many["input"], tariff, out, ProcessEngine(2))  # the rest on 2 processes
    assert f"resuming: 3 of {whole['customers_in'] // 5 + 1} groups already billed" in (
        capsys.readouterr().out
    )
    _same_summary(whole, resumed, "processes")
    _same_files(tmp_path / "bill_whole", out, ["bills.parquet", "bills_baseline.parquet",
                                              "quarantine.csv", "changes.csv"])  # fmt: skip
    assert not (out / JOB).exists()  # a finished job leaves only its output

    # a run with other arguments does not take up a stopped one: it starts over
    with monkeypatch.context() as m:
        _stop_after(m, BillWorker, 2, [])
        with pytest.raises(KeyboardInterrupt):
            _bill(many["input"], tariff, out)
    again = _bill(many["input"], tariff, out, batch=7)
    assert "resuming" not in capsys.readouterr().out
    keys = ["series_id", "period"]
    a, b = (pd.read_parquet(p / "bills.parquet").sort_values(keys, ignore_index=True)
            for p in (tmp_path / "bill_whole", out))  # fmt: skip
    pd.testing.assert_frame_equal(a, b)  # other groups, so in another order
    assert again["rows_billed"] == whole["rows_billed"]

    weather = tmp_path / "weather.csv"
    _longer_weather(corpus_workspace, weather)
    _impute(corpus_workspace, weather, tmp_path / "impute_whole", batch=1)
    out = tmp_path / "impute"
    with monkeypatch.context() as m:
        _stop_after(m, ImputeWorker, 2, [])
        with pytest.raises(KeyboardInterrupt):
            _impute(corpus_workspace, weather, out, batch=1)
    ran: list[int] = []
    with monkeypatch.context() as m:
        _stop_after(m, ImputeWorker, 0, ran)
        resumed = _impute(corpus_workspace, weather, out, batch=1)
    assert "resuming: 2 of 6 batches already imputed" in capsys.readouterr().out
    assert sorted(ran) == [2, 3, 4, 5]  # only the batches not done
    assert resumed["customers_imputed"] == 6
    _same_files(tmp_path / "impute_whole", out, ["profiles.parquet", "samples.parquet",
                                                 "assignments.csv", "errors.csv"])  # fmt: skip
