"""Why the anomaly autoencoder finds a day unusual: Shapley values of families of its input.

The quantity explained is the detector's window signal for one window of a day that starts
at local midnight: the mean |reconstruction - load| over the window's observed intervals,
standardised as the detector standardises it (0 at the calibration period's median, 1 at
its false-alarm quantile). The families:
- the readings, by quarter of the window (for a day at local midnight: night 00-06,
  morning 06-12, afternoon 12-18, evening 18-24);
- the household's usual profile (the expected-load channel: the same hour's mean over the
  lookback days);
- the calendar.
A family of readings is "absent" when its readings are replaced by the household's usual
profile for those hours, so its attribution is how much its departure from the usual day
adds to the score; the usual profile and the calendar take the mean over the windows.
Shapley values by permutation sampling over the families (`serving.explain.group_shapley`):
attributions + the score of the usual day = the score, for every window.

`run` maps the graph input to the reconstruction: the bundle's graph on onnxruntime
(torch-free) or the native network (`forecasting explain --run`).
"""

from __future__ import annotations

import html
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecasting.data.schema import SERIES
from forecasting.errors import InputError
from forecasting.folders import write_json
from serving.explain import Family, daily_origins, group_shapley, waterfall

PARTS = ("night 00-06", "morning 06-12", "afternoon 12-18", "evening 18-24")


def anomaly_families(window: int, channels: int, day_long: bool) -> list[Family]:
    """The readings by quarter of the window, the usual profile, the calendar."""
    fams = []
    bounds = np.linspace(0, window, 5).round().astype(int)
    for q in range(4):
        mask = np.zeros((window, channels), bool)
        mask[bounds[q] : bounds[q + 1], 0] = True
        name = f"readings, {PARTS[q]}" if day_long else f"readings, quarter {q + 1} of the window"
        fams.append(Family(name, "the household's readings in these hours", {"window": mask}))
    usual = np.zeros((window, channels), bool)
    usual[:, 1] = True
    fams.append(Family("usual profile", "the same hour's mean over the lookback days",
                       {"window": usual}))  # fmt: skip
    if channels > 2:
        cal = np.zeros((window, channels), bool)
        cal[:, 2:] = True
        fams.append(Family("calendar", "hour, weekday, season and holidays", {"window": cal}))
    return fams


def window_score(reconstruct: Any, mask: np.ndarray, standard: list[float]) -> Any:
    """graph inputs -> the standardised window signal [N, 1, 1] of windows with `mask`."""
    mid, spread = standard
    observed = mask > 0

    def run(arrays: dict[str, np.ndarray]) -> np.ndarray:
        x = arrays["window"]
        err = np.abs(np.asarray(reconstruct(x), dtype="float64") - x[:, :, 0])
        err = np.where(observed, err, 0.0).sum(axis=1) / np.maximum(observed.sum(axis=1), 1)
        return ((err - mid) / spread)[:, None, None]

    return run


def explain_windows(reconstruct: Any, x: np.ndarray, mask: np.ndarray, standard: list[float],
                    day_long: bool, permutations: int, seed: int
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[Family]]:  # fmt: skip
    """(attributions [N, family], the usual day's score [N], the score [N], the families)."""
    fams = anomaly_families(x.shape[1], x.shape[2], day_long)
    base = x.astype("float64").mean(axis=0)[None].repeat(len(x), axis=0)
    base[:, :, 0] = x[:, :, 1]  # readings absent: the usual profile for those hours
    phi, b, out = group_shapley(window_score(reconstruct, mask, standard), {"window": x}, fams,
                                {"window": base.astype(x.dtype)}, permutations, seed)  # fmt: skip
    return phi[:, :, 0, 0], b[:, 0, 0], out[:, 0, 0], fams


