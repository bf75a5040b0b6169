"""Every YAML file shipped under configs/ loads with the loader its folder is for."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _loader(folder: str):
    from forecasting.config.base import load_yaml_model
    from forecasting.config.data import load_data_config
    from forecasting.config.demo import DemoConfig
    from forecasting.config.model import load_train_config
    from forecasting.config.monitor import load_monitor_config
    from forecasting.config.tuning import load_tuning_config
    from forecasting.optimise.config import load_optimise_config
    from forecasting.response.config import load_elasticity_config
    from forecasting.schedule.config import load_schedule_config
    from forecasting.targeting.config import load_targeting_config
    from forecasting.tariffs.spec import load_tariff
    from forecasting.tariffs.template import load_template
    from serving.service.config import load_service_config

    return {
        "data": load_data_config,
        "models": load_train_config,
        "tuning": load_tuning_config,
        "tariffs": load_tariff,
        "demo": lambda p: load_yaml_model(DemoConfig, p),
        "elasticity": load_elasticity_config,
        "optimise": load_optimise_config,
        "tariff_templates": load_template,
        "monitor": load_monitor_config,
        "schedule": load_schedule_config,
        "targeting": load_targeting_config,
        "service": load_service_config,
    }[folder]


SHIPPED = sorted(p.relative_to(ROOT / "configs") for p in (ROOT / "configs").rglob("*.yaml"))


def test_every_config_folder_has_a_loader():
    assert {p.parts[0] for p in SHIPPED} == {
        "data", "models", "tuning", "tariffs", "demo", "elasticity", "optimise", "tariff_templates",
        "monitor", "schedule", "targeting", "service",
    }  # fmt: skip


@pytest.mark.parametrize("rel", SHIPPED, ids=str)
def test_the_shipped_config_loads(rel: Path):
    assert _loader(rel.parts[0])(ROOT / "configs" / rel) is not None
