"""Explainability: SHAP reports for fitted models."""
