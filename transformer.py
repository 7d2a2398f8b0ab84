"""Problem 3(b): a Transformer encoder for sentiment classification, from scratch.

    x = embedding(tokens) + PE                      word vectors plus sinusoidal positional encoding
    x = LayerNorm(x + MultiHeadAttention(x))        attention sub-layer, residual connection, post-norm
    x = LayerNorm(x + FFN(x))                       FFN(x) = max(0, x W_1 + b_1) W_2 + b_2
    y = x W_out + b_out                             logits at every position

One encoder layer. PAD tokens (id 0) are masked out as keys of the attention.
"""

from __future__ import annotations

import torch
from torch import nn

from attention import MultiHeadAttention
from layers import word_embedding


def positional_encoding(max_seq_length: int, d_model: int) -> torch.Tensor:
    """The sinusoidal positional encoding of "Attention Is All You Need" (section 3.5).

        PE[pos, 2i]     = sin(pos / 10000^(2i / d_model))
        PE[pos, 2i + 1] = cos(pos / 10000^(2i / d_model))

    for positions pos = 0 .. max_seq_length - 1 and i = 0 .. ceil(d_model / 2) - 1 (an odd d_model
    drops the last cosine column).

    Returns:
        PE, shape (max_seq_length, d_model), in the default dtype (``torch.get_default_dtype()``).
    """
    # BEGIN SOLUTION fill the even columns with the sines and the odd columns with the cosines
    pos = torch.arange(max_seq_length, dtype=torch.float64).unsqueeze(1)  # (L, 1)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)  # (ceil(d_model / 2),)
    angles = pos / 10000.0 ** (two_i / d_model)  # (L, ceil(d_model / 2))
    pe = torch.zeros(max_seq_length, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles[:, : d_model // 2])
    return pe.to(torch.get_default_dtype())
    # END SOLUTION


class PositionalEncoding(nn.Module):
    """Adds the sinusoidal positional encoding to a batch of sequences.

    The table is a registered buffer (not a parameter): it is not trained, but it moves with the model
    (``.to(device)``, ``.double()``) and is saved in the ``state_dict``.

    Args:
        d_model: size of each vector.
        max_seq_length: the longest sequence the table covers.

    Shape:
        - Input: x of shape (B, T, d_model) with T <= max_seq_length.
        - Output: (B, T, d_model), x + PE[:T].
    """

    def __init__(self, d_model: int, max_seq_length: int = 512) -> None:
        super().__init__()
        self.max_seq_length = max_seq_length
        self.register_buffer("pe", positional_encoding(max_seq_length, d_model))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return x + PE[:T] for x of shape (B, T, d_model)."""
        T = x.shape[1]
        if T > self.max_seq_length:
            raise ValueError(
                f"sequence length {T} exceeds the positional encoding's max_seq_length "
                f"{self.max_seq_length}; "
                "build the model with a larger max_seq_length or use shorter sequences"
            )
        return x + self.pe[:T]


class TransformerEncoder(nn.Module):
    """One post-norm Transformer encoder layer followed by a linear output layer.

    Args:
        d_model: size of each input vector.
        num_heads: number of attention heads (must divide d_model).
        d_ff: hidden size of the position-wise feed-forward network.
        output_size: O, size of each output vector.

    Attributes:
        attention: ``MultiHeadAttention(d_model, num_heads)``.
        norm_1, norm_2: ``nn.LayerNorm(d_model)`` after the attention and the feed-forward sub-layers.
        feed_forward: Linear(d_model, d_ff) - ReLU - Linear(d_ff, d_model).
        output_layer: ``nn.Linear(d_model, output_size)``.

    Shape:
        - Input: x of shape (B, T, d_model); optional key_padding_mask (B, T) bool, True = padding.
        - Output: (B, T, output_size).
    """

    def __init__(self, d_model: int, num_heads: int, d_ff: int, output_size: int) -> None:
        super().__init__()
        self.attention = MultiHeadAttention(d_model, num_heads)
        self.norm_1 = nn.LayerNorm(d_model)
        self.feed_forward = nn.Sequential(nn.Linear(d_model, d_ff), nn.ReLU(), nn.Linear(d_ff, d_model))
        self.norm_2 = nn.LayerNorm(d_model)
        self.output_layer = nn.Linear(d_model, output_size)

    def forward(self, x: torch.Tensor, key_padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Attention and feed-forward sub-layers, each with a residual connection and a LayerNorm after it."""
        # BEGIN SOLUTION the two sub-layers, each x = LayerNorm(x + sublayer(x)), then the output layer
        x = self.norm_1(x + self.attention(x, key_padding_mask))
        x = self.norm_2(x + self.feed_forward(x))
        return self.output_layer(x)
        # END SOLUTION


class Transformer(nn.Module):
    """A Transformer sentiment classifier: embedding + positional encoding -> ``TransformerEncoder`` (handout 3(b)).

    The word vectors come from ``layers.word_embedding`` (PAD row zero), as in the RNN and the LSTM.
    Add the positional encoding to them as they are (no scaling by sqrt(d_model)).

    Args:
        vocab_size: number of token ids (id 0 is the padding token PAD).
        embedding_size: d_model, the size of each word vector.
        num_heads: number of attention heads (must divide embedding_size).
        d_ff: hidden size of the feed-forward network.
        output_size: O, the number of classes (2 for positive / negative).
        max_seq_length: the longest sequence the positional encoding covers.

    Shape:
        - Input: tokens, a LongTensor of shape (B, T) of ids in [0, vocab_size), T <= max_seq_length.
        - Output: (B, T, O), the logits at every position (classify with the last one, which is always
          a real token because the sequences are left-padded).
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_size: int,
        num_heads: int,
        d_ff: int,
        output_size: int,
        max_seq_length: int = 512,
    ) -> None:
        super().__init__()
        self.embedding = word_embedding(vocab_size, embedding_size)  # PAD = 0 stays a zero vector
        self.positional_encoding = PositionalEncoding(embedding_size, max_seq_length)
        self.encoder = TransformerEncoder(embedding_size, num_heads, d_ff, output_size)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Mask the PAD tokens (id 0), embed, add the positional encoding and run the encoder."""
        # BEGIN SOLUTION build the key-padding mask from the PAD tokens, embed, add positions, encode
        key_padding_mask = tokens == 0  # (B, T), True = PAD
        x = self.positional_encoding(self.embedding(tokens))  # (B, T, d_model)
        return self.encoder(x, key_padding_mask)
        # END SOLUTION

