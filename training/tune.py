"""`forecasting tune`: one Optuna study over one model family.

Each trial samples the tunable fields of the model config (`forecasting.config.model.tunable`),
fits the model on the training origins (early stopping and pruning on the validation
windows) and scores it with a rolling-origin backtest over the validation period: the
objective is the mean pinball loss over the quantiles, in target units.

The study lives in a real database (SQLite file by default, any SQLAlchemy URL): a killed
worker's finished trials stay, its running trial is marked failed once its heartbeat stops
and its parameters are tried again, and any number of workers (processes or machines) can
run the same study at once. When the study holds its trials, the best parameters are
trained into a normal run folder (`OUTPUT/best`) and `summary.json`, `history.png` are
written beside it.
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from forecasting.config.data import DataConfig, load_data_config
from forecasting.config.model import TrainConfig, load_train_config
from forecasting.config.tuning import ParamRange, TuningConfig, load_tuning_config
from forecasting.data.prepare import Prepared, prepare
from forecasting.data.schema import format_freq
from forecasting.errors import ConfigError, ForecastingError
from forecasting.evaluation.backtest import backtest
from forecasting.evaluation.metrics import pinball, quantile_column
from forecasting.folders import check_output_folder, write_json
from forecasting.models.kinds import model_kind
from training.train import fit_model, period_splitter, train

FINISHED = ("COMPLETE", "PRUNED")


@dataclass(frozen=True)
class Dimension:
    """One searched field: integer or float, its range and whether it is searched in log."""

    name: str
    kind: str  # "int" | "float"
    low: float
    high: float
    log: bool


def search_space(
    model_cls: Any, params: list[str] | None = None, ranges: dict[str, ParamRange] | None = None
) -> dict[str, Dimension]:
    """The fields of `model_cls` declared `tunable`, restricted to `params`, with `ranges`
    applied. Unknown or untunable names are a `ConfigError` that lists the tunable ones."""
    declared: dict[str, Dimension] = {}
    for name, field in model_cls.model_fields.items():
        extra = field.json_schema_extra
        tune = extra.get("tune") if isinstance(extra, dict) else None
        if not isinstance(tune, dict):
            continue
        kind = "int" if field.annotation is int else "float"
        declared[name] = Dimension(
            name, kind, float(tune["low"]), float(tune["high"]), bool(tune["log"])
        )
    kind_name = model_cls.model_fields["kind"].default
    for name in [*(params or []), *(ranges or {})]:
        if name not in declared:
            raise ConfigError(
                f"{name!r} is not a tunable field of {kind_name}; tunable: {', '.join(declared)}"
            )
    chosen = {n: d for n, d in declared.items() if params is None or n in params}
    for name, r in (ranges or {}).items():
        d = chosen.get(name, declared[name])
        low = d.low if r.low is None else r.low
        high = d.high if r.high is None else r.high
        log = d.log if r.log is None else r.log
        if high < low or (log and low <= 0):
            raise ConfigError(f"ranges.{name}: invalid range [{low}, {high}] (log={log})")
        chosen[name] = Dimension(name, d.kind, low, high, log)
    if not chosen:
        raise ConfigError(f"nothing to tune: no tunable field of {kind_name} is selected")
    return chosen


def suggest(trial: Any, space: dict[str, Dimension]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for d in space.values():
        if d.kind == "int":
            out[d.name] = trial.suggest_int(d.name, int(d.low), int(d.high), log=d.log)
        else:
            out[d.name] = trial.suggest_float(d.name, d.low, d.high, log=d.log)
    return out


def trial_config(
    base: TrainConfig, params: dict[str, Any], fixed: dict[str, Any], trainer: dict[str, Any]
) -> TrainConfig:
    """The base training config with the model fields `fixed` and `params` (params win) and
    the trainer overrides applied, validated again."""
    data = base.model_dump(mode="json")
    data["model"] = {**data["model"], **fixed, **params}
    if trainer:
        if data.get("trainer") is None:
            raise ConfigError(f"`trainer` overrides apply to deep models, not {base.model.kind}")
        data["trainer"] = {**data["trainer"], **trainer}
    try:
        return TrainConfig.model_validate(data)
    except ValueError as exc:
        raise ConfigError(f"the tuned config is invalid: {exc}") from None


def validation_score(
    model: Any, cfg: TrainConfig, data_cfg: DataConfig, prepared: Prepared
) -> dict[str, float]:
    """Rolling-origin backtest over the validation period: pinball per quantile, their mean
    (`loss`, the objective) and the MAE of the median, in target units."""
    assert cfg.validation is not None
    freq = format_freq(data_cfg.output_frequency.step)
    splitter = period_splitter(cfg.validation, cfg, data_cfg.calendar.timezone, freq)
    fc = backtest(model, prepared.frame, splitter, static=prepared.static)
    if len(fc) == 0:
        raise ConfigError("the validation backtest has no forecasts (no origins with history)")
    cols = [quantile_column(q) for q in cfg.quantiles]
    ok = fc[[*cols, "actual"]].notna().all(axis=1)
    y = fc.loc[ok, "actual"].to_numpy(float)
    out = {
        c: pinball(y, fc.loc[ok, c].to_numpy(float), q)
        for c, q in zip(cols, cfg.quantiles, strict=True)
    }
    out["loss"] = float(np.mean([out[c] for c in cols]))
    if "p50" in fc:
        out["mae"] = float(np.mean(np.abs(y - fc.loc[ok, "p50"].to_numpy(float))))
    out["rows"] = int(ok.sum())
    return out


# ------------------------------------------------------------------------------ storage
def default_storage(output: Path) -> str:
    output.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(output / 'study.db').resolve()}"


def open_storage(url: str, heartbeat_seconds: int) -> Any:
    """An RDB storage with heartbeats: a trial whose worker died is failed after two missed
    beats and its parameters are queued once more."""
    import warnings

    import optuna
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):  # several processes on one file: wait for the write lock
        kwargs["connect_args"] = {"timeout": 60}
    from sqlalchemy.exc import IntegrityError, OperationalError

    for attempt in range(6):
        try:
            with warnings.catch_warnings():  # heartbeats are marked experimental in optuna 5
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return RDBStorage(
                    url,
                    engine_kwargs=kwargs,
                    heartbeat_interval=heartbeat_seconds,
                    grace_period=2 * heartbeat_seconds,
                    heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=1),
                )
        except (IntegrityError, OperationalError) as exc:
            # workers started together race to create the tables: the loser tries again
            if attempt == 5:
                raise ConfigError(f"cannot open the study storage {safe_url(url)}: {exc}") from None
            time.sleep(0.5 * (attempt + 1))
        except Exception as exc:  # sqlalchemy errors: a bad URL, a missing driver, ...
            raise ConfigError(f"cannot open the study storage {safe_url(url)}: {exc}") from None
    raise AssertionError("unreachable")


def safe_url(url: str) -> str:
    """The URL without its password (for logs and the summary)."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]


