"""The ONNX side of the deep models' contract: a fitted network traced to ONNX (TorchScript
exporter, `dynamo=False`, the route that handles the TFT) with a dynamic batch axis, and the
native outputs the parity check compares it with. Each model gives its own `onnx_spec()`."""

from __future__ import annotations

import io
import warnings
from typing import Any

import numpy as np

DEEP_OPSET = 17


class TorchGraph:
    """Mixin for a model with a fitted `net_` and an `onnx_spec()`."""

    net_: Any

    def onnx_spec(self) -> dict[str, list[dict[str, Any]]]:
        raise NotImplementedError

    def native_outputs(
        self, inputs: dict[str, np.ndarray], *, exact: bool = False
    ) -> list[np.ndarray]:
        """What the network computes for the graph's inputs. `exact`: on a float64 copy of the
        network (the parity reference: over long sequences, torch's own float32 rounding can
        exceed the tolerance the export is held to)."""
        import copy

        import torch

        names = [s["name"] for s in self.onnx_spec()["inputs"]]
        net = copy.deepcopy(self.net_).double() if exact else self.net_
        tensors = [torch.from_numpy(inputs[n]) for n in names]
        if exact:
            tensors = [t.double() if t.is_floating_point() else t for t in tensors]
        with torch.no_grad():
            out = net.eval()(*tensors)
        return [o.numpy() for o in (out if isinstance(out, tuple) else (out,))]

    def to_onnx(self, example: dict[str, np.ndarray]) -> bytes:
        """The network as ONNX, traced on `example` inputs."""
        import torch

        spec = self.onnx_spec()
        names_in = [s["name"] for s in spec["inputs"]]
        names_out = [s["name"] for s in spec["outputs"]]
        buf = io.BytesIO()
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the tracer's notes on Python control flow
            torch.onnx.export(
                self.net_.eval(),
                tuple(torch.from_numpy(example[n]) for n in names_in),
                buf,  # type: ignore[arg-type]
                dynamo=False,
                input_names=names_in,
                output_names=names_out,
                dynamic_axes={n: {0: "batch"} for n in [*names_in, *names_out]},
                opset_version=DEEP_OPSET,
            )
        return buf.getvalue()
