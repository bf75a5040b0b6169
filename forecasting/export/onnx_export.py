"""Fitted models to ONNX, with a parity check against the native model before anything is
written. Each model converts itself (`to_onnx`): the deep networks in
`forecasting/models/deep/onnx.py`, the boosted models in `forecasting/models/trees_onnx.py`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from forecasting.errors import InputError
from forecasting.models.contract import ExportableGraph


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
    """The ONNX graph of a fitted model: each exportable kind describes its graph
    (`onnx_spec`), converts itself (`to_onnx`) and computes the native reference
    (`native_outputs`); the baselines learn no weights and have nothing to export."""
    if not isinstance(model, ExportableGraph):
        raise InputError(
            f"models of kind {model.kind!r} have nothing to export (they learn no weights)"
        )
    spec = model.onnx_spec()
    graph = declare_inputs(model.to_onnx(random_inputs(model, 2)), spec["inputs"])
    return Exported(graph, spec["inputs"], spec["outputs"])


def declare_inputs(onnx_bytes: bytes, inputs: list[dict[str, Any]]) -> bytes:
    """The graph with every input of the spec declared, in the spec's order. The exporter
    drops an input the network never reads (`static_cat` of a model without categorical
    static columns: zero columns), and a bundle's interface must not depend on that."""
    import onnx
    from onnx import TensorProto, helper

    m = onnx.load_from_string(onnx_bytes)
    have = {i.name: i for i in m.graph.input}
    if all(spec["name"] in have for spec in inputs):
        return onnx_bytes
    types = {"float32": TensorProto.FLOAT, "float64": TensorProto.DOUBLE,
             "int64": TensorProto.INT64}  # fmt: skip
    declared = [have.get(spec["name"]) or helper.make_tensor_value_info(
        spec["name"], types[spec["dtype"]], spec["shape"]) for spec in inputs]  # fmt: skip
    extra = [i for i in m.graph.input if i.name not in {s["name"] for s in inputs}]
    del m.graph.input[:]
    m.graph.input.extend([*declared, *extra])
    return bytes(m.SerializeToString())


def random_inputs(model: Any, batch: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Fresh random inputs of the model's shapes (category codes within their tables)."""
    rng = np.random.default_rng(seed)
    out = {}
    for spec in model.onnx_spec()["inputs"]:
        shape = [batch, *spec["shape"][1:]]
        if spec["dtype"] == "int64":
            cards = [len(model.categories_[c]) + 1 for c in model.columns_["static_cat"]]
            codes = [rng.integers(0, c, batch) for c in cards]  # none without static columns
            stacked = np.stack(codes, axis=1) if codes else np.zeros((batch, 0))
            out[spec["name"]] = stacked.reshape(shape).astype("int64")
        else:
            out[spec["name"]] = rng.normal(0, 1, shape).astype("float32").astype(spec["dtype"])
    return out


def native_outputs(
    model: Any, inputs: dict[str, np.ndarray], *, exact: bool = False
) -> list[np.ndarray]:
    """What the native model computes for the graph's inputs; `exact` in float64, the parity
    reference."""
    return list(model.native_outputs(inputs, exact=exact))


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
    """Run onnxruntime on `batch` fresh random inputs and on up to `max_real` real windows when
    given (thresholds are met by real values, rarely by random ones); raise ParityError when
    any output differs from the native model's, computed in float64, by more than
    atol + rtol * |native|.

    The reference is float64 because the native float32 run is itself an approximation: a TFT
    with a 672-step lookback differs from its own float64 computation by up to 4e-5, more than
    the tolerance, while its ONNX graph stays within it. How far native float32 is from the
    reference is reported beside (`native_float32_max_abs_diff`)."""
    import onnxruntime as ort

    session = ort.InferenceSession(exported.onnx, providers=["CPUExecutionProvider"])
    cases = {"random": random_inputs(model, batch, seed)}
    if real is not None and len(next(iter(real.values()))):
        cases["real"] = {k: v[:max_real] for k, v in real.items()}
    report: dict[str, Any] = {"rtol": rtol, "atol": atol, "reference": "native float64"}
    for case, inputs in cases.items():
        reference = native_outputs(model, inputs, exact=True)
        ours = session.run(None, inputs)
        report[case] = compare_outputs(
            reference, ours, rtol, atol, f"ONNX export of {model.kind!r}", f"{case} inputs"
        )
        float32 = native_outputs(model, inputs)
        report[case]["native_float32_max_abs_diff"] = max_abs_diff(float32, reference)
    exported.parity = report
    return report


def max_abs_diff(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    """The largest absolute difference over outputs of the same shapes (0 when empty)."""
    pairs = [(x, y) for x, y in zip(a, b, strict=True) if x.size]
    return max((float(np.abs(x.astype("float64") - y).max()) for x, y in pairs), default=0.0)


REL_FLOOR = 1e-3  # relative differences are reported against max(|native|, this)


def compare_outputs(
    native: list[np.ndarray], ours: list[np.ndarray], rtol: float, atol: float, what: str,
    case: str,
) -> dict[str, Any]:  # fmt: skip
    """The parity report of `ours` against `native` (arrays of the same shapes, one per
    output); a `ParityError` when any value differs by more than atol + rtol x |native|."""
    diffs = [
        np.abs(a.astype("float64") - b.astype("float64")) for a, b in zip(ours, native, strict=True)
    ]
    rel = [d / np.maximum(np.abs(b), REL_FLOOR) for d, b in zip(diffs, native, strict=True)]
    bad = sum(int((d > atol + rtol * np.abs(b)).sum()) for d, b in zip(diffs, native, strict=True))
    report = {
        "rows": len(native[0]),
        "max_abs_diff": float(max(d.max() for d in diffs)) if native[0].size else 0.0,
        "max_rel_diff": float(max(r.max() for r in rel)) if native[0].size else 0.0,
        "outside_tolerance": bad,
    }
    if bad:
        raise ParityError(
            f"{what} does not match the native model on {case}: {bad} values differ by more "
            f"than {atol} + {rtol} x |native| (max abs {report['max_abs_diff']:.3g}); nothing "
            "was written"
        )
    return report
