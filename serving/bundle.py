"""Load and check a bundle, then forecast with onnxruntime: no torch, no lightning.

`load_bundle(folder)` refuses a bundle whose manifest is missing or unreadable, whose format
version this code does not read, or whose files are missing or do not match their sha256,
naming the file. `Bundle.forecast(frame, origins, static)` rebuilds the features with the
shared feature code, runs the session in chunks, and undoes the per-window scaling.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pandas as pd

from forecasting.bundle_format import MANIFEST, MODEL_FILE, sha256
from forecasting.config.features import FeatureConfig
from forecasting.errors import BundleError, InputError
from forecasting.forecasts.calibration import IntervalCalibration, calibrated
from forecasting.forecasts.frames import long_forecast, to_target_units
from forecasting.threads import usable_cpus
from serving.kinds import bundle_kind
from serving.manifest import check_graph, check_manifest

MAX_MANIFEST_BYTES = 16 << 20


def default_session_batch(kind: str) -> int:
    """Rows per onnxruntime call, measured best on CPU by benchmarks/onnx_throughput.py: the
    deep forecasters' chunks run side by side on single-threaded sessions (see `Runner`)."""
    return bundle_kind(kind).session_batch


def read_manifest(folder: Path) -> dict[str, Any]:
    """The checked manifest of a bundle folder (format version and every file's sha256)."""
    folder = Path(folder)
    path = folder / MANIFEST
    if folder.is_symlink():
        raise BundleError(f"{folder}: the bundle folder is a symbolic link; give the folder itself")
    if not folder.is_dir():
        raise BundleError(f"bundle folder not found: {folder}")
    if path.is_symlink() or not path.is_file():
        raise BundleError(f"{folder}: not a bundle ({MANIFEST} missing); make one with `export`")
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise BundleError(f"{path}: {path.stat().st_size:,} bytes is too large for a manifest")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        why = str(exc) if not isinstance(exc, RecursionError) else "nested too deeply"
        raise BundleError(f"{path}: not valid JSON ({why}); the bundle is corrupt") from None
    manifest = check_manifest(path, raw)
    for name, digest in manifest["files"].items():
        f = folder / name
        if sha256(f) != digest:
            raise BundleError(
                f"{f}: sha256 does not match the manifest; the file is corrupt, truncated or "
                "from another bundle"
            )
    return manifest


def session_options(threads: int | None = None) -> ort.SessionOptions:
    """Throughput-oriented options: full graph optimisation, intra-op threads = the CPUs this
    process may use (affinity, cgroup quota)."""
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads = threads or usable_cpus()
    opts.inter_op_num_threads = 1
    return opts


class Runner:
    """onnxruntime sessions of one graph, run in chunks of rows.

    A call that fits in one chunk runs on a session using every core (lowest latency). A bigger
    call is split into chunks run side by side by `workers` threads, each on a single-threaded
    session: the deep graphs are chains of small operators that split poorly across threads,
    so chunk-level parallelism goes further (benchmarks/onnx_throughput.py measures it)."""

    def __init__(self, model: str | bytes, threads: int | None = None) -> None:
        self.workers = threads or usable_cpus()
        cpu = ["CPUExecutionProvider"]
        self.session = ort.InferenceSession(model, session_options(self.workers), providers=cpu)
        self.single = (
            ort.InferenceSession(model, session_options(1), providers=cpu)
            if self.workers > 1
            else self.session
        )
        self._pool: ThreadPoolExecutor | None = None

    def run(self, inputs: dict[str, np.ndarray], chunk: int = 1024) -> list[np.ndarray]:
        """Outputs for `inputs` (rows first), computed in chunks of `chunk` rows."""
        n = len(next(iter(inputs.values())))
        if n <= chunk:
            return list(self.session.run(None, inputs))
        feeds = [{k: v[i : i + chunk] for k, v in inputs.items()} for i in range(0, n, chunk)]
        if self.workers > 1:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="ort")
            parts = list(self._pool.map(lambda f: self.single.run(None, f), feeds))
        else:
            parts = [self.session.run(None, f) for f in feeds]
        return [np.concatenate([p[i] for p in parts]) for i in range(len(parts[0]))]


class ManifestView:
    """What a loaded bundle tells from its manifest (a single model or an ensemble)."""

    manifest: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.manifest["kind"])

    @property
    def quantiles(self) -> list[float]:
        return list(self.manifest["quantiles"])

    @property
    def features(self) -> FeatureConfig:
        return FeatureConfig(**self.manifest["model"]["features"])

    @cached_property
    def calibration(self) -> IntervalCalibration | None:
        """The interval calibration the bundle applies to its quantiles (checked at load)."""
        return IntervalCalibration.from_json(
            self.manifest.get("calibration"), self.quantiles, int(self.manifest["horizon"])
        )

    def calibrated(self, fc: pd.DataFrame) -> pd.DataFrame:
        """Long forecasts with the bundle's interval calibration applied, if it has one."""
        return calibrated(fc, self.calibration, bool(self.manifest["nonnegative"]))


