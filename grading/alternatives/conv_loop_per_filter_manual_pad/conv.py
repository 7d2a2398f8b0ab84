"""Correct alternative: Conv2d loops over filters, then output positions, on a hand-padded copy of x.

Only the functions written differently are here; `grading.accuracy.splice` puts them into
the reference module in place of its own.
"""

from __future__ import annotations

import torch
from torch import nn


class _ConvBase:
    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        filter_size: int,
        padding: int = 0,
        stride: int = 1,
        filters: torch.Tensor | None = None,
        biases: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        if min(in_channels, out_channels, filter_size, stride) < 1 or padding < 0:
            raise ValueError(
                f"need in_channels, out_channels, filter_size, stride >= 1 and padding >= 0; got "
                f"{in_channels}, {out_channels}, {filter_size}, {stride} and {padding}"
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.filter_size = filter_size
        self.padding = padding
        self.stride = stride
        shape = (out_channels, in_channels, filter_size, filter_size)
        if filters is not None and tuple(filters.shape) != shape:
            raise ValueError(f"filters must have shape {shape}, got {tuple(filters.shape)}")
        if biases is not None and tuple(biases.shape) != (out_channels,):
            raise ValueError(f"biases must have shape {(out_channels,)}, got {tuple(biases.shape)}")
        fan_in = in_channels * filter_size * filter_size
        init = torch.rand(shape) * 2 - 1
        self.filters = nn.Parameter(filters if filters is not None else init / fan_in**0.5)
        self.biases = nn.Parameter(biases if biases is not None else (torch.rand(out_channels) * 2 - 1) / fan_in**0.5)


class Conv2d:
    def convolution(
        self, x: torch.Tensor, filters: torch.Tensor, biases: torch.Tensor | None = None
    ) -> torch.Tensor:
        N, C_in, H, W = x.shape
        C_out, _, F, _ = filters.shape
        P, S = self.padding, self.stride
        H_out = 1 + (H - F + 2 * P) // S
        W_out = 1 + (W - F + 2 * P) // S
        padded = x.new_zeros(N, C_in, H + 2 * P, W + 2 * P)
        padded[:, :, P : P + H, P : P + W] = x
        rows = []
        for o in range(C_out):
            row = []
            for i in range(H_out):
                for j in range(W_out):
                    patch = padded[:, :, i * S : i * S + F, j * S : j * S + F]  # (N, C_in, F, F)
                    row.append((patch * filters[o]).flatten(1).sum(1))  # (N,)
            channel = torch.stack(row, dim=1).reshape(N, H_out, W_out)
            rows.append(channel if biases is None else channel + biases[o])
        return torch.stack(rows, dim=1)
