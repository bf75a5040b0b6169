"""The data-config reference, generated from the config models (`docs/data-config.md`).

    .venv/bin/python -m forecasting.config.reference > docs/data-config.md

Every key of the data config with its type, its default and what it does, section by section,
in the order the models declare them; a test checks the committed file is what this writes,
so the reference cannot fall behind the code.
"""

from __future__ import annotations

import enum
import types
import typing
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from forecasting.config.data import DataConfig
from forecasting.config.values import ConfigPath, Duration, Frequency, Zone

INTRO = """# Data config reference

A data config (YAML, `configs/data/*.yaml`) says where the raw readings are and how to read
them; `forecasting data validate|prepare --config FILE` reads it, and training runs name it.
Unknown keys are errors (with the keys allowed there), and every error names the file, the
line and the key. Generated from the config models by
`python -m forecasting.config.reference`; do not edit by hand.

Values that are text in YAML and typed once loaded:
- **frequency**: pandas offset text from 1 minute to 1 day: `15min`, `30min`, `1h`, `1D`;
- **timezone**: an IANA name (`Europe/London`), `UTC`, or a fixed offset (`+10:00`);
- **path**: a file, a folder of files or a glob; `${VAR}`, `${VAR:-default}` and `~` are
  expanded, relative paths are taken from the working folder;
- **span**: a whole number of output intervals (`2`) or a duration (`2h`, `1D`, `7D`);
- **column**: a column as the file's header names it (spaces around names are ignored);
  `''` is a column whose header cell is empty (the index pandas writes to CSV).

A minimal config (one series per meter id, half-hourly kWh in local wall time):

```yaml
name: my_meters
input:
  path: ${METER_DATA:-data}/readings.csv
  series_id: meter_id
  timestamp: read_at
  timezone: Europe/London
  target: kwh
frequency: 30min
output_frequency: 1h
calendar:
  timezone: Europe/London
  holidays: {country: GB, subdivision: ENG}
gaps: {method: linear, max_length: 2h}
```

Covariates must say whether their horizon is known (`known_future: true`: forecasts,
schedules, calendars) or not (`false`: measurements, such as a meter's export); a model never
reads a measured covariate after the forecast origin. The shipped configs
(`configs/data/lcl.yaml`, `victoria.yaml`, `pjm.yaml`) are worked examples.

Clocks (`input.timezone`, `input.label`, the same keys on covariate sources):
- **local time with daylight saving**: the IANA zone (`Europe/London`, `America/New_York`).
  The autumn hour that occurs twice is read as daylight time, then standard time, in file
  order; a reading in the spring hour that never existed is quarantined; the missing spring
  slots are not gaps.
- **a fixed offset, 24 hours on every day** (common in market data): the offset (`+01:00`), or
  `UTC`; keep `calendar.timezone` on the local zone for calendar features and origins.
- **UTC, or timestamps that carry their offset** (`...+01:00`, `...Z`, an aware parquet column):
  offsets are taken as the instants they name and `input.timezone` is not applied.
- **interval ends** (`label: end`, e.g. hour-ending HE1..HE24): the timestamp minus one
  interval, in wall-clock time, is the interval's start.

`forecasting data init FILE` tells the clock from the data: the days on which a wall hour is
missing (spring) or repeated (autumn), and which wall hour, are matched against every IANA
zone's changes, and the slot missing on spring days says whether timestamps mark starts or
ends. Where the wall clock alone cannot tell zones apart (every US zone changes at 02:00 on
the same days) it names the candidates. `data validate` gives the same hint when a file read
in UTC or a fixed offset shows a zone's changes, and the reverse hint when a file read in a
zone with daylight saving has every hour on both change days.
"""

SPECIAL = {
    ConfigPath: "path",
    Zone: "timezone",
    Frequency: "frequency",
    Duration: "duration",
}


