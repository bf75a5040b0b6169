"""Raw meter files for `forecasting predict --data-config CFG`: read the way `data prepare`
reads them (validation, quarantine, clocks, resampling, covariates, static table), once.

The prepared frame lands in the job folder (`OUTPUT/_job/prepared/`, with its quarantine and
report) and the job streams it as it streams any canonical input. A job started again with the
same arguments reuses it, so it resumes; a raw input or data config that changed since is
refused rather than mixed with the earlier forecasts. Torch-free (pandas, pyarrow)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from forecasting.config.data import load_data_config
from forecasting.data.prepare import prepare, write_prepared
from forecasting.data.readers import resolve_inputs
from forecasting.errors import InputError
from forecasting.folders import write_json
from serving.stream import files_fingerprint

PREPARED, SOURCE = "prepared", "source.json"


def prepared_input(
    raw: str | None, data_config: str | Path, job: Path, echo: Callable[[str], None]
) -> tuple[str, str | None]:
    """(canonical frame, static table or None) prepared from `raw` (default: the config's
    input path) under `job/prepared`, or the ones an earlier start of this job prepared."""
    cfg = load_data_config(data_config)
    files = resolve_inputs(raw or cfg.input.path, "input")
    source = {
        "data_config": hashlib.sha256(Path(data_config).read_bytes()).hexdigest(),
        "input": files_fingerprint(files),
    }
    folder = job / PREPARED
    stamp = folder / SOURCE
    if stamp.is_file():
        if json.loads(stamp.read_text("utf-8")) != source:
            raise InputError(
                f"{job.parent} holds a job started on other raw input or another data config; "
                "run it again with its own, or write to another --output"
            )
        echo(f"resuming on the input prepared at the start: {folder}")
    else:
        prepared = prepare(cfg, raw)
        write_prepared(prepared, folder)
        write_json(stamp, source)
        r = prepared.report
        echo(
            f"prepared {len(files)} file(s) with {data_config}: {r['rows_in']:,} rows in = "
            f"{r['rows_out']:,} out + {r['rows_quarantined']:,} quarantined "
            f"({folder / 'quarantine.parquet'})"
        )
    static = folder / "static.parquet"
    has_static = static.is_file() and (cfg.static is not None or bool(cfg.input.static_columns))
    return str(folder / "frame.parquet"), str(static) if has_static else None
