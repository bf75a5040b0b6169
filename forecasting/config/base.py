"""YAML loading with pydantic validation and messages that name the file, the key and the line.

Config models inherit `StrictModel`: unknown keys are errors (a typo must never be ignored
silently). `load_yaml_model` parses a YAML file keeping the line of every key, validates it,
and turns pydantic's errors into one readable `ConfigError`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from forecasting.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """Base of all config models: unknown keys are rejected, values are validated on assignment,
    and a float is never NaN or infinite (`.nan` or `.inf` in YAML is an error naming the key)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


MAX_BYTES = 1 << 20  # a config or tariff file is text of a few KB; 1 MiB is generous
MAX_VALUES = 100_000  # scalars, lists and mappings after aliases are expanded
MAX_DEPTH = 64


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (the last would silently win)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.setdefault(key, key_node.start_mark.line + 1)
            except TypeError:
                continue  # an unhashable key: SafeConstructor says so below
            if first != key_node.start_mark.line + 1:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"key {key!r} appears twice in one mapping (lines {first} and "
                    f"{key_node.start_mark.line + 1}); the last would silently win",
                    key_node.start_mark,
                )
        return super().construct_mapping(node, deep=deep)


# YAML 1.2 booleans: only true/false. YAML 1.1 also reads yes/no/on/off as booleans, so
# `country: NO` (Norway) would become False; a bool field still takes yes/no (pydantic does).
_BOOL = "tag:yaml.org,2002:bool"
_LineLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _BOOL]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_LineLoader.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _expanded_size(node: yaml.Node) -> int:
    """Values `node` stands for once every alias is expanded (shared nodes counted each time
    they are used), without expanding anything: an alias bomb is measured, not built."""
    sizes: dict[int, int] = {}

    def size(n: yaml.Node, depth: int) -> int:
        if depth > MAX_DEPTH:
            raise ValueError(f"nested more than {MAX_DEPTH} levels deep")
        if id(n) in sizes:
            return sizes[id(n)]
        sizes[id(n)] = 1  # a node reached again while being measured (a cycle) counts once
        total = 1
        if isinstance(n, yaml.MappingNode):
            total += sum(size(k, depth + 1) + size(v, depth + 1) for k, v in n.value)
        elif isinstance(n, yaml.SequenceNode):
            total += sum(size(v, depth + 1) for v in n.value)
        sizes[id(n)] = min(total, MAX_VALUES + 1)
        return sizes[id(n)]

    return size(node, 0)


def _compose_lines(
    node: yaml.Node,
    path: tuple[Any, ...],
    out: dict[tuple[Any, ...], int],
    seen: set[int] | None = None,
) -> None:
    """Record the line of every key path; a node reached again through an alias is not walked
    twice (its keys keep the line where the anchor is)."""
    seen = set() if seen is None else seen
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key_path = (*path, key_node.value)
            out[key_path] = key_node.start_mark.line + 1
            _compose_lines(value_node, key_path, out, seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out[(*path, i)] = item.start_mark.line + 1
            _compose_lines(item, (*path, i), out, seen)


def read_yaml(path: str | Path) -> tuple[dict[str, Any], dict[tuple[Any, ...], int]]:
    """Read a YAML mapping and the line number of each key path (1-based).

    Bounded, whatever the file holds: at most 1 MiB of UTF-8 text, 64 levels of nesting and
    100,000 values once aliases are expanded (so a 10-line alias bomb is refused at once);
    a key given twice in one mapping is an error naming both lines."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file not found: {path}")
    if path.is_dir():
        raise ConfigError(f"config path is a folder, expected a YAML file: {path}")
    if not path.is_file():
        raise ConfigError(f"{path}: not a regular file")
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise ConfigError(f"{path}: {size:,} bytes; a config file is at most {MAX_BYTES:,}")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    if "\x00" in text:
        raise ConfigError(f"{path}: holds NUL bytes; not a YAML text file")
    loader = _LineLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            values = _expanded_size(node)
            if values > MAX_VALUES:
                raise ConfigError(
                    f"{path}: expands to more than {MAX_VALUES:,} values through its aliases "
                    "(&anchors and *references); refused"
                )
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}{where}: invalid YAML: {problem}") from None
    except (ValueError, RecursionError) as exc:
        reason = str(exc) if isinstance(exc, ValueError) else "nested too deeply"
        raise ConfigError(f"{path}: invalid YAML: {reason}") from None
    finally:
        loader.dispose()
    if data is None:
        raise ConfigError(f"{path}: config file is empty")
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: expected a mapping of keys at top level, got {type(data).__name__}"
        )
    lines: dict[tuple[Any, ...], int] = {}
    if node is not None:
        _compose_lines(node, (), lines)
    return data, lines


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str] | None:
    """Field names allowed at the parent of `loc`, following nested models where possible."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            return None
        annotation = fields[part].annotation
        current = _model_in(annotation)
        if current is None:
            return None
    fields = getattr(current, "model_fields", None)
    return sorted(fields) if fields else None


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def format_validation_error(
    exc: ValidationError,
    source: str,
    model: type[BaseModel],
    lines: dict[tuple[Any, ...], int] | None = None,
) -> str:
    """Render pydantic errors as `file:line: key: message` lines."""
    lines = lines or {}
    rendered = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        # pydantic adds the union member tag (e.g. "CsvSource") to the loc: drop capitalised tags
        loc = tuple(p for p in loc if not (isinstance(p, str) and p[:1].isupper() and "[" in p))
        key = ".".join(str(p) for p in loc) or "(top level)"
        line = None
        for n in range(len(loc), 0, -1):
            if loc[:n] in lines:
                line = lines[loc[:n]]
                break
        where = f"{source}:{line}" if line else source
        if err["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, loc)
            hint = f"; allowed keys: {', '.join(allowed)}" if allowed else ""
            rendered.append(f"{where}: unknown key '{key}'{hint}")
        elif err["type"] == "missing":
            rendered.append(f"{where}: missing required key '{key}'")
        else:
            value = err.get("input")
            shown = "" if isinstance(value, dict | list) else f" (got {value!r})"
            rendered.append(f"{where}: {key}: {err['msg']}{shown}")
    return "\n".join(rendered)


def validate_mapping(
    model: type[M],
    data: dict[str, Any],
    source: str,
    lines: dict[tuple[Any, ...], int] | None = None,
) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source, model, lines)) from None


def load_yaml_model(model: type[M], path: str | Path) -> M:
    """Load and validate a YAML file into `model`; errors name the file, line and key."""
    data, lines = read_yaml(path)
    return validate_mapping(model, data, str(path), lines)
