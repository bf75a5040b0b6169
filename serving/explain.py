"""Explain a bundle's forecasts with onnxruntime alone: Shapley values of feature families.

The graph's inputs are grouped into families a person reads (`families`): the household's
history by how far back it lies (the last day; the same hours of past days; a week back and
more), each covariate, the calendar, the step ahead, each static attribute. A family is
"absent" when its inputs take the baseline: the mean over the explained windows (category
codes take 0, the code of an unknown category, or missing for trees). The value of a set of
families is the graph's output with the others absent, and each family's attribution is its
Shapley value, estimated by `permutations` random orders of the families (half of them the
reverse of the other half). Along each order the increments add up to the output less the
baseline's output, so attributions + base = output holds exactly for every window, whatever
the number of orders (checked on every run and recorded). The output explained is the graph's
own, per horizon step and quantile, before the per-window scale is undone; attributions in
target units are the same times the window's scale (the scale is a constant per window).

Model-agnostic and torch-free: it works on every forecasting bundle (trees, CNN-LSTM, TFT)
and runs in the serving install.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecasting.config.features import FeatureConfig
from forecasting.data.schema import SERIES, TIME
from forecasting.errors import InputError
from forecasting.evaluation.metrics import quantile_column
from forecasting.folders import write_json
from serving.kinds import bundle_kind

DAY = pd.Timedelta("1D")
WEEK = pd.Timedelta("7D")
CALENDAR_NAMES = {"hour", "dow", "month", "doy_sin", "doy_cos", "hour_sin", "hour_cos",
                  "dow_sin", "dow_cos", "is_weekend", "is_holiday"}  # fmt: skip


@dataclass
class Inputs:
    """What a bundle's graph reads for a set of windows: `arrays` by input name (rows first),
    the windows' `index` (series_id, origin; and timestamp, horizon for rows), `scale` per
    row, and the channel names of each input's last axis."""

    arrays: dict[str, np.ndarray]
    index: pd.DataFrame
    scale: np.ndarray
    channels: dict[str, list[str]]
    layout: str

    def __len__(self) -> int:
        return len(self.index)

    def take(self, rows: np.ndarray) -> Inputs:
        return Inputs({k: v[rows] for k, v in self.arrays.items()},
                      self.index.iloc[rows].reset_index(drop=True), self.scale[rows],
                      self.channels, self.layout)  # fmt: skip


@dataclass
class Family:
    name: str
    description: str
    masks: dict[str, np.ndarray] = field(default_factory=dict)  # input -> bool, per-row shape


def bundle_inputs(bundle: Any, frame: pd.DataFrame, origins: pd.DatetimeIndex,
                  static: pd.DataFrame | None) -> Inputs:  # fmt: skip
    """The graph inputs of every (series, origin) window, built by the bundle's recipe, with
    the channel names the manifest records."""
    arrays, w = bundle.graph_inputs(frame, origins, static)
    layout = bundle_kind(bundle.kind).layout
    channels = {"X": list(w.X.columns)} if layout == "rows" else bundle.manifest["model"]["columns"]
    return Inputs(arrays, w.index, w.scale, channels, layout)


def history_band(steps_back: int, step: pd.Timedelta, target_relative: bool = True) -> str:
    """History family of a reading `steps_back` intervals before the target time (lags,
    profiles) or before the origin (the past sequence)."""
    back = steps_back * step
    if back < DAY:
        return "last 24 h"
    if back > WEEK - step * 0.5:
        return "a week back and more"
    if target_relative and back % DAY == pd.Timedelta(0):
        return "same hours of past days"
    return "earlier this week"


DESCRIBE = {
    "last 24 h": "the household's readings in the day before the origin",
    "same hours of past days": "readings at the target's hour on past days (profile, daily lags)",
    "earlier this week": "readings 1 to 7 days back (the past sequence, and lags off the hour)",
    "a week back and more": "readings a week or more before the target",
    "calendar": "hour, weekday, season and holidays at the target time",
    "step ahead": "how far the target lies from the origin",
    "household level": "the household's mean consumption over the lookback (its size)",
}


