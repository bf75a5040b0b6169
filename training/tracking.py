"""What `train`, `tune`, `ensemble`, `export` and `evaluate` log to MLflow (`--track`).

The run folder stays the record; MLflow gets a copy that can be searched and compared:
- parameters: the resolved config (`config.yaml`, dotted keys) and the data config;
- metrics: every number of `metrics.json` (nested keys dotted, lists indexed), the validation
  losses, per epoch for deep models (`epoch.train_loss`, `epoch.val_loss`, ...) and per boosting
  round for boosted ones (`round.valid_p50`, ...) with the epoch or round as the step;
- artifacts: the run folder itself.
A run folder that was tracked holds `tracking.json` (store and run id); `export` and `evaluate`
of that folder log as child runs of its run, so a model's history reads as one tree. A tuning
study is a parent run with a child run per trial, and the best trial's training run under it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from forecasting.tracking import RUN_LINK, Tracker, flatten

HISTORIES = {"epoch_history": "epoch", "round_history": "round"}


def numbers(tree: dict[str, Any]) -> dict[str, float]:
    """The numbers of a metrics mapping as MLflow metrics: nested keys dotted, a list of
    numbers indexed (`best_iterations.0`), histories and text left out."""
    out: dict[str, float] = {}
    for key, value in flatten({k: v for k, v in tree.items() if k not in HISTORIES}).items():
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float) and value == value:  # NaN is no metric
            out[key] = float(value)
        elif isinstance(value, list) and all(isinstance(v, int | float) for v in value):
            out |= {f"{key}.{i}": float(v) for i, v in enumerate(value) if v == v}
    return out


def histories(metrics: dict[str, Any]) -> dict[str, list[tuple[int, float]]]:
    """Step metrics: the epoch log of a deep fit and the per-round losses of a boosted one."""
    series: dict[str, list[tuple[int, float]]] = {}
    for row in metrics.get("epoch_history") or []:
        for key, value in row.items():
            if key != "epoch" and isinstance(value, int | float) and value == value:
                series.setdefault(f"epoch.{key}", []).append((int(row["epoch"]), float(value)))
    for key, values in (metrics.get("round_history") or {}).items():
        series[f"round.{key}"] = [(i, float(v)) for i, v in enumerate(values) if v == v]
    return series


def linked_run(folder: Path, tracker: Tracker) -> str | None:
    """The tracked run a run folder was logged as, when it is in this same store."""
    link = Path(folder) / RUN_LINK
    if not link.is_file():
        return None
    try:
        found = json.loads(link.read_text())
    except (OSError, ValueError):
        return None
    return found.get("run_id") if found.get("tracking_uri") == tracker.uri else None


def _yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    return yaml.safe_load(path.read_text()) or {}


def log_run_folder(tracker: Tracker, run_dir: Path, command: str,
                   parent: str | None = None, extra: dict[str, Any] | None = None) -> str:  # fmt: skip
    """Log a run folder written by `train` or `ensemble` and link the folder to it."""
    run_dir = Path(run_dir)
    info = json.loads((run_dir / "run.json").read_text())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    tags = {"forecasting.command": command, "forecasting.kind": str(info.get("kind")),
            "forecasting.run_folder": str(run_dir.resolve()),
            "forecasting.data_sha256": str((info.get("data_fingerprint") or {}).get("sha256"))}  # fmt: skip
    run_id = tracker.start(f"{command} {info.get('name') or run_dir.name}", tags, parent)
    ok = False
    try:
        params = flatten(_yaml(run_dir / "config.yaml"))
        params |= {f"data.{k}": v for k, v in flatten(_yaml(run_dir / "data_config.yaml")).items()}
        tracker.log_params(run_id, params | (extra or {}))
        tracker.log_metrics(run_id, numbers(metrics))
        tracker.log_series(run_id, histories(metrics))
        tracker.log_folder(run_id, run_dir)
        ok = True
    finally:
        tracker.finish(run_id, ok)
    link = {"tracking_uri": tracker.uri, "experiment_id": tracker.experiment_id, "run_id": run_id}
    (run_dir / RUN_LINK).write_text(json.dumps(link, indent=2) + "\n")
    return run_id


def log_tune(tracker: Tracker, summary: dict[str, Any], output: Path,
             best_run: Path | None, worker: int) -> str:  # fmt: skip
    """The study as a parent run; each trial this worker finished as a child run (its
    parameters, loss and state); the best trial's training run under the parent."""
    tags = {"forecasting.command": "tune", "forecasting.kind": str(summary.get("model_kind")),
            "forecasting.study": str(summary.get("study")), "forecasting.worker": str(worker)}  # fmt: skip
    parent = tracker.start(f"tune {summary.get('study')}", tags)
    ok = False
    try:
        params = {"study": summary.get("study"), "storage": summary.get("storage"),
                  "trials": (summary.get("budget") or {}).get("trials")}  # fmt: skip
        params |= {f"space.{k}": v for k, v in flatten(summary.get("search_space") or {}).items()}
        params |= {f"fixed.{k}": v for k, v in flatten(summary.get("fixed") or {}).items()}
        tracker.log_params(parent, params)
        best = {"best_value": summary.get("best_value"), "best_trial": summary.get("best_trial")}
        best |= {f"importance.{k}": v for k, v in (summary.get("param_importances") or {}).items()}
        tracker.log_metrics(parent, {k: v for k, v in best.items() if v is not None})
        for t in summary.get("trials", []):
            if t.get("worker") not in (None, worker):
                continue  # another worker's trial: that worker logs it
            child = tracker.start(f"trial {t['number']}", {"forecasting.command": "tune.trial",
                                  "forecasting.trial_state": t["state"]}, parent)  # fmt: skip
            tracker.log_params(child, t.get("params") or {})
            values = {"trial": t["number"], "value": t.get("value"), "seconds": t.get("seconds")}
            tracker.log_metrics(child, {k: v for k, v in values.items() if v is not None})
            tracker.finish(child, t["state"] in ("COMPLETE", "PRUNED"))
        if (output / "summary.json").is_file():
            tracker.log_folder(parent, output, "study")
        if best_run is not None:
            log_run_folder(tracker, best_run, "train", parent)
        ok = True
    finally:
        tracker.finish(parent, ok)
    return parent


