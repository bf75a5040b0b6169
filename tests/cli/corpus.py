"""A hostile corpus of bad inputs for every command, run as real subprocesses.

Each case builds its bad input in a folder of its own, runs `python -m forecasting ...` there
and is judged by `problems()`: the exit code is one the case documents (1 or 2; `monitor`
refuses with 4, its 2 meaning drift), stderr is one line with no traceback and no
"unexpected", nothing is written on a refusal, a file that is not a table is never quoted
back, and a validation keeps rows in = rows out + quarantined.
`workspace()` makes the real parts the cases start from (generated meter data, a trained
LightGBM run and its bundle, a tiny LSTM-autoencoder run, monthly totals, tariffs).

Run it whole with `python -m benchmarks.bad_input_corpus` for the counts per command.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[2]
WS = dict[str, Path]
Make = Callable[[WS, Path], list[str]]

# ---- the workspace ------------------------------------------------------------------------

TRAIN = {
    "name": "corpus_lgb",
    "horizon": 24,
    "lookback": 168,
    "train": {"start": "2023-10-23", "end": "2023-11-12"},
    "validation": {"start": "2023-11-13", "end": "2023-11-18"},
    "features": {"lags": [24, 168], "rolling_windows": [24, 168]},
    "model": {"kind": "lightgbm", "n_estimators": 20, "num_leaves": 7, "min_data_in_leaf": 20},
}
AUTOENCODER = {
    "name": "corpus_ae",
    "lookback": 168,
    "origin_hour": None,
    "origin_step": 6,
    "train": {"start": "2023-10-23", "end": "2023-11-12"},
    "validation": {"start": "2023-11-13", "end": "2023-11-18"},
    "model": {"kind": "lstm_autoencoder", "window": 24, "stride": 6, "hidden_size": 8,
              "latent_size": 4, "batch_size": 64},
    "trainer": {"accelerator": "cpu", "max_epochs": 1, "progress_bar": "none"},
}  # fmt: skip
FLAT = {
    "name": "flat", "currency": "GBP", "amounts": "minor", "timezone": "Europe/London",
    "fixed_per_day": 40.0, "energy": {"type": "flat", "rate": 25.0},
}  # fmt: skip


def workspace(root: Path, days: int = 40) -> WS:
    """The real parts every case starts from, made once (about 30 s on 2 cores)."""
    from forecasting.config.data import load_data_config
    from forecasting.data.prepare import prepare
    from forecasting.data.synthetic import SyntheticSpec, write_synthetic
    from forecasting.export import export_run
    from training.train import train

    root.mkdir(parents=True, exist_ok=True)
    write_synthetic(SyntheticSpec(households=6, days=days, seed=11), root / "synth")
    data = root / "synth" / "data.yaml"
    w: WS = {"root": root, "data": data, "readings": root / "synth" / "readings.csv"}
    for name, cfg in (("train", TRAIN), ("ae", AUTOENCODER)):
        path = root / f"{name}.yaml"
        path.write_text(yaml.safe_dump({**cfg, "data": str(data)}))
        w[f"{name}_config"] = path
    here = Path.cwd()
    os.chdir(root)  # the generated data config names its files relative to `root`
    try:
        train(w["train_config"], root / "run")
        train(w["ae_config"], root / "ae_run")
        export_run(root / "run", root / "bundle")
        prepared = prepare(load_data_config(data))
    finally:
        os.chdir(here)
    frame = prepared.frame.drop(columns=["filled"])
    frame.to_parquet(root / "canonical.parquet", index=False)
    frame.to_csv(root / "canonical.csv", index=False)
    prepared.static.to_csv(root / "static.csv", index=False)
    month = frame["timestamp"].dt.tz_convert("Europe/London").dt.strftime("%Y-%m")
    monthly = frame.assign(month=month).groupby(["series_id", "month"], as_index=False)
    monthly = monthly["target"].sum().rename(columns={"target": "kwh"})
    monthly.to_csv(root / "monthly.csv", index=False)
    weather = pd.read_csv(root / "synth" / "weather.csv").assign(export_kwh=0.0)
    weather.to_csv(root / "weather.csv", index=False)
    usage = frame[["series_id", "timestamp", "target"]].rename(columns={"target": "kwh"})
    usage.to_csv(root / "usage.csv", index=False)
    (root / "flat.yaml").write_text(yaml.safe_dump(FLAT))
    w |= {
        "run": root / "run",
        "ae_run": root / "ae_run",
        "bundle": root / "bundle",
        "canonical": root / "canonical.parquet",
        "canonical_csv": root / "canonical.csv",
        "static": root / "static.csv",
        "monthly": root / "monthly.csv",
        "weather": root / "weather.csv",
        "usage": root / "usage.csv",
        "tariff": root / "flat.yaml",
    }
    return w


# ---- cases --------------------------------------------------------------------------------


@dataclass
class Case:
    command: str
    name: str
    make: Make
    codes: tuple[int, ...] = (2,)
    says: str | None = None  # a piece of the one-line message
    output: str | None = "out"  # a path the command must not create on refusal
    after: Callable[[WS, Path], str | None] | None = None  # more checks: a problem or None
    rows: bool = False  # a `data validate --json` report: check rows in = out + quarantined

    @property
    def id(self) -> str:
        return f"{self.command}:{self.name}"


def text(path: Path, body: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(body, bytes):
        path.write_bytes(body)
    else:
        path.write_text(body)
    return path


def yml(path: Path, obj: object) -> Path:
    return text(path, yaml.safe_dump(obj, sort_keys=False))


def edited_yaml(source: Path, dest: Path, changes: dict[str, object]) -> Path:
    """A copy of the YAML at `source` with dotted keys (`input.timezone`) set to new values."""
    cfg = yaml.safe_load(source.read_text())
    for key, value in changes.items():
        node = cfg
        *parents, last = key.split(".")
        for p in parents:
            node = node[p]
        node[last] = value
    return yml(dest, cfg)


def data_config(w: WS, d: Path, **changes: object) -> Path:
    return edited_yaml(w["data"], d / "data.yaml", changes)


def readings(
    d: Path, rows: list[str], header: str = "series_id,timestamp,import_kwh,export_kwh"
) -> Path:
    return text(d / "readings.csv", "\n".join([header, *rows]) + "\n")


def good_rows(n: int = 48, offset: str = "") -> list[str]:
    t = pd.date_range("2024-05-01", periods=n, freq="30min")
    return [f"H1,{x:%Y-%m-%d %H:%M:%S}{offset},0.5,0" for x in t]


def copy(w: WS, key: str, d: Path) -> Path:
    dest = d / w[key].name
    shutil.copytree(w[key], dest, symlinks=True)
    return dest


def manifest_edit(w: WS, d: Path, edit: Callable[[dict], None], reseal: bool = True) -> Path:
    """A copy of the bundle whose manifest `edit` changes, resealed (a deliberate editor) or not."""
    from tests.serving.bundle_fuzz import edit_manifest

    b = copy(w, "bundle", d)
    edit_manifest(b, edit, reseal)
    return b


BOMB = "".join(
    f"{c}: &{c} [{', '.join([f'*{p}'] * 9) if p else ', '.join(['lol'] * 9)}]\n"
    for p, c in zip(["", *"abcdefgh"], "abcdefghi", strict=True)
)


def intact(name: str) -> Callable[[WS, Path], str | None]:
    """The case's file `name` is still there after the command ran."""

    def check(w: WS, d: Path) -> str | None:
        return None if (d / name).exists() else f"{name} was deleted"

    return check


