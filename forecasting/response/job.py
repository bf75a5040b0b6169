"""`forecasting elasticity`: read a trial through its data config and tariff, estimate the
price response, write the versioned elasticity file, tables and the report.

Readings are read as `data validate` reads them (rows it would quarantine are left out and
counted); no gap is filled and nothing is resampled: each real reading is one observation.
The price level of each reading comes from the tariff's signal (its clock and `default`);
weather from the data config's covariate sources, filled by their own policies at the
readings' interval.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecasting.config.data import load_data_config
from forecasting.data.covariates import covariates_by_time
from forecasting.data.ingest import ingest
from forecasting.data.static import join_static_file
from forecasting.errors import InputError
from forecasting.response.config import ElasticityConfig
from forecasting.response.estimate import (
    ResponseResult,
    ResponseSpec,
    TrialPanel,
    band_names,
    estimate_response,
)
from forecasting.response.file import FORMAT, VERSION
from forecasting.tariffs.calendar import PriceSignal
from forecasting.tariffs.spec import Dynamic, Tariff, load_tariff


def load_trial(
    config: ElasticityConfig, input_path: str | None = None
) -> tuple[TrialPanel, dict[str, Any], Any, Tariff]:
    """The trial's panel, what was read (rows in, quarantined, dropped and why), and the data
    config and tariff it was read with."""
    data = load_data_config(config.data.expanded)
    tariff = load_tariff(config.tariff.expanded)
    if not isinstance(tariff.energy, Dynamic):
        raise InputError(
            f"{config.tariff}: the tariff's energy charge is {tariff.energy.type!r}; price "
            "response needs the dynamic tariff whose signal the treated households received"
        )
    if config.reference not in tariff.energy.rates:
        raise InputError(f"reference level {config.reference!r} is not a level of "
                         f"{config.tariff} (levels: {', '.join(tariff.energy.rates)})")  # fmt: skip
    ing = ingest(data, input_path)
    r = ing.readings
    quarantined = sum(ing.quarantine.counts().values())
    facts: dict[str, Any] = {"rows_read": int(len(r) + quarantined),
                             "rows_quarantined": int(quarantined)}  # fmt: skip
    static = _static(r, data, config)
    frame = pd.DataFrame({"series_id": r["series_id"].astype(str), "timestamp": r["timestamp"],
                          "kwh": r["target"].astype("float64")})  # fmt: skip
    signal = PriceSignal(tariff.energy)
    codes = signal.levels(pd.DatetimeIndex(frame["timestamp"]), ing.frequency)
    names = list(tariff.energy.rates)
    keep = codes >= 0
    facts["rows_outside_signal"] = int((~keep).sum())
    weather = pd.DataFrame(index=frame.index)
    if config.weather:
        weather = _weather(data, config.weather, ing.frequency, frame["timestamp"])
        facts["rows_without_weather"] = int((weather.isna().any(axis=1) & keep).sum())
        keep &= ~weather.isna().any(axis=1).to_numpy()
    known = frame["series_id"].isin(static["series_id"]).to_numpy()
    facts["rows_of_households_without_static"] = int((~known & keep).sum())
    keep &= known
    facts["rows_used"] = int(keep.sum())
    if not keep.any():
        raise InputError("no reading is left to estimate from (see the counts above)")
    panel = TrialPanel(frame[keep].reset_index(drop=True), static,
                       np.array(names, dtype=object)[codes[keep]],
                       weather[keep].reset_index(drop=True), ing.frequency)  # fmt: skip
    facts["first"], facts["last"] = (
        str(frame["timestamp"][keep].min()),
        str(frame["timestamp"][keep].max()),
    )
    return panel, facts, data, tariff


def _static(readings: pd.DataFrame, data: Any, config: ElasticityConfig) -> pd.DataFrame:
    """series_id, treated, group: from the readings' static columns and the static file."""
    cols = list(data.input.static_columns)
    table = readings.groupby("series_id", sort=True)[cols].first().reset_index() if cols else (
        pd.DataFrame({"series_id": sorted(readings["series_id"].unique())}))  # fmt: skip
    if data.static is not None:
        table, _ = join_static_file(table, data.static)
    for col in [config.treated.column, config.group_by]:
        if col is not None and col not in table:
            raise InputError(
                f"static column {col!r} is in neither the readings' static columns nor the "
                f"static file of {config.data} (it has: {', '.join(map(str, table.columns[1:]))})"
            )
    flag = table[config.treated.column].astype("string").str.strip()
    treated = flag.isin(config.treated.values()).fillna(False).to_numpy(dtype=bool)
    group = table[config.group_by].astype("string") if config.group_by else "all"
    return pd.DataFrame({"series_id": table["series_id"].astype(str), "treated": treated,
                         "group": group})  # fmt: skip


