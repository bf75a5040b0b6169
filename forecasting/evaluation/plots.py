"""Plots for reports (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd


def plot_forecast(
    fc: pd.DataFrame, series_id: str, path: str | Path, tz: str = "UTC", title: str = ""
) -> Path:
    """Actual vs P50 with the P10-P90 band for one series over all its forecast windows."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = fc[fc["series_id"] == series_id].sort_values("timestamp")
    t = d["timestamp"].dt.tz_convert(tz).dt.tz_localize(None)
    fig, ax = plt.subplots(figsize=(11, 3.6), dpi=110)
    if {"p10", "p90"} <= set(d.columns):
        ax.fill_between(t, d["p10"], d["p90"], color="tab:blue", alpha=0.2, label="P10-P90")
    ax.plot(t, d["p50"], color="tab:blue", lw=1.2, label="P50 forecast")
    ax.plot(t, d["actual"], color="black", lw=0.9, label="actual")
    ax.set_ylabel("kWh per hour")
    ax.set_title(title or f"{series_id}: day-ahead forecasts")
    ax.legend(loc="upper left", ncols=3, fontsize=8)
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_attention(weights: Any, path: str | Path, title: str = "") -> Path:
    """Heat map of attention weights [horizon, lookback] of one forecast window (the CNN-LSTM's
    or the TFT's `attention(...)`): which hours of the history each forecast step looks at.
    Columns run from the oldest history hour to the hour before the origin."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    w = np.asarray(weights, dtype="float64")
    horizon, lookback = w.shape
    fig, ax = plt.subplots(figsize=(11, 3.2), dpi=110)
    im = ax.imshow(
        w, aspect="auto", cmap="viridis", origin="lower",
        extent=(-lookback - 0.5, -0.5, 0.5, horizon + 0.5),
    )  # fmt: skip
    ax.set_xlabel("history hour relative to the origin")
    ax.set_ylabel("forecast step (h)")
    for day in range(-24, -lookback - 1, -24):
        ax.axvline(day - 0.5, color="white", lw=0.4, alpha=0.5)
    ax.set_title(title or "attention over the history")
    fig.colorbar(im, ax=ax, label="weight", fraction=0.03)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path
