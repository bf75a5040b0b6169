"""`forecasting tariff-report`: one self-contained HTML page and an Excel workbook with the
same tables, from an `optimise-tariff` output folder, for a regulator.

The page holds: the chosen tariff against today's and the bounds; every constraint re-checked
on the bill engine's bills; the KPIs as distributions across the scenarios (base, mean, 5th
and 95th percentile); bill changes by group and archetype with their distribution; the load
shape before and after; the Pareto frontier; the elasticities used; and the assumptions
(response form, goals, scenarios). Plots are embedded (base64 PNG), so the file travels alone.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecasting.errors import InputError

NEEDED = ("summary.json", "kpis.csv", "breakdown.csv", "bills.parquet", "tariff.yaml")


def read_run(folder: Path) -> dict[str, Any]:
    """The optimiser's outputs in `folder`; a missing one is named."""
    missing = [n for n in NEEDED if not (folder / n).is_file()]
    if missing:
        raise InputError(f"{folder}: not an optimise-tariff output (missing {', '.join(missing)})")
    run: dict[str, Any] = {
        "summary": json.loads((folder / "summary.json").read_text("utf-8")),
        "kpis": pd.read_csv(folder / "kpis.csv"),
        "breakdown": pd.read_csv(folder / "breakdown.csv"),
        "bills": pd.read_parquet(folder / "bills.parquet"),
        "tariff": (folder / "tariff.yaml").read_text("utf-8"),
    }
    for name in ("frontier", "load_shape"):
        path = folder / f"{name}.csv"
        run[name] = pd.read_csv(path) if path.is_file() else pd.DataFrame()
    source = run["summary"].get("response", {}).get("source")
    run["elasticities"] = pd.DataFrame()
    if source and source != "config" and Path(source).is_file():
        doc = json.loads(Path(source).read_text("utf-8"))
        run["elasticities"] = pd.DataFrame(doc.get("estimates", []))
    return run


