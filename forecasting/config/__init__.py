"""Typed configs read from YAML."""

from forecasting.config.base import ConfigError, StrictModel, load_yaml_model
from forecasting.config.data import DataConfig, load_data_config

__all__ = ["ConfigError", "DataConfig", "StrictModel", "load_data_config", "load_yaml_model"]
