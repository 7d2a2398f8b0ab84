"""Correct alternative: FasterConv2d with torch.nn.functional.unfold, which pads and strides itself.

Only the functions written differently are here; `grading.accuracy.splice` puts them into
the reference module in place of its own.
"""

from __future__ import annotations

import torch
from torch import nn


class FasterConv2d:
    def convolution(
        self, x: torch.Tensor, filters: torch.Tensor, biases: torch.Tensor | None = None
    ) -> torch.Tensor:
        N, C_in, H, W = x.shape
        C_out, _, F, _ = filters.shape
        P, S = self.padding, self.stride
        H_out = (H + 2 * P - F) // S + 1
        W_out = (W + 2 * P - F) // S + 1
        cols = nn.functional.unfold(x, kernel_size=F, padding=P, stride=S)  # (N, C_in F F, H_out W_out)
        out = filters.view(C_out, -1) @ cols  # broadcast over N: (N, C_out, H_out W_out)
        if biases is not None:
            out = out + biases.unsqueeze(-1)
        return out.unflatten(-1, (H_out, W_out))