def tables(run: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """Every table of the report, by sheet name."""
    s = run["summary"]
    prices = pd.DataFrame([{"price": n, "chosen": v, "min": s["bounds"].get(n, [None, None])[0],
                            "max": s["bounds"].get(n, [None, None])[1]}
                           for n, v in s["prices"].items()])  # fmt: skip
    kpis = pd.DataFrame([{"kpi": k, **v} for k, v in s["kpis"].items()])
    checks = pd.DataFrame([{"constraint": k, "holds": v["holds"],
                            **{a: b for a, b in v.items() if a != "holds"}}
                           for k, v in s["checks"]["checks"].items()])  # fmt: skip
    base = run["bills"][run["bills"]["scenario"] == run["bills"]["scenario"].iloc[0]]
    bills = base[["series_id", "vulnerable", "bill_before", "bill_after", "change"]].copy()
    bills["change_pct"] = 100 * bills.pop("change")
    out = {"Tariff": prices, "Checks": checks, "KPIs": kpis, "Breakdown": run["breakdown"],
           "Scenarios": run["kpis"], "Bills (base)": bills}  # fmt: skip
    for name, key in (("Load shape", "load_shape"), ("Frontier", "frontier")):
        if len(run[key]):
            out[name] = run[key]
    e = run["elasticities"]
    if len(e):
        keep = [c for c in ("spec", "level", "band", "group", "pct_change", "pct_ci_low",
                            "pct_ci_high", "elasticity", "elasticity_ci_low",
                            "elasticity_ci_high", "households") if c in e]  # fmt: skip
        out["Elasticities"] = e[keep]
    return out


def write_excel(sheets: dict[str, pd.DataFrame], path: Path) -> Path:
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        for name, frame in sheets.items():
            frame.to_excel(xl, sheet_name=name[:31], index=False)
    return path


def png_base64(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _plots(run: dict[str, Any]) -> list[tuple[str, str]]:
    try:
        import matplotlib
    except ImportError:  # the serving install: tables only
        return []
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = []
    b = run["bills"]
    base = b[b["scenario"] == b["scenario"].iloc[0]]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    groups = [("vulnerable", base[base["vulnerable"]]), ("others", base[~base["vulnerable"]])]
    data = [100 * g["change"].to_numpy() for _, g in groups if len(g)]
    ax.hist(data, bins=30, label=[n for n, g in groups if len(g)], stacked=True)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_xlabel("bill change (%)")
    ax.set_ylabel("customers")
    ax.legend()
    ax.set_title("Bill changes, base scenario")
    fig.tight_layout()
    out.append(("Bill changes", png_base64(fig)))
    plt.close(fig)
    shape = run["load_shape"]
    if len(shape):
        fig, ax = plt.subplots(figsize=(7, 3.5))
        x = np.arange(len(shape))
        ax.plot(x, shape["before_kw"], label="today")
        ax.plot(x, shape["after_kw"], label="chosen tariff")
        step = max(len(shape) // 8, 1)
        ax.set_xticks(x[::step], shape["time"].iloc[::step])
        ax.set_ylabel("mean system load (kW)")
        ax.set_title("Load shape, base scenario")
        ax.legend()
        fig.tight_layout()
        out.append(("Load shape", png_base64(fig)))
        plt.close(fig)
    f = run["frontier"]
    if len(f) and "peak_reduction_pct" in f:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.plot(f["bill_change_mad_pct"], f["peak_reduction_pct"], "o-")
        for r in f.itertuples():
            ax.annotate(
                f"w={r.w_peak:g}", (r.bill_change_mad_pct, r.peak_reduction_pct), fontsize=8
            )
        ax.set_xlabel("spread of bill changes (MAD, %)")
        ax.set_ylabel("peak reduction (%)")
        ax.set_title("Pareto frontier")
        fig.tight_layout()
        out.append(("Pareto frontier", png_base64(fig)))
        plt.close(fig)
    return out


def html_table(frame: pd.DataFrame, digits: int = 3) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for r in frame.itertuples(index=False):
        cells = "".join(
            f"<td>{v:,.{digits}f}</td>"
            if isinstance(v, float)
            else f"<td>{html.escape(str(v))}</td>"
            for v in r
        )
        rows.append(f"<tr>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def write_html(run: dict[str, Any], sheets: dict[str, pd.DataFrame], path: Path) -> Path:
    s = run["summary"]
    cfg = s.get("config", {})
    k = s["kpis"]
    verdict = "every constraint holds" if s["checks"]["all_hold"] else "a constraint FAILS"
    plots = "".join(f'<h3>{html.escape(t)}</h3><img alt="{html.escape(t)}" src="data:image/png;base64,{b}">'
                    for t, b in _plots(run))  # fmt: skip
    goals = cfg.get("goals", {})
    sc = cfg.get("scenarios", {})
    lead = (
        f"Over {s['scenarios']} scenarios and {s['customers']['customers']} customers "
        f"({s['vulnerable']} vulnerable), the chosen tariff lowers the base scenario's peak by "
        f"{k['peak_reduction_pct']['base']:.1f}% ({k['peak_reduction_pct']['p05']:.1f} to "
        f"{k['peak_reduction_pct']['p95']:.1f}% across scenarios); revenue is "
        f"{k['revenue_vs_target_pct']['base']:+.2f}% against the target; the median bill changes "
        f"by {k['median_change_pct']['base']:+.1f}%; {k['over_10pct']['base']:.0f} customers pay "
        f"over 10% more. Re-billed by the bill engine, {verdict}."
    )
    assumptions = [
        "Demand response: constant elasticity by time-of-day band, kWh x (p / p_today)^e, "
        "rises and cuts with their own elasticities; no shifting between bands.",
        f"Elasticities: {html.escape(str(s['response'].get('source')))} "
        f"(detail: {html.escape(str(s['response'].get('detail', '-')))}; bands matched: "
        f"{html.escape(json.dumps(s['response'].get('bands_matched', {})))}).",
        f"Revenue at least {100 * goals.get('revenue_share', 0.95):.0f}% of the target "
        f"{s['revenue_target']:,.2f} {'in every scenario' if goals.get('robust', True) else 'on average'}; "
        f"at most {100 * goals.get('delta', 0.05):.0f}% of vulnerable customers over "
        f"+{100 * goals.get('increase', 0.1):.0f}%.",
        f"Objective weights: peak {goals.get('w_peak')}, spread of bill changes "
        f"{goals.get('w_dispersion')}, revenue deviation {goals.get('w_revenue')}; solved as "
        f"{html.escape(s['method'])} in {s['iterations']} expansions.",
        f"Scenarios: {sc.get('count')} (seed {sc.get('seed')}), elasticities drawn from their CIs: "
        f"{sc.get('elasticity_draws')}; EV uptake {sc.get('ev_share')}, PV {sc.get('pv_share')}"
        + (f"; monthly-only customers imputed on {html.escape(str(s['customers']['monthly_only']['bundle']))} "
           f"({s['customers']['monthly_only']['imputed']} customers, one sample path per scenario)"
           if "monthly_only" in s["customers"] else "") + ".",
    ]  # fmt: skip
    body = "".join(f"<h2>{html.escape(name)}</h2>{html_table(frame.head(200))}"
                   for name, frame in sheets.items() if name != "Bills (base)")  # fmt: skip
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Tariff study: {html.escape(str(cfg.get("template", "")))}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}
table{{border-collapse:collapse;margin:0.5em 0 1.5em}}td,th{{border:1px solid #ccc;padding:2px 7px;font-size:90%}}
img{{max-width:100%}}</style></head><body>
<h1>Tariff study</h1>
<p>{html.escape(lead)}</p>
<h2>The chosen tariff</h2><pre>{html.escape(run["tariff"])}</pre>
<h2>Assumptions</h2><ul>{"".join(f"<li>{a}</li>" for a in assumptions)}</ul>
<h2>Plots</h2>{plots}
{body}
</body></html>
"""
    path.write_text(page, "utf-8")
    return path
