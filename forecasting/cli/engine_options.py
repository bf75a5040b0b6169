"""The options that say where a batch job's groups run (`predict`, `bill`, `impute`): one
definition, the same words in every command's --help. See `serving.engines`."""

from __future__ import annotations

from typing import Annotated

import typer

EngineOption = Annotated[
    str, typer.Option(help="local (this machine) or ray (the groups on a Ray cluster)")
]
WorkersOption = Annotated[
    int, typer.Option(min=1, max=256, help="local: worker processes doing groups side by side")
]
AddressOption = Annotated[
    str | None,
    typer.Option(
        help="--engine ray: auto (the cluster here) or ray://HOST:10001; "
        "default: start a local cluster for this job"
    ),
]
ActorsOption = Annotated[
    int | None, typer.Option(min=1, help="--engine ray: actors (default: CPUs / per actor)")
]
CpusPerActorOption = Annotated[
    int, typer.Option(min=1, help="--engine ray: CPUs (onnxruntime threads) per actor")
]
