"""`forecasting export`: a fitted run -> a checked, self-describing bundle folder.

    BUNDLE/model.onnx      the graph (dynamic batch axis)
    BUNDLE/reference.json  what `forecasting monitor` compares recent data with: the
                           run's validation period described (serving/monitor.py), and
                           the bundle's own forecast errors on it
    BUNDLE/manifest.json   format version, kind, inputs/outputs, the feature recipe and what
                           serving needs to rebuild features and undo scaling (columns,
                           category codes, covariate statistics), quantiles, horizon, lookback,
                           the interval calibration serving applies (null: none),
                           validation metrics, the training-data fingerprint, the parity
                           report, the package version and the sha256 of every file

The parity check runs before anything is written; the folder appears whole or not at all
(written beside the target, then renamed).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np

from forecasting import __version__
from forecasting.bundle_format import (
    BUNDLE_FORMAT,
    MANIFEST,
    MODEL_FILE,
    sha256,
    staged_folder,
    write_manifest,
)
from forecasting.errors import InputError
from forecasting.folders import write_json
from forecasting.models.kinds import model_kind


def real_inputs(model: Any, frame: Any, static: Any, days: int = 7) -> dict[str, np.ndarray]:
    """Graph inputs built from real data: the windows of the last `days` daily origins."""
    from forecasting.data.timestamps import last_daily_origins

    return dict(model.graph_inputs(frame, last_daily_origins(frame["timestamp"], days), static))


ARCHETYPES = "archetypes.json"
OUTSIDE_MODEL = ("files", "best_iterations", "calibration")  # model.json keys not in "model"
REFERENCE_DAYS = 28  # the reference period without a validation period: the data's last days


def reference_period(run_dir: Path, frame: Any, timezone: str) -> Any:
    """The rows of the run's validation period (local dates, from its config.yaml), or of the
    last `REFERENCE_DAYS` local days of `frame`."""
    import yaml

    from serving.monitor import recent_window

    path = run_dir / "config.yaml"
    config = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}) if path.exists() else {}
    valid = config.get("validation") or {}
    if valid.get("start") and valid.get("end"):
        import pandas as pd

        start, end = pd.Timestamp(str(valid["start"])), pd.Timestamp(str(valid["end"]))
        return recent_window(frame, timezone, (end - start).days + 1, str(end.date()))
    return recent_window(frame, timezone, REFERENCE_DAYS)


def store_reference(folder: Path, manifest: dict[str, Any], run_dir: Path, prepared: Any,
                    timezone: str) -> dict[str, Any]:  # fmt: skip
    """Describe the reference period into `folder`/reference.json with the staged bundle's
    own forecasts; return the manifest resealed with the file's checksum (or a note in it
    saying why there is no reference)."""
    from serving.kinds import bundle_kind
    from serving.load import load_bundle
    from serving.monitor import REFERENCE, profile

    try:
        window = reference_period(run_dir, prepared.frame, timezone)
        bundle = load_bundle(folder)
        scored = bundle if bundle_kind(bundle.kind).forecasts else None  # not the autoencoder
        reference = profile(window, timezone, bundle=scored, history=prepared.frame,
                            static=prepared.static)  # fmt: skip
    except InputError as exc:
        manifest["reference"] = {"skipped": str(exc)}
        return write_manifest(folder / MANIFEST, manifest)
    write_json(folder / REFERENCE, reference, indent=None)
    manifest["files"][REFERENCE] = sha256(folder / REFERENCE)
    manifest["reference"] = {"span": reference["span"], "households": reference["households"]}
    return write_manifest(folder / MANIFEST, manifest)


def archetypes_or_note(frame: Any, static: Any, timezone: str) -> dict[str, Any]:
    """Load-shape archetypes of the training customers (for `forecasting impute`), or a note
    saying why there are none."""
    from forecasting.impute.archetypes import fit_archetypes

    try:
        return fit_archetypes(frame, static, timezone)
    except InputError as exc:
        return {"skipped": str(exc)}


def export_model_run(
    run_dir: Path,
    output: Path,
    input_path: str | None = None,
    data_config: str | Path | None = None,
    rtol: float = 1e-4,
    atol: float = 1e-5,
) -> dict[str, Any]:
    """Export the run of one model in `run_dir` to the bundle folder `output`; return the
    manifest. `forecasting.export.export_run` checks the arguments and dispatches to this."""
    from forecasting.export.onnx_export import check_parity, export_model
    from forecasting.models.registry import load_run

    model, meta = load_run(run_dir)
    if not model_kind(meta["kind"]).capabilities.exportable:
        raise InputError(f"{run_dir}: a {meta['kind']!r} baseline has no weights to export")
    exported = export_model(model)
    real, real_note, archetypes, prepared = None, None, None, None
    try:
        from forecasting.config.data import load_data_config
        from forecasting.data.prepare import prepare

        cfg = load_data_config(data_config or run_dir / "data_config.yaml")
        prepared = prepare(cfg, input_path)
        real = real_inputs(model, prepared.frame, prepared.static)
        archetypes = archetypes_or_note(prepared.frame, prepared.static, meta["timezone"])
    except InputError as exc:  # the training data is not on this machine: random inputs only
        real_note = f"no real windows: {exc}"
    parity = check_parity(model, exported, real, rtol=rtol, atol=atol)
    if real_note:
        parity["real"] = {"skipped": real_note}
    model_meta = json.loads((run_dir / "model" / "model.json").read_text(encoding="utf-8"))
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    manifest = {
        "format_version": BUNDLE_FORMAT,
        "package_version": __version__,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "kind": meta["kind"],
        "name": meta.get("name"),
        "inputs": exported.inputs,
        "outputs": exported.outputs,
        "quantiles": meta["quantiles"],
        "horizon": model.horizon,
        "lookback": model.lookback,
        "freq": meta["freq"],
        "timezone": meta["timezone"],
        "nonnegative": meta["nonnegative"],
        "scaling": {"method": model.features.scaling, "floor": model.features.scale_floor},
        "model": {k: v for k, v in model_meta.items() if k not in OUTSIDE_MODEL},
        "calibration": model_meta.get("calibration"),
        "metrics": {k: v for k, v in metrics.items() if k != "epoch_history"},
        "data_fingerprint": meta.get("data_fingerprint"),
        "parity": parity,
    }
    with staged_folder(output) as tmp:
        (tmp / MODEL_FILE).write_bytes(exported.onnx)
        manifest["files"] = {MODEL_FILE: sha256(tmp / MODEL_FILE)}
        if archetypes is not None and "archetypes" in archetypes:
            write_json(tmp / ARCHETYPES, archetypes, indent=None)
            manifest["files"][ARCHETYPES] = sha256(tmp / ARCHETYPES)
            manifest["archetypes"] = {"k": archetypes["k"], "customers": archetypes["customers"]}
        elif archetypes is not None:
            manifest["archetypes"] = archetypes
        manifest = write_manifest(tmp / MANIFEST, manifest)
        if prepared is not None:
            manifest = store_reference(tmp, manifest, run_dir, prepared, meta["timezone"])
    return manifest
