"""Smart-meter forecasting: data layer, features, models, evaluation, export."""

__version__ = "0.1.0"
