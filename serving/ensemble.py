"""An ensemble bundle: member bundles and their weights, combined with the same code as the
native ensemble (`forecasting.forecasts.combine`). Torch-free, like the rest of `serving/`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecasting.data.schema import SERIES
from forecasting.forecasts.combine import combined_frame, member_skipped
from serving.bundle import Bundle, BundleError, ManifestView, load_model_bundle, read_manifest
from serving.kinds import bundle_kind


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
        return self.calibrated(out), skipped


def load_ensemble(
    folder: Path, manifest: dict[str, Any], threads: int | None, int8: bool
) -> EnsembleBundle:
    members: dict[str, Bundle] = {}
    for m in manifest["members"]:  # names, folders and weights checked by check_manifest
        sub = folder / m["folder"]
        listed = read_manifest(sub)
        if listed["kind"] != m["kind"]:
            raise BundleError(
                f"{sub}: the member is a {listed['kind']!r} bundle, the ensemble lists {m['kind']!r}"
            )
        member = load_model_bundle(
            sub, listed, threads, int8 and bundle_kind(m["kind"]).quantizable
        )
        for key in ("quantiles", "horizon", "freq"):
            if member.manifest[key] != manifest[key]:
                raise BundleError(
                    f"{sub}: member {key} {member.manifest[key]!r} differs from the ensemble's "
                    f"{manifest[key]!r}"
                )
        members[m["name"]] = member
    return EnsembleBundle(folder, manifest, members)
