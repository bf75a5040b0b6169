"""`forecasting explain --run` on a deep model: on a forecaster (CNN-LSTM, TFT), Shapley
values of the same feature families as the bundle explainer (serving/explain.py), on the
native network; on the LSTM autoencoder, why days look unusual (serving/explain_anomaly.py)
with the native network reconstructing.

Why not GradientExplainer or DeepExplainer: the networks read household attributes through
embeddings of integer codes, which carry no gradient, and DeepExplainer's rules do not cover
the LSTM's gates or attention; expected gradients would also explain single input cells, not
the families a person reads. The family Shapley values need only the network's forward pass,
hold additivity exactly, and are the same quantity the bundle explainer computes on the
exported graph, so the two can be compared cell for cell. Beside them, the network's own
attention over the history (how much each forecast step attends to each past hour), summed
into the same history bands, with how far its ranking of the bands agrees with Shapley's.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecasting.config.data import load_data_config
from forecasting.data.prepare import prepare
from forecasting.errors import InputError
from serving.explain import (
    Inputs,
    attributions_of,
    daily_origins,
    history_band,
    only_pairs,
    pick_pairs,
    write_report,
)

HISTORY_BANDS = ["last 24 h", "earlier this week", "a week back and more"]
HORIZON_BAND = "the forecast horizon itself"  # the TFT's attention to its decoder steps


class _Meta:
    def __init__(self, kind: str, quantiles: list[float]) -> None:
        self.kind, self.quantiles = kind, quantiles


def sequence_inputs(model: Any, frame: pd.DataFrame, origins: pd.DatetimeIndex,
                    static: pd.DataFrame | None) -> Inputs:  # fmt: skip
    s = model.sequences(frame, origins, static)
    names = ["past", "future", "static_cat", "static_real"]
    return Inputs(dict(zip(names, s.arrays()[:4], strict=True)), s.index, s.scale,
                  {k: list(model.columns_[k]) for k in names}, "sequences")  # fmt: skip


def native_output(model: Any, batch: int = 1024) -> Any:
    """inputs -> the network's quantiles before the window's scale is undone (float64)."""
    import torch

    names = ["past", "future", "static_cat", "static_real"]

    def run(arrays: dict[str, np.ndarray]) -> np.ndarray:
        n = len(arrays["past"])
        out = []
        with torch.no_grad():
            for i in range(0, n, batch):
                p, _ = model.net_(*[torch.from_numpy(np.ascontiguousarray(arrays[k][i : i + batch]))
                                    for k in names])  # fmt: skip
                out.append(p.numpy().astype("float64"))
        return np.concatenate(out) if out else np.zeros((0, model.horizon, len(model.quantiles)))

    return run


def attention_by_band(model: Any, inputs: Inputs, step: pd.Timedelta) -> pd.DataFrame:
    """The network's attention over the lookback, averaged over windows and steps ahead and
    summed into history bands (the last hour before the origin is the last position)."""
    import torch

    names = ["past", "future", "static_cat", "static_real"]
    with torch.no_grad():
        _, a = model.net_(
            *[torch.from_numpy(np.ascontiguousarray(inputs.arrays[k])) for k in names]
        )
    weights = a.numpy().mean(axis=(0, 1))  # [lookback]
    L = len(weights)
    band = [history_band(L - t, step, target_relative=False) for t in range(L)]
    out = pd.DataFrame({"band": band, "attention": weights}).groupby("band")["attention"].sum()
    out = out.reindex([b for b in HISTORY_BANDS if b in out.index]).reset_index()
    horizon = 1.0 - float(weights.sum())  # the TFT also attends to the horizon's own steps
    if horizon > 1e-6:
        out = pd.concat([out, pd.DataFrame({"band": [HORIZON_BAND], "attention": [horizon]})])
    return out.reset_index(drop=True)


def _daily_span(run_dir: Path, data_config: str | Path | None, input_path: str | None,
                start: str | None, end: str | None) -> tuple[Any, str, pd.DatetimeIndex]:  # fmt: skip
    """(the prepared data, its timezone, its local midnights from `start` to `end`, default
    the last 28 days)."""
    cfg = load_data_config(data_config or run_dir / "data_config.yaml")
    prepared = prepare(cfg, input_path)
    tz = cfg.calendar.timezone
    return prepared, tz, daily_origins(prepared.frame, tz, 28, end, start)


def explain_deep_run(model: Any, meta: dict[str, Any], run_dir: Path, output: Path,
                     input_path: str | None, data_config: str | Path | None,
                     start: str | None, end: str | None, windows: int, permutations: int,
                     customer: str | None, seed: int = 0) -> dict[str, Any]:  # fmt: skip
    t0 = time.perf_counter()
    prepared, tz, origins = _daily_span(run_dir, data_config, input_path, start, end)
    inputs = sequence_inputs(model, prepared.frame, origins, prepared.static)
    if len(inputs) == 0:
        raise InputError(
            f"no forecast windows at the origins {origins[0].date()}..{origins[-1].date()}"
        )
    inputs = only_pairs(inputs, pick_pairs(inputs.index, windows, seed, customer))
    step = pd.Timedelta(model.freq)
    att = attributions_of(native_output(model), inputs, model.features.in_intervals(step), step,
                          set(model.categories_), permutations, seed)  # fmt: skip
    # both deep forecasters return their attention over the history beside the quantiles
    table = attention_by_band(model, inputs, step)
    mid = model.quantiles.index(0.5) if 0.5 in model.quantiles else len(model.quantiles) // 2
    shap = {n: float(np.abs(att.kwh[:, i, mid]).mean()) for i, n in enumerate(att.names)}
    table["shapley_share"] = [shap.get(b, np.nan) for b in table["band"]]
    total = table["shapley_share"].sum() or 1.0
    table["shapley_share"] = table["shapley_share"] / total
    bands = table[table["band"] != HORIZON_BAND]  # the horizon's steps have no Shapley band
    agree = _rank_agreement(bands["attention"].to_numpy(), bands["shapley_share"].to_numpy())
    records = table.astype(object).where(table.notna(), None).to_dict("records")  # JSON: null
    extra = {"attention_by_band": records, "attention_rank_agreement": agree,
             "html": "<h2>The network's own attention over the history</h2>"
             + table.round(4).to_html(index=False)
             + f"<p>Rank agreement (Spearman) with the Shapley shares of the same bands: "
             f"{agree:+.2f}.</p>"}  # fmt: skip
    if hasattr(model, "importance"):  # the TFT's variable selection, by family
        selection = selection_by_family(model, inputs, prepared, origins, att, mid)
        extra["variable_selection"] = selection.to_dict("records")
        extra["selection_rank_agreement"] = _rank_agreement(
            selection["selection"].to_numpy(), selection["shapley_share"].to_numpy()
        )
        extra["html"] += ("<h2>The TFT's own variable selection</h2>"
                          + selection.round(4).to_html(index=False)
                          + "<p>Rank agreement (Spearman) with the Shapley shares: "
                          f"{extra['selection_rank_agreement']:+.2f}.</p>")  # fmt: skip
    s = write_report(output, _Meta(meta["kind"], list(model.quantiles)), run_dir, att,
               time.perf_counter() - t0, permutations, customer, tz, extra, "the native network")  # fmt: skip
    if "attention_by_band" in s:
        pd.DataFrame(s["attention_by_band"]).to_csv(output / "attention.csv", index=False)
        s["files"].append("attention.csv")
    return s


def selection_by_family(model: Any, inputs: Inputs, prepared: Any, origins: pd.DatetimeIndex,
                        att: Any, mid: int) -> pd.DataFrame:  # fmt: skip
    """The TFT's mean variable-selection weights (static, encoder and decoder, each summing to
    1, weighted alike) summed into families, beside the Shapley shares of the same families;
    the past target and its observed flag are one family, `history`, on both sides."""
    from serving.explain import family_of

    pairs = inputs.index[["series_id", "origin"]].drop_duplicates()
    frame = prepared.frame[
        prepared.frame["series_id"].astype(str).isin(pairs["series_id"].astype(str))
    ]
    weights = model.importance(frame, pd.DatetimeIndex(pairs["origin"].unique()), prepared.static)
    f = model.features.in_intervals(pd.Timedelta(model.freq))
    known, observed = set(f.known_future), set(f.observed)
    step = pd.Timedelta(model.freq)
    by: dict[str, float] = {}
    for where, series in (("static_real", weights["static"]), ("past", weights["encoder"]),
                          ("future", weights["decoder"])):  # fmt: skip
        for label, w in series.items():
            name, at = str(label), where  # the network names its inputs past_x, future_x, ...
            for prefix, part in (
                ("past_", "past"),
                ("future_", "future"),
                ("static_", "static_real"),
            ):
                if name.startswith(prefix):
                    name, at = name[len(prefix) :], part
            fam = family_of(name, at, known, observed, list(f.static), step, "temperature")
            fam = "history" if fam is None or fam in HISTORY_BANDS else fam
            by[fam] = by.get(fam, 0.0) + float(w) / 3
    shap: dict[str, float] = {}
    for i, n in enumerate(att.names):
        key = "history" if n in HISTORY_BANDS else n
        shap[key] = shap.get(key, 0.0) + float(np.abs(att.kwh[:, i, mid]).mean())
    total = sum(shap.values()) or 1.0
    out = pd.DataFrame({"family": list(by), "selection": list(by.values())})
    out["shapley_share"] = [shap.get(k, 0.0) / total for k in out["family"]]
    return out.sort_values("selection", ascending=False, ignore_index=True)


def _rank_agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation of two short vectors (1: the same order)."""
    if len(a) < 2:
        return 1.0
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1]) if np.std(ra) and np.std(rb) else 1.0


def explain_anomaly_run(model: Any, meta: dict[str, Any], run_dir: Path, output: Path,
                        input_path: str | None, data_config: str | Path | None,
                        start: str | None, end: str | None, windows: int, permutations: int,
                        customer: str | None, seed: int = 0) -> dict[str, Any]:  # fmt: skip
    """The autoencoder's window scores of the days in the span, explained by family."""
    from serving.explain_anomaly import explain_scores

    t0 = time.perf_counter()
    prepared, tz, origins = _daily_span(run_dir, data_config, input_path, start, end)
    built = model._windows(prepared.frame, origins)

    def reconstruct(x: np.ndarray) -> np.ndarray:  # the detector's own batched forward pass
        return model._run(np.ascontiguousarray(x))[0]

    return explain_scores(reconstruct, built, {"standard": model.standard_, "freq": model.freq},
                          output, meta["kind"], str(run_dir), "the native network", tz, windows,
                          permutations, seed, customer, t0)  # fmt: skip
