"""MLflow: where runs are tracked and where registered bundles come from (the `[tracking]` extra).

Nothing here imports MLflow until a command is asked to track or to read `models:/...`: tracking
off costs nothing. The tracking URI is `--tracking-uri`, else `MLFLOW_TRACKING_URI`, else, with
`--track`, a local SQLite store `mlruns.db` in the working folder with its artifacts in
`mlartifacts/` beside it. The same URI holds the model registry.

A registered bundle is a model version whose source is the bundle folder logged as a run's
artifact; `models:/NAME/VERSION` and `models:/NAME@ALIAS` are downloaded once into a local
folder and then read like any bundle, so their sha256 checksums are verified on every load.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from forecasting.errors import InputError

URI_ENV = "MLFLOW_TRACKING_URI"
EXPERIMENT_ENV = "MLFLOW_EXPERIMENT_NAME"
DEFAULT_DB = "mlruns.db"
DEFAULT_ARTIFACTS = "mlartifacts"
DEFAULT_EXPERIMENT = "forecasting"
RUN_LINK = "tracking.json"  # in a run folder: the tracked run it was logged as
PARAM_VALUE_MAX = 6000  # MLflow's limit on a parameter value
_MODEL_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<version>\d+)|@(?P<alias>[\w-]+))$")


def tracking_uri(given: str | None, track: bool = False) -> str | None:
    """The tracking URI a command logs to, or None when tracking is off."""
    if given:
        return given
    if os.environ.get(URI_ENV):
        return os.environ[URI_ENV]
    if track:
        return f"sqlite:///{Path(DEFAULT_DB).resolve()}"
    return None


def require_mlflow(what: str) -> Any:
    """The mlflow module, or a one-line error naming the extra to install."""
    try:
        import mlflow
    except ModuleNotFoundError as exc:
        raise InputError(
            f"{what} needs MLflow ({exc.name} is not installed): "
            "pip install 'meterforecast[tracking]'"
        ) from None
    return mlflow


def artifact_location(uri: str) -> str | None:
    """Where a new experiment keeps its artifacts: beside a SQLite file store; a server or
    any other store decides for itself (None)."""
    if not uri.startswith("sqlite:///"):
        return None
    # SQLAlchemy's form: sqlite:///relative/path.db, sqlite:////absolute/path.db
    path = Path(unquote(urlparse(uri).path[1:]))
    if path.name in ("", ":memory:"):
        return None
    return str(path.resolve().parent / DEFAULT_ARTIFACTS)


def _flat(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flat(f"{prefix}.{k}" if prefix else str(k), v, out)
    else:
        out[prefix] = value


def flatten(tree: dict[str, Any]) -> dict[str, Any]:
    """A nested mapping as dotted keys: {"a": {"b": 1}} -> {"a.b": 1}."""
    out: dict[str, Any] = {}
    _flat("", tree, out)
    return out


def param_text(value: Any) -> str:
    """A parameter's value as MLflow stores it: text, None as "None", cut at its length limit."""
    text = str(value)
    return text if len(text) <= PARAM_VALUE_MAX else text[: PARAM_VALUE_MAX - 1] + "…"


@dataclass
class Tracker:
    """An open tracking store and experiment; each method does one logging call (batched)."""

    uri: str
    client: Any
    experiment_id: str

    @classmethod
    def open(cls, uri: str, experiment: str | None, what: str) -> Tracker:
        """Connect and make sure the experiment exists: a store that cannot be reached fails
        here, before any work is done, in one line."""
        require_mlflow(what)
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException

        quiet_client()
        name = experiment or os.environ.get(EXPERIMENT_ENV) or DEFAULT_EXPERIMENT
        try:
            client = MlflowClient(uri, registry_uri=uri)
            found = client.get_experiment_by_name(name)
            if found is None:
                # created meanwhile by another process (DDP ranks): then read it back
                with contextlib.suppress(MlflowException):
                    client.create_experiment(name, artifact_location(uri))
                found = client.get_experiment_by_name(name)
            if found is None:
                raise InputError(f"tracking URI {uri}: experiment {name!r} could not be created")
            experiment_id = found.experiment_id
        except (MlflowException, OSError) as exc:
            raise InputError(f"tracking URI {uri}: {_one_line(exc)}") from None
        return cls(uri, client, experiment_id)

    def start(self, name: str, tags: dict[str, str], parent: str | None = None) -> str:
        extra = {"mlflow.parentRunId": parent} if parent else {}
        run = self.client.create_run(self.experiment_id, run_name=name, tags={**tags, **extra})
        return str(run.info.run_id)

    def log_params(self, run_id: str, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(k[:250], param_text(v)) for k, v in sorted(params.items())]
        for i in range(0, len(items), 100):  # MLflow takes at most 100 parameters a call
            self.client.log_batch(run_id, params=items[i : i + 100])

    def log_metrics(self, run_id: str, values: dict[str, float], step: int = 0) -> None:
        self.log_series(run_id, {k: [(step, v)] for k, v in values.items()})

    def log_series(self, run_id: str, series: dict[str, list[tuple[int, float]]]) -> None:
        """Metrics with a step each (an epoch, a boosting round), in batches of 1,000."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [
            Metric(k, float(v), now, int(step)) for k, pts in series.items() for step, v in pts
        ]
        for i in range(0, len(items), 1000):
            self.client.log_batch(run_id, metrics=items[i : i + 1000])

    def log_folder(self, run_id: str, folder: Path, artifact_path: str | None = None) -> None:
        self.client.log_artifacts(run_id, str(folder), artifact_path)

    def finish(self, run_id: str, ok: bool = True) -> None:
        self.client.set_terminated(run_id, "FINISHED" if ok else "FAILED")

    def register(self, name: str, run_id: str, artifact_path: str, tags: dict[str, str],
                 alias: str | None = None) -> str:  # fmt: skip
        """A new version of registered model `name` whose source is the run's artifact folder."""
        from mlflow.exceptions import MlflowException

        try:
            self.client.get_registered_model(name)
        except MlflowException:
            self.client.create_registered_model(name)
        source = f"{self.client.get_run(run_id).info.artifact_uri}/{artifact_path}"
        version = self.client.create_model_version(name, source, run_id=run_id, tags=tags)
        if alias:
            self.client.set_registered_model_alias(name, alias, version.version)
        return str(version.version)


