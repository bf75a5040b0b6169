"""Data layer: loaders, validation with quarantine, resampling, gaps, covariates, synthetic data."""
