"""Problem 2(a)i-ii: a recurrent neural network (RNN) from scratch.

The recurrence of the handout, for every time step t = 1..T, with h_0 = 0 (row vectors, batch first):

    h_t = tanh(x_t W_xh + h_{t-1} W_hh + b_h)
    y_t = h_t W_hy + b_y

- :class:`RNNLayer` (2(a)i): the recurrence with basic tensor operations (no ``nn.RNN``, no ``nn.RNNCell``).
- :class:`RNN` (2(a)ii): a word embedding in front of an ``RNNLayer``, for the IMDB sentiment task.
"""

from __future__ import annotations

import torch
from torch import nn

from layers import word_embedding, xavier_parameter


class RNNLayer(nn.Module):
    """A single-layer Elman RNN with an output layer at every time step (handout 2(a)i).

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
        # BEGIN SOLUTION compute h_t for t = 1..T (from h_0 = 0) and the outputs y_t = h_t W_hy + b_y
        x_proj = torch.addmm(self.b_h, x.reshape(B * T, -1), self.W_xh).view(B, T, self.hidden_size)
        h_t = x.new_zeros(B, self.hidden_size)
        hidden_states = []
        for x_proj_t in x_proj.unbind(dim=1):  # one (B, H) slice per time step
            h_t = torch.tanh(torch.addmm(x_proj_t, h_t, self.W_hh))
            hidden_states.append(h_t)
        h = torch.stack(hidden_states, dim=1)  # (B, T, H)
        return h @ self.W_hy + self.b_y
        # END SOLUTION


class RNN(nn.Module):
    """An RNN sentiment classifier: word embedding followed by an ``RNNLayer`` (handout 2(a)ii).

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
        # BEGIN SOLUTION embed the tokens and run the RNN layer
        return self.rnn(self.embedding(tokens))
        # END SOLUTION
