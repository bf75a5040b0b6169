"""One job of the service, run as its own process: `python -m serving.service.jobrun FOLDER`.

Reads `FOLDER/job.json`, runs the job into `FOLDER/output`, prints its progress (the server
appends it to `progress.log`), and writes `result.json` (the job's summary) when it is done or
`error.txt` (one line) when it cannot be."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from forecasting.errors import ForecastingError
from forecasting.folders import write_json
from serving.service.jobs import load_job_config


def run(folder: Path) -> dict[str, Any]:
    job = json.loads((folder / "job.json").read_text("utf-8"))
    cfg = load_job_config(job["kind"], Path(job["config_path"]), job["overrides"])
    output = folder / "output"

    def say(message: str) -> None:
        print(message, flush=True)

    if job["kind"] == "optimise-tariff":
        from serving.optimise import run_optimise

        return run_optimise(cfg, output, say)
    from forecasting.targeting.job import run_targeting

    return run_targeting(cfg, output, echo=say)


def main() -> int:
    folder = Path(sys.argv[1])
    try:
        summary = run(folder)
    except ForecastingError as exc:
        (folder / "error.txt").write_text(str(exc), "utf-8")
        return 2
    except Exception as exc:  # the job failed: one line for the caller, the trace in the log
        import traceback

        traceback.print_exc()
        (folder / "error.txt").write_text(f"{type(exc).__name__}: {exc}", "utf-8")
        return 3
    write_json(folder / "result.json", summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
