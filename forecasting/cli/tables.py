"""Plain-text tables for the terminal: every column as wide as its widest cell, so large
values (MW, EUR) never run into their neighbours."""

from __future__ import annotations

import math
from collections.abc import Sequence


def number(value: float | int | None, decimals: int | None = None) -> str:
    """A metric for a table: 4 decimals below 10, fewer as values grow (3 significant digits
    after the point at most), thousands separated; `nan` for a missing value."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "nan"
    if isinstance(value, int) and decimals is None:
        return f"{value:,}"
    if decimals is None:
        size = abs(value)
        decimals = (
            4 if size < 10 else 3 if size < 100 else 2 if size < 1000 else 1 if size < 1e4 else 0
        )
    return f"{value:,.{decimals}f}"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """The first column left-aligned (names), the others right-aligned, two spaces apart."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    lines = []
    for r in [headers, *rows]:
        cells = [str(r[0]).ljust(widths[0])]
        cells += [str(c).rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