def predict(b: str | Path, i: str | Path, *extra: str) -> list[str]:
    return ["predict", "--bundle", str(b), "--input", str(i), "--output", "out", "--no-progress",
            *extra]  # fmt: skip


HOME = ROOT / "configs" / "schedule" / "home_example.yaml"


def schedule(cfg: str | Path, *extra: str) -> list[str]:
    date = [] if "--date" in extra else ["--date", "2024-03-05"]
    return ["schedule", "--config", str(cfg), "--tariff", str(ROOT / "configs" / "tariffs" /
            "uk_flat_example.yaml"), *date, "--output", "out", *extra]  # fmt: skip


def monitor(b: str | Path, cfg: str | Path, *extra: str) -> list[str]:
    return ["monitor", "--bundle", str(b), "--data-config", str(cfg), "--output", "out", *extra]


def validate(cfg: Path, path: Path | str, *extra: str) -> list[str]:
    return ["data", "validate", "--config", str(cfg), str(path), *extra]


def _config_cases() -> list[Case]:
    """Config files every command reads: the same loader, so one set through `data validate`
    and `train` (and tariffs through `bill`)."""
    cases = []
    bad_yaml = {
        "alias_bomb": (BOMB, "aliases"),
        "duplicate_key": ("name: a\nname: b\n", "appears twice"),
        "not_utf8": (b"name: \xff\xfe\n", "UTF-8"),
        "garbage": ("{{{:: ]]\n", "invalid YAML"),
        "deep": ("a: " + "[" * 3000 + "]" * 3000 + "\n", "invalid YAML"),
        "top_level_list": ("- a\n- b\n", "mapping"),
        "empty": ("", "empty"),
        "nul_bytes": (b"name: a\x00\n", "NUL"),
    }
    for name, (body, says) in bad_yaml.items():
        for cmd in ("data validate", "train", "bill"):

            def make(w: WS, d: Path, body: str | bytes = body, cmd: str = cmd) -> list[str]:
                cfg = text(d / "c.yaml", body)
                if cmd == "data validate":
                    return validate(cfg, w["readings"])
                if cmd == "train":
                    return ["train", "--config", str(cfg), "--output", "out"]
                return ["bill", "--tariff", str(cfg), "--usage", str(w["usage"]), "--output", "out"]

            cases.append(Case(cmd, f"yaml_{name}", make, says=says))
    return cases


def _data_cases() -> list[Case]:
    v = "data validate"
    c: list[Case] = [
        Case(v, "config_missing", lambda w, d: validate(d / "nope.yaml", w["readings"]), says="not found"),
        Case(v, "config_is_folder", lambda w, d: validate(d, w["readings"]), says="folder"),
        Case(v, "unknown_key", lambda w, d: validate(data_config(w, d, **{"input.colour": 1}), w["readings"]), says="unknown key"),
        Case(v, "nan_max_value", lambda w, d: validate(text(d / "c.yaml", w["data"].read_text().replace("max_value: 12.0", "max_value: .nan")), w["readings"]), says="max_value"),
        Case(v, "inf_scale", lambda w, d: validate(data_config(w, d, **{"input.scale": float("inf")}), w["readings"]), says="scale"),
        Case(v, "bad_timezone", lambda w, d: validate(data_config(w, d, **{"input.timezone": "Mars/Base"}), w["readings"]), says="timezone"),
        Case(v, "empty_timestamp_name", lambda w, d: validate(data_config(w, d, **{"input.timestamp": ""}), w["readings"]), says="timestamp"),
        Case(v, "same_separators", lambda w, d: validate(data_config(w, d, **{"input.thousands": "."}), w["readings"]), says="thousands"),
        Case(v, "input_missing", lambda w, d: validate(w["data"], d / "none.csv"), says="not found"),
        Case(v, "input_empty", lambda w, d: validate(w["data"], text(d / "r.csv", "")), says="empty"),
        Case(v, "header_only", lambda w, d: validate(w["data"], readings(d, [])), says="no data rows"),
        Case(v, "missing_column", lambda w, d: validate(w["data"], readings(d, ["H1,2024-05-01 00:00,0.5"], "series_id,timestamp,import_kwh")), says="export_kwh"),
        Case(v, "etc_passwd", lambda w, d: validate(w["data"], "/etc/passwd"), says="content is not shown"),
        Case(v, "mixed_offsets", lambda w, d: validate(w["data"], readings(d, good_rows(4, "+01:00") + good_rows(4)[2:])), says="mixed"),
        Case(v, "latin1", lambda w, d: validate(w["data"], text(d / "r.csv", "series_id,timestamp,import_kwh,export_kwh\nH\xe9,2024-05-01 00:00,1,0\n".encode("latin-1"))), says="r.csv"),
        Case(v, "bool_target", lambda w, d: validate(w["data"], _parquet(d, {"series_id": ["H1"] * 4, "timestamp": good_times(4), "import_kwh": [True] * 4, "export_kwh": [0.0] * 4})), says="r.parquet"),
        Case(v, "not_parquet", lambda w, d: validate(w["data"], text(d / "r.parquet", "not parquet")), says="parquet"),
        Case(v, "binary_garbage", lambda w, d: validate(w["data"], text(d / "r.csv", bytes(range(256)) * 4)), says="r.csv"),
        Case(v, "quarantine_is_folder", lambda w, d: validate(w["data"], w["readings"], "--quarantine", str(d)), codes=(2,)),
        Case(v, "quarantine_unwritable", lambda w, d: validate(w["data"], w["readings"], "--quarantine", "/proc/nope/q.parquet"), codes=(2,)),
        Case(v, "thousands_comma_refused", lambda w, d: validate(w["data"], readings(d, [*good_rows(7), 'H1,2024-05-01 03:30:00,"1,234",0']), "--json"), codes=(1,), output=None, rows=True),
        Case(v, "ragged_rows", lambda w, d: validate(w["data"], readings(d, [*good_rows(6), "H1,2024-05-01 03:00:00,0.5,0,EXTRA", "H1,2024-05-01 03:30:00,0.5"]), "--json"), codes=(1,), output=None, rows=True),
        Case(v, "all_rows_bad", lambda w, d: validate(w["data"], readings(d, ["H1,never,x,0"] * 3)), says="no usable rows"),
        Case("data prepare", "output_is_file", lambda w, d: ["data", "prepare", "--config", str(w["data"]), "--output", str(text(d / "f.txt", "x"))], output=None),
        Case("data prepare", "input_missing", lambda w, d: ["data", "prepare", "--config", str(w["data"]), "--output", "out", "--input", str(d / "none.csv")], says="not found"),
        Case("data prepare", "output_unwritable", lambda w, d: ["data", "prepare", "--config", str(w["data"]), "--output", "/proc/nope"], output=None),
        Case("data synth", "bad_start", lambda w, d: ["data", "synth", "--output", "out", "--start", "garbage"], says="--start"),
        Case("data synth", "impossible_date", lambda w, d: ["data", "synth", "--output", "out", "--start", "2024-02-30"], says="--start"),
        Case("data synth", "negative_seed", lambda w, d: ["data", "synth", "--output", "out", "--seed", "-1"], says="--seed"),
        Case("data synth", "too_short_for_faults", lambda w, d: ["data", "synth", "--output", "out", "--households", "1", "--days", "2"], says="days"),
        Case("data synth", "zero_households", lambda w, d: ["data", "synth", "--output", "out", "--households", "0"], says="households"),
        Case("data synth", "output_is_file", lambda w, d: ["data", "synth", "--output", str(text(d / "f.txt", "x"))], output=None),
        Case("data init", "input_missing", lambda w, d: ["data", "init", str(d / "none.csv"), "--output", "out"], says="not found"),
        Case("data init", "no_timestamps", lambda w, d: ["data", "init", str(text(d / "n.csv", "a,b\n1,2\n3,4\n")), "--output", "out"], says="timestamps"),
        Case("data init", "no_numbers", lambda w, d: ["data", "init", str(text(d / "t.csv", "when,who\n2024-01-01 00:00,x\n2024-01-01 01:00,y\n")), "--output", "out"], says="numeric"),
        Case("data init", "output_exists", lambda w, d: ["data", "init", str(w["readings"]), "--output", str(text(d / "data.yaml", "x"))], says="exists", output=None),
        Case("data init", "etc_passwd", lambda w, d: ["data", "init", "/etc/passwd", "--output", "out"], says="content is not shown"),
    ]  # fmt: skip
    return c


