"""Export an ensemble run: a bundle of member bundles plus the weights.

    BUNDLE/manifest.json          kind "ensemble", the weights and blocks, the members, the
                                  union of their covariates and static columns, and the
                                  sha256 of each member's manifest (which pins its graph)
    BUNDLE/members/NAME/          one ordinary bundle per member (model.onnx + manifest.json)

Each member passes its own parity check when exported; then the whole ensemble is checked:
the onnxruntime bundle's combined forecasts against the native ensemble's on real windows.
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
    sha256,
    staged_folder,
    write_manifest,
)
from forecasting.errors import InputError
from forecasting.evaluation.metrics import quantile_column
from forecasting.models.ensemble import MEMBERS, WEIGHTS


def merged_features(members: list[dict[str, Any]]) -> dict[str, Any]:
    """One feature description covering every member: the union of their known-future and
    observed covariates and static columns (what serving must read from the input)."""
    feats = [m["model"]["features"] for m in members]
    out = dict(feats[0])
    for key in ("known_future", "observed", "static"):
        out[key] = list(dict.fromkeys(c for f in feats for c in f.get(key) or []))
    names = [n for m in members for n in m["model"].get("feature_names", [])]
    temps = [f["temperature"] for f, m in zip(feats, members, strict=True)
             if f.get("temperature") and "hdh" in m["model"].get("feature_names", [])]  # fmt: skip
    out["temperature"] = temps[0] if temps else None
    return {"features": out, "feature_names": list(dict.fromkeys(names))}


def export_ensemble(
    run_dir: Path,
    output: Path,
    input_path: str | None,
    data_config: str | Path | None,
    rtol: float,
    atol: float,
) -> dict[str, Any]:
    from forecasting.export.bundle import export_model_run, store_reference

    meta = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    spec = json.loads((run_dir / WEIGHTS).read_text(encoding="utf-8"))
    with staged_folder(output) as tmp:
        members = []
        for name in spec["members"]:
            members.append(
                export_model_run(
                    run_dir / MEMBERS / name,
                    tmp / MEMBERS / name,
                    input_path,
                    data_config or run_dir / "data_config.yaml",
                    rtol,
                    atol,
                )
            )
        manifest = {
            "format_version": BUNDLE_FORMAT,
            "package_version": __version__,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "kind": "ensemble",
            "name": meta.get("name"),
            "quantiles": meta["quantiles"],
            "horizon": meta["horizon"],
            "lookback": meta["lookback"],
            "freq": meta["freq"],
            "timezone": meta["timezone"],
            "nonnegative": meta["nonnegative"],
            "members": [
                {"name": n, "kind": m["kind"], "folder": f"{MEMBERS}/{n}"}
                for n, m in zip(spec["members"], members, strict=True)
            ],
            "weights": spec["weights"],
            "blocks": spec["blocks"],
            "calibration": spec.get("calibration"),
            "model": merged_features(members),
            "metrics": json.loads((run_dir / "metrics.json").read_text(encoding="utf-8")),
            "data_fingerprint": meta.get("data_fingerprint"),
            "files": {
                f"{MEMBERS}/{n}/{MANIFEST}": sha256(tmp / MEMBERS / n / MANIFEST)
                for n in spec["members"]
            },
        }
        write_manifest(tmp / MANIFEST, manifest)
        manifest["parity"] = ensemble_parity(run_dir, tmp, input_path, data_config, rtol, atol)
        manifest["parity"]["members"] = {
            n: m["parity"] for n, m in zip(spec["members"], members, strict=True)
        }
        manifest = write_manifest(tmp / MANIFEST, manifest)
        try:
            from forecasting.config.data import load_data_config
            from forecasting.data.prepare import prepare

            prepared = prepare(load_data_config(data_config or run_dir / "data_config.yaml"),
                               input_path)  # fmt: skip
        except InputError:  # the training data is not on this machine: no reference
            prepared = None
        if prepared is not None:
            manifest = store_reference(tmp, manifest, run_dir, prepared, meta["timezone"])
    return manifest


def ensemble_parity(
    run_dir: Path,
    bundle_dir: Path,
    input_path: str | None,
    data_config: str | Path | None,
    rtol: float,
    atol: float,
    days: int = 7,
) -> dict[str, Any]:
    """Native ensemble vs the onnxruntime bundle, combined forecasts of the last `days` daily
    origins of the run's data; raises above the tolerance."""

    from forecasting.config.data import load_data_config
    from forecasting.data.prepare import prepare
    from forecasting.data.timestamps import last_daily_origins
    from forecasting.export.onnx_export import compare_outputs
    from forecasting.models.ensemble import EnsembleForecaster
    from serving.load import load_bundle

    try:
        cfg = load_data_config(data_config or run_dir / "data_config.yaml")
        prepared = prepare(cfg, input_path)
    except InputError as exc:
        return {"real": {"skipped": f"no real windows: {exc}"}}
    frame = prepared.frame
    origins = last_daily_origins(frame["timestamp"], days)
    native = EnsembleForecaster.load(run_dir).forecast(frame, origins, prepared.static)
    onnx, _ = load_bundle(bundle_dir).forecast(frame, origins, prepared.static)
    keys = ["series_id", "origin", "timestamp"]
    cols = [quantile_column(q) for q in json.loads((run_dir / WEIGHTS).read_text())["quantiles"]]
    m = native.merge(onnx, on=keys, suffixes=("", "_onnx"), how="outer")
    a = m[cols].to_numpy(float)
    b = m[[f"{c}_onnx" for c in cols]].to_numpy(float)
    if len(m) == 0 or np.isnan(a).any() or np.isnan(b).any():
        raise InputError(
            f"ensemble parity: native and onnxruntime forecast different rows ({len(native)} vs "
            f"{len(onnx)})"
        )
    report = compare_outputs([a], [b], rtol, atol, "the ensemble bundle", "real windows")
    report |= {"rtol": rtol, "atol": atol}
    return {"real": report}
