"""Gradient-boosted models as one ONNX graph: features X [N, F] -> raw outputs [N, Q].

LightGBM: onnxmltools converts each quantile's booster; the graphs are joined into one that
concatenates their outputs. XGBoost: the multi-quantile booster is written as a single
`TreeEnsembleRegressor` from its JSON dump, with one target per quantile (tree i serves
quantile i mod Q) and the per-quantile base scores, which the generic converter gets wrong.
Outputs are the boosters' raw values; sorting, unscaling and clipping happen in serving.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper

OPSET = 15  # onnxmltools' tree converters need 15 or lower (see ../shared/GUIDE.md)
ML_OPSET = 3


def lightgbm_onnx(boosters: list[Any], n_features: int) -> onnx.ModelProto:
    from onnxmltools import convert_lightgbm
    from onnxmltools.convert.common.data_types import FloatTensorType

    nodes: list[Any] = []
    outputs: list[str] = []
    opsets: dict[str, int] = {}
    for i, booster in enumerate(boosters):
        proto = convert_lightgbm(
            booster, initial_types=[("X", FloatTensorType([None, n_features]))], target_opset=OPSET
        )
        graph = onnx.compose.add_prefix_graph(proto.graph, f"q{i}_", rename_inputs=False)
        nodes.extend(graph.node)
        outputs.append(graph.output[0].name)
        opsets |= {o.domain: o.version for o in proto.opset_import}
    nodes.append(helper.make_node("Concat", outputs, ["raw"], axis=1))
    graph = helper.make_graph(
        nodes,
        "lightgbm_quantiles",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, n_features])],
        [helper.make_tensor_value_info("raw", TensorProto.FLOAT, [None, len(boosters)])],
    )
    return _model(graph, opsets)


def xgboost_onnx(booster: Any, n_features: int, n_targets: int) -> onnx.ModelProto:
    trees = [json.loads(t) for t in booster.get_dump(dump_format="json")]
    base = json.loads(booster.save_config())["learner"]["learner_model_param"]["base_score"]
    base_values = np.atleast_1d(np.asarray(json.loads(base), dtype="float64"))
    if len(base_values) == 1:
        base_values = np.repeat(base_values, n_targets)
    names = booster.feature_names
    a: dict[str, list[Any]] = {k: [] for k in (
        "nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_values", "nodes_modes",
        "nodes_truenodeids", "nodes_falsenodeids", "nodes_missing_value_tracks_true",
        "target_treeids", "target_nodeids", "target_ids", "target_weights",
    )}  # fmt: skip
    for t, root in enumerate(trees):
        stack = [root]
        while stack:
            node = stack.pop()
            a["nodes_treeids"].append(t)
            a["nodes_nodeids"].append(node["nodeid"])
            if "leaf" in node:
                for k, v in (("featureids", 0), ("values", 0.0), ("modes", "LEAF"),
                             ("truenodeids", 0), ("falsenodeids", 0),
                             ("missing_value_tracks_true", 0)):  # fmt: skip
                    a[f"nodes_{k}"].append(v)
                a["target_treeids"].append(t)
                a["target_nodeids"].append(node["nodeid"])
                a["target_ids"].append(t % n_targets)
                a["target_weights"].append(float(node["leaf"]))
                continue
            split = node["split"]
            feature = names.index(split) if names and split in names else int(split.lstrip("f"))
            a["nodes_featureids"].append(feature)
            a["nodes_values"].append(float(node["split_condition"]))
            a["nodes_modes"].append("BRANCH_LT")
            a["nodes_truenodeids"].append(node["yes"])
            a["nodes_falsenodeids"].append(node["no"])
            a["nodes_missing_value_tracks_true"].append(int(node["missing"] == node["yes"]))
            stack.extend(node["children"])
    ensemble = helper.make_node(
        "TreeEnsembleRegressor",
        ["X"],
        ["raw"],
        domain="ai.onnx.ml",
        n_targets=n_targets,
        aggregate_function="SUM",
        post_transform="NONE",
        base_values=[float(v) for v in base_values],
        **a,  # type: ignore[arg-type]
    )
    graph = helper.make_graph(
        [ensemble],
        "xgboost_quantiles",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, n_features])],
        [helper.make_tensor_value_info("raw", TensorProto.FLOAT, [None, n_targets])],
    )
    return _model(graph, {"": OPSET, "ai.onnx.ml": ML_OPSET})


def _model(graph: onnx.GraphProto, opsets: dict[str, int]) -> onnx.ModelProto:
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets.items()]
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model