def good_times(n: int) -> list[pd.Timestamp]:
    return list(pd.date_range("2024-05-01", periods=n, freq="30min"))


def _parquet(d: Path, cols: dict[str, list]) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(cols).to_parquet(d / "r.parquet", index=False)
    return d / "r.parquet"


def train_config(w: WS, d: Path, **changes: object) -> Path:
    return edited_yaml(w["train_config"], d / "train.yaml", changes)


def _train_cases() -> list[Case]:
    t = "train"

    def run(cfg: Path, out: str = "out") -> list[str]:
        return ["train", "--config", str(cfg), "--output", out]

    def bad_checkpoint(w: WS, d: Path) -> list[str]:
        cfg = yaml.safe_load(w["ae_config"].read_text())
        cfg["trainer"]["resume_from"] = str(text(d / "fake.ckpt", "not a checkpoint"))
        return run(yml(d / "ae.yaml", cfg))

    def into_folder(w: WS, d: Path) -> list[str]:
        text(d / "mine" / "thesis.txt", "precious")
        return run(w["train_config"], str(d / "mine"))

    return [
        Case(t, "config_missing", lambda w, d: run(d / "nope.yaml"), says="not found"),
        Case(t, "data_config_missing", lambda w, d: run(train_config(w, d, data=str(d / "no.yaml"))), says="not found"),
        Case(t, "validation_outside_data", lambda w, d: run(train_config(w, d, validation={"start": "2030-01-01", "end": "2030-01-07"})), says="no validation origins"),
        Case(t, "validation_overlaps_train", lambda w, d: run(train_config(w, d, validation={"start": "2023-11-10", "end": "2023-11-18"})), says="overlaps"),
        Case(t, "train_outside_data", lambda w, d: run(train_config(w, d, train={"start": "2030-01-01", "end": "2030-02-01"}, validation={"start": "2030-02-02", "end": "2030-02-09"})), says="origins"),
        Case(t, "num_leaves_huge", lambda w, d: run(train_config(w, d, **{"model.num_leaves": 1e9})), says="num_leaves"),
        Case(t, "quantile_out_of_range", lambda w, d: run(train_config(w, d, quantiles=[0.1, 1.5])), says="quantiles"),
        Case(t, "horizon_zero", lambda w, d: run(train_config(w, d, horizon=0)), says="horizon"),
        Case(t, "unknown_model_kind", lambda w, d: run(train_config(w, d, model={"kind": "prophet"})), says="model"),
        Case(t, "learning_rate_nan", lambda w, d: run(train_config(w, d, **{"model.learning_rate": float("nan")})), says="learning_rate"),
        Case(t, "bad_checkpoint", bad_checkpoint, says="checkpoint"),
        Case(t, "output_is_file", lambda w, d: run(w["train_config"], str(text(d / "f.txt", "x"))), output=None),
        Case(t, "output_is_unrelated_folder", into_folder, output=None, says="not a run folder", after=intact("mine/thesis.txt")),
    ]  # fmt: skip


def _tune_cases() -> list[Case]:
    def tuning(w: WS, d: Path, **changes: object) -> Path:
        cfg = {"name": "t", "base": str(w["train_config"]), "output": str(d / "out"), "trials": 2,
               "params": ["num_leaves"], **changes}  # fmt: skip
        return yml(d / "tune.yaml", cfg)

    def into_folder(w: WS, d: Path) -> list[str]:
        text(d / "mine" / "notes.txt", "precious")
        return ["tune", "--config", str(tuning(w, d, output=str(d / "mine")))]

    return [
        Case("tune", "memory_storage", lambda w, d: ["tune", "--config", str(tuning(w, d)), "--storage", "sqlite:///:memory:"], says="memory"),
        Case("tune", "base_missing", lambda w, d: ["tune", "--config", str(tuning(w, d, base=str(d / "no.yaml")))], says="not found"),
        Case("tune", "unknown_param", lambda w, d: ["tune", "--config", str(tuning(w, d, params=["colour"]))]),
        Case("tune", "output_is_unrelated_folder", into_folder, output=None, says="study folder", after=intact("mine/notes.txt")),
        Case("tune", "zero_trials", lambda w, d: ["tune", "--config", str(tuning(w, d)), "--trials", "0"]),
    ]  # fmt: skip