def explain_scores(reconstruct: Any, built: tuple[Any, np.ndarray, np.ndarray], meta: dict[str, Any],
                   output: Path, kind: str, source: str, where: str, tz: str,
                   max_windows: int = 500, permutations: int = 8, seed: int = 0,
                   customer: str | None = None, t0: float | None = None) -> dict[str, Any]:  # fmt: skip
    """Explain the most unusual daily windows of `built` (sequences, inputs, mask, from the
    bundle's or the run's recipe) and write anomaly_families.csv, windows.csv, explain.json,
    report.html (and waterfall.png for `customer`)."""
    t0 = time.perf_counter() if t0 is None else t0
    s, x, mask = built
    keep = mask.mean(axis=1) >= 0.5
    if not keep.any():
        raise InputError("no window of a day has half its readings to explain")
    s_index = s.index[keep].reset_index(drop=True)
    x, mask = x[keep], mask[keep]
    standard = list(meta["standard"]["window"])
    score = window_score(reconstruct, mask, standard)({"window": x})[:, 0, 0]
    take = np.argsort(-score)[: min(max_windows, len(score))]  # the most unusual days
    if customer is not None:
        mine = np.flatnonzero((s_index[SERIES].astype(str) == customer).to_numpy())
        if not len(mine):
            raise InputError(f"--customer {customer!r} has no window of a day in the span")
        take = np.union1d(take, mine[[np.argmax(score[mine])]])
    step = pd.Timedelta(meta["freq"])
    day_long = x.shape[1] * step == pd.Timedelta("1D")
    phi, base, out, fams = explain_windows(reconstruct, x[take], mask[take], standard, day_long,
                                           permutations, seed)  # fmt: skip
    names = [f.name for f in fams]
    index = s_index.iloc[take].reset_index(drop=True)
    output.mkdir(parents=True, exist_ok=True)
    a = np.abs(phi).mean(axis=0)
    table = pd.DataFrame({"family": names, "description": [f.description for f in fams],
                          "mean_abs": a, "share": a / max(a.sum(), 1e-12),
                          "mean": phi.mean(axis=0)}).sort_values("share", ascending=False)  # fmt: skip
    table.to_csv(output / "anomaly_families.csv", index=False)
    windows = index.assign(day=pd.DatetimeIndex(index["origin"]).tz_convert(tz).date, score=out,
                           usual_day_score=base, **{n: phi[:, i] for i, n in enumerate(names)})  # fmt: skip
    windows.sort_values("score", ascending=False).to_csv(output / "windows.csv", index=False)
    additivity = float(np.max(np.abs(phi.sum(axis=1) + base - out))) if len(out) else 0.0
    files = ["anomaly_families.csv", "windows.csv", "report.html"]
    story = None
    if customer is not None:
        rows = np.flatnonzero((index[SERIES].astype(str) == customer).to_numpy())
        r = int(rows[np.argmax(out[rows])])
        order = np.argsort(-np.abs(phi[r]))
        day = windows["day"].iloc[r]
        lead = [f"{names[g]} {phi[r, g]:+.2f}" for g in order[:3]]
        text = (f"Household {customer}'s most unusual day in the span is {day}: its score is "
                f"{out[r]:.2f} (the flag threshold's scale: 0 a median day, 1 the false-alarm "
                f"quantile), {out[r] - base[r]:+.2f} against its usual profile; the largest "
                f"contributions: {', '.join(lead)}.")  # fmt: skip
        waterfall(phi[r, order], [names[g] for g in order], float(base[r]), float(out[r]),
                  output, "window score", "score")  # fmt: skip
        if (output / "waterfall.png").exists():
            files.append("waterfall.png")
        story = {"series_id": customer, "day": str(day), "score": float(out[r]),
                 "usual_day_score": float(base[r]), "text": text,
                 "contributions": {names[g]: float(phi[r, g]) for g in order}}  # fmt: skip
    summary = {
        "source": source, "kind": kind,
        "explained": "the window signal of days from local midnight, standardised "
        "(0: the calibration median, 1: its false-alarm quantile)",
        "explainer": f"permutation Shapley on families ({permutations} orders, antithetic); "
        f"readings absent = the usual profile; {where}",
        "windows_scored": len(score), "windows": len(take),
        "families": table[["family", "share"]].to_dict("records"),
        "additivity_max_abs_error": additivity, "seconds": time.perf_counter() - t0,
        "customer": story, "members": None, "files": files,
    }  # fmt: skip
    write_json(output / "explain.json", summary)
    top = windows.sort_values("score", ascending=False).head(15)
    (output / "report.html").write_text(_html(summary, table, top, names), encoding="utf-8")
    return summary


def explain_anomaly_bundle(folder: str | Path, frame: pd.DataFrame, output: Path, tz: str,
                           start: str | None = None, end: str | None = None,
                           max_windows: int = 500, permutations: int = 8, seed: int = 0,
                           customer: str | None = None) -> dict[str, Any]:  # fmt: skip
    """Explain an anomaly bundle's scores of the days of `frame` on onnxruntime."""
    from serving.kinds import bundle_kind
    from serving.load import load_bundle

    t0 = time.perf_counter()
    bundle = load_bundle(folder)
    chunk = bundle_kind(bundle.kind).session_batch

    def reconstruct(x: np.ndarray) -> np.ndarray:
        return bundle.run({"window": x}, chunk)[0]

    built = bundle.load_windows(frame, daily_origins(frame, tz, 28, end, start))
    return explain_scores(reconstruct, built, bundle.manifest["model"], output, bundle.kind,
                          str(folder), "onnxruntime", tz, max_windows, permutations, seed,
                          customer, t0)  # fmt: skip


def _html(summary: dict[str, Any], table: pd.DataFrame, top: pd.DataFrame,
          names: list[str]) -> str:  # fmt: skip
    rows = "\n".join(
        f"<tr><td>{html.escape(r.family)}</td><td>{html.escape(r.description)}</td>"
        f"<td>{r.share:.1%}</td><td>{r.mean:+.3f}</td></tr>"
        for r in table.itertuples(index=False)
    )
    cols = [SERIES, "day", "score", "usual_day_score", *names]
    story = summary["customer"]
    who = (f"<h2>One household</h2><p>{html.escape(story['text'])}</p>"
           '<img src="waterfall.png" alt="waterfall">') if story else ""  # fmt: skip
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Why these days look unusual</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:3px 8px}}</style></head>
<body><h1>Why these days look unusual: {html.escape(summary["kind"])}</h1>
<p><code>{html.escape(summary["source"])}</code>: the {summary["windows"]:,} most unusual of
{summary["windows_scored"]:,} days; {html.escape(summary["explained"])};
{html.escape(summary["explainer"])}. Attributions + the usual day's score = the score within
{summary["additivity_max_abs_error"]:.1e}; {summary["seconds"]:.1f} s.</p>
<h2>Families, by share of mean |attribution|</h2>
<table><tr><th>family</th><th>what it is</th><th>share</th><th>mean</th></tr>
{rows}</table>
<h2>The most unusual days</h2>
{top[cols].round(3).to_html(index=False)}
{who}
</body></html>
"""
