"""Correct alternative: FasterConv2d takes the windows with Tensor.as_strided and contracts them with einsum.

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
        x = nn.functional.pad(x, (P, P, P, P))
        x = x.contiguous()
        sN, sC, sH, sW = x.stride()
        windows = x.as_strided((N, C_in, H_out, W_out, F, F), (sN, sC, sH * S, sW * S, sH, sW))
        out = torch.einsum("nchwuv,ocuv->nohw", windows, filters)
        return out if biases is None else out + biases[None, :, None, None]
