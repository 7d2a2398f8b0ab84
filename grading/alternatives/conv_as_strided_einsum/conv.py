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
        """Convolve ``x`` (N, C_in, H, W) with ``filters`` (C_out, C_in, F, F) and add ``biases``.

        Args and returns as in :meth:`Conv2d.convolution`.
        """
        N, C_in, H, W = x.shape
        C_out, _, F, _ = filters.shape
        P, S = self.padding, self.stride
        # 1. The output size, as in Conv2d.
        H_out = (H + 2 * P - F) // S + 1
        W_out = (W + 2 * P - F) // S + 1
        # 2. Zero-pad x by P on each of the four sides.
        x = nn.functional.pad(x, (P, P, P, P))
        # 3. im2col: cols[n, (c, u, v), (i, j)] = x[n, c, i*S + u, j*S + v], a (N, C_in F F, H_out W_out)
        #    tensor. Tensor.unfold(dim, size, step) gives sliding windows as a VIEW (no copy).
        #    Order the rows (c, u, v) like filters.reshape(C_out, -1) and the columns (i, j) like the output.
        # 4. ONE (batched) matmul of the flattened filters with cols, plus the biases:
        #    (C_out, C_in F F) @ (N, C_in F F, H_out W_out) -> (N, C_out, H_out W_out); torch.baddbmm
        #    adds the biases in the same call. Then reshape to (N, C_out, H_out, W_out).
        x = x.contiguous()
        sN, sC, sH, sW = x.stride()
        windows = x.as_strided((N, C_in, H_out, W_out, F, F), (sN, sC, sH * S, sW * S, sH, sW))
        out = torch.einsum("nchwuv,ocuv->nohw", windows, filters)
        return out if biases is None else out + biases[None, :, None, None]