def make_sampler(cfg: TuningConfig, worker: int, stored: int) -> Any:
    import optuna

    s = cfg.sampler
    seed = None if s.seed is None else s.seed + 1000 * worker + stored
    if s.kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=s.n_startup_trials)


def make_pruner(cfg: TuningConfig) -> Any:
    import optuna

    p = cfg.pruner
    if p.kind == "none":
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(
        n_startup_trials=p.n_startup_trials, n_warmup_steps=p.n_warmup_steps
    )


# ---------------------------------------------------------------------------------- tune
@dataclass
class TuneResult:
    output: Path
    study: str
    storage: str
    summary: dict[str, Any]
    best_run: Path | None


def tune(
    config: str | Path | TuningConfig,
    trials: int | None = None,
    storage: str | None = None,
    study_name: str | None = None,
    timeout_minutes: float | None = None,
    worker: int = 0,
    train_best: bool = True,
    input_path: str | None = None,
    echo: Callable[[str], None] | None = None,
    threads: int | None = None,
    prepared: Prepared | None = None,
) -> TuneResult:
    """Run (or resume, or join) the study of `config` until it holds `trials` finished
    trials or the time budget is spent; then train the best parameters into OUTPUT/best.
    `threads` caps the cores this worker's models use: several workers on one machine
    should share its cores (OpenMP threads of two boosters on the same cores slow both
    down many times over). `prepared` (already prepared data) skips reading the input."""
    say = echo or (lambda m: print(m, file=sys.stderr, flush=True))
    cfg = config if isinstance(config, TuningConfig) else load_tuning_config(config)
    base = load_train_config(cfg.base)
    if base.validation is None:
        raise ConfigError(
            f"{cfg.base}: tuning scores trials on the validation period; set `validation`"
        )
    if threads is not None:
        cfg = cfg.model_copy(update={"fixed": {**cfg.fixed, **thread_fields(base, threads)}})
    space = search_space(type(base.model), cfg.params, cfg.ranges)
    trial_config(base, {}, cfg.fixed, cfg.trainer)  # fail now on a bad `fixed` / `trainer`
    output = Path(cfg.output)
    n_trials = trials or cfg.trials
    timeout = timeout_minutes or cfg.timeout_minutes
    check_output_folder(output, ("summary.json", "study.db"), "study folder", [cfg.base], "output")
    url = check_storage_url(storage or cfg.storage or default_storage(output))
    name = study_name or cfg.study_name
    study, done = _open_study(cfg, url, name, worker)
    _check_space(study, base.model.kind, space)
    data_cfg = load_data_config(base.data)

    def data() -> Prepared:
        nonlocal prepared
        if prepared is None:
            prepared = prepare(data_cfg, input_path or base.input)
        return prepared

    say(f"study {name!r} on {safe_url(url)}: {done} of {n_trials} trials finished")
    t0 = time.perf_counter()
    if done < n_trials:
        objective = _objective(base, cfg, space, data_cfg, data(), worker, say)
        _run_trials(study, objective, n_trials, done, timeout)
    elapsed = time.perf_counter() - t0
    best_run = None
    if not _completed(study):
        say("no trial completed: nothing to train")
    elif train_best:
        best_run = _train_best(study, cfg, base, output, data, say)
    summary = write_summary(study, cfg, url, n_trials, timeout, space, output, best_run, elapsed)
    return TuneResult(output, name, safe_url(url), summary, best_run)


