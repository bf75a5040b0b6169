"""The bundle manifest, checked field by field before anything in the bundle is used.

`check_manifest(path, raw)` validates the parsed `manifest.json` (types are strict: a format
version of `1.0` or `true` is refused), checks that every file and member folder it names lies
inside the bundle folder as a regular file or folder reached without symbolic links, and, for
format 2, that the manifest still carries the seal written at export (`manifest_sha256`, the
sha256 of its canonical JSON): a manifest edited by hand is refused, so a bundle either loads
as exported or not at all. Format 1 bundles (no seal) are read with the field checks only.
Torch-free: pydantic, numpy and pandas.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
)

from forecasting.bundle_format import MODEL_FILE, READABLE_FORMATS, SEAL, manifest_digest
from forecasting.config.features import FeatureConfig
from forecasting.config.values import Frequency, Zone
from forecasting.data.holidays import HolidayCalendar
from forecasting.errors import BundleError, ConfigError, InputError
from forecasting.folders import contained_path
from forecasting.forecasts.calibration import IntervalCalibration
from serving.kinds import BUNDLE_KINDS, MEMBER_KINDS

Digest = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Name = Annotated[str, Field(min_length=1, max_length=200)]


class _Loose(BaseModel):
    """Known fields strictly typed; other keys (metrics, parity, ...) kept as they are."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False, strict=True)


class TensorSpec(_Loose):
    name: Name
    shape: list[Annotated[StrictInt, Field(ge=0, le=1_000_000)] | str] = Field(
        min_length=1, description="0 for an input with no columns (no categorical static columns)"
    )
    dtype: Literal["float32", "float64", "int64"]


def _one_of(allowed: tuple[str, ...]) -> Any:
    def check(v: str) -> str:
        if v not in allowed:
            raise ValueError(f"{v!r} is not one of {', '.join(allowed)}")
        return v

    return AfterValidator(check)


class Member(_Loose):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,100}$")]
    kind: Annotated[str, _one_of(MEMBER_KINDS)]
    folder: Name


class ManifestFields(_Loose):
    format_version: StrictInt
    kind: Annotated[str, _one_of(tuple(BUNDLE_KINDS))]
    files: dict[Name, Digest] = Field(min_length=1)
    quantiles: list[Annotated[float, Field(gt=0, lt=1)]] = Field(min_length=1, max_length=99)
    horizon: Annotated[StrictInt, Field(ge=1, le=100_000)]
    lookback: Annotated[StrictInt, Field(ge=1, le=1_000_000)]
    freq: Frequency
    timezone: Zone
    nonnegative: StrictBool
    model: dict[str, Any]
    inputs: list[TensorSpec] | None = None
    outputs: list[TensorSpec] | None = None
    members: list[Member] | None = None
    weights: list[list[list[float]]] | None = None
    blocks: list[list[Annotated[StrictInt, Field(ge=1)]]] | None = None


Names = list[Annotated[str, Field(max_length=200)]]


