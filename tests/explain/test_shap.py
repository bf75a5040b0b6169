from __future__ import annotations

import numpy as np
import pytest

from forecasting.explain.shap_report import shap_values
from tests.models.helpers import fitted, households, origins


@pytest.mark.parametrize("kind", ["lightgbm", "xgboost"])
@pytest.mark.parametrize("quantile", [0.1, 0.5, 0.9])
def test_shap_values_plus_base_equal_the_model_output(kind, quantile):
    frame, static = households()
    model = fitted(kind, frame, static)
    w = model.windows(frame, origins(36, 38), static)
    values, base = shap_values(model, w.X, quantile)
    raw = model.raw_predict(w.X)[:, model.quantiles.index(quantile)]
    assert values.shape == w.X.shape
    np.testing.assert_allclose(values.sum(axis=1) + base, raw, rtol=1e-4, atol=1e-5)
    # and the values explain something: the history features carry weight
    share = np.abs(values).mean(axis=0)
    assert share.max() > 0
