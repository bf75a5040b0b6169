"""A bundle reads only regular files inside its own folder, named by relative paths without
`..`; an ensemble only its own member subfolders. Each refusal is one BundleError line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from forecasting.bundle_format import write_manifest
from forecasting.errors import BundleError
from forecasting.folders import sha256
from serving.load import load_bundle


def ensemble_of(bundle: Path, folder: Path) -> Path:
    """An ensemble bundle of two copies of `bundle`, equal weights, as `export` lays it out."""
    for name in ("a", "b"):
        shutil.copytree(bundle, folder / "members" / name)
    member = json.loads((bundle / "manifest.json").read_text())
    q, h = member["quantiles"], member["horizon"]
    manifest = {
        **{k: member[k] for k in ("quantiles", "horizon", "lookback", "freq", "timezone",
                                  "nonnegative", "model")},
        "format_version": 2, "kind": "ensemble", "name": "pair",
        "members": [{"name": n, "kind": member["kind"], "folder": f"members/{n}"} for n in "ab"],
        "weights": [[[0.5, 0.5] for _ in q]], "blocks": [[1, h]],
        "files": {f"members/{n}/manifest.json": sha256(folder / "members" / n / "manifest.json")
                  for n in "ab"},
    }  # fmt: skip
    write_manifest(folder / "manifest.json", manifest)
    return folder


@pytest.fixture
def ensemble(corpus_workspace, tmp_path) -> Path:
    return ensemble_of(corpus_workspace["bundle"], tmp_path / "ens")


def edit(folder: Path, change) -> None:
    m = json.loads((folder / "manifest.json").read_text())
    change(m)
    write_manifest(folder / "manifest.json", m)


def test_the_ensemble_loads_as_built(ensemble):
    assert load_bundle(ensemble).kind == "ensemble"


@pytest.mark.parametrize(
    ("folder", "says"),
    [
        ("/tmp", "relative"),
        ("../outside", ".."),
        (".", "not a file name|ensemble's own folder|relative"),
        ("members/../..", ".."),
        ("members/missing", "missing"),
    ],
)
def test_member_folders_stay_inside(ensemble, corpus_workspace, folder, says):
    if folder == "../outside":
        shutil.copytree(corpus_workspace["bundle"], ensemble.parent / "outside")

    def change(m):
        m["members"][0]["folder"] = folder

    edit(ensemble, change)
    with pytest.raises(BundleError, match=says):
        load_bundle(ensemble)


def test_a_symlinked_member_is_refused(ensemble, corpus_workspace):
    shutil.rmtree(ensemble / "members" / "a")
    (ensemble / "members" / "a").symlink_to(corpus_workspace["bundle"], target_is_directory=True)
    with pytest.raises(BundleError, match="symbolic link"):
        load_bundle(ensemble)


def test_nan_weights_are_refused(ensemble):
    edit(ensemble, lambda m: m["weights"][0][0].__setitem__(0, float("nan")))
    with pytest.raises(BundleError, match="finite"):
        load_bundle(ensemble)


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "model.onnx/../x"])
def test_listed_files_outside_are_never_read(corpus_workspace, tmp_path, name):
    b = tmp_path / "b"
    shutil.copytree(corpus_workspace["bundle"], b)
    edit(b, lambda m: m["files"].update({name: "0" * 64}))
    with pytest.raises(BundleError) as info:
        load_bundle(b)
    assert "root:" not in str(info.value) and "\n" not in str(info.value)
