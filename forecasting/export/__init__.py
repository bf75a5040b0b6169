"""Export fitted runs to ONNX bundles that the torch-free serving path loads."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from forecasting.bundle_format import MANIFEST
from forecasting.errors import InputError
from forecasting.folders import check_output_folder


def export_run(
    run_dir: Path,
    output: Path,
    input_path: str | None = None,
    data_config: str | Path | None = None,
    rtol: float = 1e-4,
    atol: float = 1e-5,
) -> dict[str, Any]:
    """Export the run in `run_dir` (one model, or an ensemble of them) to the bundle folder
    `output`; return the manifest. Parity within `atol + rtol x |native|` or nothing is written."""
    from forecasting.models.kinds import model_kind
    from forecasting.models.registry import read_run

    check_output_folder(output, MANIFEST, "bundle", [run_dir, input_path, data_config])
    for name, value in (("--rtol", rtol), ("--atol", atol)):
        if not math.isfinite(value) or value < 0:
            raise InputError(f"{name} must be a finite number >= 0, got {value}")
    if model_kind(read_run(run_dir)[0]["kind"]).combines_members:
        from forecasting.export.ensemble import export_ensemble

        return export_ensemble(run_dir, output, input_path, data_config, rtol, atol)
    from forecasting.export.bundle import export_model_run

    return export_model_run(run_dir, output, input_path, data_config, rtol, atol)