def families(inputs: Inputs, features: FeatureConfig, step: pd.Timedelta) -> list[Family]:
    """The inputs grouped into families (see the module doc); every input cell in exactly one."""
    out: dict[str, Family] = {}

    def add(name: str, where: str, mask: np.ndarray, description: str = "") -> None:
        fam = out.setdefault(name, Family(name, description or DESCRIBE.get(name, name)))
        shape = inputs.arrays[where].shape[1:]
        fam.masks[where] = fam.masks.get(where, np.zeros(shape, bool)) | mask

    known, observed, static = set(features.known_future), set(features.observed), features.static
    degree = "temperature" if "temperature" in known else "degree hours"
    for where, names in inputs.channels.items():
        shape = inputs.arrays[where].shape[1:]
        for j, name in enumerate(names):
            mask = np.zeros(shape, bool)
            if len(shape) == 1:
                mask[j] = True
            else:
                mask[:, j] = True
            fam = family_of(name, where, known, observed, static, step, degree)
            if fam is None:  # the past target and its observed flag: by how far back
                L = shape[0]
                for t in range(L):
                    cell = np.zeros(shape, bool)
                    cell[t, j] = True
                    add(history_band(L - t, step, target_relative=False), where, cell)
                continue
            add(fam, where, mask, _describe(fam, known, observed, static))
    order = ["last 24 h", "same hours of past days", "earlier this week", "a week back and more"]
    return sorted(out.values(), key=lambda f: (order.index(f.name) if f.name in order else 9,
                                               f.name))  # fmt: skip


def family_of(name: str, where: str, known: set[str], observed: set[str], static: list[str],
               step: pd.Timedelta, degree: str) -> str | None:  # fmt: skip
    if where == "past" and name in ("target", "observed"):
        return None
    if name in static or where in ("static_cat",):
        return name
    if name == "log_scale" or name == "level":
        return "household level"
    if name in ("step", "horizon"):
        return "step ahead"
    if name in CALENDAR_NAMES or name.startswith("is_"):
        return "calendar"
    if name in ("hdh", "cdh"):
        return degree
    if name in known or name in observed:
        return name
    if name.endswith("_last") and name[:-5] in observed:
        return name[:-5]
    if name.startswith("lag_"):
        return history_band(int(name[4:]), step)
    if name.startswith("profile_"):
        return "same hours of past days"
    if name.startswith("roll_"):  # roll_<stat>_<window>: by how far back the window reaches
        return "last 24 h" if int(name.rsplit("_", 1)[1]) * step <= DAY else "earlier this week"
    if name == "last":
        return "last 24 h"
    return name


def _describe(fam: str, known: set[str], observed: set[str], static: list[str]) -> str:
    if fam in DESCRIBE:
        return DESCRIBE[fam]
    if fam in known:
        return f"{fam} at the target times (known ahead: a forecast or a schedule)"
    if fam in observed:
        return f"{fam} measured up to the origin"
    if fam in static:
        return f"household attribute {fam}"
    return fam


def baseline(inputs: Inputs, categorical: set[str]) -> dict[str, np.ndarray]:
    """One absent value per input cell: the mean over the windows; category codes 0 (the
    code of an unknown category) in sequence inputs, missing in tree rows."""
    out = {}
    for k, v in inputs.arrays.items():
        if k == "static_cat":
            out[k] = np.zeros(v.shape[1:], v.dtype)
            continue
        b = np.nanmean(v.astype("float64"), axis=0) if len(v) else np.zeros(v.shape[1:])
        if k == "X":
            cols = inputs.channels["X"]
            b = np.where([c in categorical for c in cols], np.nan, b)
        out[k] = b.astype(v.dtype)
    return out


