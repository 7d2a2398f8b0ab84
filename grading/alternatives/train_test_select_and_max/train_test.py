"""Correct alternative: Tensor.select for the last time step, torch.max for the predictions, model.zero_grad() and a clip only when asked.

Only the functions written differently are here; `grading.accuracy.splice` puts them into
the reference module in place of its own.
"""

from __future__ import annotations

import torch
from torch import nn


def last_time_step(outputs: torch.Tensor) -> torch.Tensor:
    if outputs.dim() == 2:  # a CNN's logits: nothing to select
        return outputs
    if outputs.dim() != 3:
        raise ValueError(f"expected logits of shape (B, C) or (B, T, C), got {tuple(outputs.shape)}")
    return outputs.select(1, outputs.size(1) - 1)


def count_correct(logits: torch.Tensor, labels: torch.Tensor) -> int:
    _, predicted = torch.max(logits, 1)
    num_correct = (predicted == labels).sum().item()
    return num_correct


def train_step(
    model: nn.Module,
    inputs: torch.Tensor,
    labels: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    criterion: nn.Module,
    grad_clip: float | None = None,
) -> tuple[float, int]:
    model.zero_grad()
    outputs = model(inputs)
    logits = last_time_step(outputs)
    loss = criterion(logits, labels)
    loss.backward()
    if grad_clip:
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=grad_clip)
    optimizer.step()
    return loss.item(), count_correct(logits, labels)
