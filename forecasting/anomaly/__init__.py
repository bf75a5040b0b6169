"""A rolling z-score baseline detector and detection metrics (meter faults: data/faults.py)."""
