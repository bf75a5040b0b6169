"""The Temporal Fusion Transformer of pytorch-forecasting 1.8, fed from our sequence windows.

pytorch-forecasting's own data path (`TimeSeriesDataSet` with a `GroupNormalizer` per
household) cannot forecast households it never saw. Here the TFT network is built directly
from the channel lists of `forecasting.features.sequences`, and `TFTNet` maps our plain
tensors to the dict its `forward` expects, so the TFT gets exactly the windows and the
per-window lookback normalisation of the CNN-LSTM, and unseen households work.

Variables as the TFT sees them: calendar and known-future covariates are known in both the
encoder and the decoder; the scaled target, its observed flag and observed covariates only in
the encoder; the seasonal lags, the profile and the step position only in the decoder;
static categories and the log scale are static. Outputs pass through the same non-crossing
quantile map as the CNN-LSTM.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from forecasting.config.model import TFTConfig
from forecasting.models.deep.estimator import SequenceForecaster
from forecasting.models.deep.networks import monotone_quantiles


def _identity_output(out: dict[str, torch.Tensor]) -> torch.Tensor:
    """Targets are already normalised per window: the TFT's output needs no rescaling."""
    return out["prediction"]


class TFTNet(nn.Module):
    """Plain-tensor wrapper: forward(past, future, static_cat, static_real) -> (quantiles
    [B, H, Q], attention [B, H, L] over the encoder, averaged over heads)."""

    def __init__(
        self,
        columns: dict[str, list[str]],
        cardinalities: list[int],
        n_quantiles: int,
        lookback: int,
        horizon: int,
        hidden_size: int = 16,
        attention_head_size: int = 2,
        hidden_continuous_size: int = 8,
        dropout: float = 0.1,
        embedding_dim: int = 4,
    ):
        super().__init__()
        from pytorch_forecasting import TemporalFusionTransformer
        from pytorch_forecasting.metrics import QuantileLoss

        past, future = columns["past"], columns["future"]
        shared = [c for c in past if c in future]
        past_only = [f"past_{c}" for c in past if c not in future]
        future_only = [f"future_{c}" for c in future if c not in past]
        static_real = [f"static_{c}" for c in columns["static_real"]]
        static_cat = [f"static_{c}" for c in columns["static_cat"]]
        self.x_reals = [*static_real, *shared, *past_only, *future_only]
        # where each TFT real comes from: (source tensor, channel)
        self.past_idx = [past.index(c) for c in shared] + [
            past.index(c.removeprefix("past_")) for c in past_only
        ]
        self.future_idx = [future.index(c) for c in shared] + [
            future.index(c.removeprefix("future_")) for c in future_only
        ]
        self.n_static_real, self.n_shared = len(static_real), len(shared)
        self.n_past_only, self.n_future_only = len(past_only), len(future_only)
        self.lookback, self.horizon = lookback, horizon
        with warnings.catch_warnings():  # it saves its loss module as a hyper-parameter
            warnings.filterwarnings("ignore", message="Attribute '(loss|logging_metrics)'")
            self.tft = TemporalFusionTransformer(
                hidden_size=hidden_size,
                lstm_layers=1,
                dropout=dropout,
                output_size=n_quantiles,
                loss=QuantileLoss([0.5] * n_quantiles),  # unused: our module computes the loss
                attention_head_size=attention_head_size,
                max_encoder_length=lookback,
                static_categoricals=static_cat,
                static_reals=static_real,
                time_varying_reals_encoder=[*shared, *past_only],
                time_varying_reals_decoder=[*shared, *future_only],
                x_reals=self.x_reals,
                x_categoricals=static_cat,
                hidden_continuous_size=hidden_continuous_size,
                embedding_sizes={
                    c: (n, min(embedding_dim, n))
                    for c, n in zip(static_cat, cardinalities, strict=True)
                },
                output_transformer=_identity_output,
                log_interval=-1,
            )

    def tft_input(
        self,
        past: torch.Tensor,
        future: torch.Tensor,
        static_cat: torch.Tensor,
        static_real: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        """The dict pytorch-forecasting's TFT.forward takes, built from our tensors."""
        batch, lookback, horizon = past.shape[0], past.shape[1], future.shape[1]
        sr = static_real.unsqueeze(1)
        enc = [
            sr.expand(-1, lookback, -1),
            past[:, :, self.past_idx],
            past.new_zeros(batch, lookback, self.n_future_only),
        ]
        fut = future[:, :, self.future_idx]
        dec = [
            sr.expand(-1, horizon, -1),
            fut[:, :, : self.n_shared],
            future.new_zeros(batch, horizon, self.n_past_only),
            fut[:, :, self.n_shared :],
        ]
        encoder_cont, decoder_cont = torch.cat(enc, dim=-1), torch.cat(dec, dim=-1)
        cat = static_cat.unsqueeze(1)
        return {
            "encoder_cont": encoder_cont,
            "decoder_cont": decoder_cont,
            "encoder_cat": cat.expand(-1, lookback, -1),
            "decoder_cat": cat.expand(-1, horizon, -1),
            "encoder_lengths": torch.full((batch,), lookback, dtype=torch.long, device=past.device),
            "decoder_lengths": torch.full((batch,), horizon, dtype=torch.long, device=past.device),
            "target_scale": past.new_zeros(batch, 2),
        }

    def forward(
        self,
        past: torch.Tensor,
        future: torch.Tensor,
        static_cat: torch.Tensor,
        static_real: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.tft(self.tft_input(past, future, static_cat, static_real))
        attention = out["encoder_attention"].mean(dim=2)  # [B, H, heads, L] -> [B, H, L]
        return monotone_quantiles(out["prediction"]), attention


class TFTForecaster(SequenceForecaster):
    """Global TFT quantile forecaster; `importance(...)` gives its variable selection weights."""

    config_class = TFTConfig

    def build_net(self) -> nn.Module:
        c = self.config
        sizes = self.input_sizes()
        return TFTNet(
            self.columns_,
            sizes["cardinalities"],
            sizes["n_quantiles"],
            self.lookback,
            self.horizon,
            hidden_size=c.hidden_size,
            attention_head_size=c.attention_head_size,
            hidden_continuous_size=c.hidden_continuous_size,
            dropout=c.dropout,
        )

    def importance(
        self, frame: pd.DataFrame, origins: pd.DatetimeIndex, static: pd.DataFrame | None = None
    ) -> dict[str, pd.Series]:
        """Mean variable selection weights of the fitted TFT over the windows of `frame` at
        `origins`: `static`, `encoder` and `decoder` series (each sums to 1), largest first."""
        s = self.sequences(frame, origins, static)
        net = self.net_
        assert isinstance(net, TFTNet)
        sums: dict[str, Any] = {}
        net.eval()
        with torch.no_grad():
            for start in range(0, len(s), 1024):
                part = [torch.from_numpy(a[start : start + 1024]) for a in s.arrays()[:4]]
                out = net.tft(net.tft_input(*part))
                got = net.tft.interpret_output(out, reduction="sum")
                for k in ("static_variables", "encoder_variables", "decoder_variables"):
                    sums[k] = sums.get(k, 0) + got[k].numpy()
        tft = net.tft
        names = {
            "static": tft.static_variables,
            "encoder": tft.encoder_variables,
            "decoder": tft.decoder_variables,
        }
        out_: dict[str, pd.Series] = {}
        for key, cols in names.items():
            w = np.asarray(sums.get(f"{key}_variables", np.zeros(len(cols))), dtype="float64")
            w = w / w.sum() if w.sum() > 0 else w
            out_[key] = pd.Series(w, index=list(cols)).sort_values(ascending=False)
        return out_
