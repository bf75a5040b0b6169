"""Thread counts from what the process may use, and OpenMP calmed only when asked."""

from __future__ import annotations

import os
import subprocess
import sys

from forecasting import threads


def test_usable_cpus_follows_affinity_quota_and_the_override(monkeypatch, tmp_path):
    monkeypatch.delenv("FORECASTING_THREADS", raising=False)
    monkeypatch.setattr(threads, "_cgroup_quota", lambda: None)
    assert threads.usable_cpus() == len(os.sched_getaffinity(0))
    monkeypatch.setattr(threads, "_cgroup_quota", lambda: 0.5)  # half a CPU: one thread
    assert threads.usable_cpus() == 1
    monkeypatch.setenv("FORECASTING_THREADS", "3")
    assert threads.usable_cpus() == 3


def test_cgroup_quotas_of_both_versions_are_read(tmp_path):
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert threads._cgroup_quota(tmp_path) == 1.5
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert threads._cgroup_quota(tmp_path) is None
    (tmp_path / "cpu.max").unlink()
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("200000\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert threads._cgroup_quota(tmp_path) == 2.0
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert threads._cgroup_quota(tmp_path) is None


def _env_after_cli(extra: dict[str, str]) -> dict[str, str]:
    probe = ("import os, json, forecasting.threads as t; t.calm_openmp(); "
             "print(json.dumps({k: os.environ.get(k) for k in t.OPENMP_DEFAULTS}))")  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in threads.OPENMP_DEFAULTS}
    env.pop("FORECASTING_OPENMP", None)
    out = subprocess.run([sys.executable, "-c", probe], env={**env, **extra}, capture_output=True,
                         text=True, check=True)  # fmt: skip
    import json

    return json.loads(out.stdout)


def test_openmp_is_calmed_only_when_asked_and_never_over_the_users_value():
    assert _env_after_cli({}) == dict.fromkeys(threads.OPENMP_DEFAULTS)
    assert _env_after_cli({"FORECASTING_OPENMP": "calm"}) == threads.OPENMP_DEFAULTS
    mine = _env_after_cli({"FORECASTING_OPENMP": "calm", "OMP_WAIT_POLICY": "ACTIVE"})
    assert mine["OMP_WAIT_POLICY"] == "ACTIVE" and mine["GOMP_SPINCOUNT"] == "0"
