"""Typed config values, parsed once when a config is loaded.

A frequency, a timezone and a configured path are text in YAML and stay text in messages and
in the configs a run writes back (`data_config.yaml` keeps `${DATA}/readings.csv` as written).
Loaded, each is a `str` that also carries what the code needs, so nothing below the config
layer parses them again:
- `Frequency("30min").step` is the `pd.Timedelta`;
- `Zone("Europe/London").tzinfo` is the `tzinfo` (IANA names, `UTC`, fixed offsets `+10:00`);
- `Duration("7D").span` is the `pd.Timedelta` of a period (`Span` also takes a whole number
  of intervals; `steps(span, step)` turns either into intervals of the data);
- `ConfigPath("${DATA}/x.csv").expanded` is the `Path` with `${VAR}`, `${VAR:-default}` and
  `~` expanded (relative paths resolve from the current working directory).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import zoneinfo
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Self

import pandas as pd
from pydantic import BeforeValidator, GetCoreSchemaHandler
from pydantic_core import core_schema

from forecasting.errors import ConfigError

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand_path(value: str) -> Path:
    """Expand `${VAR}` and `${VAR:-default}` and `~` in a configured path."""

    def sub(m: re.Match[str]) -> str:
        return os.environ.get(m.group(1), m.group(2) or "")

    return Path(os.path.expanduser(_ENV.sub(sub, value)))


def parse_timezone(name: str) -> dt.tzinfo:
    """An IANA zone name (`Europe/London`), `UTC`, or a fixed offset such as `+10:00`."""
    m = re.fullmatch(r"(?:UTC)?([+-])(\d{1,2}):?(\d{2})", name.strip())
    if m:
        sign = 1 if m.group(1) == "+" else -1
        delta = dt.timedelta(hours=int(m.group(2)), minutes=int(m.group(3)))
        return dt.timezone(sign * delta)
    if name.upper() == "UTC":
        return dt.UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown timezone {name!r}: use an IANA name such as 'Europe/London', "
            "'America/New_York', 'UTC', or a fixed offset such as '+10:00'"
        ) from None


def parse_frequency(value: str) -> pd.Timedelta:
    """A step of 1 minute to 1 day from pandas offset text ('15min', '30min', '1h', '1D')."""
    text = value.strip()
    day = re.fullmatch(r"(\d*)\s*[dD]", text)  # a day is a fixed 24 h here, not a calendar day
    try:
        if day:
            td = pd.Timedelta(days=int(day.group(1) or 1))
        else:
            td = pd.Timedelta(pd.tseries.frequencies.to_offset(text))
    except (ValueError, TypeError):
        raise ValueError(
            f"invalid frequency {value!r}: use e.g. '15min', '30min', '1h', '1D'"
        ) from None
    if td <= pd.Timedelta(0) or td > pd.Timedelta(days=1):
        raise ValueError(f"frequency {value!r} must be between 1 minute and 1 day")
    return td


_PARSERS: dict[type, tuple[str, Callable[[str], Any]]] = {}


def parse_duration(value: str) -> pd.Timedelta:
    """A positive span of time: '30min', '6h', '1D', '7D' (pandas Timedelta text)."""
    try:
        td = pd.Timedelta(value)
        if pd.isna(td):
            raise ValueError(value)
    except (ValueError, TypeError):
        raise ValueError(
            f"invalid duration {value!r}: use e.g. '30min', '6h', '1D', '7D', or a whole number "
            "of intervals"
        ) from None
    if td <= pd.Timedelta(0):
        raise ValueError(f"duration {value!r} must be positive")
    return td


class _ParsedText(str):
    """Text parsed when it is validated, the result kept as the attribute its class names.
    It serialises back to the text."""

    def __init_subclass__(cls, attribute: str, parse: Callable[[str], Any]) -> None:
        _PARSERS[cls] = (attribute, parse)

    def __new__(cls, value: str) -> Self:
        obj = super().__new__(cls, value)
        attribute, parse = _PARSERS[cls]
        setattr(obj, attribute, parse(value))
        return obj

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(
            cls, core_schema.str_schema(), serialization=core_schema.to_string_ser_schema()
        )


class Frequency(_ParsedText, attribute="step", parse=parse_frequency):
    step: pd.Timedelta


class Zone(_ParsedText, attribute="tzinfo", parse=parse_timezone):
    tzinfo: dt.tzinfo


class ConfigPath(_ParsedText, attribute="expanded", parse=expand_path):
    expanded: Path


class Duration(_ParsedText, attribute="span", parse=parse_duration):
    span: pd.Timedelta


def _span(value: Any) -> Any:
    """A whole number stays a count of intervals; other text is a duration."""
    if isinstance(value, str) and not isinstance(value, Duration):
        text = value.strip()
        return int(text) if text.isdigit() else Duration(text)
    return value


# a period in intervals of the data (24) or as a duration ('1D'), resolved with `steps`
Span = Annotated[int | Duration, BeforeValidator(_span)]


def steps(span: int | Duration, step: pd.Timedelta, what: str) -> int:
    """`span` in intervals of `step`: a count as it is, a duration divided by the interval
    (refused when it is not a whole number of intervals)."""
    if isinstance(span, int):
        return span
    n, rest = divmod(span.span, step)
    if rest or n < 1:
        raise ConfigError(
            f"{what} {str(span)!r} is not a whole number of the data's {format_freq(step)} intervals"
        )
    return int(n)


def format_freq(freq: pd.Timedelta) -> str:
    """'30min', '1h', '1D' style text for a step."""
    minutes = int(freq / pd.Timedelta(minutes=1))
    if minutes and minutes % 1440 == 0:
        return f"{minutes // 1440}D"
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}min"


def as_path(path: str | Path) -> Path:
    """A configured path's expansion, or a path given on the command line as it is (with `~`)."""
    return path.expanded if isinstance(path, ConfigPath) else Path(path).expanduser()
