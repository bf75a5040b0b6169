"""YAML loading with pydantic validation and messages that name the file, the key and the line.

Config models inherit `StrictModel`: unknown keys are errors (a typo must never be ignored
silently). `load_yaml_model` parses a YAML file keeping the line of every key, validates it,
and turns pydantic's errors into one readable `ConfigError`.
"""

from __future__ import annotations

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


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that records the line of every mapping key in `key_lines`."""


def _compose_lines(node: yaml.Node, path: tuple[Any, ...], out: dict[tuple[Any, ...], int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key_path = (*path, key_node.value)
            out[key_path] = key_node.start_mark.line + 1
            _compose_lines(value_node, key_path, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out[(*path, i)] = item.start_mark.line + 1
            _compose_lines(item, (*path, i), out)


def read_yaml(path: str | Path) -> tuple[dict[str, Any], dict[tuple[Any, ...], int]]:
    """Read a YAML mapping and the line number of each key path (1-based)."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file not found: {path}")
    if path.is_dir():
        raise ConfigError(f"config path is a folder, expected a YAML file: {path}")
    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text, Loader=_LineLoader)
        data = yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}{where}: invalid YAML: {problem}") from None
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
