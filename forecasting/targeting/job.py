"""`forecasting target-signals`: learn each treated household's response to past signals,
then replay the later events choosing whom to signal, against sending to everyone and to
random sets of the same size.

Reads the trial through its elasticity config (readings as `data validate` reads them, the
signal from the dynamic tariff, the treated flag and groups from the static columns).
Events before `learn_until` teach the model (every treated household received every signal
in a trial, so all their responses are observed); the events from it on are replayed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecasting.errors import InputError
from forecasting.folders import write_json
from forecasting.response.config import load_elasticity_config
from forecasting.response.job import load_trial
from forecasting.targeting.config import TargetingConfig
from forecasting.targeting.events import Responses, hour_weights, measure_responses
from forecasting.targeting.policy import Rule, replay
from forecasting.targeting.posterior import (
    GridSpec,
    Posterior,
    engagement_category,
    fit_priors,
    log_likelihood,
)
from forecasting.tariffs.calendar import PriceSignal
from forecasting.tariffs.spec import Dynamic


def trial_matrix(cfg: TargetingConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                                  pd.DatetimeIndex, np.ndarray, str, str, dict[str, Any]]:  # fmt: skip
    """(kWh [household, interval], treated, ids, groups, grid times UTC, level per interval,
    reference level, timezone, facts) of the trial."""
    trial = load_elasticity_config(cfg.trial.expanded)
    panel, facts, data, tariff = load_trial(trial)
    assert isinstance(tariff.energy, Dynamic)
    r = panel.readings
    levels_known = set(tariff.energy.rates)
    unknown = sorted(set(cfg.target) - levels_known)
    if unknown:
        raise InputError(f"target for {', '.join(map(repr, unknown))}: not a level of the "
                         f"tariff {trial.tariff} (levels: {', '.join(levels_known)})")  # fmt: skip
    bad = sorted({w.level for w in cfg.hour_weights} - levels_known)
    if bad:
        raise InputError(f"hour_weights for {', '.join(map(repr, bad))}: not a level of the "
                         f"tariff (levels: {', '.join(levels_known)})")  # fmt: skip
    step = panel.step
    t = pd.DatetimeIndex(r["timestamp"])
    times = pd.date_range(t.min(), t.max(), freq=step)
    ids, pos = np.unique(r["series_id"].to_numpy(), return_inverse=True)
    kwh = np.full((len(ids), len(times)), np.nan)
    kwh[pos, ((t - times[0]) // step).to_numpy()] = r["kwh"].to_numpy(float)
    hh = panel.households.set_index("series_id").reindex(ids)
    codes = PriceSignal(tariff.energy).levels(times, step)
    names = np.array(list(tariff.energy.rates), dtype=object)
    levels = np.where(codes >= 0, names[np.maximum(codes, 0)], trial.reference)
    tz = trial.timezone or data.calendar.timezone
    return (kwh, hh["treated"].to_numpy(bool), ids, hh["group"].astype(str).to_numpy(), times,
            levels, trial.reference, tz, facts)  # fmt: skip


def run_targeting(cfg: TargetingConfig, output: Path,
                  echo: Callable[[str], None] | None = None) -> dict[str, Any]:  # fmt: skip
    say = echo or (lambda _: None)
    kwh, treated, ids, groups, times, levels, reference, tz, facts = trial_matrix(cfg)
    learn_end = int(
        np.searchsorted(times, pd.Timestamp(cfg.learn_until).tz_localize(tz).tz_convert("UTC"))
    )
    if not 0 < learn_end < len(times):
        raise InputError(
            f"learn_until {cfg.learn_until} is outside the trial ({times[0]} to {times[-1]})"
        )
    weights = hour_weights(times, levels, cfg.hour_weights, tz)
    say(f"measuring responses of {int(treated.sum())} treated households against "
        f"{int((~treated).sum())} control households ...")  # fmt: skip
    resp = measure_responses(kwh, treated, ids, groups, times, levels, reference,
                             weights, tz, cfg.placebo_days, cfg.min_coverage)  # fmt: skip
    ev = resp.events
    learn = np.flatnonzero(ev.start < learn_end)
    test = np.flatnonzero(ev.start >= learn_end)
    if not len(learn) or not len(test):
        raise InputError(f"learn_until {cfg.learn_until}: {len(learn)} events before it and "
                         f"{len(test)} from it; both halves need events")  # fmt: skip
    grid = GridSpec.make(cfg.grid.engagement, cfg.grid.response, cfg.grid.response_max)
    rng = np.random.default_rng(cfg.seed)
    posts, priors, frozen = {}, {}, {}
    for level in cfg.target:
        mine = learn[ev.level[learn] == level]
        if not len(mine):
            raise InputError(f"no {level} event before learn_until {cfg.learn_until} to learn from")
        say(f"fitting the {level} response on {len(mine)} events ...")
        ll = log_likelihood(grid, resp.y[:, mine], resp.noise[:, mine])
        priors[level] = fit_priors(grid, ll, resp.groups)
        posts[level] = Posterior.start(grid, priors[level], resp.groups, ll)
        frozen[level] = Posterior(grid, posts[level].log_post.copy())
    posterior = _posterior_table(resp, frozen, learn)
    calibration, bins = _calibration(resp, frozen, test, rng)
    rule = Rule(cfg.policy.rule, cfg.policy.confidence, cfg.policy.kappa, cfg.max_signals)
    say(f"replaying {len(test)} events ...")
    replays = replay(resp, test, posts, cfg.target, rule, rng, cfg.random_repeats)
    events = pd.concat([pd.DataFrame(r.rows).assign(policy=name) for name, r in replays.items()],
                       ignore_index=True)  # fmt: skip
    policies = _policy_table(events)
    versus = _versus(events, f"bayes ({rule.name})", rng)
    output.mkdir(parents=True, exist_ok=True)
    posterior.to_csv(output / "posterior.csv", index=False)
    events.to_csv(output / "events.csv", index=False)
    bins.to_csv(output / "calibration.csv", index=False)
    summary = {
        "trial": str(cfg.trial), "learn_until": str(cfg.learn_until), "facts": facts,
        "treated": int(treated.sum()), "control": int((~treated).sum()),
        "events": {"learn": len(learn), "test": len(test),
                   "by_level": pd.Series(ev.level).value_counts().to_dict()},
        "targets": cfg.target, "rule": rule.__dict__,
        "model": "grid posterior (exact on the grid) of engagement x response, hierarchical "
                 "group priors by empirical Bayes; see forecasting/targeting/posterior.py",
        "priors": {lv: {g: _describe(p) for g, p in pr.items()} for lv, pr in priors.items()},
        "policies": policies.to_dict(orient="records"), "versus": versus,
        "calibration": calibration,
        "engagement": posterior.groupby(["level", "engagement_category"]).size().unstack(fill_value=0).to_dict(orient="index"),
        "files": ["posterior.csv", "events.csv", "calibration.csv", "summary.json", "report.html"],
    }  # fmt: skip
    write_json(output / "summary.json", summary)
    from forecasting.targeting.report import write_report

    write_report(output / "report.html", summary, posterior, policies, bins)
    return summary


def _describe(p: np.ndarray) -> dict[str, float]:
    m, c = 1 / (1 + np.exp(-p[0])), float(np.exp(p[1]))
    return {"engagement_mean": float(m), "engagement_concentration": c,
            "response_mean": float(p[2]), "response_sd": float(np.exp(p[3]))}  # fmt: skip


def _posterior_table(
    resp: Responses, posts: dict[str, Posterior], learn: np.ndarray
) -> pd.DataFrame:
    rows = []
    for level, post in posts.items():
        s = post.summary()
        seen = np.isfinite(resp.y[:, learn[resp.events.level[learn] == level]]).sum(axis=1)
        rows.append(pd.DataFrame({
            "series_id": resp.ids, "group": resp.groups, "level": level, "events_seen": seen,
            "engagement": s["engagement"], "p_engaged": s["p_engaged"],
            "engagement_category": engagement_category(s["engagement"]),
            "response_if_responding": s["response_mean"], "response_sd": s["response_sd"],
            "expected_change": s["expected_change"], "expected_change_sd": s["change_sd"],
        }))  # fmt: skip
    return pd.concat(rows, ignore_index=True)


def _calibration(resp: Responses, posts: dict[str, Posterior], test: np.ndarray,
                 rng: np.random.Generator) -> tuple[dict[str, Any], pd.DataFrame]:  # fmt: skip
    """The learning-half posterior's 90% predictive intervals against the test events'
    observed responses (every treated household, every test event), and predicted against
    observed means in bins of the prediction."""
    out, frames = {}, []
    for level, post in posts.items():
        mine = test[resp.events.level[test] == level]
        inside, pred, obs = [], [], []
        for e in mine:
            y = resp.y[:, e]
            lo, hi, mean = post.predictive_interval(resp.noise[:, e], 0.9, rng, draws=1000)
            ok = np.isfinite(y)
            inside.append(((y >= lo) & (y <= hi))[ok])
            pred.append(mean[ok])
            obs.append(y[ok])
        if not inside:
            continue
        ins, p, o = np.concatenate(inside), np.concatenate(pred), np.concatenate(obs)
        q = pd.qcut(p, min(5, len(np.unique(p))), labels=False, duplicates="drop")
        b = pd.DataFrame({"pred": p, "obs": o, "bin": q}).groupby("bin").agg(
            predicted=("pred", "mean"), observed=("obs", "mean"), n=("obs", "size")).reset_index()  # fmt: skip
        frames.append(b.assign(level=level))
        out[level] = {"household_events": len(ins), "coverage_90": float(ins.mean()),
                      "predicted_mean": float(p.mean()), "observed_mean": float(o.mean()),
                      "correlation": float(np.corrcoef(p, o)[0, 1]) if len(p) > 2 and p.std() > 0 else None}  # fmt: skip
    return out, pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _policy_table(events: pd.DataFrame) -> pd.DataFrame:
    return events.groupby(["policy", "level"]).agg(
        events=("event", "size"), signals_total=("signals", "sum"),
        signals_per_event=("signals", "mean"), households_per_event=("households", "mean"),
        target_pct=("target_pct", "mean"), achieved_pct=("achieved_pct", "mean"),
        mean_abs_error_pct=("abs_error_pct", "mean"), mean_shortfall_pct=("shortfall_pct", "mean"),
        reached_share=("reached", "mean"),
    ).reset_index()  # fmt: skip


def _versus(
    events: pd.DataFrame, mine: str, rng: np.random.Generator, boot: int = 2000
) -> dict[str, Any]:
    """P(the Bayesian policy's mean absolute error over the test events is below the other's),
    by a bootstrap over events, and the mean difference with a 90% interval; signals the same."""
    a = events[events["policy"] == mine].set_index("event")
    out = {}
    for other in ("all", "random", "random, sized to reach"):
        b = events[events["policy"] == other].set_index("event").reindex(a.index)
        d_err = (a["abs_error_pct"] - b["abs_error_pct"]).to_numpy()
        d_sig = (a["signals"] - b["signals"]).to_numpy(float)
        idx = rng.integers(0, len(d_err), (boot, len(d_err)))
        m = d_err[idx].mean(axis=1)
        out[other] = {  # ties (the same households signalled) count as not lower
            "p_lower_error": float((m < -1e-9).mean()),
            "error_difference_pct_points": float(d_err.mean()),
            "error_difference_ci90": [float(np.quantile(m, 0.05)), float(np.quantile(m, 0.95))],
            "signals_difference_per_event": float(d_sig.mean()),
        }  # fmt: skip
    return out
