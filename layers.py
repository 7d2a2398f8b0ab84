"""Given building blocks shared by the Problem Set 3 models. You do not need to edit this file.

- :func:`xavier_parameter`: a weight matrix with Xavier (Glorot) uniform initialisation (``rnn.py``,
  ``lstm.py``).
- :func:`gate_weight`: an LSTM gate's weight matrix, initialised as ``nn.LSTM`` does (``lstm.py``).
- :func:`word_embedding`: the word-vector table in front of the RNN, the LSTM and the Transformer.
- :func:`conv_parameters`: the filters and biases of an ``nn.Conv2d`` or of your ``conv.FasterConv2d``
  (``cnn.py``, ``visualize_filters.py``).

Nothing here imports a module you write, so a mistake in one of your files costs only that file's points.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["conv_parameters", "gate_weight", "word_embedding", "xavier_parameter"]


def xavier_parameter(fan_in: int, fan_out: int) -> nn.Parameter:
    """A (fan_in, fan_out) weight matrix drawn from U(-a, a), a = sqrt(6 / (fan_in + fan_out)) (Xavier uniform)."""
    weight = torch.empty(fan_in, fan_out)
    nn.init.xavier_uniform_(weight)
    return nn.Parameter(weight)


def gate_weight(fan_in: int, hidden_size: int) -> nn.Parameter:
    """A (fan_in, H) gate weight drawn from U(-1/sqrt(H), 1/sqrt(H)), as ``nn.LSTM`` draws its weights."""
    bound = hidden_size**-0.5
    return nn.Parameter(torch.empty(fan_in, hidden_size).uniform_(-bound, bound))


def word_embedding(vocab_size: int, embedding_size: int, std: float = 0.1) -> nn.Embedding:
    """An ``nn.Embedding(vocab_size, embedding_size)`` for token ids, with word vectors drawn from N(0, std^2).

    ``padding_idx=0``: the vector of the padding token PAD (id 0) is zero and receives no gradient.

    Shape:
        - Input: token ids, a LongTensor of any shape (*), values in [0, vocab_size).
        - Output: (*, embedding_size).
    """
    embedding = nn.Embedding(vocab_size, embedding_size, padding_idx=0)
    with torch.no_grad():
        embedding.weight.normal_(0.0, std)
        embedding.weight[0].zero_()
    return embedding


def conv_parameters(layer: nn.Module) -> tuple[nn.Parameter, nn.Parameter]:
    """The ``(weight (C_out, C_in, F, F), bias (C_out,))`` of an ``nn.Conv2d`` or a ``conv.FasterConv2d``.

    ``nn.Conv2d`` calls them ``weight`` and ``bias``, ``FasterConv2d`` ``filters`` and ``biases``.
    """
    if isinstance(layer, nn.Conv2d):
        return layer.weight, layer.bias
    return layer.filters, layer.biases
