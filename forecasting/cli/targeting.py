"""`forecasting target-signals`: whom to send a dToU signal, learned from past responses."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def target_signals_cmd(
    config: Annotated[
        Path, typer.Option("--config", "-c", help="the targeting config (configs/targeting)")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="folder for the results")],
    rule: Annotated[
        str | None, typer.Option(help="override the config's rule: thompson, ucb or expected")
    ] = None,
) -> None:
    """Learn each treated household's response to the signals before the config's
    learn_until (a Bayesian model of engagement and response, with group priors), replay the
    later events choosing the fewest households that reach the target change, learning from
    each event's responses, and compare with signalling everyone and random sets of the same
    size. Writes posterior.csv, events.csv, calibration.csv, summary.json, report.html."""
    from forecasting.errors import InputError
    from forecasting.targeting.config import load_targeting_config
    from forecasting.targeting.job import run_targeting

    cfg = load_targeting_config(config)
    if rule is not None:
        if rule not in ("thompson", "ucb", "expected"):
            raise InputError(f"--rule {rule!r}: use thompson, ucb or expected")
        cfg = cfg.model_copy(update={"policy": cfg.policy.model_copy(update={"rule": rule})})
    s = run_targeting(cfg, output, echo=typer.echo)
    for p in s["policies"]:
        typer.echo(f"  {p['policy']:<18} {p['level']:<6} {p['events']:>3} events: "
                   f"{p['signals_per_event']:6.1f} signals an event, target {p['target_pct']:+.1f}%, "
                   f"achieved {p['achieved_pct']:+.2f}%, mean |error| {p['mean_abs_error_pct']:.2f} "
                   f"points, reached {p['reached_share']:.0%}")  # fmt: skip
    for lv, c in s["calibration"].items():
        typer.echo(f"  calibration {lv}: 90% intervals cover {c['coverage_90']:.1%} of "
                   f"{c['household_events']} household-events")  # fmt: skip
    typer.echo(f"wrote {', '.join(s['files'])} to {output}")


def register(app: typer.Typer) -> None:
    app.command("target-signals")(target_signals_cmd)