class HolidaysFields(_Loose):
    country: str | None = None
    subdivision: str | None = None
    dates: list[Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")]] = Field(default_factory=list)


class ModelFields(_Loose):
    """What serving reads from `model` to rebuild features: names, category codes, norms."""

    features: dict[str, Any]
    categories: dict[str, Names] = Field(default_factory=dict)
    feature_names: Names | None = None
    columns: dict[Literal["past", "future", "static_cat", "static_real"], Names] | None = None
    norms: dict[str, Annotated[list[float], Field(min_length=2, max_length=2)]] | None = None


class DetectorFields(_Loose):
    """What serving reads from an anomaly bundle's `model`: the window and the calibration."""

    config: dict[str, Any]
    standard: dict[
        Literal["point", "window"], Annotated[list[float], Field(min_length=2, max_length=2)]
    ]
    threshold: float


def _fail(path: Path, text: str) -> NoReturn:
    raise BundleError(f"{path}: {text}; the bundle is corrupt or was edited")


def check_manifest(path: Path, raw: Any) -> dict[str, Any]:
    """The manifest at `path` (already parsed) when it is whole and consistent; else BundleError."""
    if not isinstance(raw, dict):
        _fail(path, f"the manifest is a JSON {type(raw).__name__}, not an object")
    version = raw.get("format_version")
    if type(version) is not int or version not in READABLE_FORMATS:
        raise BundleError(
            f"{path}: bundle format {version!r}; this version of serving reads "
            f"{', '.join(map(str, READABLE_FORMATS))}"
        )
    if version >= 2:
        seal = raw.get(SEAL)
        if not isinstance(seal, str) or seal != manifest_digest(raw):
            _fail(path, f"{SEAL} does not match the manifest's content")
    elif SEAL in raw:  # a sealed manifest relabelled as format 1 to skip its seal
        _fail(path, f"format {version} manifests carry no {SEAL}; its format_version was edited")
    try:
        m = ManifestFields.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        _fail(path, f"field {key!r}: {err['msg']}")
    if m.quantiles != sorted(set(m.quantiles)):
        _fail(path, f"quantiles {m.quantiles} are not strictly increasing")
    folder = path.parent
    for name in m.files:
        try:
            contained_path(folder, name, str(folder), owner="bundle")
        except InputError as exc:
            _fail(path, str(exc).removeprefix(f"{folder}: "))
    if BUNDLE_KINDS[m.kind].layout == "members":
        _check_ensemble(path, m)
    else:
        _check_model(path, m)
    try:
        IntervalCalibration.from_json(raw.get("calibration"), m.quantiles, m.horizon)
    except ValueError as exc:
        _fail(path, f"field 'calibration': {exc}")
    return raw


def _check_model(path: Path, m: ManifestFields) -> None:
    if not m.inputs or not m.outputs:
        _fail(path, "a model bundle lists its graph's inputs and outputs")
    if MODEL_FILE not in m.files:
        _fail(path, f"a model bundle's files include {MODEL_FILE}")
    try:
        model = ModelFields.model_validate(m.model)
        features = FeatureConfig.model_validate(model.features, strict=True)
        if not all(isinstance(v, int) for v in [*features.lags, *features.rolling_windows]):
            raise ValueError("lags and rolling windows must be counts of intervals in a bundle")
        holidays = HolidaysFields.model_validate(features.holidays)
        if holidays.country:  # a country or region the holidays package does not know
            HolidayCalendar.from_dict(features.holidays).holiday_dates([2020])
        for d in holidays.dates:
            dt.date.fromisoformat(d)
    except ConfigError as exc:
        _fail(path, f"field 'model.features.holidays': {exc}")
    except (ValidationError, TypeError, ValueError) as exc:
        first = exc.errors()[0] if isinstance(exc, ValidationError) else {"loc": (), "msg": str(exc)}  # fmt: skip
        key = ".".join(str(p) for p in first["loc"])
        _fail(path, f"field 'model' ({key or 'features'}): {first['msg']}")
    layout = BUNDLE_KINDS[m.kind].layout
    if layout == "load_windows":
        _check_detector(path, m)
    need = {"rows": ["feature_names", "categories"],
            "sequences": ["columns", "norms", "categories"]}.get(layout, [])  # fmt: skip
    for key in need:
        if key not in m.model or getattr(model, key) is None:
            _fail(path, f"field 'model.{key}' is missing")
    if model.columns is not None and len(model.columns) != 4:
        _fail(path, "field 'model.columns' lists past, future, static_cat and static_real")
    if model.norms is not None:  # every real input the graph standardises has its norm
        real_static = [c for c in features.static if c not in model.categories]
        lacking = [c for c in [*features.known_future, *features.observed, *real_static]
                   if c not in model.norms]  # fmt: skip
        if lacking:
            _fail(path, f"field 'model.norms' has no mean and deviation for {lacking}")
        flat = [c for c, (_, std) in model.norms.items() if not std > 0]
        if flat:
            _fail(path, f"field 'model.norms': the deviation of {flat} must be above 0")
    out = m.outputs[0].shape
    if BUNDLE_KINDS[m.kind].forecasts and out[-1] != len(m.quantiles):
        _fail(path, f"the graph gives {out[-1]} quantiles, the manifest lists {len(m.quantiles)}")


def _check_detector(path: Path, m: ManifestFields) -> None:
    try:
        d = DetectorFields.model_validate(m.model)
    except ValidationError as exc:
        first = exc.errors()[0]
        _fail(path, f"field 'model.{'.'.join(str(p) for p in first['loc'])}': {first['msg']}")
    window = d.config.get("window")
    assert m.inputs is not None
    shape = m.inputs[0].shape
    if len(shape) != 3 or type(window) is not int or window != shape[1]:
        _fail(path, f"field 'model.config.window' {window!r} is not the window of the graph's "
                    f"input {shape}")  # fmt: skip
    if not all(spread > 0 for _, spread in d.standard.values()):
        _fail(path, "field 'model.standard': each signal's spread must be above 0")


def _check_ensemble(path: Path, m: ManifestFields) -> None:
    if not m.members or len(m.members) < 2:
        _fail(path, "an ensemble bundle lists at least two members")
    folder = path.parent
    names = [x.name for x in m.members]
    if len(set(names)) != len(names):
        _fail(path, f"member names repeat: {names}")
    for x in m.members:
        try:
            sub = contained_path(folder, x.folder, str(folder), kind="folder", owner="bundle")
        except InputError as exc:
            _fail(path, f"member {x.name!r}: {str(exc).removeprefix(f'{folder}: ')}")
        if sub.resolve() == folder.resolve():
            _fail(path, f"member {x.name!r} is the ensemble's own folder")
        listed = f"{x.folder.strip('/')}/manifest.json"
        if listed not in m.files:
            _fail(path, f"member {x.name!r}: its manifest is not among the checksummed files")
    import numpy as np

    if m.weights is None or m.blocks is None:
        _fail(path, "an ensemble bundle needs weights and blocks")
    try:
        w = np.asarray(m.weights, dtype=float)
    except ValueError:
        _fail(path, "ensemble weights are ragged")
    shape = (len(m.blocks), len(m.quantiles), len(m.members))
    if w.shape != shape or not np.isfinite(w).all() or (w < 0).any():
        _fail(path, f"ensemble weights of shape {w.shape}, expected {shape}, finite and >= 0")
    blocks = m.blocks or []
    pairs = all(len(b) == 2 and b[0] <= b[1] for b in blocks)
    steps = sorted(h for b in blocks if len(b) == 2 for h in range(b[0], b[1] + 1))
    if not pairs or steps != list(range(1, m.horizon + 1)):
        _fail(path, f"ensemble blocks {blocks} do not cover horizon steps 1..{m.horizon} once each")


ORT_TYPES = {"tensor(float)": "float32", "tensor(double)": "float64", "tensor(int64)": "int64"}


def check_graph(path: Path, manifest: dict[str, Any], session: Any) -> None:
    """The onnxruntime session's inputs and outputs are the ones the manifest describes (names,
    dtypes, fixed dimensions), so a mismatch is one message at load, not an error per series."""

    def compare(what: str, listed: list[dict[str, Any]], actual: list[Any]) -> None:
        names = [a.name for a in actual]
        if [x["name"] for x in listed] != names[: len(listed)] or len(listed) > len(names):
            _fail(path, f"the graph's {what} are {names}, the manifest lists "
                        f"{[x['name'] for x in listed]}")  # fmt: skip
        for spec, arg in zip(listed, actual, strict=False):
            dtype = ORT_TYPES.get(arg.type, arg.type)
            if dtype != spec["dtype"]:
                _fail(path, f"{what[:-1]} {arg.name!r} is {dtype} in the graph, "
                            f"{spec['dtype']} in the manifest")  # fmt: skip
            dims = list(arg.shape)
            fixed = [(i, d, s) for i, (d, s) in enumerate(zip(dims, spec["shape"], strict=False))
                     if isinstance(d, int) and isinstance(s, int) and d != s]  # fmt: skip
            if len(dims) != len(spec["shape"]) or fixed:
                _fail(path, f"{what[:-1]} {arg.name!r} has shape {dims} in the graph, "
                            f"{spec['shape']} in the manifest")  # fmt: skip

    compare("inputs", manifest["inputs"], session.get_inputs())
    compare("outputs", manifest["outputs"], session.get_outputs())
