"""The targeting report: the policies against each other, the posterior by engagement group,
and how well the learned posterior predicted the later events."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import pandas as pd

from forecasting.optimise.report import html_table, png_base64
from forecasting.targeting.posterior import ENGAGEMENT


def _plots(posterior: pd.DataFrame, bins: pd.DataFrame) -> list[tuple[str, str]]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # the serving install: tables only
        return []
    out = []
    levels = list(posterior["level"].unique())
    fig, axes = plt.subplots(1, len(levels), figsize=(5 * len(levels), 3.6), squeeze=False)
    colours = dict(
        zip([n for n, _ in ENGAGEMENT], ["#1b7837", "#7fbf7b", "#c2a5cf", "#bbbbbb"], strict=True)
    )
    for ax, level in zip(axes[0], levels, strict=True):
        p = posterior[posterior["level"] == level]
        for name, _ in ENGAGEMENT:
            q = p[p["engagement_category"] == name]
            ax.errorbar(q["engagement"], 100 * q["response_if_responding"], yerr=100 * q["response_sd"],
                        fmt="o", color=colours[name], label=f"{name} ({len(q)})", alpha=0.8)  # fmt: skip
        ax.axhline(0, color="#888", lw=0.8)
        ax.set_xlabel("engagement (posterior mean probability of responding)")
        ax.set_ylabel("change when responding, % (+-1 sd)")
        ax.set_title(f"{level} signals")
        ax.legend(fontsize=7)
    fig.tight_layout()
    out.append(("Each household's posterior, by engagement group", png_base64(fig)))
    plt.close(fig)
    if len(bins):
        fig, ax = plt.subplots(figsize=(4.5, 3.6))
        for level, b in bins.groupby("level"):
            ax.plot(100 * b["predicted"], 100 * b["observed"], "o-", label=str(level))
        lim = [100 * min(bins["predicted"].min(), bins["observed"].min()),
               100 * max(bins["predicted"].max(), bins["observed"].max())]  # fmt: skip
        ax.plot(lim, lim, color="#888", lw=0.8)
        ax.set_xlabel("predicted change, % (learning half)")
        ax.set_ylabel("observed change, % (test events)")
        ax.legend()
        fig.tight_layout()
        out.append(("Predicted against observed", png_base64(fig)))
        plt.close(fig)
    return out


def write_report(path: Path, summary: dict[str, Any], posterior: pd.DataFrame,
                 policies: pd.DataFrame, bins: pd.DataFrame) -> None:  # fmt: skip
    s = summary
    mine = next(p for p in s["policies"] if p["policy"].startswith("bayes"))["policy"]
    versus = "".join(
        f"<li>against <b>{html.escape(k)}</b>: P(lower error) = {v['p_lower_error']:.2f}; error "
        f"{v['error_difference_pct_points']:+.2f} points (90% CI {v['error_difference_ci90'][0]:+.2f} "
        f"to {v['error_difference_ci90'][1]:+.2f}); {v['signals_difference_per_event']:+.1f} signals "
        f"an event</li>" for k, v in s["versus"].items()
    )  # fmt: skip
    cal = "".join(f"<li>{html.escape(lv)}: {c['household_events']} household-events, 90% "
                  f"intervals cover {c['coverage_90']:.1%}; mean predicted {100 * c['predicted_mean']:+.2f}%, "
                  f"observed {100 * c['observed_mean']:+.2f}%</li>" for lv, c in s["calibration"].items())  # fmt: skip
    plots = "".join(f'<h3>{html.escape(t)}</h3><img alt="{html.escape(t)}" src="data:image/png;base64,{b}">'
                    for t, b in _plots(posterior, bins))  # fmt: skip
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>Signal targeting</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}table{{border-collapse:collapse;margin:.5em 0 1.5em}}
td,th{{border:1px solid #ccc;padding:2px 7px;font-size:90%}}img{{max-width:100%}}</style></head><body>
<h1>dToU signal targeting</h1>
<p>{s["treated"]} treated households ({s["control"]} control); {s["events"]["learn"]} events before
{html.escape(s["learn_until"])} taught the model, {s["events"]["test"]} after it were replayed.
Targets (change of the population's weighted mean in the event): {html.escape(str(s["targets"]))}.</p>
<h2>Policies on the replayed events</h2>{html_table(policies, 2)}
<p>{html.escape(mine)}, by a bootstrap over the replayed events:</p><ul>{versus}</ul>
<h2>Calibration of the learned posterior</h2><ul>{cal}</ul>
<h2>Plots</h2>{plots}
<h2>Households</h2>{html_table(posterior.round(4), 3)}
<p>Model: {html.escape(s["model"])}.</p></body></html>"""
    path.write_text(page, "utf-8")
