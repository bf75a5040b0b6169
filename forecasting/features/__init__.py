"""Features shared by training and serving."""

from forecasting.features.build import (
    build_features,
    calendar_features,
    feature_groups,
    lag_features,
)
from forecasting.features.spec import FeatureConfig

__all__ = ["FeatureConfig", "build_features", "calendar_features", "feature_groups", "lag_features"]
