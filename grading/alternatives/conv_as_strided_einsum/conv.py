"""Correct alternative: FasterConv2d takes the windows with Tensor.as_strided and contracts them with einsum.

(The rest of this module is the reference.)

Problem 1(a): 2-D convolution from scratch.

Two ``nn.Module``s that compute exactly what ``torch.nn.functional.conv2d`` computes -- a
cross-correlation of a batch of images with a bank of filters, zero padding ``P`` on every side and
stride ``S``::

    out[n, o, i, j] = b[o] + sum_{c, u, v} w[o, c, u, v] * x_pad[n, c, i*S + u, j*S + v]

    H_out = floor((H + 2P - F) / S) + 1,   W_out = floor((W + 2P - F) / S) + 1

- :class:`Conv2d` (1(a)i): the naive version, a Python loop over the output positions.
- :class:`FasterConv2d` (1(a)ii): im2col -- copy every receptive field into a column of a matrix --
  then ONE matrix multiplication, with no Python loop at all.

Both share the constructor and ``forward``; only ``convolution`` differs. Neither may call a
built-in convolution (``F.conv2d``, ``nn.Conv2d``, ...). Autograd differentiates both, so no
backward pass is needed. ``benchmark_conv2d.py`` compares their speed with PyTorch's (1(a)iii).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["Conv2d", "FasterConv2d"]


class _ConvBase(nn.Module):
    """What :class:`Conv2d` and :class:`FasterConv2d` share: the settings, the parameters, ``forward``.

    Args:
        in_channels: C_in, the number of channels of the input images.
        out_channels: C_out, the number of filters (= channels of the output).
        filter_size: F, the height and width of each (square) filter.
        padding: P, zeros added on every side (top, bottom, left, right) of each image.
        stride: S, the step between two receptive fields, vertically and horizontally.
        filters: initial filters (C_out, C_in, F, F), used as given (same values and dtype);
            None: random, drawn like ``nn.Conv2d`` does (uniform in +-1/sqrt(C_in F F)).
        biases: initial biases (C_out,), used as given; None: random, likewise.

    Attributes:
        filters: ``nn.Parameter`` (C_out, C_in, F, F).
        biases: ``nn.Parameter`` (C_out,).

    Shape:
        - Input: (N, C_in, H, W)
        - Output: (N, C_out, H_out, W_out) with H_out = floor((H + 2P - F) / S) + 1, same for W_out.
    """

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
        # Random initialisation when no values are given: uniform in [-bound, bound] with
        # bound = 1 / sqrt(fan_in), fan_in = C_in * F * F -- what nn.Conv2d does by default.
        bound = (in_channels * filter_size * filter_size) ** -0.5
        if filters is None:
            filters = torch.empty(shape).uniform_(-bound, bound)
        if biases is None:
            biases = torch.empty(out_channels).uniform_(-bound, bound)
        self.filters = nn.Parameter(filters)
        self.biases = nn.Parameter(biases)

    def convolution(
        self, x: torch.Tensor, filters: torch.Tensor, biases: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Convolve ``x`` (N, C_in, H, W) with ``filters`` (C_out, C_in, F, F), plus ``biases`` (C_out,).

        Padding and stride are ``self.padding`` and ``self.stride``; everything else is read from
        the tensors. Returns (N, C_out, H_out, W_out).
        """
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C_in, H, W) -> (N, C_out, H_out, W_out): the convolution plus one bias per filter."""
        return self.convolution(x, self.filters, self.biases)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, filter_size={self.filter_size}, "
            f"padding={self.padding}, stride={self.stride}"
        )


class Conv2d(_ConvBase):
    """Naive 2-D convolution (handout 1(a)i): a Python loop over the output positions.

    Same arguments, attributes and shapes as :class:`_ConvBase`; computes ``F.conv2d(x, filters,
    biases, stride=S, padding=P)``.
    """

    def convolution(
        self, x: torch.Tensor, filters: torch.Tensor, biases: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Convolve ``x`` (N, C_in, H, W) with ``filters`` (C_out, C_in, F, F) and add ``biases``.

        Args:
            x: a batch of images (N, C_in, H, W).
            filters: the filters (C_out, C_in, F, F); C_in must match ``x``.
            biases: (C_out,) added to output channel ``o``; None: no bias.

        Returns:
            (N, C_out, H_out, W_out), H_out = floor((H + 2P - F) / S) + 1, same for W_out, with
            ``P = self.padding`` and ``S = self.stride``.
        """
        N, C_in, H, W = x.shape
        C_out, _, F, _ = filters.shape
        P, S = self.padding, self.stride
        # 1. The output size: H_out = floor((H + 2P - F) / S) + 1, and the same for W_out.
        H_out = (H + 2 * P - F) // S + 1
        W_out = (W + 2 * P - F) // S + 1
        # 2. Zero-pad x by P on each of the four sides (nn.functional.pad is allowed: it is not a convolution).
        x = nn.functional.pad(x, (P, P, P, P))
        # 3. Loop over the output positions (i, j): the receptive field of (i, j) starts at row i*S and
        #    column j*S of the padded input. Multiply it elementwise with every filter and sum over
        #    channels, rows and columns. Add the biases if they are given.
        out = x.new_zeros(N, C_out, H_out, W_out)
        for i in range(H_out):
            for j in range(W_out):
                field = x[:, :, i * S : i * S + F, j * S : j * S + F]  # (N, C_in, F, F)
                # (N, 1, C_in, F, F) * (C_out, C_in, F, F) -> (N, C_out, C_in, F, F) -> (N, C_out)
                out[:, :, i, j] = (field.unsqueeze(1) * filters).sum(dim=(2, 3, 4))
        if biases is not None:
            out = out + biases.view(1, C_out, 1, 1)
        return out


class FasterConv2d(_ConvBase):
    """2-D convolution as im2col + one matrix multiplication (handout 1(a)ii).

    Same arguments, attributes and shapes as :class:`Conv2d`, same results, no Python loop:

    1. im2col: the receptive field of every output position (i, j) becomes a column of length
       C_in F F, giving a matrix ``cols`` (C_in F F, H_out W_out) per image;
    2. the filters, flattened to a (C_out, C_in F F) matrix, times ``cols`` is (C_out, H_out W_out):
       every dot product of a filter with a receptive field at once -- one batched matmul.

    Where the time goes (batch 16, one thread): ``F.unfold`` followed by ``@`` and a separate bias
    addition takes 2-3x as long as ``nn.Conv2d``. Building ``cols`` from ``Tensor.unfold`` views with
    a single copy, and letting ``torch.baddbmm`` add the biases while writing the output directly in
    the (N, C_out, H_out W_out) layout, brings it level with ``nn.Conv2d`` (``benchmark_conv2d.py``).
    """

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
