"""`/metrics` in the Prometheus text format (version 0.0.4), kept in process without a client
library: request counts by endpoint and status, latency histograms by endpoint, errors, model
load times and the job queue's depth. With several uvicorn workers each process counts its own
(scrape each, or run one worker per container as is usual)."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable

BUCKETS = (0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def _label(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self.hist: dict[str, list[int]] = defaultdict(lambda: [0] * (len(BUCKETS) + 1))
        self.sums: dict[str, float] = defaultdict(float)
        self.errors: dict[str, int] = defaultdict(int)

    def observe(self, method: str, endpoint: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[(method, endpoint, status)] += 1
            h = self.hist[endpoint]
            i = next((i for i, b in enumerate(BUCKETS) if seconds <= b), len(BUCKETS))
            h[i] += 1
            self.sums[endpoint] += seconds
            if status >= 500:
                self.errors[endpoint] += 1

    def render(self, models: list[tuple[str, str, float]], loads: int,
               queue: Callable[[], dict[str, int]]) -> str:  # fmt: skip
        out = ["# HELP forecasting_requests_total HTTP requests by endpoint and status.",
               "# TYPE forecasting_requests_total counter"]  # fmt: skip
        with self._lock:
            for (m, e, s), n in sorted(self.requests.items()):
                out.append(
                    f'forecasting_requests_total{{method="{m}",endpoint="{_label(e)}",status="{s}"}} {n}'
                )
            out += ["# HELP forecasting_request_seconds Time to answer a request.",
                    "# TYPE forecasting_request_seconds histogram"]  # fmt: skip
            for e, h in sorted(self.hist.items()):
                acc = 0
                for b, n in zip([*map(str, BUCKETS), "+Inf"], h, strict=True):
                    acc += n
                    out.append(
                        f'forecasting_request_seconds_bucket{{endpoint="{_label(e)}",le="{b}"}} {acc}'
                    )
                out.append(
                    f'forecasting_request_seconds_sum{{endpoint="{_label(e)}"}} {self.sums[e]:.6f}'
                )
                out.append(f'forecasting_request_seconds_count{{endpoint="{_label(e)}"}} {acc}')
            out += ["# HELP forecasting_errors_total Requests answered with a 5xx.",
                    "# TYPE forecasting_errors_total counter"]  # fmt: skip
            for e, n in sorted(self.errors.items()):
                out.append(f'forecasting_errors_total{{endpoint="{_label(e)}"}} {n}')
        out += ["# HELP forecasting_model_load_seconds Time to check and load each served bundle.",
                "# TYPE forecasting_model_load_seconds gauge"]  # fmt: skip
        for name, version, secs in models:
            out.append(
                f'forecasting_model_load_seconds{{name="{_label(name)}",version="{_label(version)}"}} {secs:.6f}'
            )
        out += ["# HELP forecasting_model_loads_total Bundles loaded since start.",
                "# TYPE forecasting_model_loads_total counter", f"forecasting_model_loads_total {loads}",
                "# HELP forecasting_jobs Jobs by status.", "# TYPE forecasting_jobs gauge"]  # fmt: skip
        for status, n in sorted(queue().items()):
            out.append(f'forecasting_jobs{{status="{status}"}} {n}')
        return "\n".join(out) + "\n"
