"""An ensemble bundle: member bundles and their weights, combined with the same code as the
native ensemble (`forecasting.models.combine`). Torch-free, like the rest of `serving/`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecasting.data.schema import SERIES
from forecasting.models.combine import combined_frame, member_skipped
from serving.bundle import Bundle, BundleError, ManifestView


@dataclass
class EnsembleBundle(ManifestView):
    """`features` covers every member: the union of their covariates and static columns."""

    folder: Path
    manifest: dict[str, Any]
    members: dict[str, Bundle]

    def forecast(
        self,
        frame: pd.DataFrame,
        origins: pd.DatetimeIndex,
        static: pd.DataFrame | None = None,
        chunk: int | None = None,
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(long forecasts, skipped): each member forecasts, then the rows every member gave
        are combined; a (series, origin) a member could not forecast is skipped, with why."""
        results = {
            name: b.forecast(frame, origins, static, chunk) for name, b in self.members.items()
        }
        skipped = member_skipped({name: r[1] for name, r in results.items()})
        m = self.manifest
        out, dropped = combined_frame(
            [r[0] for r in results.values()], self.quantiles, np.asarray(m["weights"]),
            m["blocks"], m["nonnegative"],
        )  # fmt: skip
        if len(dropped):  # pairs no member explained: say so
            told = pd.MultiIndex.from_frame(skipped[[SERIES, "origin"]].astype({SERIES: str}))
            key = pd.MultiIndex.from_frame(dropped.astype({SERIES: str}))
            dropped = dropped[~key.isin(told)]
            if len(dropped):
                extra = dropped.assign(reason="a member gave no forecast")
                skipped = pd.concat([skipped, extra], ignore_index=True)
        return out, skipped


def load_ensemble(
    folder: Path, manifest: dict[str, Any], threads: int | None, int8: bool
) -> EnsembleBundle:
    from serving.bundle import load_bundle

    members: dict[str, Bundle] = {}
    for m in manifest.get("members", []):
        sub = folder / m["folder"]
        if m["kind"] == "ensemble":
            raise BundleError(f"{sub}: an ensemble inside an ensemble is not supported")
        deep = m["kind"] not in ("lightgbm", "xgboost")
        members[m["name"]] = load_bundle(sub, threads, int8 and deep)
    if len(members) < 2:
        raise BundleError(f"{folder}: an ensemble bundle lists {len(members)} members")
    w = np.asarray(manifest["weights"], dtype=float)
    shape = (len(manifest["blocks"]), len(manifest["quantiles"]), len(members))
    if w.shape != shape or (w < 0).any():
        raise BundleError(f"{folder}: ensemble weights of shape {w.shape}, expected {shape} >= 0")
    return EnsembleBundle(folder, manifest, members)