def group_shapley(run: Any, inputs: dict[str, np.ndarray], fams: list[Family],
                  base: dict[str, np.ndarray], permutations: int = 8, seed: int = 0
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """(attributions [row, family, *output], the baseline's output and the output, both
    [row, *output]) by permutation sampling over families, antithetic pairs; `run` maps
    inputs to the graph's output. The baseline's output is kept per row: a network may give
    rows of one batch float32 results that differ in the last digits."""
    n = len(next(iter(inputs.values())))
    G = len(fams)
    rng = np.random.default_rng(seed)
    orders: list[np.ndarray] = []
    while len(orders) < max(permutations, 2):
        p = rng.permutation(G)
        orders += [p, p[::-1]]
    start = {k: np.broadcast_to(b, inputs[k].shape).copy() for k, b in base.items()}
    base_out = run(start)
    full = run(inputs)
    phi = np.zeros((n, G, *full.shape[1:]))
    for order in orders:
        current = {k: v.copy() for k, v in start.items()}
        prev = base_out
        for g in order:
            for k, mask in fams[g].masks.items():
                current[k] = np.where(mask[None], inputs[k], current[k])
            value = full if g == order[-1] else run(current)
            phi[:, g] += value - prev
            prev = value
    phi /= len(orders)
    return phi, base_out, full


def graph_output(bundle: Any) -> Any:
    """inputs -> the graph's first output (float64), in the bundle's chunks."""
    chunk = bundle_kind(bundle.kind).session_batch

    def run(arrays: dict[str, np.ndarray]) -> np.ndarray:
        return np.asarray(bundle.run(arrays, chunk)[0], dtype="float64")

    return run


def daily_origins(frame: pd.DataFrame, tz: str, days: int, end: str | None = None,
                  start: str | None = None) -> pd.DatetimeIndex:  # fmt: skip
    """Local midnights (as UTC) from `start` to `end`, default the last `days` full days."""
    last = frame[TIME].max().tz_convert(tz)
    hi = pd.Timestamp(end) if end else (last - DAY).normalize().tz_localize(None)
    lo = pd.Timestamp(start) if start else hi - pd.Timedelta(days=days - 1)
    if hi < lo:
        raise InputError(f"--end {hi.date()} is before --start {lo.date()}")
    return pd.DatetimeIndex(pd.date_range(lo, hi, freq="D").tz_localize(tz).tz_convert("UTC"))


@dataclass
class Attributions:
    """Attributions by family in long form, one row per (series, origin, step): `kwh`
    [row, family, quantile], the baseline's output `base` and the output `out` [row,
    quantile], all in target units; `members`: each ensemble member's share."""

    index: pd.DataFrame  # series_id, origin, step
    names: list[str]
    descriptions: list[str]
    kwh: np.ndarray
    base: np.ndarray
    out: np.ndarray
    members: dict[str, float] = field(default_factory=dict)

    @property
    def additivity(self) -> float:
        if not len(self.kwh):
            return 0.0
        return float(np.max(np.abs(self.kwh.sum(axis=1) + self.base - self.out)))


def attributions(bundle: Any, inputs: Inputs, permutations: int, seed: int) -> Attributions:
    """Shapley values of one model bundle's families on `inputs`, in long form."""
    m = bundle.manifest
    return attributions_of(graph_output(bundle), inputs, bundle.features, pd.Timedelta(m["freq"]),
                           set(m["model"].get("categories", {})), permutations, seed)  # fmt: skip


def attributions_of(run: Any, inputs: Inputs, features: FeatureConfig, step: pd.Timedelta,
                    categorical: set[str], permutations: int, seed: int) -> Attributions:  # fmt: skip
    """Shapley values of the families of `inputs` for the model `run` (inputs -> output
    before the window's scale is undone), in long form: a bundle's graph or a native model."""
    fams = families(inputs, features, step)
    base = baseline(inputs, categorical)
    phi, base_out, out = group_shapley(run, inputs.arrays, fams, base, permutations, seed)
    scale = inputs.scale
    if inputs.layout == "rows":  # a row per step already
        index = inputs.index[[SERIES, "origin"]].assign(step=inputs.index["horizon"].to_numpy())
        kwh = phi * scale[:, None, None]
        b, o = base_out * scale[:, None], out * scale[:, None]
    else:  # [row, family, step, quantile] -> a row per step
        n, G, H, Q = phi.shape
        index = inputs.index[[SERIES, "origin"]].loc[np.repeat(np.arange(n), H)]
        index = index.reset_index(drop=True).assign(step=np.tile(np.arange(1, H + 1), n))
        kwh = (phi * scale[:, None, None, None]).transpose(0, 2, 1, 3).reshape(n * H, G, Q)
        b = (base_out * scale[:, None, None]).reshape(n * H, Q)
        o = (out * scale[:, None, None]).reshape(n * H, Q)
    return Attributions(index.reset_index(drop=True), [f.name for f in fams],
                        [f.description for f in fams], kwh, b, o)  # fmt: skip


def ensemble_attributions(parts: dict[str, Attributions], weights: np.ndarray,
                          blocks: list[list[int]]) -> Attributions:  # fmt: skip
    """The ensemble's attributions: each member's weight (by horizon block and quantile)
    times its attributions, before the quantiles are sorted, on the rows every member has;
    a family a member does not read adds nothing there. Shapley values are linear in the
    value function, so these are the Shapley values of the weighted sum of the members."""
    from forecasting.forecasts.combine import block_index

    names = list(dict.fromkeys(n for a in parts.values() for n in a.names))
    desc = {n: d for a in parts.values() for n, d in zip(a.names, a.descriptions, strict=True)}
    keys = [SERIES, "origin", "step"]
    common = None
    for a in parts.values():
        k = a.index[keys].astype({SERIES: str})
        common = k if common is None else common.merge(k, on=keys)
    assert common is not None
    w = np.asarray(weights, dtype=float)  # [blocks, quantiles, members]
    blk = block_index(common["step"].to_numpy(), blocks)
    N, Q = len(common), w.shape[1]
    kwh, base, out = np.zeros((N, len(names), Q)), np.zeros((N, Q)), np.zeros((N, Q))
    share = {}
    for j, (member, a) in enumerate(parts.items()):
        pos = pd.MultiIndex.from_frame(a.index[keys].astype({SERIES: str})).get_indexer(
            pd.MultiIndex.from_frame(common)
        )
        wm = w[blk, :, j]  # [row, quantile]
        cols = [names.index(n) for n in a.names]
        kwh[:, cols] += a.kwh[pos] * wm[:, None, :]
        base += a.base[pos] * wm
        out += a.out[pos] * wm
        share[member] = float(np.abs(a.kwh[pos] * wm[:, None, :]).sum())
    total = sum(share.values()) or 1.0
    return Attributions(common, names, [desc[n] for n in names], kwh, base, out,
                        {k: v / total for k, v in share.items()})  # fmt: skip


def pick_pairs(index: pd.DataFrame, windows: int, seed: int, customer: str | None) -> pd.DataFrame:
    """The (series, origin) pairs to explain: a seeded sample, and every pair of `customer`."""
    pairs = index[[SERIES, "origin"]].drop_duplicates().astype({SERIES: str})
    rng = np.random.default_rng(seed)
    take = np.zeros(len(pairs), bool)
    take[rng.choice(len(pairs), min(windows, len(pairs)), replace=False)] = True
    if customer is not None:
        take |= (pairs[SERIES] == customer).to_numpy()
    return pairs[take]


def only_pairs(inputs: Inputs, pairs: pd.DataFrame) -> Inputs:
    keys = [SERIES, "origin"]
    hit = inputs.index[keys].astype({SERIES: str}).merge(pairs.assign(_k=True), on=keys,
                                                          how="left")["_k"]  # fmt: skip
    return inputs.take(np.flatnonzero(hit.fillna(False).to_numpy(dtype=bool)))


def explain_bundle(folder: str | Path, frame: pd.DataFrame, static: pd.DataFrame | None,
                   output: Path, tz: str, start: str | None = None, end: str | None = None,
                   max_windows: int = 500, permutations: int = 8, seed: int = 0,
                   customer: str | None = None) -> dict[str, Any]:  # fmt: skip
    """Attributions by family of a bundle's forecasts (a model or an ensemble) on windows of
    `frame`; writes families.csv, by_step.csv, explain.json, report.html (and members.csv,
    waterfall.png) into `output`. An anomaly bundle's scores are explained by
    `serving.explain_anomaly.explain_anomaly_bundle`."""
    import time

    from serving.load import load_bundle

    t0 = time.perf_counter()
    bundle = load_bundle(folder)
    if not bundle_kind(bundle.kind).forecasts:
        raise InputError(
            f"{folder}: a {bundle.kind!r} bundle scores anomalies: "
            "serving.explain_anomaly explains it"
        )
    origins = daily_origins(frame, tz, 28, end, start)
    combines = bundle_kind(bundle.kind).layout == "members"
    members = bundle.members if combines else {"": bundle}
    built = {name: bundle_inputs(b, frame, origins, static) for name, b in members.items()}
    first = next(iter(built.values()))
    if any(len(i) == 0 for i in built.values()):
        raise InputError(
            f"no forecast windows at the origins {origins[0].date()}..{origins[-1].date()}"
        )
    pairs = pick_pairs(first.index, max_windows, seed, customer)
    parts = {name: attributions(members[name], only_pairs(i, pairs), permutations, seed)
             for name, i in built.items()}  # fmt: skip
    if combines:
        m = bundle.manifest
        att = ensemble_attributions(parts, np.asarray(m["weights"]), m["blocks"])
    else:
        att = parts[""]
    return write_report(output, bundle, folder, att, time.perf_counter() - t0, permutations, customer,
                  tz)  # fmt: skip


def write_report(output: Path, bundle: Any, folder: str | Path, att: Attributions, seconds: float,
           permutations: int, customer: str | None, tz: str = "UTC",
           extra: dict[str, Any] | None = None, where: str = "onnxruntime") -> dict[str, Any]:  # fmt: skip
    """Write the tables, explain.json and report.html; `bundle` needs `kind` and `quantiles`;
    `extra` adds keys to the summary and, under `extra["html"]`, a section to the report."""
    output.mkdir(parents=True, exist_ok=True)
    quantiles = bundle.quantiles
    mid = quantiles.index(0.5) if 0.5 in quantiles else len(quantiles) // 2
    a = np.abs(att.kwh)
    mean_abs = a[..., mid].mean(axis=0)
    table = pd.DataFrame({"family": att.names, "description": att.descriptions,
                          "mean_abs_kwh": mean_abs, "share": mean_abs / max(mean_abs.sum(), 1e-12),
                          "mean_kwh": att.kwh[..., mid].mean(axis=0)})  # fmt: skip
    for qi, q in enumerate(quantiles):
        table[f"share_{quantile_column(q)}"] = a[..., qi].mean(axis=0) / max(
            a[..., qi].mean(axis=0).sum(), 1e-12
        )
    table = table.sort_values("share", ascending=False, ignore_index=True)
    table.to_csv(output / "families.csv", index=False)
    steps = att.index["step"].to_numpy()
    by_step = pd.DataFrame([{"step": int(s), **dict(zip(att.names, a[steps == s][..., mid].mean(axis=0),
                                                          strict=True))} for s in np.unique(steps)])  # fmt: skip
    by_step.to_csv(output / "by_step.csv", index=False)
    files = ["families.csv", "by_step.csv", "report.html"]
    if att.members:
        pd.DataFrame({"member": list(att.members), "share": list(att.members.values())}).to_csv(
            output / "members.csv", index=False
        )
        files.append("members.csv")
    story = _customer_story(att, quantiles, mid, customer, output, tz)
    if (output / "waterfall.png").exists() and story:
        files.append("waterfall.png")
    pairs = att.index[[SERIES, "origin"]].drop_duplicates()
    summary = {
        "bundle": str(folder), "kind": bundle.kind, "explainer": "permutation Shapley on families "
        f"({permutations} orders, antithetic), interventional at the windows' mean, {where}",
        "windows": len(pairs), "rows": len(att.index),
        "families": table[["family", "share"]].to_dict("records"),
        "members": att.members or None, "additivity_max_abs_error": att.additivity,
        "seconds": seconds, "output_units": "target units, before the quantiles are sorted",
        "customer": story, "files": files,
        **{k: v for k, v in (extra or {}).items() if k != "html"},
    }  # fmt: skip
    write_json(output / "explain.json", summary)
    page = _html(summary, table, by_step).replace(
        "</body>", (extra or {}).get("html", "") + "</body>"
    )
    (output / "report.html").write_text(page, encoding="utf-8")
    return summary


def _customer_story(att: Attributions, quantiles: list[float], mid: int, customer: str | None,
                    output: Path, tz: str = "UTC") -> dict[str, Any] | None:  # fmt: skip
    """Why one household's forecast from its latest origin is what it is: the horizon summed,
    a sentence and a waterfall plot."""
    if customer is None:
        return None
    idx = att.index
    mine = (idx[SERIES].astype(str) == customer).to_numpy()
    if not mine.any():
        raise InputError(f"--customer {customer!r} has no forecast window in the explained span")
    origin = idx["origin"][mine].max()
    rows = np.flatnonzero(mine & (idx["origin"] == origin).to_numpy())
    contrib = att.kwh[rows, :, mid].sum(axis=0)
    total, typical = float(att.out[rows, mid].sum()), float(att.base[rows, mid].sum())
    order = np.argsort(-np.abs(contrib))
    lead = [f"{att.names[g]} {contrib[g]:+.2f} kWh" for g in order[:3]]
    text = (f"Household {customer}'s {quantile_column(quantiles[mid])} forecast from "
            f"{pd.Timestamp(origin).tz_convert(tz):%Y-%m-%d %H:%M} ({tz}) totals {total:.2f} kWh "
            "over the horizon, "
            f"{total - typical:+.2f} kWh against the same model with every family at the "
            f"windows' mean; the largest contributions: {', '.join(lead)}.")  # fmt: skip
    waterfall(contrib[order[:8]], [att.names[g] for g in order[:8]], typical, total, output)
    return {"series_id": customer, "origin": str(origin), "total_kwh": total,
            "baseline_kwh": typical, "text": text,
            "contributions_kwh": {att.names[g]: float(contrib[g]) for g in order}}  # fmt: skip


def waterfall(values: np.ndarray, labels: list[str], start: float, total: float, output: Path,
              unit: str = "kWh over the horizon", result: str = "forecast") -> None:  # fmt: skip
    """waterfall.png: from `start` (the baseline) through each contribution to `total`."""
    try:
        import matplotlib
    except ImportError:  # the serving install has no matplotlib: the text and JSON stand
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 0.45 * len(values) + 1.5))
    level = start
    for i, v in enumerate(values):
        ax.barh(i, v, left=level, color="#c0392b" if v > 0 else "#2471a3")
        ax.text(level + v, i, f" {v:+.2f}", va="center", fontsize=8)
        level += v
    levels = start + np.r_[0, np.cumsum(values)]
    pad = 0.08 * max(float(np.ptp(levels)), 1e-9)
    ax.set_xlim(float(levels.min()) - pad, float(levels.max()) + pad)
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    ax.axvline(start, color="grey", lw=0.8)
    ax.set_xlabel(f"{unit} (baseline {start:.2f}, {result} {total:.2f})")
    fig.tight_layout()
    fig.savefig(output / "waterfall.png", dpi=110)
    plt.close(fig)


