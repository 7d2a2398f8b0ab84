"""Problem 1(a): 2-D convolution from scratch.

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
        # BEGIN SOLUTION store filters and biases as nn.Parameters: the given tensors, or random ones of the right shapes
        bound = (in_channels * filter_size * filter_size) ** -0.5
        if filters is None:
            filters = torch.empty(shape).uniform_(-bound, bound)
        if biases is None:
            biases = torch.empty(out_channels).uniform_(-bound, bound)
        self.filters = nn.Parameter(filters)
        self.biases = nn.Parameter(biases)
        # END SOLUTION

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
        H_out = (H + 2 * P - F) // S + 1  # SOLUTION
        W_out = (W + 2 * P - F) // S + 1  # SOLUTION
        # 2. Zero-pad x by P on each of the four sides (nn.functional.pad is allowed: it is not a convolution).
        x = nn.functional.pad(x, (P, P, P, P))  # SOLUTION
        # 3. Loop over the output positions (i, j): the receptive field of (i, j) starts at row i*S and
        #    column j*S of the padded input. Multiply it elementwise with every filter and sum over
        #    channels, rows and columns. Add the biases if they are given.
        # BEGIN SOLUTION loop over the output positions: out[:, :, i, j] = sum over (c, u, v) of receptive field * filters
        out = x.new_zeros(N, C_out, H_out, W_out)
        for i in range(H_out):
            for j in range(W_out):
                field = x[:, :, i * S : i * S + F, j * S : j * S + F]  # (N, C_in, F, F)
                # (N, 1, C_in, F, F) * (C_out, C_in, F, F) -> (N, C_out, C_in, F, F) -> (N, C_out)
                out[:, :, i, j] = (field.unsqueeze(1) * filters).sum(dim=(2, 3, 4))
        if biases is not None:
            out = out + biases.view(1, C_out, 1, 1)
        return out
        # END SOLUTION


class FasterConv2d(_ConvBase):
    """2-D convolution as im2col + one matrix multiplication (handout 1(a)ii).

    Same arguments, attributes and shapes as :class:`Conv2d`, same results, no Python loop:

    1. im2col: the receptive field of every output position (i, j) becomes a column of length
       C_in F F, giving a matrix ``cols`` (C_in F F, H_out W_out) per image;
    2. the filters, flattened to a (C_out, C_in F F) matrix, times ``cols`` is (C_out, H_out W_out):
       every dot product of a filter with a receptive field at once -- one batched matmul;
    3. add the biases and reshape to (N, C_out, H_out, W_out).
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
        H_out = (H + 2 * P - F) // S + 1  # SOLUTION
        W_out = (W + 2 * P - F) // S + 1  # SOLUTION
        # 2. Zero-pad x by P on each of the four sides.
        x = nn.functional.pad(x, (P, P, P, P))  # SOLUTION
        # 3. im2col: cols[n, (c, u, v), (i, j)] = x[n, c, i*S + u, j*S + v], a (N, C_in F F, H_out W_out)
        #    tensor. Tensor.unfold(dim, size, step) gives sliding windows as a VIEW (no copy).
        #    Order the rows (c, u, v) like filters.reshape(C_out, -1) and the columns (i, j) like the output.
        # 4. ONE (batched) matmul of the flattened filters with cols, plus the biases:
        #    (C_out, C_in F F) @ (N, C_in F F, H_out W_out) -> (N, C_out, H_out W_out).
        #    Then reshape to (N, C_out, H_out, W_out).
        # BEGIN SOLUTION im2col with Tensor.unfold (or F.unfold), then one matmul with the flattened filters, plus biases
        windows = x.unfold(2, F, S).unfold(3, F, S)  # (N, C_in, H_out, W_out, F, F), a view of x
        # Put (c, u, v) before (i, j), then flatten both groups: this reshape is the one copy of the data.
        cols = windows.permute(0, 1, 4, 5, 2, 3).reshape(N, C_in * F * F, H_out * W_out)
        weights = filters.reshape(1, C_out, C_in * F * F).expand(N, -1, -1)  # the same matrix for each image
        if biases is None:
            biases = filters.new_zeros(C_out)
        # out[n] = biases + weights[n] @ cols[n], already in the output's (N, C_out, H_out W_out) layout
        out = torch.baddbmm(biases.view(1, C_out, 1), weights, cols)
        return out.view(N, C_out, H_out, W_out)
        # END SOLUTION