@dataclass
class Bundle(ManifestView):
    folder: Path
    manifest: dict[str, Any]
    runner: Runner

    def run(self, inputs: dict[str, np.ndarray], chunk: int = 1024) -> list[np.ndarray]:
        """Graph outputs for `inputs`, run in chunks of `chunk` rows. Inputs whose shape is
        not the manifest's are a `BundleError` (the manifest's recipe does not build what the
        graph reads), never an onnxruntime error per series."""
        for spec in self.manifest["inputs"]:
            got = inputs[spec["name"]].shape[1:]
            want = spec["shape"][1:]
            if len(got) != len(want) or any(
                isinstance(w, int) and g != w for g, w in zip(got, want, strict=False)
            ):
                raise BundleError(
                    f"{self.folder}: the manifest's feature recipe builds {spec['name']!r} of "
                    f"shape {list(got)} per row, the graph reads {want[:]}; the bundle was edited"
                )
        if not len(next(iter(inputs.values()))):
            return [
                np.zeros((0, *s["shape"][1:]), dtype="float32") for s in self.manifest["outputs"]
            ]
        return self.runner.run(inputs, chunk)

    def forecast(
        self,
        frame: pd.DataFrame,
        origins: pd.DatetimeIndex,
        static: pd.DataFrame | None = None,
        chunk: int | None = None,
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(long forecasts, skipped): every series of `frame` at every origin (UTC); `chunk`
        rows per onnxruntime call (default: the best measured for the model kind)."""
        m = self.manifest
        chunk = chunk or default_session_batch(self.kind)
        inputs, w = self.graph_inputs(frame, origins, static)
        raw = self.run(inputs, chunk)[0]
        if bundle_kind(self.kind).layout == "rows":
            pred = to_target_units(np.sort(raw, axis=1), w.scale, m["nonnegative"])
            out = w.index.copy()
            from forecasting.evaluation.metrics import quantile_column

            for i, q in enumerate(self.quantiles):
                out[quantile_column(q)] = pred[:, i]
            return self.calibrated(out), w.skipped
        pred = to_target_units(raw, w.scale, m["nonnegative"])
        fc = long_forecast(w.index, pred, self.quantiles, pd.Timedelta(m["freq"]))
        return self.calibrated(fc), w.skipped

    def load_windows(
        self, frame: pd.DataFrame, origins: pd.DatetimeIndex
    ) -> tuple[Any, np.ndarray, np.ndarray]:
        """An anomaly bundle's inputs: (the windows' sequences: `index`, `scale`, `skipped`;
        the graph input [N, window, channels]; the observed mask [N, window]), built by the
        manifest's recipe as the native detector builds them."""
        if bundle_kind(self.kind).layout != "load_windows":
            raise BundleError(
                f"a {self.kind!r} bundle forecasts; it does not score windows of load"
            )
        from forecasting.features.sequences import load_windows

        meta = self.manifest["model"]
        return load_windows(frame, origins, self.features, int(meta["config"]["window"]),
                            int(meta["lookback"]), str(meta["freq"]))  # fmt: skip

    def graph_inputs(
        self, frame: pd.DataFrame, origins: pd.DatetimeIndex, static: pd.DataFrame | None
    ) -> tuple[dict[str, np.ndarray], Any]:
        """(the graph's inputs by name, the windows they came from: `index`, `scale`,
        `skipped`; rows also `X`) for every series of `frame` at every origin (UTC), built by
        the manifest's feature recipe."""
        m = self.manifest
        meta = m["model"]
        kind = bundle_kind(self.kind)
        if not kind.forecasts:
            raise BundleError(f"a {self.kind!r} bundle scores anomalies; it does not forecast")
        if kind.layout == "rows":
            from forecasting.features.windows import make_windows

            w = make_windows(
                frame, origins, self.features, m["horizon"], m["lookback"], static,
                meta["categories"], m["freq"],
            )  # fmt: skip
            if list(w.X.columns) != meta["feature_names"]:
                raise InputError(
                    f"the data gives features {list(w.X.columns)}, the bundle was trained on "
                    f"{meta['feature_names']}"
                )
            dtype = m["inputs"][0]["dtype"]  # float64 for LightGBM's thresholds
            return {"X": w.X.to_numpy(dtype="float32").astype(dtype)}, w
        from forecasting.features.sequences import make_sequences

        s = make_sequences(
            frame, origins, self.features, m["horizon"], m["lookback"], meta["norms"], static,
            meta["categories"], m["freq"],
        )  # fmt: skip
        names = ["past", "future", "static_cat", "static_real"]
        return dict(zip(names, s.arrays()[:4], strict=True)), s


def load_model_bundle(
    folder: Path, manifest: dict[str, Any], threads: int | None = None, int8: bool = False
) -> Bundle:
    """The bundle of one model whose manifest `read_manifest` has checked (`serving.load`'s
    `load_bundle` reads any bundle and calls this for the single-model kinds)."""
    kind = bundle_kind(manifest["kind"])
    model: str | bytes = str(folder / MODEL_FILE)
    if int8:
        if not kind.quantizable:
            raise BundleError(f"{folder}: int8 quantisation applies to deep graphs, not trees")
        model = quantized(folder / MODEL_FILE)
    try:
        runner = Runner(model, threads)
    except Exception as exc:  # onnxruntime raises its own types for unreadable graphs
        raise BundleError(f"{folder / MODEL_FILE}: onnxruntime cannot load it ({exc})") from None
    check_graph(folder / MANIFEST, manifest, runner.session)
    return Bundle(folder, manifest, runner)


def quantized(path: Path) -> bytes:
    """The graph at `path` with int8 weights for MatMul/LSTM (onnxruntime dynamic quantisation)."""
    import tempfile

    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "int8.onnx"
        quantize_dynamic(path, out, weight_type=QuantType.QInt8)
        return out.read_bytes()
