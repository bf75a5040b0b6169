"""Tariff templates: a tariff YAML in which some prices are decisions (`{min: .., max: ..}`).

A template is an ordinary tariff (`forecasting/tariffs/spec.py`) whose fixed charge, flat
rate, band rates, demand rate or feed-in rate may be written as a range instead of a number:

    fixed_per_day: {min: 0, max: 60}
    energy:
      type: tou
      bands:
        - {name: offpeak, rate: {min: 5, max: 20}, windows: [...]}
        - {name: peak, rate: {min: 15, max: 80}, windows: [...]}
    order: [peak, offpeak]      # optional: each band's rate at least the next one's

Everything else is fixed. `tariff_with(values)` fills the decisions and returns the ordinary
tariff (written back as YAML, `forecasting bill` reads it like any other).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from forecasting.config.base import load_yaml_model, read_yaml
from forecasting.errors import ConfigError
from forecasting.tariffs.spec import Tariff, TimeOfUse

# paths in the tariff document where a price may be a decision (band rates are found apart)
_SLOTS = (("fixed_per_day",), ("energy", "rate"), ("demand", "rate"), ("feed_in", "rate"))


@dataclass(frozen=True)
class Decision:
    """One price to choose: `path` into the tariff document, its bounds (tariff units)."""

    name: str  # fixed_per_day, energy, demand, feed_in, or a band name
    path: tuple[str | int, ...]
    low: float
    high: float


class TariffTemplate:
    def __init__(self, doc: dict[str, Any], where: str = "template") -> None:
        self.where = where
        self.order: list[str] = list(doc.pop("order", None) or [])
        self.doc = doc
        self.decisions = self._find()
        if not self.decisions:
            raise ConfigError(
                f"{where}: no price is a decision (write one as {{min: .., max: ..}})"
            )
        names = [d.name for d in self.decisions]
        unknown = [n for n in self.order if n not in names]
        if unknown:
            raise ConfigError(f"{where}: order names {unknown}, which are not decision prices "
                              f"(decisions: {', '.join(names)})")  # fmt: skip
        for i, hi in enumerate(self.order):
            for lo in self.order[i + 1 :]:
                a, b = self.decision(hi), self.decision(lo)
                if a.high >= b.low:
                    continue
                raise ConfigError(f"{where}: order asks {hi} >= {lo}, but {hi} is at most "
                                  f"{a.high:g} and {lo} at least {b.low:g}")  # fmt: skip
        try:  # the structure must be a valid tariff, with the decisions anywhere in range
            self.tariff_with({d.name: (d.low + d.high) / 2 for d in self.decisions})
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(x) for x in first["loc"])
            raise ConfigError(f"{where}: {loc}: {first['msg']}") from None

    def _find(self) -> list[Decision]:
        out = []
        for path in _SLOTS:
            v = _get(self.doc, path)
            if isinstance(v, dict):
                out.append(self._decision(path[0], path, v))
        energy = self.doc.get("energy") or {}
        for i, band in enumerate(energy.get("bands") or []):
            if isinstance(band, dict) and isinstance(band.get("rate"), dict):
                out.append(self._decision(str(band.get("name")), ("energy", "bands", i, "rate"),
                                          band["rate"]))  # fmt: skip
        return out

    def _decision(self, name: str, path: tuple[str | int, ...], spec: dict[str, Any]) -> Decision:
        where = f"{self.where}: {'.'.join(map(str, path))}"
        if set(spec) - {"min", "max"} or not {"min", "max"} <= set(spec):
            raise ConfigError(f"{where}: a decision is {{min: .., max: ..}}, got {spec}")
        try:
            low, high = float(spec["min"]), float(spec["max"])
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: min and max must be numbers, got {spec}") from None
        if not 0 <= low <= high:
            raise ConfigError(f"{where}: need 0 <= min <= max, got min {low:g}, max {high:g}")
        return Decision(name, path, low, high)

    def decision(self, name: str) -> Decision:
        return next(d for d in self.decisions if d.name == name)

    @property
    def names(self) -> list[str]:
        return [d.name for d in self.decisions]

    def document(self, values: dict[str, float]) -> dict[str, Any]:
        """The tariff document with every decision filled."""
        doc = copy.deepcopy(self.doc)
        for d in self.decisions:
            _set(doc, d.path, round(float(values[d.name]), 6))
        return doc

    def tariff_with(self, values: dict[str, float]) -> Tariff:
        return Tariff.model_validate(self.document(values))

    def band_names(self) -> list[str]:
        """The energy items in bill order (bands of a TOU template)."""
        return self.tariff_with({d.name: d.low for d in self.decisions}).energy_items()

    def is_tou(self) -> bool:
        return isinstance(self.tariff_with({d.name: d.low for d in self.decisions}).energy,
                          TimeOfUse)  # fmt: skip


def _get(doc: Any, path: tuple[str | int, ...]) -> Any:
    for key in path:
        if isinstance(doc, dict) and isinstance(key, str):
            doc = doc.get(key)
        elif isinstance(doc, list) and isinstance(key, int) and key < len(doc):
            doc = doc[key]
        else:
            return None
    return doc


def _set(doc: Any, path: tuple[str | int, ...], value: float) -> None:
    for key in path[:-1]:
        doc = doc[key]
    doc[path[-1]] = value


def load_template(path: str | Path) -> TariffTemplate:
    """Read a tariff template (the same bounded YAML reader as every config)."""
    doc, _ = read_yaml(path)
    return TariffTemplate(doc, str(path))


def write_tariff(template: TariffTemplate, values: dict[str, float], path: Path,
                 header: str = "") -> Tariff:  # fmt: skip
    """Write the filled template as an ordinary tariff YAML; return it as read back."""
    doc = template.document(values)
    text = "".join(f"# {line}\n" for line in header.splitlines()) + yaml.safe_dump(
        doc, sort_keys=False
    )
    path.write_text(text)
    return load_yaml_model(Tariff, path)