def check_storage_url(url: str) -> str:
    """Refuse an in-memory SQLite study: it keeps nothing and cannot be shared or resumed."""
    if url.startswith("sqlite") and (
        ":memory:" in url or url.rstrip("/") in ("sqlite:", "sqlite:/")
    ):
        raise ConfigError(
            f"study storage {url!r} is in memory: it keeps no study and cannot be shared or "
            "resumed; use a file (sqlite:///path/study.db) or a database URL"
        )
    return url


def _open_study(cfg: TuningConfig, url: str, name: str, worker: int) -> tuple[Any, int]:
    """(the study, created or joined, and how many trials it has finished)."""
    import optuna

    store = open_storage(url, cfg.heartbeat_seconds)
    done = _count(store, name, FINISHED)
    study = optuna.create_study(
        study_name=name,
        storage=store,
        direction="minimize",
        load_if_exists=True,
        sampler=make_sampler(cfg, worker, done),
        pruner=make_pruner(cfg),
    )
    return study, done


def _run_trials(
    study: Any, objective: Any, n_trials: int, done: int, timeout: float | None
) -> None:
    """Trials until the study holds `n_trials` finished ones (counting other workers') or the
    time budget is spent; a trial that fails on bad input is recorded as failed."""
    from optuna.study import MaxTrialsCallback
    from optuna.trial import TrialState

    study.optimize(
        objective,
        n_trials=n_trials - done,
        timeout=timeout * 60 if timeout else None,
        callbacks=[MaxTrialsCallback(n_trials, states=(TrialState.COMPLETE, TrialState.PRUNED))],
        catch=(ForecastingError,),
        gc_after_trial=True,
    )


