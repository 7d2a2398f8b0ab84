"""Correct alternative: with lstm.py, one time step at a time, x_t W_xh + h_{t-1} W_hh + b_h and y_t
computed inside the loop.

Only the functions written differently are here; `grading.accuracy.splice` puts them into
the reference module in place of its own.
"""

from __future__ import annotations

import torch


class RNNLayer:
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, _ = x.shape
        h = torch.zeros(B, self.hidden_size, dtype=x.dtype, device=x.device)
        outputs = []
        for t in range(T):
            h = torch.tanh(x[:, t] @ self.W_xh + h @ self.W_hh + self.b_h)
            outputs.append(h @ self.W_hy + self.b_y)
        return torch.stack(outputs, dim=1)
