"""Export fitted runs to ONNX bundles that the torch-free serving path loads."""
