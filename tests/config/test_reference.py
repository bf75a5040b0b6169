"""The data-config reference (`docs/data-config.md`) is generated from the models and kept
current: every key of every section is there, with its type and default (issue 17, item 8)."""

from __future__ import annotations

from forecasting.config.data import DataConfig
from forecasting.config.reference import models_in, reference
from tests.test_layers import ROOT


def test_the_committed_reference_is_what_the_models_generate():
    committed = (ROOT / "docs" / "data-config.md").read_text("utf-8")
    assert committed == reference(), (
        "docs/data-config.md is out of date: run "
        "`.venv/bin/python -m forecasting.config.reference > docs/data-config.md`"
    )


def test_every_key_of_every_section_is_documented_with_what_it_does():
    text = reference()
    for model in models_in(DataConfig, []):
        assert f"\n## {model.__name__}\n" in text
        for name in model.model_fields:
            rows = [line for line in text.splitlines() if line.startswith(f"| `{name}` |")]
            assert rows and all(not row.endswith("|  |") for row in rows), (model.__name__, name)
    for key in ("allow_negative", "known_future", "series_id_value", "timestamp_format"):
        assert f"| `{key}` |" in text
