"""`trainer.resume_from` loads a checkpoint weights-only, whatever torch's default says: a
crafted pickle never runs."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from forecasting.errors import ConfigError
from forecasting.models.deep.trainer import check_checkpoint


class _Payload:
    """Unpickling this would write a file: the proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "code ran"))


def test_a_crafted_checkpoint_never_runs_even_with_weights_only_switched_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    import torch

    marker = tmp_path / "pwned.txt"
    ckpt = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "payload": _Payload(marker)}, ckpt)
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")  # torch's default switched off
    with pytest.raises(ConfigError, match="weights-only"):
        check_checkpoint(ckpt)
    assert not marker.exists()
    raw = tmp_path / "raw.ckpt"
    raw.write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(ConfigError, match="not a checkpoint"):
        check_checkpoint(raw)
    assert not marker.exists()


def test_a_real_checkpoint_passes(tmp_path: Path):
    import torch

    ckpt = tmp_path / "ok.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(2)}, "epoch": 1}, ckpt)
    check_checkpoint(ckpt)
