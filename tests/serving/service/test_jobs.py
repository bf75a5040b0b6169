"""Long jobs over HTTP against a real server: a targeting run and a tariff optimisation on
generated trials start with 202, report progress, and finish with their result; a job is
cancelled; a job whose server is killed is run again after the restart; overrides that would
reach a path, or break the config, are refused before anything runs."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from tests.serving.service.server import Server, setup_folder, write_job_configs


@pytest.fixture(scope="module")
def job_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("jobs")
    folders = write_job_configs(root)
    config, keys = setup_folder(root / "svc", extra={**folders, "job_workers": 1})
    s = Server(root / "svc", config, keys).start()
    yield s
    if s.proc is not None and s.proc.poll() is None:
        s.stop()


def _wait(c, jid, until=("done", "failed", "cancelled"), seconds=240):
    deadline = time.monotonic() + seconds
    seen = set()
    while time.monotonic() < deadline:
        job = c.get(f"/v1/jobs/{jid}").json()
        seen.add(job["progress"])
        if job["status"] in until:
            return job, seen
        time.sleep(0.3)
    raise AssertionError(f"job {jid} still {job['status']} after {seconds} s")


def test_a_targeting_job_runs_to_its_result(job_server):
    c = job_server.client("planner")
    r = c.post(
        "/v1/target-signals",
        json={"config": "small", "overrides": {"policy": {"rule": "expected"}}},
    )
    assert r.status_code == 202, r.text
    assert r.headers["location"] == f"/v1/jobs/{r.json()['id']}"
    job, seen = _wait(c, r.json()["id"])
    assert job["status"] == "done", job
    assert "bayes (expected)" in {p["policy"] for p in job["result"]["policies"]}
    assert job["result"]["rule"]["name"] == "expected"  # the override reached the run
    assert len(seen) >= 2  # queued/started, then the job's own lines, then done
    others = job_server.client("admin").get("/v1/jobs").json()["jobs"]
    assert job["id"] in [j["id"] for j in others]
    assert "config_path" not in job and "owner" not in job  # no server paths leave the server


def test_an_optimisation_job_runs_to_its_prices(job_server):
    c = job_server.client("planner")
    r = c.post(
        "/v1/optimise-tariff", json={"config": "small", "overrides": {"goals": {"w_peak": 10.0}}}
    )
    assert r.status_code == 202, r.text
    job, _ = _wait(c, r.json()["id"])
    assert job["status"] == "done", job
    assert set(job["result"]["prices"]) and job["result"]["checks"]["all_hold"] in (True, False)


@pytest.mark.parametrize("body, says", [
    ({"config": "small", "overrides": {"trial": "/etc/passwd"}}, "overrides.trial: not one a request may replace"),
    ({"config": "small", "overrides": {"policy": {"rule": "psychic"}}}, "overrides.policy.rule"),
    ({"config": "nope"}, "no target-signals config named 'nope'"),
])  # fmt: skip
def test_bad_job_requests_are_refused_before_running(job_server, body, says):
    r = job_server.client("planner").post("/v1/target-signals", json=body)
    assert r.status_code == 422 and says in r.json()["error"], r.text


def test_a_job_is_cancelled_and_jobs_of_other_keys_are_hidden(job_server):
    c = job_server.client("planner")
    jid = c.post("/v1/target-signals", json={"config": "small"}).json()["id"]
    time.sleep(1.0)
    r = c.delete(f"/v1/jobs/{jid}")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    time.sleep(1.0)
    assert c.get(f"/v1/jobs/{jid}").json()["status"] == "cancelled"
    other = job_server.client("reader")
    assert other.get(f"/v1/jobs/{jid}").status_code == 403  # no plan role
    from serving.service.keys import add_key

    key = add_key(job_server.root / "keys.yaml", "planner2", ["plan"])
    import httpx

    r = httpx.get(f"{job_server.url}/v1/jobs/{jid}", headers={"X-API-Key": key})
    assert r.status_code == 404


def test_a_job_survives_a_server_restart(job_server):
    c = job_server.client("planner")
    jid = c.post("/v1/target-signals", json={"config": "small"}).json()["id"]
    running, _ = _wait(c, jid, until=("running",), seconds=60)
    pid = json.loads((job_server.root / "state" / "jobs" / jid / "job.json").read_text())["pid"]
    job_server.stop(signal.SIGKILL)  # the server dies; its job's process is left behind
    job_server.start()
    job, seen = _wait(job_server.client("planner"), jid)
    assert job["status"] == "done", job
    assert "queued again after a server restart" in seen or job["started"] != running["started"]
    orphan = Path(f"/proc/{pid}")  # the old run was stopped, not left to write beside the new
    assert not orphan.exists() or jid not in (orphan / "cmdline").read_text(errors="replace")
