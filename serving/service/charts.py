"""Charts for the dashboard as inline SVG, drawn on the server: no script library and no
external asset, so the pages work offline and under a strict Content-Security-Policy.

Each function returns one `<svg>` element with a `class` the browser test looks for, a
`<title>` for screen readers, and axes labelled with the values' range.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np

W, H, PAD, TOP = 640, 280, 44, 26
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def _scale(lo: float, hi: float, a: float, b: float) -> tuple[float, float]:
    span = hi - lo if hi > lo else 1.0
    k = (b - a) / span
    return k, a - k * lo


def _frame(kind: str, title: str, xlabel: str, ylabel: str, y: tuple[float, float],
           x: tuple[str, str]) -> list[str]:  # fmt: skip
    t = html.escape(title)
    return [
        f'<svg class="chart {kind}" viewBox="0 0 {W} {H}" width="{W}" height="{H}" '
        f'role="img" aria-label="{t}"><title>{t}</title>',
        f'<text class="caption" x="{PAD}" y="16" font-size="13" font-weight="600">{t}</text>',
        f'<rect x="{PAD}" y="{TOP}" width="{W - PAD - 10}" height="{H - PAD - TOP}" fill="#fafafa" '
        'stroke="#ccc"/>',
        f'<text x="{PAD}" y="{H - 8}" font-size="11">{html.escape(x[0])}</text>',
        f'<text x="{W - 10}" y="{H - 8}" font-size="11" text-anchor="end">{html.escape(x[1])}</text>',
        f'<text x="{W // 2}" y="{H - 8}" font-size="11" text-anchor="middle">{html.escape(xlabel)}</text>',
        f'<text x="4" y="{TOP + 8}" font-size="11">{y[1]:.3g}</text>',
        f'<text x="4" y="{H - PAD}" font-size="11">{y[0]:.3g}</text>',
        f'<text x="4" y="{H // 2}" font-size="11">{html.escape(ylabel)}</text>',
    ]


def _points(xs: np.ndarray, ys: np.ndarray, xr: tuple[float, float],
            yr: tuple[float, float]) -> list[tuple[float, float]]:  # fmt: skip
    kx, bx = _scale(xr[0], xr[1], PAD, W - 10)
    ky, by = _scale(yr[0], yr[1], H - PAD, TOP)
    return [(kx * x + bx, ky * y + by) for x, y in zip(xs, ys, strict=True)]


def _path(pts: list[tuple[float, float]]) -> str:
    return " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(pts))


def fan(labels: Sequence[str], history: Sequence[float | None], p10: Sequence[float],
        p50: Sequence[float], p90: Sequence[float], title: str, unit: str = "kWh") -> str:  # fmt: skip
    """History then the forecast's P10-P90 band and P50 line (labels: every point's time)."""
    n_h = len(history)
    hist = np.array([np.nan if v is None else v for v in history], dtype=float)
    lo, mid, hi = (np.asarray(v, dtype=float) for v in (p10, p50, p90))
    every = np.concatenate([hist, lo, hi])
    yr = (0.0 if np.nanmin(every) >= 0 else float(np.nanmin(every)), float(np.nanmax(every)) or 1.0)
    xr = (0.0, float(max(n_h + len(mid) - 1, 1)))
    out = _frame("fan", title, "time", unit, yr, (labels[0], labels[-1]))
    xs = np.arange(n_h, n_h + len(mid), dtype=float)
    band = _points(xs, hi, xr, yr) + _points(xs, lo, xr, yr)[::-1]
    out.append(f'<path class="band" d="{_path(band)} Z" fill="{COLOURS[0]}" fill-opacity="0.25"/>')
    out.append(f'<path class="p50" d="{_path(_points(xs, mid, xr, yr))}" fill="none" '
               f'stroke="{COLOURS[0]}" stroke-width="2"/>')  # fmt: skip
    ok = ~np.isnan(hist)
    if ok.any():
        pts = _points(np.arange(n_h, dtype=float)[ok], hist[ok], xr, yr)
        out.append(
            f'<path class="history" d="{_path(pts)}" fill="none" stroke="#333" stroke-width="1"/>'
        )
    out.append("</svg>")
    return "".join(out)


def lines(labels: Sequence[str], series: dict[str, Sequence[float]], title: str, unit: str) -> str:
    """A few named series over the same labels (the before/after load shape)."""
    arrays = {k: np.asarray(v, dtype=float) for k, v in series.items()}
    every = np.concatenate(list(arrays.values()))
    yr = (min(0.0, float(every.min())), float(every.max()) or 1.0)
    n = max(len(v) for v in arrays.values())
    xr = (0.0, float(max(n - 1, 1)))
    out = _frame("lines", title, "local time", unit, yr, (labels[0], labels[-1]))
    for i, (name, v) in enumerate(arrays.items()):
        c = COLOURS[i % len(COLOURS)]
        out.append(f'<path class="series" data-name="{html.escape(name)}" '
                   f'd="{_path(_points(np.arange(len(v), dtype=float), v, xr, yr))}" fill="none" '
                   f'stroke="{c}" stroke-width="2"/>')  # fmt: skip
        out.append(f'<text x="{W - 14}" y="{TOP + 16 + 14 * i}" font-size="11" fill="{c}" '
                   f'text-anchor="end">{html.escape(name)}</text>')  # fmt: skip
    out.append("</svg>")
    return "".join(out)


def scatter(xs: Sequence[float], ys: Sequence[float], notes: Sequence[str], title: str,
            xlabel: str, ylabel: str) -> str:  # fmt: skip
    """Points joined in order (a Pareto frontier), each with its note as a tooltip."""
    x, y = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    pad = lambda lo, hi: (lo - 0.05 * (hi - lo or 1), hi + 0.05 * (hi - lo or 1))  # noqa: E731
    xr, yr = pad(float(x.min()), float(x.max())), pad(float(y.min()), float(y.max()))
    out = _frame("scatter", title, xlabel, ylabel, yr, (f"{xr[0]:.3g}", f"{xr[1]:.3g}"))
    pts = _points(x, y, xr, yr)
    out.append(f'<path d="{_path(pts)}" fill="none" stroke="#999" stroke-dasharray="4 3"/>')
    for (px, py), note in zip(pts, notes, strict=True):
        out.append(f'<circle class="point" cx="{px:.1f}" cy="{py:.1f}" r="5" fill="{COLOURS[1]}">'
                   f"<title>{html.escape(note)}</title></circle>")  # fmt: skip
    out.append("</svg>")
    return "".join(out)


def histogram(values: Sequence[float], title: str, unit: str, bins: int = 20,
              edges: np.ndarray | None = None) -> str:  # fmt: skip
    """Counts of `values` in `bins` bins (or the given edges, to compare groups)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if edges is None:
        edges = np.histogram_bin_edges(v if len(v) else np.zeros(1), bins)
    counts, _ = np.histogram(v, edges)
    yr = (0.0, float(max(counts.max() if len(counts) else 1, 1)))
    out = _frame("histogram", title, unit, "customers", yr, (f"{edges[0]:.3g}", f"{edges[-1]:.3g}"))
    kx, bx = _scale(float(edges[0]), float(edges[-1]), PAD, W - 10)
    ky, by = _scale(0.0, yr[1], H - PAD, TOP)
    for c, a, b in zip(counts, edges[:-1], edges[1:], strict=True):
        x0, x1, top = kx * a + bx, kx * b + bx, ky * c + by
        out.append(f'<rect class="bar" x="{x0:.1f}" y="{top:.1f}" width="{max(x1 - x0 - 1, 0.5):.1f}" '
                   f'height="{H - PAD - top:.1f}" fill="{COLOURS[2]}"><title>{c} in '
                   f"[{a:.3g}, {b:.3g})</title></rect>")  # fmt: skip
    out.append("</svg>")
    return "".join(out)
