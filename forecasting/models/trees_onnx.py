"""Gradient-boosted models as one ONNX graph: features X [N, F] -> raw outputs [N, Q].

Both libraries are written as a single `TreeEnsembleRegressor` with one target per quantile,
built from the boosters' own JSON dumps:
- LightGBM: one booster per quantile; thresholds stay float64 (ai.onnx.ml opset 3 tensors)
  and the input is float64, because LightGBM compares in float64. onnxmltools' converter
  rounds thresholds to float32, which flipped about 0.2% of real-data predictions.
- XGBoost: one multi-quantile booster, tree i serving quantile i mod Q, with the per-quantile
  base scores, which the generic converter gets wrong; float32, as XGBoost compares.
NaN follows each split's default direction (LightGBM without NaN in training reads NaN as 0).
Outputs are the boosters' raw values; sorting, unscaling and clipping happen in serving.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper

OPSET = 15
ML_OPSET = 3


def lightgbm_onnx(boosters: list[Any], n_features: int) -> onnx.ModelProto:
    """One TreeEnsembleRegressor for all quantile boosters (target i = booster i), thresholds
    kept in float64 as LightGBM compares them (ai.onnx.ml opset 3 `*_as_tensor`)."""
    a = _empty_attrs()
    tree_offset = 0
    for target, booster in enumerate(boosters):
        dump = booster.dump_model()
        for t, info in enumerate(dump["tree_info"]):
            tid = tree_offset + t
            stack, counter = [(info["tree_structure"], 0)], [1]
            while stack:
                node, nid = stack.pop()
                a["nodes_treeids"].append(tid)
                a["nodes_nodeids"].append(nid)
                if "leaf_value" in node or "split_feature" not in node:
                    _leaf(a, tid, nid, target, float(node.get("leaf_value", 0.0)))
                    continue
                if node.get("decision_type", "<=") != "<=":
                    raise ValueError("categorical splits are not exported")
                left, right = counter[0], counter[0] + 1
                counter[0] += 2
                threshold = float(node["threshold"])
                missing = node.get("missing_type", "None")
                # NaN goes the default side; with missing_type None LightGBM reads NaN as 0
                to_left = bool(node["default_left"]) if missing == "NaN" else threshold >= 0.0
                _split(a, int(node["split_feature"]), threshold, "BRANCH_LEQ", left, right, to_left)
                stack += [(node["left_child"], left), (node["right_child"], right)]
        tree_offset += len(dump["tree_info"])
    values = a.pop("nodes_values")
    weights = a.pop("target_weights")
    ensemble = helper.make_node(
        "TreeEnsembleRegressor",
        ["X"],
        ["raw"],
        domain="ai.onnx.ml",
        n_targets=len(boosters),
        aggregate_function="SUM",
        post_transform="NONE",
        nodes_values_as_tensor=helper.make_tensor("t", TensorProto.DOUBLE, [len(values)], values),
        target_weights_as_tensor=helper.make_tensor(
            "w", TensorProto.DOUBLE, [len(weights)], weights
        ),
        base_values_as_tensor=helper.make_tensor(
            "b", TensorProto.DOUBLE, [len(boosters)], [0.0] * len(boosters)
        ),
        **a,  # type: ignore[arg-type]
    )
    graph = helper.make_graph(
        [ensemble],
        "lightgbm_quantiles",
        [helper.make_tensor_value_info("X", TensorProto.DOUBLE, [None, n_features])],
        [helper.make_tensor_value_info("raw", TensorProto.FLOAT, [None, len(boosters)])],
    )
    return _model(graph, {"": OPSET, "ai.onnx.ml": ML_OPSET})


def _empty_attrs() -> dict[str, list[Any]]:
    return {k: [] for k in (
        "nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_values", "nodes_modes",
        "nodes_truenodeids", "nodes_falsenodeids", "nodes_missing_value_tracks_true",
        "target_treeids", "target_nodeids", "target_ids", "target_weights",
    )}  # fmt: skip


def _split(
    a: dict[str, list[Any]],
    feature: int,
    threshold: float,
    mode: str,
    true_id: int,
    false_id: int,
    missing_true: bool,
) -> None:
    """A branch node: `feature` compared with `threshold` (mode), NaN to the true side or not."""
    for k, v in (("featureids", feature), ("values", threshold), ("modes", mode),
                 ("truenodeids", true_id), ("falsenodeids", false_id),
                 ("missing_value_tracks_true", int(missing_true))):  # fmt: skip
        a[f"nodes_{k}"].append(v)


def _leaf(a: dict[str, list[Any]], tree: int, node: int, target: int, weight: float) -> None:
    _split(a, 0, 0.0, "LEAF", 0, 0, False)
    a["target_treeids"].append(tree)
    a["target_nodeids"].append(node)
    a["target_ids"].append(target)
    a["target_weights"].append(weight)


def xgboost_onnx(booster: Any, n_features: int, n_targets: int) -> onnx.ModelProto:
    trees = [json.loads(t) for t in booster.get_dump(dump_format="json")]
    base = json.loads(booster.save_config())["learner"]["learner_model_param"]["base_score"]
    base_values = np.atleast_1d(np.asarray(json.loads(base), dtype="float64"))
    if len(base_values) == 1:
        base_values = np.repeat(base_values, n_targets)
    names = booster.feature_names
    a = _empty_attrs()
    for t, root in enumerate(trees):
        stack = [root]
        while stack:
            node = stack.pop()
            a["nodes_treeids"].append(t)
            a["nodes_nodeids"].append(node["nodeid"])
            if "leaf" in node:
                _leaf(a, t, node["nodeid"], t % n_targets, float(node["leaf"]))
                continue
            split = node["split"]
            feature = names.index(split) if names and split in names else int(split.lstrip("f"))
            missing_left = node["missing"] == node["yes"]
            _split(a, feature, float(node["split_condition"]), "BRANCH_LT", node["yes"],
                   node["no"], missing_left)  # fmt: skip
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
