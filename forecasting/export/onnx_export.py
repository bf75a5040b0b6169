"""Fitted models to ONNX, with a parity check against the native model before anything is
written. Deep networks go through the TorchScript exporter (`dynamo=False`, the route that
handles the TFT) with a dynamic batch axis; the boosted models through `trees.py`."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from forecasting.errors import InputError

DEEP_OPSET = 17
FORECAST_INPUTS = ["past", "future", "static_cat", "static_real"]


@dataclass
class Exported:
    """An ONNX model and its interface: inputs/outputs as name, shape ("batch" is dynamic)
    and dtype."""

    onnx: bytes
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    parity: dict[str, Any] = field(default_factory=dict)


class ParityError(InputError):
    """The exported model does not reproduce the native one within tolerance."""


def export_model(model: Any) -> Exported:
    """The ONNX graph of a fitted model of any kind the registry builds (not the baselines)."""
    kind = model.kind
    if kind in ("lightgbm", "xgboost"):
        from forecasting.export.trees import lightgbm_onnx, xgboost_onnx

        n = len(model.feature_names_)
        proto = (
            lightgbm_onnx(model.boosters_, n)
            if kind == "lightgbm"
            else xgboost_onnx(model.boosters_[0], n, len(model.quantiles))
        )
        spec = _spec(model)
        return Exported(proto.SerializeToString(), spec["inputs"], spec["outputs"])
    if kind in ("cnn_lstm", "tft", "lstm_autoencoder"):
        return _export_torch(model)
    raise InputError(f"models of kind {kind!r} have nothing to export (they learn no weights)")


def _spec(model: Any) -> dict[str, list[dict[str, Any]]]:
    """Input and output shapes of a model's graph."""
    kind = model.kind
    q = len(model.quantiles)
    if kind in ("lightgbm", "xgboost"):
        dtype = "float64" if kind == "lightgbm" else "float32"  # each library's threshold type
        return {
            "inputs": [_io("X", ["batch", len(model.feature_names_)], dtype)],
            "outputs": [_io("raw", ["batch", q], "float32")],
        }
    if kind == "lstm_autoencoder":
        w = model.config.window
        n = model.net_.encoder.input_size + 1  # load + expected + calendar
        return {
            "inputs": [_io("window", ["batch", w, n], "float32")],
            "outputs": [
                _io("reconstruction", ["batch", w], "float32"),
                _io("latent", ["batch", model.config.latent_size], "float32"),
            ],
        }
    cols = model.columns_
    h, lb = model.horizon, model.lookback
    return {
        "inputs": [
            _io("past", ["batch", lb, len(cols["past"])], "float32"),
            _io("future", ["batch", h, len(cols["future"])], "float32"),
            _io("static_cat", ["batch", len(cols["static_cat"])], "int64"),
            _io("static_real", ["batch", len(cols["static_real"])], "float32"),
        ],
        "outputs": [
            _io("quantiles", ["batch", h, q], "float32"),
            _io("attention", ["batch", h, lb], "float32"),
        ],
    }


def _io(name: str, shape: list[Any], dtype: str) -> dict[str, Any]:
    return {"name": name, "shape": shape, "dtype": dtype}


def random_inputs(model: Any, batch: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Fresh random inputs of the model's shapes (category codes within their tables)."""
    rng = np.random.default_rng(seed)
    out = {}
    for spec in _spec(model)["inputs"]:
        shape = [batch, *spec["shape"][1:]]
        if spec["dtype"] == "int64":
            cards = [len(model.categories_[c]) + 1 for c in model.columns_["static_cat"]]
            out[spec["name"]] = (
                np.stack([rng.integers(0, c, batch) for c in cards], axis=1)
                .reshape(shape)
                .astype("int64")
            )
        else:
            out[spec["name"]] = rng.normal(0, 1, shape).astype("float32").astype(spec["dtype"])
    return out


def native_outputs(model: Any, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
    """What the native model computes for the graph's inputs (the parity reference)."""
    if model.kind in ("lightgbm", "xgboost"):
        X = pd.DataFrame(inputs["X"], columns=model.feature_names_)
        return [np.asarray(model.raw_predict(X), dtype="float32")]
    import torch

    names = [s["name"] for s in _spec(model)["inputs"]]
    with torch.no_grad():
        out = model.net_.eval()(*(torch.from_numpy(inputs[n]) for n in names))
    return [o.numpy() for o in (out if isinstance(out, tuple) else (out,))]


def _export_torch(model: Any) -> Exported:
    import torch

    spec = _spec(model)
    names_in = [s["name"] for s in spec["inputs"]]
    names_out = [s["name"] for s in spec["outputs"]]
    example = random_inputs(model, 2)
    net = model.net_.eval()
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the tracer's notes on Python control flow
        torch.onnx.export(
            net,
            tuple(torch.from_numpy(example[n]) for n in names_in),
            buf,  # type: ignore[arg-type]
            dynamo=False,
            input_names=names_in,
            output_names=names_out,
            dynamic_axes={n: {0: "batch"} for n in [*names_in, *names_out]},
            opset_version=DEEP_OPSET,
        )
    return Exported(buf.getvalue(), spec["inputs"], spec["outputs"])


def check_parity(
    model: Any,
    exported: Exported,
    real: dict[str, np.ndarray] | None = None,
    rtol: float = 1e-4,
    atol: float = 1e-5,
    batch: int = 256,
    seed: int = 0,
    max_real: int = 4096,
) -> dict[str, Any]:
    """Run native and onnxruntime on `batch` fresh random inputs and on up to `max_real` real
    windows when given (thresholds are met by real values, rarely by random ones);
    raise ParityError when any output differs by more than atol + rtol * |native|."""
    import onnxruntime as ort

    session = ort.InferenceSession(exported.onnx, providers=["CPUExecutionProvider"])
    cases = {"random": random_inputs(model, batch, seed)}
    if real is not None and len(next(iter(real.values()))):
        cases["real"] = {k: v[:max_real] for k, v in real.items()}
    report: dict[str, Any] = {"rtol": rtol, "atol": atol}
    for case, inputs in cases.items():
        ours = session.run(None, inputs)
        ref = native_outputs(model, inputs)
        diffs = [
            np.abs(a.astype("float64") - b.astype("float64"))
            for a, b in zip(ours, ref, strict=True)
        ]
        rel = [d / np.maximum(np.abs(b), 1e-3) for d, b in zip(diffs, ref, strict=True)]
        bad = [int((d > atol + rtol * np.abs(b)).sum()) for d, b in zip(diffs, ref, strict=True)]
        report[case] = {
            "rows": len(next(iter(inputs.values()))),
            "max_abs_diff": float(max(d.max() for d in diffs)),
            "max_rel_diff": float(max(r.max() for r in rel)),
            "outside_tolerance": int(sum(bad)),
        }
        if sum(bad):
            raise ParityError(
                f"ONNX export of {model.kind!r} does not match the native model on {case} inputs: "
                f"{sum(bad)} values differ by more than {atol} + {rtol} x |native| (max abs "
                f"{report[case]['max_abs_diff']:.3g}); nothing was written"
            )
    exported.parity = report
    return report