def _run_cases() -> list[Case]:
    """Commands that read a run folder: evaluate, export, ensemble, explain, anomalies."""

    def tampered(w: WS, d: Path, edit: Callable[[Path], None]) -> Path:
        r = copy(w, "run", d)
        edit(r)
        return r

    def evaluate(r: Path | str, *extra: str) -> list[str]:
        return ["evaluate", "--run", str(r), "--start", "2023-11-19", "--end", "2023-11-20",
                "--output", "out/m.json", *extra]  # fmt: skip

    def truncate(r: Path) -> None:
        f = next((r / "model").glob("lightgbm_*.txt"))
        f.write_bytes(f.read_bytes()[: len(f.read_bytes()) // 3])

    def run_json(r: Path, change: dict) -> None:
        m = json.loads((r / "run.json").read_text())
        m.update(change)
        (r / "run.json").write_text(json.dumps(m))

    def export_over(w: WS, d: Path) -> list[str]:
        text(d / "mine" / "photo.jpg", "precious")
        return ["export", "--run", str(w["run"]), "--output", str(d / "mine")]

    def export_onto_run(w: WS, d: Path) -> list[str]:
        r = copy(w, "run", d)
        return ["export", "--run", str(r), "--output", str(r)]

    def ensemble_onto_member(w: WS, d: Path) -> list[str]:
        r = copy(w, "run", d)
        return ["ensemble", "--runs", str(r), str(w["run"]), "--output", str(r), "--start",
                "2023-11-13", "--end", "2023-11-18"]  # fmt: skip

    e = "evaluate"
    return [
        Case(e, "run_missing", lambda w, d: evaluate(d / "nope"), says="not found"),
        Case(e, "run_json_garbage", lambda w, d: evaluate(tampered(w, d, lambda r: (r / "run.json").write_text("{not json"))), says="JSON"),
        Case(e, "run_json_list", lambda w, d: evaluate(tampered(w, d, lambda r: (r / "run.json").write_text("[1, 2]"))), says="run"),
        Case(e, "format_float", lambda w, d: evaluate(tampered(w, d, lambda r: run_json(r, {"format_version": 1.0}))), says="format"),
        Case(e, "format_true", lambda w, d: evaluate(tampered(w, d, lambda r: run_json(r, {"format_version": True}))), says="format"),
        Case(e, "unknown_kind", lambda w, d: evaluate(tampered(w, d, lambda r: run_json(r, {"kind": "prophet"}))), says="kind"),
        Case(e, "file_outside", lambda w, d: evaluate(tampered(w, d, lambda r: run_json(r, {"files": ["../../etc/passwd"]}))), says="outside"),
        Case(e, "truncated_model", lambda w, d: evaluate(tampered(w, d, truncate)), says="sha256"),
        Case(e, "model_file_missing", lambda w, d: evaluate(tampered(w, d, lambda r: next((r / "model").glob("lightgbm_*.txt")).unlink())), says="missing"),
        Case(e, "config_tampered", lambda w, d: evaluate(tampered(w, d, lambda r: (r / "config.yaml").write_text(BOMB))), says="sha256"),
        Case(e, "end_before_start", lambda w, d: ["evaluate", "--run", str(w["run"]), "--start", "2023-11-20", "--end", "2023-11-19", "--output", "out/m.json"]),
        Case(e, "dates_garbage", lambda w, d: ["evaluate", "--run", str(w["run"]), "--start", "soon", "--end", "later", "--output", "out/m.json"]),
        Case(e, "outside_data", lambda w, d: ["evaluate", "--run", str(w["run"]), "--start", "2031-01-01", "--end", "2031-01-02", "--output", "out/m.json"]),
        Case(e, "recalibrate_hourly", lambda w, d: evaluate(w["run"], "--recalibrate", "hourly"), says="use daily or weekly"),
        Case("export", "atol_nan", lambda w, d: ["export", "--run", str(w["run"]), "--output", "out", "--atol", "nan"], says="--atol"),
        Case("export", "rtol_negative", lambda w, d: ["export", "--run", str(w["run"]), "--output", "out", "--rtol", "-1"], says="--rtol"),
        Case("export", "over_unrelated_folder", export_over, output=None, says="not a bundle", after=intact("mine/photo.jpg")),
        Case("export", "onto_its_run", export_onto_run, output=None, says="overwrite", after=intact("run/run.json")),
        Case("export", "truncated_model", lambda w, d: ["export", "--run", str(tampered(w, d, truncate)), "--output", "out"], says="sha256"),
        Case("export", "output_is_file", lambda w, d: ["export", "--run", str(w["run"]), "--output", str(text(d / "f.txt", "x"))], output=None),
        Case("ensemble", "one_run", lambda w, d: ["ensemble", "--runs", str(w["run"]), "--output", "out", "--start", "2023-11-13", "--end", "2023-11-18"]),
        Case("ensemble", "onto_a_member", ensemble_onto_member, output=None, says="overwrite", after=intact("run/run.json")),
        Case("ensemble", "calibration_unknown", lambda w, d: ["ensemble", "--runs", str(w["run"]), str(w["run"]), "--output", "out", "--interval-calibration", "isotonic"], says="use conformal or none"),
        Case("ensemble", "runs_missing", lambda w, d: ["ensemble", "--runs", str(d / "a"), str(d / "b"), "--output", "out", "--start", "2023-11-13", "--end", "2023-11-18"], says="not found"),
        Case("explain", "run_missing", lambda w, d: ["explain", "--run", str(d / "nope"), "--output", "out"], says="not found"),
        Case("explain", "quantile_not_trained", lambda w, d: ["explain", "--run", str(w["run"]), "--output", "out", "--quantile", "0.7"]),
        Case("explain", "autoencoder_unknown_customer", lambda w, d: ["explain", "--run", str(w["ae_run"]), "--output", "out", "--customer", "NOBODY"], says="NOBODY"),
        Case("schedule", "config_missing", lambda w, d: schedule(d / "none.yaml"), says="not found"),
        Case("schedule", "unknown_appliance_field", lambda w, d: schedule(yml(d / "h.yaml", {"appliances": [{"name": "washer", "power_kw": 2, "duration": "2h", "colour": "blue"}]})), says="colour"),
        Case("schedule", "window_too_short", lambda w, d: schedule(yml(d / "h.yaml", {"appliances": [{"name": "ev", "power_kw": 7, "energy_kwh": 50, "earliest": "01:00", "latest_end": "03:00"}]})), says="'ev': its window holds"),
        Case("schedule", "prices_and_tariff_missing", lambda w, d: ["schedule", "--config", str(HOME), "--date", "2024-03-05", "--output", "out"], says="--tariff or --prices"),
        Case("schedule", "prices_unit_unknown", lambda w, d: ["schedule", "--config", str(HOME), "--date", "2024-03-05", "--output", "out", "--prices", str(text(d / "p.csv", "timestamp,p50\n2024-03-05T00:00Z,1\n")), "--price-unit", "per-gallon"], says="--price-unit"),
        Case("schedule", "homes_without_usage", lambda w, d: schedule(HOME, "--homes", str(text(d / "h.csv", "series_id,timestamp,watts\na,2024-03-05T00:00Z,1\n"))), says="no usage column"),
        Case("schedule", "date_garbage", lambda w, d: schedule(HOME, "--date", "someday"), says="--date"),
        Case("recommend", "tariffs_missing", lambda w, d: ["recommend", "--tariffs", str(d / "none"), "--usage", str(w["readings"]), "--current", "x", "--output", "out"], says="not found"),
        Case("recommend", "current_unknown", lambda w, d: ["recommend", "--tariffs", str(ROOT / "configs" / "tariffs" / "uk_flat_example.yaml"), "--tariffs", str(ROOT / "configs" / "tariffs" / "uk_tou_demand_example.yaml"), "--usage", str(w["readings"]), "--current", "gas", "--output", "out"], says="'gas' is not one of the tariffs"),
        Case("recommend", "one_tariff_only", lambda w, d: ["recommend", "--tariffs", str(ROOT / "configs" / "tariffs" / "uk_flat_example.yaml"), "--usage", str(w["readings"]), "--current", "uk_flat_example", "--output", "out"], says="at least two"),
        Case("target-signals", "config_missing", lambda w, d: ["target-signals", "--config", str(d / "none.yaml"), "--output", "out"], says="not found"),
        Case("target-signals", "target_not_relative", lambda w, d: ["target-signals", "--config", str(yml(d / "t.yaml", {"trial": "configs/elasticity/lcl.yaml", "learn_until": "2013-07-01", "target": {"High": -5}})), "--output", "out"], says="not a relative change"),
        Case("target-signals", "rule_unknown", lambda w, d: ["target-signals", "--config", str(ROOT / "configs" / "targeting" / "lcl.yaml"), "--rule", "psychic", "--output", "out"], says="--rule"),
        Case("monitor", "bundle_missing", lambda w, d: monitor(d / "nope", w["data"]), codes=(4,), says="not found"),
        Case("monitor", "thresholds_unknown_key", lambda w, d: monitor(w["bundle"], w["data"], "--thresholds", str(text(d / "t.yaml", "psy: {warning: 0.1, drift: 0.2}\n"))), codes=(4,), says="psy"),
        Case("monitor", "thresholds_unordered", lambda w, d: monitor(w["bundle"], w["data"], "--thresholds", str(text(d / "t.yaml", "psi: {warning: 0.3, drift: 0.2}\n"))), codes=(4,), says="must not be below warning"),
        Case("monitor", "end_garbage", lambda w, d: monitor(w["bundle"], w["data"], "--end", "soon"), codes=(4,), says="--end"),
        Case("monitor", "end_outside_data", lambda w, d: monitor(w["bundle"], w["data"], "--end", "2031-01-01"), codes=(4,), says="no readings"),
        Case("monitor", "reference_unsealed", lambda w, d: monitor(manifest_edit(w, d, lambda m: m["files"].pop("reference.json")), w["data"]), codes=(4,), says="not one of the bundle's sealed files"),
        Case("monitor", "reference_end_garbage", lambda w, d: monitor(w["bundle"], w["data"], "--reference-end", "last spring"), codes=(4,), says="--reference-end"),
        Case("monitor", "exit_on_unknown", lambda w, d: monitor(w["bundle"], w["data"], "--exit-on", "weather"), codes=(4,), says="--exit-on"),
        Case("monitor", "input_missing", lambda w, d: monitor(w["bundle"], w["data"], "--input", str(d / "none.csv")), codes=(4,), says="not found"),
        Case("anomalies", "forecaster_run", lambda w, d: ["anomalies", "--run", str(w["run"]), "--input", str(w["readings"]), "--output", "out.parquet"], output="out.parquet", says="anomaly"),
        Case("anomalies", "span_outside_data", lambda w, d: ["anomalies", "--run", str(w["ae_run"]), "--input", str(w["readings"]), "--output", "out.parquet", "--start", "2031-01-01"], output="out.parquet", says="outside the data"),
        Case("anomalies", "dates_garbage", lambda w, d: ["anomalies", "--run", str(w["ae_run"]), "--input", str(w["readings"]), "--output", "out.parquet", "--start", "NaT"], output="out.parquet", says="--start"),
        Case("anomalies", "too_little_history", lambda w, d: ["anomalies", "--run", str(w["ae_run"]), "--input", str(readings(d, good_rows(96))), "--output", "out.parquet"], output="out.parquet", says="history"),
        Case("anomalies", "output_is_folder", lambda w, d: ["anomalies", "--run", str(w["ae_run"]), "--input", str(w["readings"]), "--output", str(d)], output=None),
    ]  # fmt: skip


def _bundle_cases() -> list[Case]:
    p = "predict"

    def edited(edit: Callable[[dict], None], reseal: bool = True) -> Make:
        return lambda w, d: predict(
            manifest_edit(w, d, edit, reseal), w["canonical"], "--static", str(w["static"])
        )

    def outside_file(w: WS, d: Path) -> list[str]:
        text(d / "outside" / "evil.onnx", "x")
        b = manifest_edit(w, d, lambda m: m["files"].update({"../outside/evil.onnx": "0" * 64}))
        return predict(b, w["canonical"], "--static", str(w["static"]))

    def symlinked_model(w: WS, d: Path) -> list[str]:
        b = copy(w, "bundle", d)
        real = d / "elsewhere.onnx"
        (b / "model.onnx").rename(real)
        (b / "model.onnx").symlink_to(real)
        return predict(b, w["canonical"], "--static", str(w["static"]))

    def symlinked_bundle(w: WS, d: Path) -> list[str]:
        (d / "link").symlink_to(w["bundle"], target_is_directory=True)
        return predict(d / "link", w["canonical"], "--static", str(w["static"]))

    def files(m: dict, change: dict) -> None:
        m["files"] = change

    cases = [
        Case(p, "unsealed_edit", edited(lambda m: m.update(horizon=12), reseal=False), says="manifest_sha256"),
        Case(p, "format_float", edited(lambda m: m.update(format_version=1.0)), says="format"),
        Case(p, "format_true", edited(lambda m: m.update(format_version=True)), says="format"),
        Case(p, "format_99", edited(lambda m: m.update(format_version=99)), says="format"),
        Case(p, "path_escapes", outside_file, says="outside"),
        Case(p, "absolute_path", edited(lambda m: files(m, {"/etc/passwd": "0" * 64, **m["files"]})), says="relative"),
        Case(p, "etc_passwd_relative", edited(lambda m: files(m, {"../../../../../../etc/passwd": "0" * 64, **m["files"]})), says=".."),
        Case(p, "symlinked_model", symlinked_model, says="symbolic link"),
        Case(p, "symlinked_bundle", symlinked_bundle, says="symbolic link"),
        Case(p, "fewer_quantiles", edited(lambda m: m.update(quantiles=[0.1, 0.5])), says="quantiles"),
        Case(p, "quantiles_unsorted", edited(lambda m: m.update(quantiles=[0.9, 0.5, 0.1])), says="increasing"),
        Case(p, "kind_unknown", edited(lambda m: m.update(kind="prophet")), says="kind"),
        Case(p, "horizon_text", edited(lambda m: m.update(horizon="24")), says="horizon"),
        Case(p, "freq_garbage", edited(lambda m: m.update(freq="fortnightly")), says="freq"),
        Case(p, "files_empty", edited(lambda m: m.update(files={})), says="files"),
        Case(p, "bad_digest", edited(lambda m: m["files"].update({"model.onnx": "abc"})), says="files"),
        Case(p, "model_missing_from_files", edited(lambda m: m["files"].pop("model.onnx")), says="model.onnx"),
        Case(p, "features_garbage", edited(lambda m: m["model"].update(features={"lags": "x"})), says="features"),
        Case(p, "no_feature_names", edited(lambda m: m["model"].pop("feature_names")), says="feature_names"),
        Case(p, "input_shape_wrong", edited(lambda m: m["inputs"][0].update(shape=["batch", 7])), says="shape"),
        Case(p, "input_name_wrong", edited(lambda m: m["inputs"][0].update(name="Y")), says="inputs"),
        Case(p, "manifest_list", lambda w, d: predict(_manifest_text(w, d, "[1,2,3]"), w["canonical"]), says="manifest"),
        Case(p, "manifest_garbage", lambda w, d: predict(_manifest_text(w, d, "{nope"), w["canonical"]), says="JSON"),
        Case(p, "manifest_deep", lambda w, d: predict(_manifest_text(w, d, "[" * 100000 + "]" * 100000), w["canonical"]), says="JSON"),
        Case(p, "bundle_missing", lambda w, d: predict(d / "nope", w["canonical"]), says="not found"),
        Case(p, "batch_size_zero", lambda w, d: predict(w["bundle"], w["canonical"], "--batch-size", "0"), says="--batch-size"),
        Case(p, "origin_nat", lambda w, d: predict(w["bundle"], w["canonical"], "--origin", "NaT"), says="--origin"),
        Case(p, "origin_garbage", lambda w, d: predict(w["bundle"], w["canonical"], "--origin", "tomorrow"), says="--origin"),
        Case(p, "input_missing_column", lambda w, d: predict(w["bundle"], _csv(d, "series_id,timestamp\nA,2024-01-01\n"), "--static", str(w["static"])), says="target"),
        Case(p, "static_missing", lambda w, d: predict(w["bundle"], w["canonical"]), says="--static"),
        Case(p, "static_duplicate_ids", lambda w, d: predict(w["bundle"], w["canonical"], "--static", str(_dup_static(w, d))), says="more than once"),
        Case(p, "static_etc_passwd", lambda w, d: predict(w["bundle"], w["canonical"], "--static", "/etc/passwd"), says="content is not shown"),
        Case(p, "nothing_forecastable", lambda w, d: predict(w["bundle"], _csv(d, "series_id,timestamp,target,export_kwh,temperature,cloud_cover\nA,2024-01-01T00:00:00Z,1,0,5,0.5\nB,2024-01-01T00:00:00Z,x,0,5,0.5\n"), "--static", str(w["static"])), codes=(1,), output=None, says="none of the"),
        Case(p, "output_is_file", lambda w, d: ["predict", "--bundle", str(w["bundle"]), "--input", str(w["canonical"]), "--output", str(text(d / "f.txt", "x")), "--static", str(w["static"])], output=None),
        Case(p, "output_unrelated_folder", lambda w, d: ["predict", "--bundle", str(w["bundle"]), "--input", str(w["canonical"]), "--output", str(text(d / "mine" / "a.txt", "x").parent), "--static", str(w["static"])], output=None, says="not a predict job", after=intact("mine/a.txt")),
    ]  # fmt: skip
    return cases


def _manifest_text(w: WS, d: Path, body: str) -> Path:
    b = copy(w, "bundle", d)
    (b / "manifest.json").write_text(body)
    return b


def _csv(d: Path, body: str) -> Path:
    return text(d / "input.csv", body)


def _dup_static(w: WS, d: Path) -> Path:
    s = pd.read_csv(w["static"])
    pd.concat([s, s.head(1)]).to_csv(d / "static.csv", index=False)
    return d / "static.csv"


def _adapter_cases() -> list[Case]:
    def bill(
        w: WS, d: Path, *extra: str, tariff: dict | None = None, usage: Path | None = None
    ) -> list[str]:
        t = yml(d / "t.yaml", tariff) if tariff is not None else w["tariff"]
        return [
            "bill",
            "--tariff",
            str(t),
            "--usage",
            str(usage or w["usage"]),
            "--output",
            "out",
            *extra,
        ]

    def tariff(**changes: object) -> dict:
        t = json.loads(json.dumps(FLAT))
        for key, value in changes.items():
            node = t
            *parents, last = key.split(".")
            for p in parents:
                node = node[p]
            node[last] = value
        return t

    def signal(w: WS, d: Path, path: str, tz: str = "UTC") -> list[str]:
        dyn = {"type": "dynamic", "signal": {"path": path, "timestamp": "t", "column": "level",
               "timezone": tz}, "rates": {"Low": 5.0, "High": 30.0}}  # fmt: skip
        return bill(w, d, tariff=tariff(energy=dyn))

    def impute(w: WS, d: Path, *extra: str, monthly: Path | None = None) -> list[str]:
        return ["impute", "--bundle", str(w["bundle"]), "--monthly", str(monthly or w["monthly"]),
                "--static", str(w["static"]), "--weather", str(w["weather"]), "--output", "out",
                *extra]  # fmt: skip

    def one_customer(w: WS, d: Path, months: str) -> Path:
        m = pd.read_csv(w["monthly"])
        one = m[m["series_id"] == m["series_id"].iloc[0]].head(1).assign(months=months)
        one.to_csv(d / "monthly.csv", index=False)
        return d / "monthly.csv"

    def weather(w: WS, d: Path, value: str) -> list[str]:
        df = pd.read_csv(w["weather"], dtype=str)
        df.loc[5, "temperature"] = value
        df.to_csv(d / "weather.csv", index=False)
        return ["impute", "--bundle", str(w["bundle"]), "--monthly", str(w["monthly"]), "--static",
                str(w["static"]), "--weather", str(d / "weather.csv"), "--output", "out"]  # fmt: skip

    b, i = "bill", "impute"
    signal_file = "t,level\n2024-03-31 00:30,Low\n2024-03-31 01:30,High\n"
    return [
        Case(b, "rate_nan", lambda w, d: bill(w, d, tariff=tariff(**{"energy.rate": float("nan")})), says="rate"),
        Case(b, "rate_inf", lambda w, d: bill(w, d, tariff=tariff(**{"energy.rate": float("inf")})), says="rate"),
        Case(b, "minor_per_major_negative", lambda w, d: bill(w, d, tariff=tariff(minor_per_major=-100)), says="minor_per_major"),
        Case(b, "minor_per_major_zero", lambda w, d: bill(w, d, tariff=tariff(minor_per_major=0)), says="minor_per_major"),
        Case(b, "demand_interval_zero", lambda w, d: bill(w, d, tariff=tariff(demand={"rate": 1.0, "interval": "0min"})), says="interval"),
        Case(b, "signal_bad_timezone", lambda w, d: signal(w, d, str(text(d / "s.csv", signal_file)), "Mars/Base"), says="timezone"),
        Case(b, "signal_nonexistent_local_time", lambda w, d: signal(w, d, str(text(d / "s.csv", signal_file)), "Europe/London"), says="s.csv"),
        Case(b, "signal_etc_passwd", lambda w, d: signal(w, d, "/etc/passwd"), says="content is not shown"),
        Case(b, "usage_header_only", lambda w, d: bill(w, d, usage=_csv(d, "series_id,timestamp,kwh\n")), says="no data rows"),
        Case(b, "usage_no_kwh", lambda w, d: bill(w, d, usage=_csv(d, "series_id,timestamp,power\nA,2024-01-01T00:00Z,1\n")), says="usage column"),
        Case(b, "usage_missing", lambda w, d: bill(w, d, usage=d / "none.csv"), says="not found"),
        Case(b, "batch_size_zero", lambda w, d: bill(w, d, "--batch-size", "0"), says="--batch-size"),
        Case(b, "cycle_months_five", lambda w, d: bill(w, d, "--cycle-months", "5"), says="cycle"),
        Case(b, "static_duplicate", lambda w, d: bill(w, d, "--static", str(_dup_static(w, d)), "--group-by", "tariff"), says="more than once"),
        Case(b, "group_by_without_static", lambda w, d: bill(w, d, "--group-by", "tariff"), says="--static"),
        Case(b, "baseline_missing", lambda w, d: bill(w, d, "--baseline", str(d / "none.yaml")), says="not found"),
        Case(b, "engine_unknown", lambda w, d: bill(w, d, "--engine", "spark"), says="use local or ray"),
        Case(b, "workers_with_data_config", lambda w, d: bill(w, d, "--workers", "2", "--data-config", str(w["data"])), says="--data-config bills in this process"),
        Case(i, "months_negative", lambda w, d: impute(w, d, monthly=one_customer(w, d, "-3")), codes=(1,), output=None),
        Case(i, "months_fraction", lambda w, d: impute(w, d, monthly=one_customer(w, d, "1.5")), codes=(1,), output=None),
        Case(i, "months_huge", lambda w, d: impute(w, d, monthly=one_customer(w, d, "1e5")), codes=(1,), output=None),
        Case(i, "weather_nan", lambda w, d: weather(w, d, "nan"), says="finite"),
        Case(i, "weather_text", lambda w, d: weather(w, d, "warm"), says="finite"),
        Case(i, "weather_duplicate_stamp", lambda w, d: _dup_weather(w, d), says="twice"),
        Case(i, "samples_huge", lambda w, d: impute(w, d, "--samples", "100000000"), says="--samples"),
        Case(i, "samples_negative", lambda w, d: impute(w, d, "--samples", "-1"), says="--samples"),
        Case(i, "address_without_ray", lambda w, d: impute(w, d, "--address", "auto"), says="are for --engine ray"),
        Case(i, "workers_and_ray", lambda w, d: impute(w, d, "--engine", "ray", "--workers", "2"), says="--actors"),
        Case(i, "monthly_missing_columns", lambda w, d: impute(w, d, monthly=_csv(d, "series_id,kwh\nA,1\n")), says="month"),
        Case(i, "static_duplicate", lambda w, d: ["impute", "--bundle", str(w["bundle"]), "--monthly", str(w["monthly"]), "--static", str(_dup_static(w, d)), "--weather", str(w["weather"]), "--output", "out"], says="more than once"),
        Case(i, "bundle_is_a_run", lambda w, d: ["impute", "--bundle", str(w["run"]), "--monthly", str(w["monthly"]), "--static", str(w["static"]), "--output", "out"], says="bundle"),
        Case(i, "no_static_anywhere", lambda w, d: ["impute", "--bundle", str(w["bundle"]), "--monthly", str(w["monthly"]), "--weather", str(w["weather"]), "--output", "out"], says="--static"),
        Case(i, "data_config_without_static", lambda w, d: impute_with(w, data_config(w, d, static=None)), says="no `static` section"),
        Case(i, "data_config_weather_missing", lambda w, d: impute_with(w, text(d / "c.yaml", w["data"].read_text().replace("weather.csv", "nowhere.csv"))), says="not found"),
        Case(i, "data_config_bad_decimal", lambda w, d: impute_with(w, text(d / "c.yaml", w["data"].read_text().replace("known_future: true", "known_future: true\n  decimal: ';'"))), says="decimal"),
    ]  # fmt: skip


def impute_with(w: WS, config: Path) -> list[str]:
    return ["impute", "--bundle", str(w["bundle"]), "--monthly", str(w["monthly"]),
            "--data-config", str(config), "--output", "out"]  # fmt: skip


def _dup_weather(w: WS, d: Path) -> list[str]:
    df = pd.read_csv(w["weather"], dtype=str)
    pd.concat([df, df.iloc[[3]]]).to_csv(d / "weather.csv", index=False)
    return ["impute", "--bundle", str(w["bundle"]), "--monthly", str(w["monthly"]), "--static",
            str(w["static"]), "--weather", str(d / "weather.csv"), "--output", "out"]  # fmt: skip


def _demo_cases() -> list[Case]:
    """The demo's refusals come before it generates anything."""
    demo_config = Path(__file__).resolve().parents[2] / "configs" / "demo" / "demo.yaml"

    def demo(cfg: Path | str, out: str = "out") -> list[str]:
        return ["demo", "--config", str(cfg), "--output", out]

    def into_folder(w: WS, d: Path) -> list[str]:
        text(d / "mine" / "report.docx", "a user's own work")
        return demo(demo_config, "mine")

    def onto_config(w: WS, d: Path) -> list[str]:
        cfg = yml(d / "cfgs" / "demo.yaml", yaml.safe_load(demo_config.read_text()))
        return demo(cfg, "cfgs")

    return [
        Case("demo", "config_missing", lambda w, d: demo(d / "none.yaml"), says="not found"),
        Case("demo", "unknown_key", lambda w, d: demo(yml(d / "c.yaml", {"synthetic": {"houses": 3}})), says="synthetic.houses"),
        Case("demo", "too_few_days", lambda w, d: demo(yml(d / "c.yaml", {"synthetic": {"days": 30}})), says="needs at least"),
        Case("demo", "too_few_households", lambda w, d: demo(yml(d / "c.yaml", {"synthetic": {"households": 3}})), says="synthetic.households"),
        Case("demo", "quantiles_without_p90", lambda w, d: demo(yml(d / "c.yaml", {"quantiles": [0.1, 0.5]})), says="include"),
        Case("demo", "output_is_unrelated_folder", into_folder, output=None, says="not a demo output", after=intact("mine/report.docx")),
        Case("demo", "output_holds_its_config", onto_config, output=None, says="overwrite", after=intact("cfgs/demo.yaml")),
        Case("demo", "output_is_file", lambda w, d: demo(demo_config, str(text(d / "f.txt", "x"))), output=None),
    ]  # fmt: skip


def _response_cases() -> list[Case]:
    """`elasticity` and `optimise-tariff`: configs that point at the wrong things."""
    template = ROOT / "configs" / "tariff_templates" / "tou3_example.yaml"

    def dynamic(d: Path) -> Path:
        t = pd.date_range("2023-10-01", "2024-02-01", freq="1h", tz="UTC")
        levels = [
            "High" if i % 24 == 18 else "Low" if i % 24 == 3 else "Normal" for i in range(len(t))
        ]
        sig = text(d / "signal.csv", pd.DataFrame({"t": t.strftime("%Y-%m-%dT%H:%MZ"), "level": levels})
                   .to_csv(index=False))  # fmt: skip
        return yml(d / "dtou.yaml", {**FLAT, "energy": {"type": "dynamic", "signal": {
            "path": str(sig), "timestamp": "t", "column": "level"},
            "rates": {"High": 60.0, "Normal": 14.0, "Low": 4.0}}})  # fmt: skip

    def elasticity(w: WS, d: Path, **changes: object) -> list[str]:
        cfg = {"data": str(w["data"]), "tariff": str(dynamic(d)),
               "treated": {"column": "tariff", "value": "tou"}, **changes}  # fmt: skip
        return ["elasticity", "--config", str(yml(d / "e.yaml", cfg)), "--output", "out"]

    def optimise(w: WS, d: Path, **changes: object) -> list[str]:
        cfg = {"template": str(template), "current": str(w["tariff"]), "data": str(w["data"]),
               "response": {"up": -0.1, "down": -0.05}, **changes}  # fmt: skip
        return ["optimise-tariff", "--config", str(yml(d / "o.yaml", cfg)), "--output", "out"]

    e, o = "elasticity", "optimise-tariff"
    return [
        Case(e, "config_missing", lambda w, d: [e, "--config", str(d / "none.yaml"), "--output", "out"], says="not found"),
        Case(e, "tariff_not_dynamic", lambda w, d: elasticity(w, d, tariff=str(w["tariff"])), says="energy charge is 'flat'"),
        Case(e, "treated_column_unknown", lambda w, d: elasticity(w, d, treated={"column": "plan", "value": "x"}), says="static column 'plan'"),
        Case(e, "bands_leave_a_gap", lambda w, d: elasticity(w, d, bands={"a": "00:00-12:00"}), says="no band covers 12:00"),
        Case(e, "no_control_households", lambda w, d: elasticity(w, d, treated={"column": "tariff", "value": ["tou", "flat"]}), says="need treated and control"),
        Case(e, "reference_not_a_level", lambda w, d: elasticity(w, d, reference="Medium"), says="reference level 'Medium'"),
        Case(o, "config_missing", lambda w, d: [o, "--config", str(d / "none.yaml"), "--output", "out"], says="not found"),
        Case(o, "template_has_no_decision", lambda w, d: optimise(w, d, template=str(w["tariff"])), says="no price is a decision"),
        Case(o, "no_response", lambda w, d: optimise(w, d, response={"detail": "band"}), says="elasticity `file`"),
        Case(o, "elasticity_file_is_passwd", lambda w, d: optimise(w, d, response={"file": "/etc/passwd"}), says="not a JSON elasticity file"),
        Case(o, "revenue_out_of_reach", lambda w, d: optimise(w, d, goals={"revenue_target": 1e9}), says="no tariff meets every constraint: revenue"),
        Case("tariff-report", "run_missing", lambda w, d: ["tariff-report", "--run", str(d / "none"), "--output", "out"], says="not an optimise-tariff output"),
        Case("tariff-report", "run_is_any_folder", lambda w, d: ["tariff-report", "--run", str(text(d / "r" / "notes.txt", "x").parent), "--output", "out"], says="missing summary.json"),
        Case("tariff-report", "run_is_a_file", lambda w, d: ["tariff-report", "--run", str(text(d / "r.txt", "x")), "--output", "out"], says="not an optimise-tariff output"),
        Case(o, "weather_the_bundle_does_not_read", lambda w, d: optimise(w, d, scenarios={"count": 2, "weather_years": {"bundle": str(w["bundle"]), "columns": ["rain"]}}), says="the bundle does not read ['rain']"),
        Case(o, "vulnerable_column_unknown", lambda w, d: optimise(w, d, vulnerable={"column": "concession", "value": "y"}), says="vulnerable.column"),
    ]  # fmt: skip


def _service_cases() -> list[Case]:
    def keys_file(d: Path) -> Path:
        from serving.service.keys import add_key

        add_key(d / "keys.yaml", "ops", ["read"])
        return d / "keys.yaml"

    def models(w: WS, d: Path) -> Path:
        shutil.copytree(w["bundle"], d / "models" / "household" / "1")
        return d / "models"

    def serve(w: WS, d: Path, *extra: str) -> list[str]:
        return [
            "serve",
            "--bundles",
            str(models(w, d)),
            "--keys",
            str(keys_file(d)),
            "--port",
            "0",
            *extra,
        ]

    k = "keys add"
    return [
        Case("serve", "no_pseudonym_secret", lambda w, d: serve(w, d), says="no pseudonymisation secret", output=None),
        Case("serve", "keys_file_missing", lambda w, d: ["serve", "--bundles", str(models(w, d)), "--keys", str(d / "none.yaml")], says="keys file not found", output=None),
        Case("serve", "models_folder_missing", lambda w, d: ["serve", "--bundles", str(d / "none"), "--keys", str(keys_file(d))], says="models folder not found", output=None),
        Case("serve", "config_unknown_key", lambda w, d: ["serve", "--config", str(yml(d / "s.yaml", {"bundles": "m", "keys": "k.yaml", "colour": "red"}))], says="colour", output=None),
        Case("serve", "keys_file_garbage", lambda w, d: ["serve", "--bundles", str(models(w, d)), "--keys", str(text(d / "k.yaml", "keys: [{id: ops, roles: [read], salt: zz, sha256: 00}]"))], says="salt", output=None),
        Case(k, "id_with_spaces", lambda w, d: ["keys", "add", "--keys", str(d / "k.yaml"), "--id", "Bad Id"], says="key id 'Bad Id'", output="k.yaml"),
        Case(k, "role_unknown", lambda w, d: ["keys", "add", "--keys", str(d / "k.yaml"), "--id", "ops", "--roles", "read,root"], says="roles ['read', 'root']", output="k.yaml"),
        Case(k, "id_taken", lambda w, d: ["keys", "add", "--keys", str(keys_file(d)), "--id", "ops"], says="key id 'ops' exists", output=None),
        Case("keys list", "file_missing", lambda w, d: ["keys", "list", "--keys", str(d / "none.yaml")], says="keys file not found", output=None),
        Case("keys list", "not_a_mapping", lambda w, d: ["keys", "list", "--keys", str(text(d / "k.yaml", "- a\n- b\n"))], says="a keys file is a mapping", output=None),
        Case("keys list", "record_without_roles", lambda w, d: ["keys", "list", "--keys", str(yml(d / "k.yaml", {"keys": [{"id": "ops", "salt": "0" * 32, "sha256": "0" * 64}]}))], says="roles", output=None),
        Case("keys revoke", "id_unknown", lambda w, d: ["keys", "revoke", "--keys", str(keys_file(d)), "--id", "nobody"], says="no key with id 'nobody'", output=None),
        Case("keys revoke", "file_missing", lambda w, d: ["keys", "revoke", "--keys", str(d / "none.yaml"), "--id", "ops"], says="keys file not found", output=None),
        Case("keys revoke", "file_not_yaml", lambda w, d: ["keys", "revoke", "--keys", str(text(d / "k.yaml", "keys: [unclosed")), "--id", "ops"], says="not valid YAML", output=None),
    ]  # fmt: skip


CASES: list[Case] = [
    *_config_cases(), *_data_cases(), *_train_cases(), *_tune_cases(), *_run_cases(),
    *_bundle_cases(), *_adapter_cases(), *_response_cases(), *_demo_cases(), *_service_cases(),
]  # fmt: skip

# ---- running and judging ------------------------------------------------------------------


@dataclass
class Outcome:
    case: Case
    folder: Path
    code: int
    out: str
    err: str
    problems: list[str] = field(default_factory=list)


def run_case(case: Case, w: WS, timeout: float = 300) -> Outcome:
    folder = w["root"] / "cases" / case.id.replace(":", "__").replace(" ", "_")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    try:
        args = case.make(w, folder)
    except Exception as exc:  # the case itself could not be built: a broken test, say so
        return Outcome(case, folder, -1, "", "", [f"case setup failed: {exc!r}"])
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("FORECASTING_DEBUG", "FORECASTING_PSEUDONYM_SECRET")
    }
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run(
        [sys.executable, "-m", "forecasting", *args],
        cwd=folder, capture_output=True, text=True, timeout=timeout, env=env,
    )  # fmt: skip
    outcome = Outcome(case, folder, proc.returncode, proc.stdout, proc.stderr)
    outcome.problems = problems(outcome, w)
    return outcome


def problems(o: Outcome, w: WS) -> list[str]:
    """What is wrong with one outcome; [] when the command behaved."""
    c, found = o.case, []
    lines = [line for line in o.err.splitlines() if line.strip()]
    if o.code not in c.codes:
        found.append(f"exit {o.code}, expected {c.codes}")
    if "Traceback" in o.err or "Traceback" in o.out:
        found.append("a traceback was printed")
    if "error: unexpected" in o.err:
        found.append("an unexpected error (a bug)")
    refused = o.code == 2 or (o.code == 4 and c.command == "monitor")  # monitor's 2 is drift
    if refused and len(lines) != 1:
        found.append(f"{len(lines)} lines on stderr, expected one")
    if c.says is not None and c.says not in o.err + o.out:
        found.append(f"the message does not say {c.says!r}")
    if "root:x:0:0" in o.err + o.out:
        found.append("the content of /etc/passwd was printed")
    if refused and c.output is not None and (o.folder / c.output).exists():
        found.append(f"{c.output} was written although the command refused")
    if c.rows:
        try:
            report = json.loads(o.out)
            if report["rows_in"] != report["rows_out"] + report["rows_quarantined"]:
                found.append("rows in != rows out + quarantined")
        except (json.JSONDecodeError, KeyError):
            found.append("no JSON report to count rows in")
    if c.after is not None and (extra := c.after(w, o.folder)):
        found.append(extra)
    return found


def run_all(w: WS, cases: list[Case] | None = None, workers: int = 2) -> list[Outcome]:
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda c: run_case(c, w), cases or CASES))
