"""Regenerate the serving kit (run by hand, when the bundle format changes on purpose):

    .venv/bin/python -m tests.serving.make_serving_kit

A sealed LightGBM bundle with load-shape archetypes, trained on generated data, with the inputs
`predict`, `bill` and `impute` read. `test_serving_install.py` runs those commands on it from a
fresh virtual environment holding only the base (serving) install, to show they need no torch.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pandas as pd

KIT = Path(__file__).resolve().parents[1] / "fixtures" / "serving_kit"


def main() -> None:
    from tests.cli.corpus import workspace

    with tempfile.TemporaryDirectory() as tmp:
        w = workspace(Path(tmp), days=80)  # 2023-10-15 to 2024-01-02: November whole
        shutil.rmtree(KIT, ignore_errors=True)
        KIT.mkdir(parents=True)
        shutil.copytree(w["bundle"], KIT / "bundle")
        frame = pd.read_parquet(w["canonical"])
        recent = frame[frame["timestamp"] >= frame["timestamp"].max() - pd.Timedelta(days=9)]
        recent.to_parquet(KIT / "input.parquet", index=False)
        shutil.copy(w["static"], KIT / "static.csv")
        monthly = pd.read_csv(w["monthly"])  # a whole month, with weather a week before it
        monthly[monthly["month"] == "2023-11"].to_csv(KIT / "monthly.csv", index=False)
        shutil.copy(w["weather"], KIT / "weather.csv")
        usage = pd.read_csv(w["usage"])
        usage[usage["timestamp"] >= usage["timestamp"].max()[:10]].to_csv(
            KIT / "usage.csv", index=False
        )
    size = sum(f.stat().st_size for f in KIT.rglob("*") if f.is_file())
    print(f"serving kit written to {KIT}: {size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
