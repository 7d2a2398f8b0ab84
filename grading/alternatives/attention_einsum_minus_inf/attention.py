"""Correct alternative: attention through einsum with the heads kept as (B, T, h, d_k) (no transposes), masking with masked_fill(-inf) and fully padded rows handled before the softmax.

Only the functions written differently are here; `grading.accuracy.splice` puts them into
the reference module in place of its own.
"""

from __future__ import annotations

import math

import torch


def scaled_dot_product_attention(
    Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, key_padding_mask: torch.Tensor | None = None
) -> torch.Tensor:
    """softmax(Q K^T / sqrt(d_k)) V over the last two dimensions, ignoring padded keys.

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
    # (torch.finfo(scores.dtype).min stays finite: a row of -inf would give 0/0 = NaN), and set their weights
    # to exactly 0 after it, which also zeroes a row whose keys are all padded.
    scores = torch.einsum("...qd,...kd->...qk", Q, K) / math.sqrt(Q.size(-1))
    if key_padding_mask is None:
        return torch.einsum("...qk,...kd->...qd", torch.softmax(scores, dim=-1), V)
    mask = key_padding_mask.reshape(key_padding_mask.size(0), *([1] * (scores.dim() - 2)), scores.size(-1))
    scores = scores.masked_fill(mask, float("-inf"))
    empty = mask.all(dim=-1, keepdim=True)  # sequences that are all padding: no key at all
    scores = scores.masked_fill(empty, 0.0)  # avoid softmax over only -inf (NaN)
    weights = torch.softmax(scores, dim=-1).masked_fill(empty, 0.0)
    return torch.einsum("...qk,...kd->...qd", weights, V)


class MultiHeadAttention:
    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, d_model) -> (B, h, T, d_k): head i takes features i*d_k:(i+1)*d_k."""
        # Hint: a view to (B, T, h, d_k), then a transpose; a view straight to (B, h, T, d_k) would mix
        # features of different positions into one head.
        return x.unflatten(-1, (self.num_heads, self.d_k)).permute(0, 2, 1, 3)

    def merge_heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, h, T, d_k) -> (B, T, d_model): the inverse of ``split_heads`` (concatenates the heads)."""
        return x.permute(0, 2, 1, 3).flatten(-2)

    def forward(self, x: torch.Tensor, key_padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Attend with every head from every position of x to every (non-padded) position of x."""
        B, T, _ = x.shape
        h, d_k = self.num_heads, self.d_k
        Q, K, V = (w(x).view(B, T, h, d_k) for w in (self.W_q, self.W_k, self.W_v))
        scores = torch.einsum("bqhd,bkhd->bhqk", Q, K) / math.sqrt(d_k)
        if key_padding_mask is not None:
            mask = key_padding_mask[:, None, None, :]
            empty = mask.all(dim=-1, keepdim=True)
            scores = scores.masked_fill(mask, float("-inf")).masked_fill(empty, 0.0)
            weights = torch.softmax(scores, dim=-1).masked_fill(empty, 0.0)
        else:
            weights = torch.softmax(scores, dim=-1)
        heads = torch.einsum("bhqk,bkhd->bqhd", weights, V).reshape(B, T, self.d_model)
        return self.W_o(heads)