def _html(summary: dict[str, Any], table: pd.DataFrame, by_step: pd.DataFrame) -> str:
    rows = "\n".join(
        f"<tr><td>{html.escape(r.family)}</td><td>{html.escape(r.description)}</td>"
        f"<td>{r.share:.1%}</td><td>{r.mean_abs_kwh:.4f}</td><td>{r.mean_kwh:+.4f}</td></tr>"
        for r in table.itertuples(index=False)
    )
    steps = by_step.round(4).to_html(index=False)
    members = summary["members"]
    shares = ("<h2>Ensemble members (share of the combined attributions)</h2><p>"
              + ", ".join(f"{html.escape(k)} {v:.0%}" for k, v in members.items()) + "</p>"
              ) if members else ""  # fmt: skip
    story = summary["customer"]
    who = (f"<h2>One household</h2><p>{html.escape(story['text'])}</p>"
           '<img src="waterfall.png" alt="waterfall">') if story else ""  # fmt: skip
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>What drives the forecast</title>
<style>body{{font-family:sans-serif;max-width:1000px;margin:2em auto}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:3px 8px}}</style></head>
<body><h1>What drives the forecast: {html.escape(summary["kind"])} bundle</h1>
<p>Bundle <code>{html.escape(summary["bundle"])}</code>; {summary["windows"]:,} windows
({summary["rows"]:,} rows); {html.escape(summary["explainer"])}. Attributions + base = output
within {summary["additivity_max_abs_error"]:.1e}; {summary["seconds"]:.1f} s.</p>
<h2>Families, by share of mean |attribution| (P50, kWh)</h2>
<table><tr><th>family</th><th>what it is</th><th>share</th><th>mean |kWh|</th>
<th>mean kWh</th></tr>
{rows}</table>
<h2>By step ahead (mean |kWh|, P50)</h2>
{steps}
{shares}
{who}
</body></html>
"""
