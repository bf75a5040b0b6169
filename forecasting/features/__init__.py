"""Features shared by training and serving."""

from forecasting.config.features import FeatureConfig
from forecasting.features.build import (
    build_features,
    calendar_features,
    feature_groups,
    lag_features,
)

__all__ = ["FeatureConfig", "build_features", "calendar_features", "feature_groups", "lag_features"]
