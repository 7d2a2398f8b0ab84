"""Correct alternative: torch.relu and view(B, -1) in forward; ManualCNN writes Prewitt and diagonal filters under torch.no_grad() and freezes them with requires_grad_(False).

(The rest of this module is the reference.)

Problem 1(b, c): a one-layer CNN for MNIST, learned (``CNN``) and with hand-set filters (``ManualCNN``).

Both models are

    image (B, 1, 28, 28) -> conv 3x3, 4 filters, padding 1 -> ReLU -> (B, 4, 28, 28)
          -> flatten (B, 4*28*28) -> linear -> logits (B, 10)

``CNN`` learns the filters and the linear layer; ``ManualCNN`` keeps four filters designed by
hand fixed and learns only the linear layer.

The convolution is PyTorch's ``nn.Conv2d`` (``conv="torch"``) or your own
``conv.FasterConv2d`` from Problem 1(a) (``conv="faster"``); with the same weights both compute
the same outputs.
"""

from __future__ import annotations

import torch
from torch import nn

#: The convolutions a model can be built with (the ``conv`` argument).
CONV_TYPES = ("torch", "faster")


def make_conv(
    conv: str, in_channels: int, out_channels: int, filter_size: int, padding: int = 0, stride: int = 1
) -> nn.Module:
    """A 2-D convolution layer: ``nn.Conv2d`` for ``conv="torch"``, ``conv.FasterConv2d`` for ``"faster"``."""
    if conv == "torch":
        return nn.Conv2d(in_channels, out_channels, filter_size, padding=padding, stride=stride)
    if conv == "faster":
        from conv import FasterConv2d  # imported here: the model works before Problem 1(a) is done

        return FasterConv2d(in_channels, out_channels, filter_size, padding=padding, stride=stride)
    raise ValueError(f"unknown convolution {conv!r}; expected one of {CONV_TYPES}")


def conv_parameters(layer: nn.Module) -> tuple[nn.Parameter, nn.Parameter]:
    """The ``(weight (C_out, C_in, F, F), bias (C_out,))`` of an ``nn.Conv2d`` or a ``FasterConv2d``."""
    if isinstance(layer, nn.Conv2d):
        return layer.weight, layer.bias
    return layer.filters, layer.biases


class CNN(nn.Module):
    """Convolution (1 -> 4 channels, 3x3, stride 1, padding 1) -> ReLU -> flatten -> linear.

    Args:
        num_classes: number of outputs (10 digits).
        input_size: height = width of the input images (28 for MNIST); padding 1 keeps it.
        conv: ``"torch"`` (``nn.Conv2d``) or ``"faster"`` (your ``conv.FasterConv2d``).

    Attributes:
        conv: the convolution layer, 4 filters of shape (1, 3, 3) and 4 biases.
        fc: ``nn.Linear(4 * input_size * input_size, num_classes)``.

    Shape:
        - Input: (B, 1, input_size, input_size)
        - Output: (B, num_classes), logits (no softmax; ``nn.CrossEntropyLoss`` applies it)
    """

    def __init__(self, num_classes: int = 10, input_size: int = 28, conv: str = "torch") -> None:
        super().__init__()
        # Build the convolution with make_conv(conv, ...) so that --conv faster uses your FasterConv2d.
        self.conv = make_conv(conv, 1, 4, 3, padding=1, stride=1)
        self.fc = nn.Linear(4 * input_size * input_size, num_classes)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """He initialisation of the conv filters, zero conv biases (given code, as in the reference)."""
        weight, bias = conv_parameters(self.conv)
        nn.init.kaiming_normal_(weight, nonlinearity="relu")
        nn.init.zeros_(bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B, num_classes) for images x (B, 1, H, W)."""
        h = torch.relu(self.conv(x))
        return self.fc(h.view(h.size(0), -1))


class ManualCNN(CNN):
    """``CNN`` whose 4 filters are set by hand and frozen: only ``fc`` is trained.

    Problem 1(c): design four 3x3 filters that pick out something useful about a digit's strokes,
    write them (and the biases) into the convolution, and freeze them (``requires_grad = False``)
    so that the optimizer trains only ``fc``. Document what each filter detects. Remember the ReLU:
    it keeps only the positive part of each filter's response. ``nn.Conv2d`` computes a
    cross-correlation, so a filter is applied as written, not flipped.
    Arguments and shapes as ``CNN``.
    """

    def reset_parameters(self) -> None:
        """Nothing to initialise for training: the filters and biases are set by hand below."""

    def __init__(self, num_classes: int = 10, input_size: int = 28, conv: str = "torch") -> None:
        super().__init__(num_classes, input_size, conv)
        weight, bias = conv_parameters(self.conv)  # (4, 1, 3, 3) and (4,)
        # Write the filters into weight.data and the biases into bias.data;
        # then set requires_grad = False on both.
        # Sobel edge detectors. A Sobel filter responds with + on one side of a stroke and - on the
        # other; the ReLU keeps only the + part, so a filter and its negative together see both sides:
        #   filter 0 = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]] / 4: dark to bright going right, the LEFT edges
        #   filter 1 = -filter 0: bright to dark going right, the RIGHT edges
        #   filter 2 = [[-1, -2, -1], [0, 0, 0], [1, 2, 1]] / 4: dark to bright going down, the TOP edges
        #   filter 3 = -filter 2: bright to dark going down, the BOTTOM edges
        # The factor 1/4 makes a full-contrast edge (pixels 0 next to 1) respond with 1, the pixels'
        # own scale; with responses up to 4, Adam trains fc more noisily (in our runs about 0.4 %
        # lower test accuracy after 5 epochs).
        prewitt = torch.tensor([[-1.0, 0.0, 1.0]] * 3) / 3  # vertical edges (left side of a stroke)
        diagonal = torch.tensor([[0.0, 1.0, 1.0], [-1.0, 0.0, 1.0], [-1.0, -1.0, 0.0]]) / 3  # "/" edges
        with torch.no_grad():
            weight[:, 0] = torch.stack([prewitt, prewitt.T, diagonal, diagonal.flip(1)])
            bias.fill_(0.0)
        for p in (weight, bias):
            p.requires_grad_(False)
