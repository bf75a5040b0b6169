"""The layers of the code point one way, read from the import graph itself.

Every `import` and `from ... import` in `forecasting/`, `training/` and `serving/` counts,
including those inside functions (a lazy import is still a dependency). Each module belongs to
the layer of the longest prefix in `LAYERS`; a module may import only from its own layer or
from the layers its layer lists, and the graph of modules has no circle. `serving/` sits beside
the model side, not above it: it reads bundles with the core, data and feature code alone, so it
never reaches models, training or export (nor, through them, torch). And the model kind is
switched on only in the registries (`forecasting/models/kinds.py`, `serving/kinds.py`) and the
models' own code: elsewhere the code asks a kind's capabilities.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("forecasting", "training", "serving")

# layer: (module prefixes, layers it may import from)
LAYERS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "core": (("forecasting", "forecasting.errors", "forecasting.folders", "forecasting.threads",
              "forecasting.tracking", "forecasting.bundle_format", "forecasting.config"), ()),
    "data": (("forecasting.data",), ("core",)),
    "domain": (("forecasting.features", "forecasting.forecasts", "forecasting.evaluation",
                "forecasting.tariffs", "forecasting.impute", "forecasting.response",
                "forecasting.optimise", "forecasting.schedule", "forecasting.targeting"),
               ("core", "data")),
    "models": (("forecasting.models", "forecasting.anomaly"), ("core", "data", "domain")),
    "serving": (("serving",), ("core", "data", "domain")),
    "workflows": (("training", "forecasting.export", "forecasting.explain"),
                  ("core", "data", "domain", "models", "serving")),
    "cli": (("forecasting.cli", "forecasting.__main__"),
            ("core", "data", "domain", "models", "serving", "workflows")),
}  # fmt: skip


def modules(root: Path = ROOT) -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for f in sorted((root / pkg).rglob("*.py")):
            parts = list(f.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = f
    return out


def import_graph(mods: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the modules of these packages it imports (a name is resolved to the module
    that defines it: `from forecasting.data import schema` is an edge to forecasting.data.schema)."""

    def resolve(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for mod, path in mods.items():
        found: set[str | None] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found |= {resolve(a.name) for a in node.names if a.name.split(".")[0] in PACKAGES}
            elif (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.level == 0
                and node.module.split(".")[0] in PACKAGES
            ):
                found |= {resolve(f"{node.module}.{a.name}") for a in node.names}
        graph[mod] = {m for m in found if m and m != mod}
    return graph


def layer_of(mod: str) -> str:
    best = max(
        ((p, name) for name, (prefixes, _) in LAYERS.items() for p in prefixes
         if mod == p or mod.startswith(p + ".")),
        key=lambda pn: len(pn[0]),
        default=None,
    )  # fmt: skip
    assert best is not None, f"{mod} is in no layer: add its package to LAYERS"
    return best[1]


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    bad = []
    for mod, deps in sorted(graph.items()):
        mine = layer_of(mod)
        allowed = {mine, *LAYERS[mine][1]}
        bad += [f"{mod} ({mine}) imports {d} ({layer_of(d)})" for d in sorted(deps)
                if layer_of(d) not in allowed]  # fmt: skip
    return bad


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph(modules())


def test_every_module_has_a_layer(graph):
    assert all(layer_of(m) for m in graph)


def test_no_module_imports_from_a_higher_layer(graph):
    assert upward_imports(graph) == []


def test_the_import_graph_has_no_circle(graph):
    assert circles(graph) == []


def test_the_checks_catch_a_planted_upward_import_and_circle(tmp_path):
    """The same checks on a copy of the tree with one bad import added fail, naming it."""
    mods = modules()
    graph = import_graph(mods)
    planted = {k: set(v) for k, v in graph.items()}
    planted["serving.stream"].add("training.train")  # serving reaching the training stack
    planted["forecasting.data.readers"].add("forecasting.data.ingest")  # ingest imports readers
    assert "serving.stream (serving) imports training.train (workflows)" in upward_imports(planted)
    assert any({"forecasting.data.ingest", "forecasting.data.readers"} <= set(c)
               for c in circles(planted))  # fmt: skip


# where a model kind may be named in a comparison: the registries and the models' own code
KIND_SWITCHES_ALLOWED = ("forecasting/models/", "serving/kinds.py")


def kind_switches(root: Path = ROOT) -> list[str]:
    """Comparisons against a model-kind string (`kind == "lightgbm"`, `in ("lightgbm", ...)`)
    outside the places allowed: code elsewhere asks the registries' capabilities instead."""
    from forecasting.models.kinds import KINDS

    found = []
    for path in modules(root).values():
        rel = path.relative_to(root).as_posix()
        if rel.startswith(KIND_SWITCHES_ALLOWED):
            continue
        for node in ast.walk(ast.parse(path.read_text(), rel)):
            if not isinstance(node, ast.Compare):
                continue
            for side in [node.left, *node.comparators]:
                items = side.elts if isinstance(side, ast.Tuple | ast.List | ast.Set) else [side]
                if any(isinstance(i, ast.Constant) and i.value in KINDS for i in items):
                    found.append(f"{rel}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_model_kinds_are_switched_on_only_in_the_registries():
    assert kind_switches() == []


def test_the_kind_check_catches_a_planted_switch(tmp_path):
    for pkg in PACKAGES:
        (tmp_path / pkg).mkdir()
    (tmp_path / "serving" / "x.py").write_text(
        'def f(kind):\n    return kind in ("lightgbm", "xgboost")\n'
    )
    (tmp_path / "forecasting" / "models").mkdir()
    (tmp_path / "forecasting" / "models" / "y.py").write_text('ok = "tft" == "tft"\n')
    assert kind_switches(tmp_path) == ["serving/x.py:2: kind in ('lightgbm', 'xgboost')"]
