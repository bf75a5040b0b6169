"""`forecasting explain`: SHAP values of a tree model's forecasts, and a report.

TreeExplainer gives exact SHAP values for LightGBM and XGBoost. They explain the booster's
raw output for one quantile (P50 by default): with `scaling: mean` that output is the
forecast divided by the series' recent mean level, so a value of +0.2 means "20% of this
home's usual consumption". The importance table gives both mean |SHAP| in those units and
mean |SHAP x level| in target units (kWh). Additivity (SHAP values + base value = model
output) is checked on every explained row and recorded.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecasting.config.data import load_data_config
from forecasting.data.prepare import prepare
from forecasting.data.schema import TIME
from forecasting.errors import InputError
from forecasting.evaluation.metrics import quantile_column
from forecasting.folders import write_json
from forecasting.models.gbm import GBMForecaster
from training.evaluate import daily_origins

DESCRIPTIONS = {
    "horizon": "steps ahead of the origin",
    "level": "mean consumption over the lookback (kWh per interval)",
    "last": "the last reading before the origin",
    "profile_mean": "mean of the same hour over the last days",
    "profile_median": "median of the same hour over the last days",
    "profile_std": "spread of the same hour over the last days",
    "profile_near_mean": "mean of the same hour +-1 over the last days",
    "hour": "local hour of day",
    "dow": "local day of week",
    "month": "month",
    "is_weekend": "weekend",
    "is_holiday": "public holiday",
    "hdh": "heating degree hours",
    "cdh": "cooling degree hours",
}

GROUPS = (
    ("recent history", ("level", "last", "roll_", "lag_", "profile_")),
    ("calendar", ("hour", "dow", "month", "is_", "doy_")),
    ("step ahead", ("horizon",)),
)


def describe(feature: str) -> str:
    if feature in DESCRIPTIONS:
        return DESCRIPTIONS[feature]
    if feature.startswith("lag_"):
        return f"reading {feature[4:]} steps before the target time"
    if feature.startswith("roll_"):
        _, stat, w = feature.split("_")
        return f"{stat} of the last {w} readings before the origin"
    if feature.endswith("_last"):
        return f"last observed {feature[:-5]}"
    return feature.replace("_", " ")


def group_of(feature: str, static: list[str], known: list[str]) -> str:
    if feature in static:
        return "household attributes"
    if feature in known or feature in ("hdh", "cdh"):
        return "covariates (weather, tariff)"
    for name, prefixes in GROUPS:
        if feature in prefixes or feature.startswith(prefixes):
            return name
    return "other"


def shap_values(model: GBMForecaster, X: pd.DataFrame, quantile: float) -> tuple[np.ndarray, float]:
    """Exact tree SHAP values [rows, features] and base value for one quantile's output."""
    import shap

    booster, output = model.quantile_booster(quantile)
    explainer = shap.TreeExplainer(booster)
    values = np.asarray(explainer.shap_values(X))
    base_all = np.atleast_1d(explainer.expected_value)
    if values.ndim == 3:  # one booster with an output per quantile
        values = values[:, :, output]
        base = float(base_all[output])
    else:
        base = float(base_all[0])
    return values, base


def explain_run(
    run_dir: Path,
    output: Path,
    input_path: str | None = None,
    data_config: str | Path | None = None,
    start: str | None = None,
    end: str | None = None,
    quantile: float = 0.5,
    max_rows: int = 2000,
    top: int = 3,
    seed: int = 0,
) -> dict[str, Any]:
    from forecasting.models.registry import load_run

    model, meta = load_run(run_dir)
    if not isinstance(model, GBMForecaster):
        raise InputError(
            f"{run_dir}: explain works on tree models (lightgbm, xgboost); this run is "
            f"{meta['kind']!r}"
        )
    if quantile not in model.quantiles:
        raise InputError(f"--quantile {quantile} is not one of the model's {model.quantiles}")
    cfg = load_data_config(data_config or run_dir / "data_config.yaml")
    prepared = prepare(cfg, input_path)
    frame = prepared.frame
    tz = cfg.calendar.timezone
    last_day = frame[TIME].max().tz_convert(tz) - pd.Timedelta(days=1)
    end = end or last_day.strftime("%Y-%m-%d")
    start = start or (pd.Timestamp(end) - pd.Timedelta(days=27)).strftime("%Y-%m-%d")
    splitter = daily_origins(start, end, model.horizon, model.lookback, tz, model.freq)
    w = model.windows(frame, splitter.origins(frame), prepared.static)
    if len(w) == 0:
        raise InputError(f"no forecast windows between {start} and {end} in {cfg.input.path}")
    rng = np.random.default_rng(seed)
    keep = np.zeros(len(w), dtype=bool)
    keep[rng.choice(len(w), size=min(max_rows, len(w)), replace=False)] = True
    w = w.select(keep)
    values, base = shap_values(model, w.X, quantile)
    raw = model.raw_predict(w.X)[:, model.quantiles.index(quantile)]
    additivity = float(np.max(np.abs(values.sum(axis=1) + base - raw)))

    output.mkdir(parents=True, exist_ok=True)
    feats = list(w.X.columns)
    fcfg = model.features
    table = pd.DataFrame(
        {
            "feature": feats,
            "description": [describe(f) for f in feats],
            "group": [group_of(f, fcfg.static, fcfg.known_future) for f in feats],
            "mean_abs_shap": np.abs(values).mean(axis=0),
            "mean_abs_shap_kwh": np.abs(values * w.scale[:, None]).mean(axis=0),
            "mean_shap": values.mean(axis=0),
        }
    ).sort_values("mean_abs_shap", ascending=False, ignore_index=True)
    table["share"] = table["mean_abs_shap"] / table["mean_abs_shap"].sum()
    table.to_csv(output / "importance.csv", index=False)
    groups = table.groupby("group")["share"].sum().sort_values(ascending=False)

    images = _plots(values, w.X, table["feature"].head(top).tolist(), output)
    col = quantile_column(quantile)
    summary = {
        "run": str(run_dir),
        "kind": meta["kind"],
        "quantile": col,
        "rows_explained": len(w),
        "origins": f"{start}..{end}",
        "base_value": base,
        "additivity_max_abs_error": additivity,
        "output_units": "forecast / series level" if fcfg.scaling == "mean" else "target units",
        "top_features": table.head(10)[["feature", "share"]].to_dict("records"),
        "groups": groups.to_dict(),
        "files": ["importance.csv", *images, "report.html"],
    }
    write_json(output / "explain.json", summary)
    (output / "report.html").write_text(_html(summary, table, groups, images), encoding="utf-8")
    return summary


