"""Victoria's real half-hourly demand kept at 30 minutes through prepare -> train (LightGBM,
default periods) -> evaluate -> export -> predict (issue 17, item 2). Seasonal naive must be the
same half-hour one week back (336 intervals), which the test recomputes from the data itself."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import shared_path

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]


def test_victoria_at_30_minutes_end_to_end(cli, tmp_path):
    source = shared_path("victoria", "elecdemand_vic_2014_halfhourly.csv")
    data = yaml.safe_load(Path("configs/data/victoria.yaml").read_text(encoding="utf-8"))
    data["input"]["path"] = str(source)
    data["output_frequency"] = "30min"
    data_path = tmp_path / "victoria_30min.yaml"
    data_path.write_text(yaml.safe_dump(data), encoding="utf-8")
    train = {
        "name": "vic30",
        "data": str(data_path),
        "train": {"start": "2014-01-15", "end": "2014-09-30"},
        "validation": {"start": "2014-10-01", "end": "2014-10-31"},
        "model": {"kind": "lightgbm", "n_estimators": 80, "num_leaves": 15},
    }
    cfg = tmp_path / "vic30.yaml"
    cfg.write_text(yaml.safe_dump(train), encoding="utf-8")
    run = tmp_path / "run"
    r = cli("train", "--config", cfg, "--output", run)
    assert r.code == 0, r.err
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert (saved["horizon"], saved["lookback"]) == (48, 336)

    out = tmp_path / "metrics.json"
    r = cli(
        "evaluate", "--run", run, "--start", "2014-11-01", "--end", "2014-12-30", "--output", out
    )
    assert r.code == 0, r.err
    result = json.loads(out.read_text())
    assert result["n_origins"] == 60 and result["model"]["n_forecasts"] == 60 * 48

    # the same half-hour a week earlier, recomputed from the prepared data
    prepared = tmp_path / "prepared"
    assert cli("data", "prepare", "--config", data_path, "--output", prepared, "-q").code in (0, 1)
    frame = pd.read_parquet(prepared / "frame.parquet").set_index("timestamp")["target"]
    local = frame.index.tz_convert("Australia/Melbourne")
    test = frame[(local >= pd.Timestamp("2014-11-01", tz="Australia/Melbourne"))
                 & (local < pd.Timestamp("2014-12-31", tz="Australia/Melbourne"))]  # fmt: skip
    week_before = frame.reindex(test.index - pd.Timedelta("7D")).to_numpy()
    naive_mae = float(np.mean(np.abs(test.to_numpy() - week_before)))
    assert result["seasonal_naive"]["mae"] == pytest.approx(naive_mae, rel=1e-6)
    assert result["mae_ratio_vs_seasonal_naive"] < 0.8  # temperature and calendar help a lot

    bundle = tmp_path / "bundle"
    assert cli("export", "--run", run, "--output", bundle).code == 0
    pred = tmp_path / "pred"
    r = cli("predict", "--bundle", bundle, "--input", prepared / "frame.parquet", "--output", pred)
    assert r.code == 0, r.err
    fc = pd.read_parquet(pred / "forecasts")
    assert len(fc) == 48 and (fc["timestamp"].diff().dropna() == pd.Timedelta("30min")).all()
