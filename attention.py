"""Problem 3(a)iv: scaled dot-product self-attention and multi-head self-attention from scratch.

- :func:`scaled_dot_product_attention`: the attention function of handout 3(a)i (the softmax input scaled
  by 1/sqrt(d_k), see 3(a)ii), given the queries Q, keys K and values V.
- :class:`SelfAttention`: a single head; Q, K and V are all computed from the same sequence x.
- :class:`MultiHeadAttention`: ``num_heads`` heads, as in 3(a)iii.

The softmax runs over the keys: every query's weights over the T keys sum to 1.

Both modules take an optional key-padding mask of shape (B, T), True where the token is padding. Padded
keys get zero attention weight, so no query attends to them. A query whose keys are ALL padded (an empty
sequence) gets zero weight everywhere, so its attention output is zero before any output layer: never NaN.

No ``nn.MultiheadAttention``, no ``F.scaled_dot_product_attention``: basic tensor operations only.
"""

from __future__ import annotations

import torch
from torch import nn


def scaled_dot_product_attention(
    Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, key_padding_mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Scaled dot-product attention (handout 3(a)i) over the last two dimensions, ignoring padded keys.

    Args:
        Q: queries, shape (..., T, d_k); the leading dimensions (batch, heads) are broadcast.
        K: keys, shape (..., T, d_k).
        V: values, shape (..., T, d_v).
        key_padding_mask: optional bool tensor (B, T), True = padding. It masks the keys (last axis
            of the scores), broadcast over the queries and over any dimensions between B and T
            (the heads), i.e. for Q of shape (B, h, T, d_k) it is viewed as (B, 1, 1, T).

    Returns:
        The attention output, shape (..., T, d_v).
    """
    # Hints: the scores Q K^T have shape (..., T_query, T_key); normalise each query's row over the KEYS
    # (the last axis). To ignore padded keys, set their scores to a very negative number before the softmax
    # (torch.finfo(scores.dtype).min stays finite: a row of -inf would give 0/0 = NaN); their weights then
    # underflow to exactly 0. Only a query whose keys are ALL padded still gets a (uniform) softmax: zero
    # its output. Work on the small (..., T, d_k) tensors where you can: the scores are T x T per head.
    # BEGIN SOLUTION compute the scores, mask the padded keys, softmax over the keys, weight V
    d_k = Q.shape[-1]
    scores = (Q / d_k**0.5) @ K.transpose(-2, -1)  # (..., T_query, T_key); scaling Q is cheaper than the scores
    if key_padding_mask is not None:
        # (B, T) -> (B, 1, ..., 1, T): the same keys are masked for every head and every query
        mask = key_padding_mask.view(key_padding_mask.shape[0], *([1] * (scores.dim() - 2)), -1)
        scores = scores.masked_fill(mask, torch.finfo(scores.dtype).min)
    weights = torch.softmax(scores, dim=-1)  # exactly 0 on padded keys (exp underflows)
    output = weights @ V  # (..., T_query, d_v)
    if key_padding_mask is not None:
        output = output.masked_fill(mask.all(dim=-1, keepdim=True), 0.0)  # sequences with no real key
    return output
    # END SOLUTION


class SelfAttention(nn.Module):
    """Single-head scaled dot-product self-attention (handout 3(a)iv).

    Args:
        d_model: size of each input and output vector; here d_k = d_model.

    Attributes:
        W_q, W_k, W_v: ``nn.Linear(d_model, d_model)`` projections to the queries, keys and values.

    Shape:
        - Input: x of shape (B, T, d_model); optional key_padding_mask (B, T) bool, True = padding.
        - Output: (B, T, d_model), the attention of Q = W_q(x), K = W_k(x), V = W_v(x).
    """

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.d_model = d_model
        self.d_k = d_model
        self.W_q = nn.Linear(d_model, d_model)
        self.W_k = nn.Linear(d_model, d_model)
        self.W_v = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor, key_padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Attend from every position of x to every (non-padded) position of x."""
        # BEGIN SOLUTION project x to Q, K, V and apply scaled dot-product attention
        Q, K, V = self.W_q(x), self.W_k(x), self.W_v(x)  # each (B, T, d_k)
        return scaled_dot_product_attention(Q, K, V, key_padding_mask)
        # END SOLUTION


class MultiHeadAttention(nn.Module):
    """Multi-head scaled dot-product self-attention (handout 3(a)iv).

    ``num_heads`` heads of size d_k = d_model / num_heads. Head i's queries, keys and values are features
    i*d_k:(i+1)*d_k of W_q(x), W_k(x) and W_v(x); the output layer W_o takes the heads' outputs
    concatenated in head order, (B, T, d_model).

    Args:
        d_model: size of each input and output vector.
        num_heads: h, the number of heads; must divide d_model.

    Attributes:
        W_q, W_k, W_v, W_o: ``nn.Linear(d_model, d_model)``; head i uses columns i*d_k:(i+1)*d_k of
            W_q, W_k and W_v (the same layout as ``nn.MultiheadAttention``).

    Shape:
        - Input: x of shape (B, T, d_model); optional key_padding_mask (B, T) bool, True = padding.
        - Output: (B, T, d_model).
    """

    def __init__(self, d_model: int, num_heads: int) -> None:
        super().__init__()
        if num_heads <= 0 or d_model % num_heads != 0:
            raise ValueError(
                f"num_heads must be a positive divisor of d_model, "
                f"got d_model={d_model}, num_heads={num_heads}"
            )
        self.d_model = d_model
        self.num_heads = num_heads
        self.d_k = d_model // num_heads
        self.W_q = nn.Linear(d_model, d_model)
        self.W_k = nn.Linear(d_model, d_model)
        self.W_v = nn.Linear(d_model, d_model)
        self.W_o = nn.Linear(d_model, d_model)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, d_model) -> (B, h, T, d_k): head i takes features i*d_k:(i+1)*d_k."""
        # Hint: a view to (B, T, h, d_k), then a transpose; a view straight to (B, h, T, d_k) would mix
        # features of different positions into one head.
        # BEGIN SOLUTION split the last dimension into num_heads heads of d_k features: (B, h, T, d_k)
        B, T, _ = x.shape
        return x.view(B, T, self.num_heads, self.d_k).transpose(1, 2)
        # END SOLUTION

    def merge_heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, h, T, d_k) -> (B, T, d_model): the inverse of ``split_heads`` (concatenates the heads)."""
        # BEGIN SOLUTION concatenate the heads back into (B, T, d_model)
        B, _, T, _ = x.shape
        return x.transpose(1, 2).reshape(B, T, self.d_model)
        # END SOLUTION

    def forward(self, x: torch.Tensor, key_padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Attend with every head from every position of x to every (non-padded) position of x."""
        # BEGIN SOLUTION project, split into heads, attend per head (scale by sqrt(d_k)), merge, apply W_o
        Q = self.split_heads(self.W_q(x))  # (B, h, T, d_k)
        K = self.split_heads(self.W_k(x))
        V = self.split_heads(self.W_v(x))
        heads = scaled_dot_product_attention(Q, K, V, key_padding_mask)  # (B, h, T, d_k)
        return self.W_o(self.merge_heads(heads))
        # END SOLUTION
