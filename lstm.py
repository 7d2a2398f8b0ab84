"""Problem 2(c)iii: a long short-term memory network (LSTM) from scratch.

The equations of the handout, for every time step t = 1..T, with h_0 = 0 and C_0 = 0 (row vectors, batch first;
sigma is the logistic sigmoid, * elementwise):

    I_t  = sigma(x_t W_xi + h_{t-1} W_hi + b_i)      input gate
    F_t  = sigma(x_t W_xf + h_{t-1} W_hf + b_f)      forget gate
    O_t  = sigma(x_t W_xo + h_{t-1} W_ho + b_o)      output gate
    C~_t = tanh(x_t W_xc + h_{t-1} W_hc + b_c)       candidate memory cell
    C_t  = F_t * C_{t-1} + I_t * C~_t                memory cell
    h_t  = O_t * tanh(C_t)                           hidden state
    y_t  = h_t W_hy + b_y                            output

- :class:`LSTMLayer`: the equations with basic tensor operations (no ``nn.LSTM``, no ``nn.LSTMCell``).
- :class:`LSTM`: a word embedding in front of an ``LSTMLayer``, for the IMDB sentiment task.
"""

from __future__ import annotations

import torch
from torch import nn

from layers import gate_weight, word_embedding, xavier_parameter


class LSTMLayer(nn.Module):
    """A single-layer LSTM with an output layer at every time step (handout 2(c)iii).

    Args:
        input_size: D, the size of each input vector x_t.
        hidden_size: H, the size of the hidden state h_t and of the memory cell C_t.
        output_size: O, the size of each output y_t.

    Parameters (the handout's names; g is one of i, f, o, c):
        W_xg (D, H), W_hg (H, H), b_g (H,): input, forget and output gates and candidate memory cell.
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
        # input gate I_t, forget gate F_t, output gate O_t, candidate memory cell C~_t (b_f starts at 1)
        self.W_xi = gate_weight(input_size, hidden_size)
        self.W_hi = gate_weight(hidden_size, hidden_size)
        self.b_i = nn.Parameter(torch.zeros(hidden_size))
        self.W_xf = gate_weight(input_size, hidden_size)
        self.W_hf = gate_weight(hidden_size, hidden_size)
        self.b_f = nn.Parameter(torch.ones(hidden_size))
        self.W_xo = gate_weight(input_size, hidden_size)
        self.W_ho = gate_weight(hidden_size, hidden_size)
        self.b_o = nn.Parameter(torch.zeros(hidden_size))
        self.W_xc = gate_weight(input_size, hidden_size)
        self.W_hc = gate_weight(hidden_size, hidden_size)
        self.b_c = nn.Parameter(torch.zeros(hidden_size))
        # output layer
        self.W_hy = xavier_parameter(hidden_size, output_size)
        self.b_y = nn.Parameter(torch.zeros(output_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run the LSTM over all T time steps.

        Args:
            x: the input sequences, shape (B, T, D).

        Returns:
            The outputs y_1..y_T, shape (B, T, O).
        """
        B, T, _ = x.shape
        # Hints: the four x_t W_xg + b_g do not depend on h_{t-1}: compute them for all t before the loop.
        # Concatenating the four gates' matrices side by side, e.g. torch.cat([W_xi, W_xf, W_xo, W_xc], dim=1)
        # of shape (D, 4H), turns four products into one (and likewise for the W_hg inside the loop); the
        # gradients still reach the separate parameters. Start from h_0 = C_0 = 0 of shape (B, H). Stack the
        # h_t once after the loop and apply the output layer to all time steps in one matrix product.
        # BEGIN SOLUTION compute the gates I_t, F_t, O_t, the candidate C~_t, then C_t, h_t and y_t
        H = self.hidden_size
        W_x = torch.cat([self.W_xi, self.W_xf, self.W_xo, self.W_xc], dim=1)  # (D, 4H)
        W_h = torch.cat([self.W_hi, self.W_hf, self.W_ho, self.W_hc], dim=1)  # (H, 4H)
        b = torch.cat([self.b_i, self.b_f, self.b_o, self.b_c])  # (4H,)
        x_proj = torch.addmm(b, x.reshape(B * T, -1), W_x).view(B, T, 4 * H)
        h_t = x.new_zeros(B, H)
        C_t = x.new_zeros(B, H)
        hidden_states = []
        for x_proj_t in x_proj.unbind(dim=1):  # one (B, 4H) slice per time step
            # the pre-activations of the four, x_t W_xg + h_{t-1} W_hg + b_g, each (B, H)
            A_i, A_f, A_o, A_c = torch.addmm(x_proj_t, h_t, W_h).chunk(4, dim=1)
            I_t = torch.sigmoid(A_i)
            F_t = torch.sigmoid(A_f)
            O_t = torch.sigmoid(A_o)
            C_tilde = torch.tanh(A_c)
            C_t = F_t * C_t + I_t * C_tilde
            h_t = O_t * torch.tanh(C_t)
            hidden_states.append(h_t)
        h = torch.stack(hidden_states, dim=1)  # (B, T, H)
        return h @ self.W_hy + self.b_y
        # END SOLUTION


class LSTM(nn.Module):
    """An LSTM sentiment classifier: word embedding followed by an ``LSTMLayer`` (handout 2(c)iii).

    Args:
        vocab_size: number of token ids (id 0 is the padding token PAD).
        embedding_size: D, the size of each word vector.
        hidden_size: H, the size of the LSTM's hidden state and memory cell.
        output_size: O, the number of classes (2 for positive / negative).

    Shape:
        - Input: tokens, a LongTensor of shape (B, T) of ids in [0, vocab_size).
        - Output: (B, T, O), the logits at every time step (classify with the last one).
    """

    def __init__(self, vocab_size: int, embedding_size: int, hidden_size: int, output_size: int) -> None:
        super().__init__()
        # padding_idx=0: the PAD token's vector stays zero and receives no gradient.
        self.embedding = word_embedding(vocab_size, embedding_size)
        self.lstm = LSTMLayer(embedding_size, hidden_size, output_size)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Embed the tokens (B, T) -> (B, T, D), then run the LSTM layer -> (B, T, O)."""
        # BEGIN SOLUTION embed the tokens and run the LSTM layer
        return self.lstm(self.embedding(tokens))
        # END SOLUTION