def _completed(study: Any) -> list[Any]:
    from optuna.trial import TrialState

    return list(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))


def _train_best(
    study: Any,
    cfg: TuningConfig,
    base: TrainConfig,
    output: Path,
    data: Callable[[], Prepared],
    say: Callable[[str], None],
) -> Path:
    """Train the best trial's parameters into OUTPUT/best."""
    best = study.best_trial
    best_cfg = trial_config(base, best.params, cfg.fixed, cfg.trainer)
    best_cfg = best_cfg.model_copy(update={"name": f"{cfg.name}_best"})
    best_run = output / "best"
    say(f"training the best trial #{best.number} (loss {best.value:.5f}) -> {best_run}")
    train(best_cfg, best_run, prepared=data())
    return best_run


def thread_fields(base: TrainConfig, threads: int) -> dict[str, Any]:
    """Model fields that cap a model's threads (torch's are set for the process)."""
    if threads < 1:
        raise ConfigError(f"--threads must be at least 1, got {threads}")
    kind = model_kind(base.model.kind)
    if kind.threads_option:  # the boosters take their thread count as a parameter
        return {kind.threads_option: threads}
    if kind.deep:
        import torch

        torch.set_num_threads(threads)
    return {}


def _count(storage: Any, name: str, states: tuple[str, ...]) -> int:
    import optuna

    try:
        study = optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        return 0
    return sum(t.state.name in states for t in study.get_trials(deepcopy=False))


def _check_space(study: Any, kind: str, space: dict[str, Dimension]) -> None:
    """A study keeps one model family and one search space: refuse to mix."""
    attrs = study.user_attrs
    spec = {n: [d.kind, d.low, d.high, d.log] for n, d in space.items()}
    if not attrs:
        study.set_user_attr("model_kind", kind)
        study.set_user_attr("space", spec)
        return
    if attrs.get("model_kind") != kind or attrs.get("space") != spec:
        raise ConfigError(
            f"study {study.study_name!r} in this storage tunes {attrs.get('model_kind')} over "
            f"{attrs.get('space')}; this config tunes {kind} over {spec}: use another --study"
        )


def _objective(
    base: TrainConfig,
    cfg: TuningConfig,
    space: dict[str, Dimension],
    data_cfg: DataConfig,
    prepared: Prepared,
    worker: int,
    say: Callable[[str], None],
) -> Callable[[Any], float]:
    import optuna

    def objective(trial: Any) -> float:
        t = time.perf_counter()
        params = suggest(trial, space)
        trial.set_user_attr("worker", worker)
        trial.set_user_attr("pid", os.getpid())
        tcfg = trial_config(base, params, cfg.fixed, cfg.trainer)
        # a scratch run folder, so deep trials keep their best epoch as a real run does
        with tempfile.TemporaryDirectory(prefix="trial-") as scratch:
            try:
                model, tcfg, metrics = fit_model(
                    tcfg, data_cfg, prepared, Path(scratch), trial=trial
                )
            except optuna.TrialPruned:
                say(f"trial {trial.number}: pruned after {time.perf_counter() - t:.1f} s")
                raise
        score = validation_score(model, tcfg, data_cfg, prepared)
        trial.set_user_attr("validation", score)
        for key in ("best_iterations", "epochs", "fit_seconds"):
            if key in metrics:
                trial.set_user_attr(key, metrics[key])
        shown = ", ".join(f"{k}={_fmt(v)}" for k, v in params.items())
        say(
            f"trial {trial.number}: loss {score['loss']:.5f} in {time.perf_counter() - t:.1f} s"
            f" ({shown})"
        )
        if not math.isfinite(score["loss"]):
            raise ConfigError(f"trial {trial.number}: non-finite validation loss")
        return score["loss"]

    return objective


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


