"""Correct alternative: with lstm.py, one time step at a time, x_t W_xh + h_{t-1} W_hh + b_h and y_t
computed inside the loop.

(The rest of this module is the reference.)

Problem 2(a)i: a recurrent neural network (RNN) from scratch.

The recurrence, for every time step t = 1..T, with h_0 = 0:

    h_t = tanh(x_t W_xh + h_{t-1} W_hh + b_h)
    y_t = h_t W_hy + b_y

``RNNLayer`` implements it with basic tensor operations (no ``nn.RNN``, no ``nn.RNNCell``);
``RNN`` puts a word embedding in front of it for the IMDB sentiment task.
"""

from __future__ import annotations

import torch
from torch import nn


def xavier_parameter(fan_in: int, fan_out: int) -> nn.Parameter:
    """A (fan_in, fan_out) weight matrix with Xavier (Glorot) uniform initialisation.

    The values are drawn from U(-a, a) with a = sqrt(6 / (fan_in + fan_out)), which keeps the variance
    of the activations roughly constant from one layer (or time step) to the next.
    """
    weight = torch.empty(fan_in, fan_out)
    nn.init.xavier_uniform_(weight)
    return nn.Parameter(weight)


def word_embedding(vocab_size: int, embedding_size: int, std: float = 0.1) -> nn.Embedding:
    """An ``nn.Embedding`` for token ids, PAD = 0, with word vectors drawn from N(0, std^2).

    ``padding_idx=0``: the PAD vector is zero and receives no gradient. The small std matters:
    ``nn.Embedding`` draws from N(0, 1), and Adam moves each entry by about the learning rate
    (1e-3) per step, so in a few hundred steps such word vectors barely change and the recurrent
    layer memorises noise instead (IMDB long reviews, validation accuracy 69 % vs 82 %; README).
    """
    embedding = nn.Embedding(vocab_size, embedding_size, padding_idx=0)
    with torch.no_grad():
        embedding.weight.normal_(0.0, std)
        embedding.weight[0].zero_()
    return embedding


class RNNLayer(nn.Module):
    """A single-layer Elman RNN with an output projection at every time step.

    Args:
        input_size: D, the size of each input vector x_t.
        hidden_size: H, the size of the hidden state h_t.
        output_size: O, the size of each output y_t.

    Parameters (the handout's names):
        W_xh (D, H), W_hh (H, H), b_h (H,): the recurrence.
        W_hy (H, O), b_y (O,): the output layer.

    Shape:
        - Input: x of shape (B, T, D), batch first.
        - Output: (B, T, O), the output y_t at every time step.
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.output_size = output_size
        self.W_xh = xavier_parameter(input_size, hidden_size)
        self.W_hh = xavier_parameter(hidden_size, hidden_size)
        self.b_h = nn.Parameter(torch.zeros(hidden_size))
        self.W_hy = xavier_parameter(hidden_size, output_size)
        self.b_y = nn.Parameter(torch.zeros(output_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run the recurrence over all T time steps.

        Args:
            x: the input sequences, shape (B, T, D).

        Returns:
            The outputs y_1..y_T, shape (B, T, O).
        """
        B, T, _ = x.shape
        # Hints: x_t W_xh + b_h does not depend on h_{t-1}: compute it for all t at once before the loop.
        # Start from h_0 = 0 of shape (B, H). Inside the loop only h_{t-1} W_hh remains (torch.addmm adds a
        # matrix product to a tensor in one call). Collect every h_t, stack them once into (B, T, H) after
        # the loop and apply the output layer to all time steps in one matrix product.
        h = torch.zeros(B, self.hidden_size, dtype=x.dtype, device=x.device)
        outputs = []
        for t in range(T):
            h = torch.tanh(x[:, t] @ self.W_xh + h @ self.W_hh + self.b_h)
            outputs.append(h @ self.W_hy + self.b_y)
        return torch.stack(outputs, dim=1)


class RNN(nn.Module):
    """An RNN sentiment classifier: word embedding followed by an ``RNNLayer``.

    Args:
        vocab_size: number of token ids (id 0 is the padding token PAD).
        embedding_size: D, the size of each word vector.
        hidden_size: H, the size of the RNN's hidden state.
        output_size: O, the number of classes (2 for positive / negative).

    Shape:
        - Input: tokens, a LongTensor of shape (B, T) of ids in [0, vocab_size).
        - Output: (B, T, O), the logits at every time step (classify with the last one).
    """

    def __init__(self, vocab_size: int, embedding_size: int, hidden_size: int, output_size: int) -> None:
        super().__init__()
        # padding_idx=0: the PAD token's vector stays zero and receives no gradient.
        self.embedding = word_embedding(vocab_size, embedding_size)
        self.rnn = RNNLayer(embedding_size, hidden_size, output_size)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Embed the tokens (B, T) -> (B, T, D), then run the RNN layer -> (B, T, O)."""
        return self.rnn(self.embedding(tokens))
