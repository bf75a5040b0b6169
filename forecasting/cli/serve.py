"""`forecasting serve` (the HTTP API and dashboard) and `forecasting keys` (its API keys)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

keys_app = typer.Typer(help="API keys of the service: add (shown once), list, revoke.",
                       no_args_is_help=True)  # fmt: skip
KeysOpt = Annotated[Path, typer.Option("--keys", help="the keys file (hashed keys and roles)")]


def _need_service_extra() -> None:
    import importlib.util

    from forecasting.errors import InputError

    missing = [m for m in ("fastapi", "uvicorn") if importlib.util.find_spec(m) is None]
    if missing:
        raise InputError(f"`forecasting serve` needs the service extra ({', '.join(missing)} "
                         "not installed): pip install 'meterforecast[service]'")  # fmt: skip


def serve_cmd(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="service config (configs/service)")
    ] = None,
    bundles: Annotated[
        Path | None, typer.Option(help="models folder: NAME/VERSION/ bundle folders")
    ] = None,
    keys: Annotated[Path | None, typer.Option(help="the keys file")] = None,
    host: Annotated[str | None, typer.Option(help="address to listen on")] = None,
    port: Annotated[int | None, typer.Option(min=0, max=65535)] = None,
    workers: Annotated[int | None, typer.Option(min=1, max=64, help="worker processes")] = None,
    state: Annotated[
        Path | None, typer.Option(help="folder for jobs, the audit log and the session key")
    ] = None,
    registered: Annotated[
        list[str] | None,
        typer.Option(help="also serve models:/NAME/VERSION or models:/NAME@ALIAS (repeat it)"),
    ] = None,
    tracking_uri: Annotated[
        str | None, typer.Option(help="the MLflow registry of --registered")
    ] = None,
) -> None:
    """Serve the bundles of a models folder over HTTP (`/v1/...`, OpenAPI at /docs) with the
    dashboard at /dashboard. Keys come from the keys file (`forecasting keys add`); customer
    ids are pseudonymised with the secret in FORECASTING_PSEUDONYM_SECRET (or the config's
    file). Stops gracefully on Ctrl-C or SIGTERM: requests in flight finish."""
    import json
    import os

    from forecasting.errors import InputError

    _need_service_extra()
    import uvicorn

    from serving.service.app import CONFIG_ENV, create_app
    from serving.service.config import ServiceConfig, load_service_config

    if config is not None:
        cfg = load_service_config(config)
    else:
        if bundles is None or keys is None:
            raise InputError("give --config, or --bundles and --keys")
        cfg = ServiceConfig(bundles=bundles, keys=keys)
    given = {"bundles": bundles, "keys": keys, "host": host, "port": port, "workers": workers,
             "state": state, "registered": registered, "tracking_uri": tracking_uri}  # fmt: skip
    cfg = cfg.model_copy(update={k: v for k, v in given.items() if v is not None})
    if not cfg.bundles.is_dir():
        raise InputError(f"models folder not found: {cfg.bundles}")
    if cfg.registered:
        from forecasting.tracking import fetch_registered_bundle, is_model_uri

        for uri in cfg.registered:
            if not is_model_uri(uri):
                raise InputError(
                    f"--registered {uri}: use models:/NAME/VERSION or models:/NAME@ALIAS"
                )
            folder = fetch_registered_bundle(uri, cfg.bundles, cfg.tracking_uri)
            typer.echo(f"{uri} -> {folder}", err=True)
    app = create_app(cfg)  # checks the keys file and the secret before the port is taken
    where = f"http://{cfg.host}:{cfg.port}"
    typer.echo(f"serving {cfg.bundles} on {where} ({cfg.workers} worker(s)); API docs at "
               f"{where}/docs, dashboard at {where}/dashboard", err=True)  # fmt: skip
    common = {"host": cfg.host, "port": cfg.port, "log_level": "info",
              "timeout_graceful_shutdown": int(cfg.limits.timeout_s) + 1}  # fmt: skip
    if cfg.workers == 1:
        uvicorn.run(app, **common)  # type: ignore[arg-type]
        return
    os.environ[CONFIG_ENV] = json.dumps(cfg.model_dump(mode="json"))
    uvicorn.run("serving.service.app:app_from_env", factory=True, workers=cfg.workers,
                **common)  # type: ignore[arg-type]  # fmt: skip


@keys_app.command("add")
def keys_add(
    keys: KeysOpt,
    key_id: Annotated[str, typer.Option("--id", help="the key's name (in logs, never the key)")],
    roles: Annotated[str, typer.Option(help="comma-separated: read, plan, admin")] = "read",
    rate: Annotated[
        float | None, typer.Option(help="requests a second (default: the service's)")
    ] = None,
    burst: Annotated[int | None, typer.Option(help="burst size (default: the service's)")] = None,
) -> None:
    """Make a key, store its salted hash in the keys file, and print the key once."""
    from serving.service.keys import add_key

    key = add_key(keys, key_id, [r.strip() for r in roles.split(",") if r.strip()], rate, burst)
    typer.echo(key)
    typer.echo(f"key {key_id!r} added to {keys}; it is shown only now", err=True)


@keys_app.command("list")
def keys_list(keys: KeysOpt) -> None:
    """The keys' ids, roles and limits (never the keys)."""
    from serving.service.keys import read_keys

    for r in read_keys(keys).records.values():
        typer.echo(f"{r.id}\t{','.join(r.roles)}\t{r.created}\trate={r.rate or '-'}")


@keys_app.command("revoke")
def keys_revoke(keys: KeysOpt, key_id: Annotated[str, typer.Option("--id")]) -> None:
    """Remove a key: a running server refuses it from its next request."""
    from serving.service.keys import revoke_key

    revoke_key(keys, key_id)
    typer.echo(f"key {key_id!r} revoked")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_cmd)
    app.add_typer(keys_app, name="keys")