def log_export(tracker: Tracker, run: Path, bundle: Path, manifest: dict[str, Any],
               register: str | None, alias: str | None) -> tuple[str, str | None]:  # fmt: skip
    """The bundle as the artifact `bundle` of a child run of its training run; with
    `register`, a new version of that registered model: (run id, version or None)."""
    tags = {"forecasting.command": "export", "forecasting.kind": str(manifest.get("kind")),
            "forecasting.run_folder": str(Path(run).resolve())}  # fmt: skip
    run_id = tracker.start(f"export {Path(bundle).name}", tags, linked_run(run, tracker))
    version = None
    ok = False
    try:
        tracker.log_params(run_id, {"run": str(run), "bundle": str(bundle)})
        tracker.log_metrics(run_id, numbers({"parity": manifest.get("parity", {})}))
        tracker.log_folder(run_id, bundle, "bundle")
        if register:
            keep = ("kind", "name", "horizon", "lookback", "freq", "quantiles", "format_version")
            mtags = {f"bundle.{k}": json.dumps(manifest[k]) if isinstance(manifest[k], list)
                     else str(manifest[k]) for k in keep if k in manifest}  # fmt: skip
            version = tracker.register(register, run_id, "bundle", mtags, alias)
        ok = True
    finally:
        tracker.finish(run_id, ok)
    return run_id, version


def log_evaluate(tracker: Tracker, run: Path, result: dict[str, Any], output: Path,
                 params: dict[str, Any]) -> str:  # fmt: skip
    """A backtest as a child run of the evaluated run: its options, every number of the
    metrics JSON (model and seasonal naive), and that JSON."""
    tags = {"forecasting.command": "evaluate", "forecasting.run_folder": str(Path(run).resolve())}
    run_id = tracker.start(f"evaluate {result.get('start')}..{result.get('end')}", tags,
                           linked_run(run, tracker))  # fmt: skip
    ok = False
    try:
        tracker.log_params(run_id, params)
        tracker.log_metrics(run_id, numbers(result))
        tracker.client.log_artifact(run_id, str(output))
        ok = True
    finally:
        tracker.finish(run_id, ok)
    return run_id
