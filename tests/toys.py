"""Toy models that the tests hand to your code (``tests/train_test_tests.py``).

They are built on the side where your code runs (``student.module("tests.toys")``; see ``tests/sandbox.py``),
so ``train`` and ``test`` receive real ``nn.Module`` objects. The weights come from the tests.
"""

from __future__ import annotations

import torch
from torch import nn


def linear_model(weight: torch.Tensor, bias: torch.Tensor) -> nn.Linear:
    """An ``nn.Linear`` holding copies of ``weight`` (out, in) and ``bias`` (out,), in their dtype."""
    model = nn.Linear(weight.shape[1], weight.shape[0], dtype=weight.dtype)
    with torch.no_grad():
        model.weight.copy_(weight)
        model.bias.copy_(bias)
    return model


class LastStepIsTheAnswer(nn.Module):
    """A toy sequence model: (B, T, in) -> (B, T, out) logits; only the last time step holds the real logits
    (those of ``linear_model(weight, bias)``); every earlier step confidently predicts class 2."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor) -> None:
        super().__init__()
        self.linear = linear_model(weight, bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.linear(x)  # (B, T, out)
        decoy = torch.zeros_like(logits)
        decoy[..., 2] = 50.0  # every earlier step confidently predicts class 2
        steps = torch.arange(x.shape[1]).view(1, -1, 1)
        return torch.where(steps == x.shape[1] - 1, logits, decoy)
