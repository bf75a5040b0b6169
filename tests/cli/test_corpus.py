"""The hostile corpus (`tests/cli/corpus.py`): every case, run as a real subprocess, refuses its
bad input with one line and its documented exit code, writes nothing on refusal, never quotes a
file that is not a table, and loses no row."""

from __future__ import annotations

import pytest

from tests.cli.corpus import CASES, run_all

NO_INPUT = {"version"}  # commands that take no input to get wrong


def cli_commands() -> set[str]:
    """Every command the CLI offers, read from the app itself ("data validate", "train", ...)."""
    import typer.main

    from forecasting.cli.app import app

    def walk(cmd, prefix: str = ""):
        subs = getattr(cmd, "commands", None)
        if not subs:
            yield prefix
            return
        for name, sub in subs.items():
            yield from walk(sub, f"{prefix} {name}".strip())

    return set(walk(typer.main.get_command(app))) - NO_INPUT


@pytest.fixture(scope="module")
def outcomes(corpus_workspace):
    return {o.case.id: o for o in run_all(corpus_workspace)}


def test_every_command_has_cases():
    per = {c: sum(case.command == c for case in CASES) for c in cli_commands()}
    assert set(per) == {case.command for case in CASES}
    assert all(n >= 3 for n in per.values()), per
    assert len({case.id for case in CASES}) == len(CASES), "case ids repeat"


@pytest.mark.slow
@pytest.mark.parametrize("case_id", [c.id for c in CASES])
def test_case_is_refused_cleanly(outcomes, case_id):
    o = outcomes[case_id]
    assert not o.problems, f"{case_id}: {o.problems}; exit {o.code}; stderr: {o.err[-600:]}"
