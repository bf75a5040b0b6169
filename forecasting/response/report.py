"""The price-response report: response by time of day with 95% bands, the estimates by band
and by group, the responders, and what the estimate rests on (one HTML file and its PNGs)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import pandas as pd

from forecasting.response.estimate import ResponseResult


def _plots(result: ResponseResult, doc: dict[str, Any], out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = []
    slot = result.by_slot
    if len(slot):
        fig, ax = plt.subplots(figsize=(9, 4))
        for level, g in slot.groupby("level"):
            hours = g["minute"] / 60
            ax.plot(hours, 100 * (pd.Series(g["log_change"]).map(_pct)), label=str(level))
            ax.fill_between(hours, 100 * g["ci_low"].map(_pct), 100 * g["ci_high"].map(_pct),
                            alpha=0.2)  # fmt: skip
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xlabel(f"local time of day ({doc['timezone']})")
        ax.set_ylabel(f"change against {doc['reference_level']} (%)")
        ax.set_title("Treated against control, by time of day (95% band over households)")
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / "response_by_time_of_day.png", dpi=110)
        plt.close(fig)
        names.append("response_by_time_of_day.png")
    est = result.estimates
    parts = [("level x band", "band"), ("level x group", "group")]
    shown = [(k, col) for k, col in parts if (est["spec"] == k).any()] if len(est) else []
    if shown:
        fig, axes = plt.subplots(1, len(shown), figsize=(5 * len(shown), 4), squeeze=False)
        for ax, (kind, col) in zip(axes[0], shown, strict=True):
            e = est[est["spec"] == kind]
            for i, (level, g) in enumerate(e.groupby("level")):
                x = [j + 0.2 * i for j in range(len(g))]
                ax.errorbar(x, g["pct_change"], yerr=[g["pct_change"] - g["pct_ci_low"],
                            g["pct_ci_high"] - g["pct_change"]], fmt="o", capsize=3,
                            label=str(level))  # fmt: skip
                ax.set_xticks(range(len(g)), g[col].astype(str), rotation=20)
            ax.axhline(0, color="grey", lw=0.8)
            ax.set_title(f"by {col}")
            ax.set_ylabel("change (%) with 95% CI")
            ax.legend()
        fig.tight_layout()
        fig.savefig(out / "response_by_band_and_group.png", dpi=110)
        plt.close(fig)
        names.append("response_by_band_and_group.png")
    return names


def _pct(x: float) -> float:
    import math

    return math.expm1(x)


def _table(frame: pd.DataFrame, columns: dict[str, str]) -> str:
    head = "".join(f"<th>{html.escape(v)}</th>" for v in columns.values())
    body = []
    for r in frame.to_dict(orient="records"):
        cells = []
        for c in columns:
            v = r.get(c)
            cells.append(f"<td>{v:,.3f}</td>" if isinstance(v, float) else
                         f"<td>{html.escape(str(v))}</td>")  # fmt: skip
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def estimate_table(est: pd.DataFrame) -> pd.DataFrame:
    """Estimates as people read them: % change [95% CI], elasticity [95% CI]."""
    out = est[["spec", "level", "band", "group", "households", "treated_readings"]].copy()
    out["change"] = [f"{p:+.1f}% [{lo:+.1f}, {hi:+.1f}]" for p, lo, hi in
                     zip(est["pct_change"], est["pct_ci_low"], est["pct_ci_high"], strict=True)]  # fmt: skip
    if "elasticity" in est:
        out["elasticity"] = [
            f"{e:.3f} [{lo:.3f}, {hi:.3f}]" if pd.notna(e) else "" for e, lo, hi in
            zip(est["elasticity"], est["elasticity_ci_low"], est["elasticity_ci_high"], strict=True)
        ]  # fmt: skip
    return out


def write_report(result: ResponseResult, doc: dict[str, Any], out: Path) -> Path:
    images = _plots(result, doc, out)
    src = doc["source"]
    table = estimate_table(result.estimates)
    cols = {c: c for c in table.columns}
    resp = doc["responders"]
    resp_text = "; ".join(f"{lvl}: {v['responders']} of {v['households']} treated households "
                          f"({v['share']:.0%})" for lvl, v in resp.items()) or "none estimated"  # fmt: skip
    sens = pd.DataFrame(doc["sensitivity"])
    sens_html = _table(sens, {"level": "level", "offset_kwh": "zero offset (kWh)",
                              "pct_change": "change (%)"}) if len(sens) else ""  # fmt: skip
    imgs = "".join(f'<figure><img src="{html.escape(i)}" alt="{html.escape(i)}"></figure>'
                   for i in images)  # fmt: skip
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Price response</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:3px 8px}}
img{{max-width:100%}}</style></head><body>
<h1>Price response: each level against {html.escape(doc["reference_level"])}</h1>
<p>{src["rows_used"]:,} readings of {doc["facts"]["treated_households"]} treated and
{doc["facts"]["control_households"]} control households, {html.escape(src["first"])} to
{html.escape(src["last"])}; prices ({html.escape(doc["price_unit"])}):
{html.escape(", ".join(f"{k} {v:g}" for k, v in doc["prices"].items()))}.
{src["rows_quarantined"]:,} rows quarantined by validation, {src["rows_outside_signal"]:,}
outside the signal{", " + format(src.get("rows_without_weather", 0), ",") + " without weather" if doc["method"]["weather"] else ""}.</p>
<p>Model: {html.escape(doc["method"]["model"])}; zero readings kept by adding
{doc["method"]["zero_offset_kwh"]:g} kWh before the log. CI: {html.escape(doc["method"]["ci"])}
({doc["method"]["bootstrap_replicates"]} replicates). Elasticities are arc elasticities
between each level's price and the reference price.</p>
<h2>Estimates</h2>{_table(table, cols)}
<h2>Responders</h2><p>Households whose own 95% interval excludes zero in the direction
the price moved: {html.escape(resp_text)}.</p>
<h2>Plots</h2>{imgs}
<h2>How much the zero offset matters</h2>{sens_html}
</body></html>
"""
    path = out / "report.html"
    path.write_text(page, "utf-8")
    return path