# what a key does, for keys whose model field carries no description (model, key) -> text
NOTES = {
    ("DataConfig", "name"): "the dataset's name, written into prepared data and run folders",
    ("DataConfig", "description"): "free text",
    ("DataConfig", "input"): "the meter readings",
    ("DataConfig", "output_frequency"): "interval of the canonical frame (a multiple of the "
    "source interval; energy is summed, power averaged)",
    ("DataConfig", "calendar"): "local time and holidays for calendar features and origins",
    ("DataConfig", "validation"): "what a reading must satisfy; the others are quarantined",
    ("DataConfig", "gaps"): "filling of missing target intervals after resampling",
    ("DataConfig", "static"): "a table of per-series attributes (tariff, archetype, ...)",
    ("DataConfig", "covariates"): "time series shared by every series (weather, a price signal)",
    ("InputSpec", "format"): "file format; `auto` goes by the suffix",
    ("InputSpec", "delimiter"): "CSV field separator",
    ("InputSpec", "encoding"): "text encoding of CSV files",
    ("InputSpec", "timestamp"): "column of interval timestamps",
    ("InputSpec", "target"): "column of the values to forecast",
    ("InputSpec", "unit"): "unit of the target, carried into reports",
    ("InputSpec", "static_columns"): "per-series columns of the readings file kept as static",
    ("InputSpec", "covariates"): "covariate columns of the readings file, by output name",
    ("InputCovariate", "column"): "the file's column",
    ("InputCovariate", "aggregate"): "how source intervals combine into an output interval",
    ("ColumnSpec", "column"): "the file's column",
    ("ColumnSpec", "aggregate"): "how source intervals combine into an output interval",
    ("HolidaySpec", "subdivision"): "region code (e.g. `ENG`, `VIC`)",
    ("HolidaySpec", "date_column"): "column of dates in `file`",
    ("CalendarSpec", "holidays"): "public holidays from the `holidays` package and/or a file",
    ("FillPolicy", "method"): "`linear` interpolates, `seasonal` copies one season back, "
    "`zero` and `ffill` as named",
    ("StaticSpec", "path"): "CSV or parquet with one row per series",
    ("StaticSpec", "id_column"): "column of series ids",
    ("StaticSpec", "delimiter"): "CSV field separator",
    ("CovariateSource", "name"): "a name for messages",
    ("CovariateSource", "path"): "file, folder or glob",
    ("CovariateSource", "timestamp"): "column of timestamps",
    ("CovariateSource", "timestamp_format"): "strptime format; null = ISO 8601",
    ("CovariateSource", "timezone"): "clock of naive timestamps",
    ("CovariateSource", "label"): "whether a timestamp marks the start or the end of its interval",
    ("CovariateSource", "delimiter"): "CSV field separator",
    ("CovariateSource", "columns"): "covariates of the file, by output name",
    ("CovariateSource", "fill"): "filling of missing covariate intervals",
}


def type_text(annotation: Any) -> str:
    """A short reader's name for a field's type."""
    if annotation in SPECIAL:
        return SPECIAL[annotation]
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        base, *_ = get_args(annotation)
        return "span" if set(get_args(base)) == {int, Duration} else type_text(base)
    if origin is Literal:
        return " \\| ".join(f"`{a}`" for a in get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        spans = set(args) == {int, Duration}
        text = "span" if spans else " or ".join(type_text(a) for a in args)
        return text + (" or null" if type(None) in get_args(annotation) else "")
    if origin in (list, tuple):
        (item, *_) = get_args(annotation) or (Any,)
        return f"list of {type_text(item)}"
    if origin is dict:
        key, value = get_args(annotation) or (str, Any)
        return f"map of {type_text(key)} to {type_text(value)}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[{annotation.__name__}](#{annotation.__name__.lower()})"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return " \\| ".join(f"`{m.value}`" for m in annotation)
    return getattr(annotation, "__name__", str(annotation)).replace("NoneType", "null")


def default_text(field: Any) -> str:
    if field.is_required():
        return "**required**"
    if field.default_factory is not None:
        value = field.default_factory()
        if isinstance(value, BaseModel):
            return "(its defaults)"
    else:
        value = field.default
    if value is PydanticUndefined:
        return ""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return f"`{value}`" if not isinstance(value, list | dict) or value else f"`{value!r}`"


def models_in(model: type[BaseModel], seen: list[type[BaseModel]]) -> list[type[BaseModel]]:
    """`model` and every model its fields name, each once, in declaration order."""
    if model in seen:
        return seen
    seen.append(model)
    for field in model.model_fields.values():
        for inner in _models(field.annotation):
            models_in(inner, seen)
    return seen


def _models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for a in get_args(annotation) for m in _models(a)]


def reference() -> str:
    parts = [INTRO]
    for model in models_in(DataConfig, []):
        doc = " ".join((model.__doc__ or "").split())
        parts.append(f"\n## {model.__name__}\n")
        if doc:
            parts.append(f"{doc}\n")
        parts.append("| key | type | default | what it does |\n|---|---|---|---|")
        for name, field in model.model_fields.items():
            given = field.description
            if not given or given.startswith("a column of the file"):
                given = NOTES.get((model.__name__, name), given or "")
            what = " ".join(given.split()).replace("|", "\\|")
            parts.append(
                f"| `{name}` | {type_text(field.annotation)} | {default_text(field)} | {what} |"
            )
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    print(reference(), end="")
