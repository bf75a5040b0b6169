"""The elasticity file that `forecasting elasticity` writes and the tariff optimiser and the
scenario engine read: JSON with a format name and version, the data it came from, and one
estimate per (specification, level, band, group).

Each estimate has the log change in consumption at the level against the reference level,
its 95% interval (`ci_low`, `ci_high`), the same as a percentage, and, when the tariff gives
both prices, the arc elasticity with its interval. `lookup` answers with the finest estimate
that exists: level x band x group, else level x band, level x group, then level.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field, ValidationError

from forecasting.config.base import StrictModel
from forecasting.errors import InputError

FORMAT = "meterforecast.elasticity"
VERSION = 1
ALL = "all"


class Estimate(StrictModel):
    model_config = ConfigDict(extra="ignore")  # the file carries more than is read

    spec: str
    level: str
    band: str
    group: str
    log_change: float
    ci_low: float
    ci_high: float
    pct_change: float
    elasticity: float | None = None
    elasticity_ci_low: float | None = None
    elasticity_ci_high: float | None = None
    households: int = Field(ge=0)


class ElasticityFile(StrictModel):
    model_config = ConfigDict(extra="ignore")

    format: str
    version: int
    reference_level: str
    prices: dict[str, float]
    bands: dict[str, str]
    group_by: str | None
    estimates: list[Estimate]

    def lookup(self, level: str, band: str = ALL, group: str = ALL) -> Estimate:
        """The finest estimate for (level, band, group); raises naming what is missing."""
        by = {(e.level, e.band, e.group): e for e in self.estimates}
        for key in ((level, band, group), (level, band, ALL), (level, ALL, group),
                    (level, ALL, ALL)):  # fmt: skip
            if key in by:
                return by[key]
        levels = sorted({e.level for e in self.estimates})
        raise InputError(f"the elasticity file has no estimate for level {level!r} "
                         f"(levels: {', '.join(levels) or 'none'})")  # fmt: skip


def load_elasticities(path: str | Path) -> ElasticityFile:
    """Read and check an elasticity file; errors name the file and what is wrong."""
    p = Path(path)
    try:
        raw: Any = json.loads(p.read_text("utf-8"))
    except FileNotFoundError:
        raise InputError(f"{p}: elasticity file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: not a JSON elasticity file ({exc})") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise InputError(f"{p}: not an elasticity file (format is not {FORMAT!r})")
    if raw.get("version") != VERSION:
        raise InputError(f"{p}: elasticity file version {raw.get('version')!r}; this version "
                         f"reads version {VERSION}")  # fmt: skip
    try:
        return ElasticityFile.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise InputError(f"{p}: {where}: {first['msg']}") from None
