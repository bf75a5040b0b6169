"""Torch-free serving path: onnxruntime, numpy, pandas and pyarrow only (never torch or lightning)."""
