"""A long-context patch model: a PatchTST-style encoder over patches of the lookback and a
TiDE-style dense decoder per horizon step, fed from the same sequence windows as the CNN-LSTM
and the TFT (so unseen households, the per-window scaling, the ONNX export and serving work
unchanged).

Why this shape for household load: a patch of a day's hours is a natural token (PatchTST's
finding that patches, not single steps, carry the signal), a few attention layers over two
weeks of days find which past days resemble the one ahead, and the decoder sees each target
hour's known inputs (calendar, the seasonal lags, the profile, weather) directly, as TiDE's
dense decoder does, rather than through a recurrent state.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from forecasting.config.model import PatchConfig
from forecasting.models.deep.estimator import SequenceForecaster
from forecasting.models.deep.networks import StaticEncoder, monotone_quantiles


def attend(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Multi-head scaled dot-product attention written out (it exports to plain ONNX ops):
    (output [B, Tq, D], weights averaged over heads [B, Tq, Tk])."""
    tq, tk, d = q.shape[1], k.shape[1], q.shape[2]
    dh = d // heads
    q = q.reshape(-1, tq, heads, dh).transpose(1, 2)
    k = k.reshape(-1, tk, heads, dh).transpose(1, 2)
    v = v.reshape(-1, tk, heads, dh).transpose(1, 2)
    w = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dh), dim=-1)  # [B, h, Tq, Tk]
    return (w @ v).transpose(1, 2).reshape(-1, tq, d), w.mean(dim=1)


class SelfAttentionBlock(nn.Module):
    """A pre-norm transformer encoder layer (self-attention, then a feed-forward layer)."""

    def __init__(self, d: int, heads: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)
        self.ff = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv(self.norm1(x)).chunk(3, dim=-1)
        x = x + self.drop(self.out(attend(q, k, v, self.heads)[0]))
        return x + self.drop(self.ff(self.norm2(x)))


class ResidualMLP(nn.Module):
    """TiDE's residual block: a two-layer MLP plus a linear skip, then layer norm."""

    def __init__(self, d_in: int, d_hidden: int, d_out: int, dropout: float):
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(d_in, d_hidden), nn.ReLU(), nn.Linear(d_hidden, d_out), nn.Dropout(dropout)
        )
        self.skip = nn.Linear(d_in, d_out)
        self.norm = nn.LayerNorm(d_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.mlp(x) + self.skip(x))


class PatchNet(nn.Module):
    """PatchTST-style encoder, TiDE-style decoder, non-crossing quantile head.

    The lookback is cut into whole patches of `patch_len` steps (the oldest steps left over are
    left out, except by the global residual); each patch, all past channels together, is embedded by one linear layer plus a
    learned position, and a static token joins them; `layers` pre-norm transformer blocks mix
    them. Each horizon step queries the tokens with its known-future inputs and its position
    (cross-attention), and a residual MLP maps [context, query, static] to Q outputs. A linear
    map from the lookback's scaled target to the horizon (TiDE's global residual) is added to
    the lowest output, which the non-crossing map carries to every quantile. `forward` returns
    quantiles [B, H, Q] and the cross-attention spread over the lookback's steps [B, H, L]
    (each patch's weight shared equally by its steps), like the CNN-LSTM's attention."""

    def __init__(
        self,
        past_size: int,
        future_size: int,
        cardinalities: list[int],
        n_static_real: int,
        n_quantiles: int,
        lookback: int,
        horizon: int,
        patch_len: int = 24,
        d_model: int = 64,
        heads: int = 4,
        layers: int = 2,
        embedding_dim: int = 4,
        dropout: float = 0.1,
    ):
        super().__init__()
        if d_model % heads:
            raise ValueError(f"d_model {d_model} is not a multiple of heads {heads}")
        self.patch_len, self.lookback, self.heads = patch_len, lookback, heads
        if patch_len > lookback:
            raise ValueError(f"patch_len {patch_len} is longer than the lookback {lookback}")
        self.n_patches = lookback // patch_len
        self.skip = lookback - self.n_patches * patch_len
        self.embed = nn.Linear(patch_len * past_size, d_model)
        self.position = nn.Parameter(torch.randn(1, self.n_patches + 1, d_model) * 0.02)
        self.static = StaticEncoder(cardinalities, n_static_real, embedding_dim, d_model)
        self.encoder = nn.ModuleList(
            SelfAttentionBlock(d_model, heads, dropout) for _ in range(layers)
        )
        self.norm = nn.LayerNorm(d_model)
        self.query = nn.Linear(future_size, d_model)
        self.step = nn.Parameter(torch.randn(1, horizon, d_model) * 0.02)
        self.q, self.k, self.v = (nn.Linear(d_model, d_model) for _ in range(3))
        self.decoder = ResidualMLP(3 * d_model + future_size, 2 * d_model, d_model, dropout)
        self.head = nn.Linear(d_model, n_quantiles)
        self.residual = nn.Linear(lookback, horizon)

    def forward(
        self,
        past: torch.Tensor,
        future: torch.Tensor,
        static_cat: torch.Tensor,
        static_real: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        s = self.static(static_cat, static_real)  # [B, D]
        x = past[:, self.skip :, :]  # the oldest steps beyond whole patches are left out
        x = x.reshape(-1, self.n_patches, self.patch_len * x.shape[2])
        tokens = torch.cat([s.unsqueeze(1), self.embed(x)], dim=1) + self.position
        for block in self.encoder:
            tokens = block(tokens)
        tokens = self.norm(tokens)
        query = self.query(future) + self.step  # [B, H, D]
        context, w = attend(self.q(query), self.k(tokens), self.v(tokens), self.heads)
        steps = future.shape[1]
        joined = torch.cat([context, query, s.unsqueeze(1).expand(-1, steps, -1), future], -1)
        raw = self.head(self.decoder(joined))  # [B, H, Q]
        level = self.residual(past[:, :, 0]).unsqueeze(-1)  # [B, H, 1]
        raw = torch.cat([raw[..., :1] + level, raw[..., 1:]], dim=-1)
        # each patch's weight (the static token's left out) shared by its steps; 0 on the
        # oldest steps beyond whole patches
        patches = w[..., 1:].unsqueeze(-1) / self.patch_len  # [B, H, N, 1]
        hours = patches.expand(-1, -1, -1, self.patch_len).reshape(
            -1, steps, self.n_patches * self.patch_len
        )
        if self.skip:
            hours = torch.cat([hours[..., : self.skip] * 0, hours], dim=-1)
        return monotone_quantiles(raw), hours


class PatchForecaster(SequenceForecaster):
    """Global patch-transformer quantile forecaster (`PatchNet`)."""

    config_class = PatchConfig

    def build_net(self) -> nn.Module:
        c = self.config
        return PatchNet(
            **self.input_sizes(),
            lookback=self.lookback,
            horizon=self.horizon,
            patch_len=c.patch_len,
            d_model=c.heads * c.head_size,
            heads=c.heads,
            layers=c.layers,
            embedding_dim=c.embedding_dim,
            dropout=c.dropout,
        )