def _weather(data: Any, names: list[str], step: pd.Timedelta, times: pd.Series) -> pd.DataFrame:
    have = {c: s for s in data.covariates for c in s.columns}
    unknown = [n for n in names if n not in have]
    if unknown:
        raise InputError(f"weather {unknown}: not a covariate of the data config (it has: "
                         f"{', '.join(have) or 'none'})")  # fmt: skip
    sources = list({id(have[n]): have[n] for n in names}.values())
    table, _ = covariates_by_time(sources, step)
    return table[names].reindex(pd.DatetimeIndex(times)).reset_index(drop=True)


def run_elasticity(
    config: ElasticityConfig,
    config_path: Path,
    output: Path,
    input_path: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[ResponseResult, dict[str, Any]]:
    """Estimate and write `elasticity.json`, `estimates.csv`, `responders.csv`,
    `by_time_of_day.csv` and the report into `output`; return the result and the file."""
    panel, facts, data, tariff = load_trial(config, input_path)
    assert isinstance(tariff.energy, Dynamic)
    tz = config.timezone or str(data.calendar.timezone)
    spec = ResponseSpec(
        bands=config.response_bands(), timezone=tz, reference=config.reference,
        prices=dict(tariff.energy.rates), offset_kwh_per_half_hour=config.zero_offset_kwh,
        replicates=config.bootstrap, seed=config.seed, min_readings=config.min_readings,
    )  # fmt: skip
    result = estimate_response(panel, spec, progress)
    doc = elasticity_document(result, config, config_path, tariff, facts, panel)
    output.mkdir(parents=True, exist_ok=True)
    (output / "elasticity.json").write_text(json.dumps(doc, indent=1, default=str))
    result.estimates.to_csv(output / "estimates.csv", index=False)
    result.responders.to_csv(output / "responders.csv", index=False)
    result.by_slot.to_csv(output / "by_time_of_day.csv", index=False)
    return result, doc


def _fingerprint(panel: TrialPanel) -> str:
    h = hashlib.sha256()
    for col in ("series_id", "timestamp", "kwh"):
        h.update(pd.util.hash_pandas_object(panel.readings[col], index=False).to_numpy().tobytes())
    return h.hexdigest()


def elasticity_document(
    result: ResponseResult,
    config: ElasticityConfig,
    config_path: Path,
    tariff: Any,
    facts: dict[str, Any],
    panel: TrialPanel,
) -> dict[str, Any]:
    """The versioned elasticity file (see forecasting/response/file.py)."""
    from forecasting import __version__

    est = result.estimates
    responders: dict[str, Any] = {}
    if len(result.responders):
        for level, g in result.responders.groupby("level"):
            responders[str(level)] = {"responders": int(g["responder"].sum()),
                                      "households": len(g),
                                      "share": float(g["responder"].mean())}  # fmt: skip
    keep = ["spec", "level", "band", "group", "log_change", "ci_low", "ci_high", "pct_change",
            "pct_ci_low", "pct_ci_high", "elasticity", "elasticity_ci_low", "elasticity_ci_high",
            "se_household", "treated_readings", "households"]  # fmt: skip
    rows = est[[c for c in keep if c in est]].replace({np.nan: None}).to_dict(orient="records")
    return {
        "format": FORMAT,
        "version": VERSION,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "package_version": __version__,
        "source": {
            "config": str(config_path),
            "data_config": str(config.data),
            "tariff": str(config.tariff),
            "readings_sha256": _fingerprint(panel),
            **facts,
        },
        "reference_level": config.reference,
        "prices": dict(tariff.energy.rates),
        "price_unit": f"{tariff.currency} {'minor' if tariff.amounts == 'minor' else ''} per kWh".replace(
            "  ", " "
        ),
        "timezone": config.timezone or "calendar",
        "bands": dict(config.bands),
        "band_order": band_names(config.response_bands()),
        "group_by": config.group_by,
        "treated": {"column": config.treated.column, "values": config.treated.values()},
        "method": {
            "model": "log(kWh + offset) on household x slot and interval fixed effects, "
            "household weather slopes by band, treated x level x band x group terms",
            "zero_offset_kwh": result.facts["offset_kwh"],
            "ci": "95% percentile, wild bootstrap clustered by household and local day",
            "bootstrap_replicates": config.bootstrap,
            "seed": config.seed,
            "weather": list(config.weather),
        },
        "facts": {k: v for k, v in result.facts.items() if k not in ("sensitivity",)},
        "sensitivity": result.facts["sensitivity"],
        "estimates": rows,
        "responders": responders,
    }
