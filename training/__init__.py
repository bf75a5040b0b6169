"""Training pipelines (trainer construction from config, fits, studies). Filled in by the deep-model and tuning work."""