def quiet_client() -> None:
    """No progress bars on a batch job's output, and a tracking server that is down fails in
    seconds, not after MLflow's default of seven retries with doubling waits (minutes);
    a value the user set wins."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")


def _one_line(exc: BaseException) -> str:
    text = str(getattr(exc, "message", None) or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def is_model_uri(text: str | Path) -> bool:
    return str(text).startswith("models:/")


def registry_cache(tracking: str | None = None) -> Path:
    """Where registered bundles are downloaded to: FORECASTING_CACHE or ~/.cache/forecasting,
    then a folder per registry (a short hash of its URI), since two registries (staging and
    production, say) can each hold a version 1 of the same name."""
    root = Path(os.environ.get("FORECASTING_CACHE") or "~/.cache/forecasting").expanduser()
    where = tracking_uri(tracking)
    if where is None:
        return root / "registry"
    if where.startswith("sqlite:///") and not where.startswith("sqlite:////"):
        where = "sqlite:///" + os.path.abspath(where.removeprefix("sqlite:///"))  # cwd-relative
    return root / "registry" / hashlib.sha256(where.encode()).hexdigest()[:12]


def bundle_folder(bundle: str | Path, tracking: str | None = None) -> Path:
    """A bundle folder, or the downloaded folder of a registered `models:/...` bundle."""
    if is_model_uri(bundle):
        return fetch_registered_bundle(str(bundle), registry_cache(tracking), tracking)
    return Path(bundle)


def fetch_registered_bundle(uri: str, dest: Path, tracking: str | None = None) -> Path:
    """Download the bundle of `models:/NAME/VERSION` or `models:/NAME@ALIAS` into
    `dest/NAME/VERSION` (once: a folder already there is reused) and return that folder. The
    caller reads it as a bundle, which verifies every file's sha256 against its manifest."""
    m = _MODEL_URI.match(uri)
    if m is None:
        raise InputError(
            f"{uri}: a registered bundle is models:/NAME/VERSION or models:/NAME@ALIAS"
        )
    where = tracking_uri(tracking)
    if where is None:
        raise InputError(f"{uri}: no tracking URI; pass --tracking-uri or set {URI_ENV}")
    require_mlflow(f"reading {uri}")
    from mlflow import MlflowClient
    from mlflow.artifacts import download_artifacts
    from mlflow.exceptions import MlflowException

    quiet_client()
    client = MlflowClient(where, registry_uri=where)
    name = m["name"]
    try:
        if m["alias"]:
            version = client.get_model_version_by_alias(name, m["alias"])
        else:
            version = client.get_model_version(name, m["version"])
    except MlflowException as exc:
        raise InputError(f"{uri} in {where}: {_one_line(exc)}") from None
    folder = Path(dest) / name / str(version.version)
    if folder.is_dir() and any(folder.iterdir()):
        return folder
    part = folder.with_name(folder.name + ".partial")
    part.mkdir(parents=True, exist_ok=True)
    try:
        got = Path(
            download_artifacts(artifact_uri=version.source, dst_path=str(part), tracking_uri=where)
        )
    except (MlflowException, OSError) as exc:
        raise InputError(f"{uri}: downloading {version.source}: {_one_line(exc)}") from None
    got.rename(folder)  # whole or not at all: an interrupted download is fetched again
    part.rmdir()
    return folder
