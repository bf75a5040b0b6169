"""Meter fault injection, a rolling z-score baseline detector and detection metrics."""
