"""32 clients at once on `forecast` against a real server: every request answered 200, none
lost or mixed up (each answer is for the customer asked about). Latencies, requests a second
and memory are measured in benchmarks/service_latency.py, not asserted here."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.serving.service.server import history_body

CLIENTS, SECONDS = 32, 8.0


@pytest.mark.slow
def test_32_concurrent_clients_get_every_answer_right(server):
    bodies = []
    base = history_body()
    for i in range(CLIENTS):
        b = {"bundle": "household", "series": [dict(base["series"][0], customer_id=f"client-{i}")]}
        bodies.append(b)
    results: list[tuple[int, str, str]] = []

    async def client(i: int, stop: float) -> None:
        headers = {"Authorization": f"Bearer {server.keys['reader']}"}
        async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=60) as c:
            while time.perf_counter() < stop:
                r = await c.post("/v1/forecast", json=bodies[i])
                who = r.json()["forecasts"][0]["customer_id"] if r.status_code == 200 else ""
                results.append((r.status_code, f"client-{i}", who))

    async def run() -> None:
        stop = time.perf_counter() + SECONDS
        await asyncio.gather(*[client(i, stop) for i in range(CLIENTS)])

    asyncio.run(run())
    assert len(results) >= CLIENTS
    assert [r for r in results if r[0] != 200] == []
    assert all(asked == answered for _, asked, answered in results)