# ------------------------------------------------------------------------------ summary
def write_summary(
    study: Any,
    cfg: TuningConfig,
    url: str,
    n_trials: int,
    timeout: float | None,
    space: dict[str, Dimension],
    output: Path,
    best_run: Path | None,
    elapsed: float,
) -> dict[str, Any]:
    """`summary.json` (best value and parameters, importances, every trial) and
    `history.png` (the loss of each trial and the best so far, and the importances)."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    states: dict[str, int] = {}
    for t in trials:
        states[t.state.name] = states.get(t.state.name, 0) + 1
    summary: dict[str, Any] = {
        "study": study.study_name,
        "storage": safe_url(url),
        "model_kind": study.user_attrs.get("model_kind"),
        "objective": "mean pinball loss over the quantiles, validation backtest (target units)",
        "budget": {"trials": n_trials, "timeout_minutes": timeout},
        "this_worker_seconds": round(elapsed, 1),
        "states": states,
        "search_space": {n: d.__dict__ for n, d in space.items()},
        "fixed": cfg.fixed,
    }
    if complete:
        best = study.best_trial
        summary |= {
            "best_trial": best.number,
            "best_value": best.value,
            "best_params": best.params,
            "best_validation": best.user_attrs.get("validation"),
            "best_run": str(best_run) if best_run else None,
            "param_importances": importances(study),
        }
    summary["trials"] = [
        {
            "number": t.number,
            "state": t.state.name,
            "value": t.value,
            "params": t.params,
            "seconds": t.duration.total_seconds() if t.duration else None,
            "worker": t.user_attrs.get("worker"),
            "last_step": t.last_step,
        }
        for t in trials
    ]
    output.mkdir(parents=True, exist_ok=True)
    write_json(output / "summary.json", summary)
    if complete:
        history_plot(summary, output / "history.png")
    return summary


def importances(study: Any) -> dict[str, float] | None:
    """fANOVA importances of the parameters (None with fewer than 2 complete trials or when
    the completed trials do not vary)."""
    import warnings

    import optuna

    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if len(complete) < 2:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            imp = optuna.importance.get_param_importances(
                study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0)
            )
    except (RuntimeError, ValueError):
        return None
    return {k: round(float(v), 4) for k, v in imp.items()}


def history_plot(summary: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    done = [t for t in summary["trials"] if t["state"] == "COMPLETE"]
    pruned = [t for t in summary["trials"] if t["state"] == "PRUNED"]
    imp = summary.get("param_importances") or {}
    fig, axes = plt.subplots(1, 2 if imp else 1, figsize=(11 if imp else 7, 4), squeeze=False)
    ax = axes[0][0]
    xs = [t["number"] for t in done]
    ys = [t["value"] for t in done]
    ax.scatter(xs, ys, s=18, label="complete", color="tab:blue")
    order = np.argsort(xs)
    best = np.minimum.accumulate(np.asarray(ys)[order])
    ax.step(np.asarray(xs)[order], best, where="post", color="tab:red", label="best so far")
    for t in pruned:
        ax.axvline(t["number"], color="0.85", lw=0.8, zorder=0)
    ax.set_xlabel("trial" + (" (grey lines: pruned)" if pruned else ""))
    ax.set_ylabel("validation pinball loss")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(f"{summary['study']}: {len(done)} complete, {len(pruned)} pruned")
    ax.legend()
    if imp:
        names = list(imp)[::-1]
        axes[0][1].barh(names, [imp[n] for n in names], color="tab:green")
        axes[0][1].set_title("parameter importance (fANOVA)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
