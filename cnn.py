"""Problems 1(b)i and 1(c): a one-layer CNN for MNIST, learned (``CNN``) and with hand-set filters (``ManualCNN``).

Both models are

    image (B, 1, 28, 28) -> conv 3x3, 4 filters, padding 1 -> ReLU -> (B, 4, 28, 28)
          -> flatten (B, 4*28*28) -> linear -> logits (B, 10)

- :class:`CNN` (1(b)i) learns the filters and the linear layer;
- :class:`ManualCNN` (1(c)) keeps four filters designed by hand fixed and learns only the linear layer.

The convolution is PyTorch's ``nn.Conv2d`` (``conv="torch"``) or your own
``conv.FasterConv2d`` from Problem 1(a) (``conv="faster"``); with the same weights both compute
the same outputs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from layers import conv_parameters

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


class CNN(nn.Module):
    """Convolution (1 -> 4 channels, 3x3, stride 1, padding 1) -> ReLU -> flatten -> linear (handout 1(b)i).

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
        # BEGIN SOLUTION define self.conv (1 -> 4 channels, 3x3, stride 1, padding 1) and self.fc
        self.conv = make_conv(conv, 1, 4, 3, padding=1, stride=1)
        self.fc = nn.Linear(4 * input_size * input_size, num_classes)
        # END SOLUTION
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Given: the conv filters drawn from N(0, 2 / fan_in) (He initialisation), the conv biases zero."""
        weight, bias = conv_parameters(self.conv)
        nn.init.kaiming_normal_(weight, nonlinearity="relu")
        nn.init.zeros_(bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B, num_classes) for images x (B, 1, H, W)."""
        # BEGIN SOLUTION conv -> ReLU -> flatten to (B, 4*H*W) -> fc
        features = F.relu(self.conv(x))  # (B, 4, H, W): padding 1 keeps H and W
        return self.fc(features.flatten(start_dim=1))
        # END SOLUTION


class ManualCNN(CNN):
    """``CNN`` whose 4 filters are set by hand and frozen: only ``fc`` is trained (handout 1(c)).

    Design four 3x3 filters that pick out something useful about a digit's strokes,
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
        # BEGIN SOLUTION set your 4 hand-made 3x3 filters and the biases, and freeze both
        # Sobel edge detectors. A Sobel filter responds with + on one side of a stroke and - on the
        # other; the ReLU keeps only the + part, so a filter and its negative together see both sides:
        #   filter 0 = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]] / 4: dark to bright going right, the LEFT edges
        #   filter 1 = -filter 0: bright to dark going right, the RIGHT edges
        #   filter 2 = [[-1, -2, -1], [0, 0, 0], [1, 2, 1]] / 4: dark to bright going down, the TOP edges
        #   filter 3 = -filter 2: bright to dark going down, the BOTTOM edges
        # The factor 1/4 makes a full-contrast edge (pixels 0 next to 1) respond with 1, the pixels'
        # own scale; with responses up to 4, Adam trains fc more noisily (in our runs about 0.4 %
        # lower test accuracy after 5 epochs).
        sobel_x = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 4
        sobel_y = sobel_x.T
        filters = torch.stack([sobel_x, -sobel_x, sobel_y, -sobel_y]).unsqueeze(1)  # (4, 1, 3, 3)
        weight.data.copy_(filters)
        bias.data.zero_()
        weight.requires_grad = False
        bias.requires_grad = False
        # END SOLUTION
