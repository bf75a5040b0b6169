"""Contract fuzzing from the service's own OpenAPI document (schemathesis), against a real
server: requests generated for every operation, valid (positive) and invalid (negative),
with a key that holds every role. No answer may be a 5xx, and every answer must match the
status codes, content type and schema the document declares. At least 1,000 requests."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is a dev dependency")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis import GenerationMode, checks  # noqa: E402
from schemathesis.specs.openapi import checks as openapi_checks  # noqa: E402

PER_OPERATION = {GenerationMode.POSITIVE: 80, GenerationMode.NEGATIVE: 50}
CHECKS = [checks.not_a_server_error, openapi_checks.status_code_conformance,
          openapi_checks.content_type_conformance, openapi_checks.response_schema_conformance]  # fmt: skip


def fuzz(strategy, n: int, url: str, headers: dict[str, str], codes: list[int]) -> None:
    @settings(max_examples=n, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(case=strategy)
    def call(case):
        response = case.call(base_url=url, headers=headers)
        codes.append(response.status_code)
        case.validate_response(response, checks=CHECKS)

    call()


@pytest.mark.slow
def test_every_answer_keeps_the_contract(server):
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    headers = {"Authorization": f"Bearer {server.keys['admin']}"}
    sent: dict[str, list[int]] = {}
    for result in schema.get_all_operations():
        op = result.ok()
        if op.path == "/v1/models/reload":
            continue  # rescans the folder: nothing to fuzz, and it competes for the lock
        codes = sent.setdefault(f"{op.method.upper()} {op.path}", [])
        for mode, n in PER_OPERATION.items():
            try:
                fuzz(op.as_strategy(generation_mode=mode), n, server.url, headers, codes)
            except Unsatisfiable:
                assert mode == GenerationMode.NEGATIVE  # nothing to break: no parameters

    every = [c for codes in sent.values() for c in codes]
    assert len(sent) >= 17 and len(every) >= 1000, (len(sent), len(every))
    assert not [c for c in every if c >= 500]
    assert {200, 422} <= set(every)  # both valid and refused requests were generated
    print(
        f"{len(every)} requests over {len(sent)} operations; status codes {sorted(set(every))}"
    )  # the figure the closing note quotes
