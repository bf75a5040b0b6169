"""Pure `nn.Module` networks: `forward` takes and returns plain tensors (what ONNX exports).

Inputs follow `forecasting.features.sequences`: `past` [B, lookback, P], `future`
[B, horizon, F], `static_cat` [B, C] int64 codes (0 = unknown), `static_real` [B, R].
Targets are in scaled units (divided by each window's lookback level).
"""

from __future__ import annotations

import math

import torch
from torch import nn


def monotone_quantiles(raw: torch.Tensor) -> torch.Tensor:
    """Map raw outputs [..., Q] to non-decreasing quantiles: the first is free, each next one
    adds a softplus increment, so P10 <= P50 <= P90 by construction (no crossing)."""
    if raw.shape[-1] == 1:
        return raw
    steps = nn.functional.softplus(raw[..., 1:])
    return torch.cat([raw[..., :1], raw[..., :1] + torch.cumsum(steps, dim=-1)], dim=-1)


class StaticEncoder(nn.Module):
    """Embeds static categories (one table per column, index 0 = unknown) and joins the reals."""

    def __init__(self, cardinalities: list[int], n_real: int, embedding_dim: int, out: int):
        super().__init__()
        self.embeddings = nn.ModuleList(nn.Embedding(c, embedding_dim) for c in cardinalities)
        self.proj = nn.Sequential(
            nn.Linear(embedding_dim * len(cardinalities) + n_real, out), nn.ReLU()
        )

    def forward(self, static_cat: torch.Tensor, static_real: torch.Tensor) -> torch.Tensor:
        parts = [emb(static_cat[:, i]) for i, emb in enumerate(self.embeddings)]
        return self.proj(torch.cat([*parts, static_real], dim=-1))


class CNNLSTMNet(nn.Module):
    """CNN-LSTM encoder-decoder with attention and a quantile head.

    Convolutions (same padding) extract local shapes from the lookback; an LSTM encodes them,
    starting from a state derived from the static inputs; an LSTM decoder runs over the
    horizon's known inputs from the encoder's last state; each horizon step attends over the
    encoder states (scaled dot product). `forward` returns quantiles [B, horizon, Q] and the
    attention weights [B, horizon, lookback]."""

    def __init__(
        self,
        past_size: int,
        future_size: int,
        cardinalities: list[int],
        n_static_real: int,
        n_quantiles: int,
        hidden_size: int = 64,
        conv_channels: int = 32,
        kernel_size: int = 5,
        conv_layers: int = 2,
        lstm_layers: int = 1,
        embedding_dim: int = 4,
        dropout: float = 0.1,
    ):
        super().__init__()
        self.hidden_size, self.lstm_layers = hidden_size, lstm_layers
        convs: list[nn.Module] = []
        c_in = past_size
        for _ in range(conv_layers):
            convs += [
                nn.Conv1d(c_in, conv_channels, kernel_size, padding=kernel_size // 2),
                nn.ReLU(),
            ]
            c_in = conv_channels
        self.conv = nn.Sequential(*convs)
        self.static = StaticEncoder(cardinalities, n_static_real, embedding_dim, hidden_size)
        self.init_h = nn.Linear(hidden_size, hidden_size * lstm_layers)
        self.init_c = nn.Linear(hidden_size, hidden_size * lstm_layers)
        lstm_drop = dropout if lstm_layers > 1 else 0.0
        # the raw past inputs skip past the convolutions so the encoder sees exact values too
        self.encoder = nn.LSTM(
            conv_channels + past_size, hidden_size, lstm_layers, batch_first=True,
            dropout=lstm_drop,
        )  # fmt: skip
        self.future_proj = nn.Linear(future_size, hidden_size)
        self.decoder = nn.LSTM(
            hidden_size, hidden_size, lstm_layers, batch_first=True, dropout=lstm_drop
        )
        self.query = nn.Linear(hidden_size, hidden_size)
        self.key = nn.Linear(hidden_size, hidden_size)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Sequential(
            nn.Linear(3 * hidden_size + future_size, hidden_size),
            nn.ReLU(),
            nn.Linear(hidden_size, n_quantiles),
        )

    def forward(
        self,
        past: torch.Tensor,
        future: torch.Tensor,
        static_cat: torch.Tensor,
        static_real: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        batch = past.shape[0]
        s = self.static(static_cat, static_real)  # [B, hidden]
        h0 = torch.tanh(self.init_h(s)).view(batch, self.lstm_layers, -1).transpose(0, 1)
        c0 = self.init_c(s).view(batch, self.lstm_layers, -1).transpose(0, 1)
        conv = self.conv(past.transpose(1, 2)).transpose(1, 2)  # [B, L, C]
        enc, state = self.encoder(
            torch.cat([conv, past], dim=-1), (h0.contiguous(), c0.contiguous())
        )
        dec, _ = self.decoder(torch.relu(self.future_proj(future)), state)  # [B, H, hidden]
        scores = self.query(dec) @ self.key(enc).transpose(1, 2) / math.sqrt(self.hidden_size)
        attention = torch.softmax(scores, dim=-1)  # [B, H, L]
        context = attention @ enc
        steps = dec.shape[1]
        joined = torch.cat([dec, context, s.unsqueeze(1).expand(-1, steps, -1), future], dim=-1)
        return monotone_quantiles(self.head(self.drop(joined))), attention


class LSTMAutoencoderNet(nn.Module):
    """LSTM autoencoder that takes the load's *shape* from the window and its *level* from the
    history. Input [B, W, 2 + K]: the scaled load x, the expected load from the history (the
    same-hour mean of the lookback days) and K calendar inputs. The encoder sees only the shape
    (x over its window mean) and the calendar; the decoder rebuilds x from the latent code, the
    expected load and the calendar. A spike is a shape it cannot rebuild; a day that collapsed
    to zero or dropped far below the home's usual level cannot be rebuilt either, because the
    level comes from the history. Returns (reconstruction [B, W], latent code [B, latent])."""

    def __init__(
        self,
        n_calendar: int,
        hidden_size: int = 32,
        latent_size: int = 8,
        lstm_layers: int = 1,
        dropout: float = 0.0,
    ):
        super().__init__()
        drop = dropout if lstm_layers > 1 else 0.0
        self.encoder = nn.LSTM(
            1 + n_calendar, hidden_size, lstm_layers, batch_first=True, dropout=drop
        )
        self.to_latent = nn.Linear(hidden_size, latent_size)
        self.decoder = nn.LSTM(
            latent_size + 1 + n_calendar, hidden_size, lstm_layers, batch_first=True, dropout=drop
        )
        self.out = nn.Linear(hidden_size, 1)

    def forward(self, window: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, expected, calendar = window[:, :, :1], window[:, :, 1:2], window[:, :, 2:]
        shape = x / x.mean(dim=1, keepdim=True).clamp(min=0.05)
        _, (h, _) = self.encoder(torch.cat([shape, calendar], dim=-1))
        z = self.to_latent(h[-1])  # [B, latent]
        steps = window.shape[1]
        code = z.unsqueeze(1).expand(-1, steps, -1)
        dec, _ = self.decoder(torch.cat([code, expected, calendar], dim=-1))
        return self.out(dec).squeeze(-1), z
