"""Thin LightningModules: loss, logged metrics and optimiser around a pure network."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import torch
from torch import nn


def pinball_loss(pred: torch.Tensor, y: torch.Tensor, quantiles: torch.Tensor) -> torch.Tensor:
    """Mean pinball loss of pred [B, H, Q] against y [B, H]; NaN labels carry no weight."""
    known = torch.isfinite(y)
    diff = torch.nan_to_num(y).unsqueeze(-1) - pred
    loss = torch.maximum(quantiles * diff, (quantiles - 1) * diff).mean(-1)
    return (loss * known).sum() / known.sum().clamp(min=1)


class _LossModule(pl.LightningModule):
    """Logs `_loss` as train_loss / val_loss (epoch means, synced across devices); AdamW."""

    def __init__(self, net: nn.Module, learning_rate: float, weight_decay: float):
        super().__init__()
        self.net = net
        self.learning_rate, self.weight_decay = learning_rate, weight_decay

    def _loss(self, batch: list[torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = self._loss(batch)
        self.log(
            "train_loss",
            loss,
            on_step=False,
            on_epoch=True,
            batch_size=len(batch[0]),
            sync_dist=True,
        )
        return loss

    def validation_step(self, batch: list[torch.Tensor], batch_idx: int) -> None:
        self.log(
            "val_loss", self._loss(batch), on_epoch=True, batch_size=len(batch[0]), sync_dist=True
        )

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(
            self.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay
        )


class QuantileModule(_LossModule):
    """Trains a quantile network on batches (past, future, static_cat, static_real, y)."""

    def __init__(
        self, net: nn.Module, quantiles: list[float], learning_rate: float, weight_decay: float
    ):
        super().__init__(net, learning_rate, weight_decay)
        self.quantiles: torch.Tensor
        self.register_buffer("quantiles", torch.tensor(quantiles, dtype=torch.float32))

    def forward(self, *inputs: torch.Tensor) -> Any:
        return self.net(*inputs)

    def _loss(self, batch: list[torch.Tensor]) -> torch.Tensor:
        *inputs, y = batch
        pred, _ = self.net(*inputs)
        return pinball_loss(pred.float(), y, self.quantiles)


class ReconstructionModule(_LossModule):
    """Trains an autoencoder on batches (window [B, W, C], observed mask [B, W]): mean squared
    error of the reconstructed load (channel 0) on the observed intervals."""

    def _loss(self, batch: list[torch.Tensor]) -> torch.Tensor:
        window, mask = batch
        err = (self.net(window)[0].float() - window[:, :, 0]) ** 2
        return (err * mask).sum() / mask.sum().clamp(min=1)