def _plots(values: np.ndarray, X: pd.DataFrame, top: list[str], output: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import shap

    files = []
    shap.summary_plot(values, X, show=False, max_display=15, rng=np.random.default_rng(0))
    plt.gcf().set_size_inches(9, 7)
    plt.tight_layout()
    plt.savefig(output / "summary.png", dpi=110)
    plt.close("all")
    files.append("summary.png")
    for feature in top:
        shap.dependence_plot(feature, values, X, show=False, interaction_index="auto")
        plt.gcf().set_size_inches(7, 5)
        plt.tight_layout()
        name = f"dependence_{feature}.png"
        plt.savefig(output / name, dpi=110)
        plt.close("all")
        files.append(name)
    return files


def narrative(table: pd.DataFrame, groups: pd.Series, quantile: str) -> str:
    """A few sentences on what drives the forecast, from the importance table."""
    t = table.head(3)
    lead = ", ".join(
        f"{r.feature} ({r.description}, {r.share:.0%})" for r in t.itertuples(index=False)
    )
    g = "; ".join(f"{name} {share:.0%}" for name, share in groups.items() if share >= 0.005)
    text = (
        f"The {quantile} forecast is driven most by {lead}. By group, the share of mean "
        f"|SHAP| is: {g}."
    )
    hist = float(groups.get("recent history", 0.0))
    if hist > 0.5:
        text += (
            " Most of the forecast comes from the home's own recent pattern: the model mainly "
            "re-weights what the household did at the same hours in the last days."
        )
    cov = float(groups.get("covariates (weather, tariff)", 0.0))
    if cov > 0.05:
        text += f" Weather and tariff signals move it by a visible {cov:.0%} of the total."
    return text


def _html(
    summary: dict[str, Any], table: pd.DataFrame, groups: pd.Series, images: list[str]
) -> str:
    rows = "\n".join(
        f"<tr><td>{html.escape(r.feature)}</td><td>{html.escape(r.description)}</td>"
        f"<td>{html.escape(r.group)}</td><td>{r.share:.1%}</td><td>{r.mean_abs_shap:.4f}</td>"
        f"<td>{r.mean_abs_shap_kwh:.4f}</td></tr>"
        for r in table.head(20).itertuples(index=False)
    )
    imgs = "\n".join(
        f'<figure><img src="{html.escape(i)}" alt="{html.escape(i)}"></figure>' for i in images
    )
    text = html.escape(narrative(table, groups, summary["quantile"]))
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>What drives the forecast</title>
<style>body{{font-family:sans-serif;max-width:1000px;margin:2em auto}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:3px 8px}}
img{{max-width:100%}}</style></head><body>
<h1>What drives the {html.escape(summary["quantile"])} forecast</h1>
<p>Run <code>{html.escape(summary["run"])}</code> ({html.escape(summary["kind"])}),
{summary["rows_explained"]:,} forecast rows from origins {html.escape(summary["origins"])}.
SHAP values are in {html.escape(summary["output_units"])}; additivity error
{summary["additivity_max_abs_error"]:.2e}.</p>
<p>{text}</p>
<h2>Global importance</h2>
<table><tr><th>feature</th><th>meaning</th><th>group</th><th>share</th>
<th>mean |SHAP|</th><th>mean |SHAP| kWh</th></tr>
{rows}
</table>
<h2>Plots</h2>
{imgs}
</body></html>
"""
