"""Deep forecasters in three layers: pure `nn.Module` networks (`networks.py`, what is exported),
thin LightningModules with loss, metrics and optimiser (`modules.py`), and estimators that turn
canonical frames into windows and forecasts back (`estimator.py`, `tft.py`, `anomaly.py`)."""
