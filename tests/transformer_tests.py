"""Problem 3(b)iii: positional encoding against the formula, the encoder against nn.TransformerEncoderLayer.

The reference is ``nn.TransformerEncoderLayer(d_model, nhead, d_ff, dropout=0, activation="relu",
batch_first=True, norm_first=False)`` (post-norm: x = LayerNorm(x + MHA(x)); x = LayerNorm(x + FFN(x))) in
train mode, which runs the plain math (the eval-mode fast path is a fused kernel), with the student's weights
copied in, followed by the student's output layer. Random inputs and weights, float64, from-scratch guard.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import transformer
from tests.attention_tests import copy_multi_head_weights
from tests.helpers import assert_close

TOL = {"atol": 1e-10, "rtol": 1e-8}


def formula_positional_encoding(max_seq_length: int, d_model: int) -> torch.Tensor:
    """PE[pos, 2i] = sin(pos / 10000^(2i/d_model)), PE[pos, 2i+1] = cos(same angle), in float64."""
    pos = torch.arange(max_seq_length, dtype=torch.float64).unsqueeze(1)  # (L, 1)
    j = torch.arange(d_model, dtype=torch.float64)  # column j uses i = j // 2
    angle = pos / torch.pow(10000.0, (j - j % 2) / d_model)  # (L, d_model)
    even = (torch.arange(d_model) % 2 == 0).unsqueeze(0)
    pe = torch.where(even, torch.sin(angle), torch.cos(angle))
    return pe


# --- positional encoding ---------------------------------------------------------------------------
@pytest.mark.points(1, part="3.b.iii")
@pytest.mark.parametrize("max_len,d_model", [(512, 128), (50, 7)], ids=["L512_d128", "L50_d7_odd"])
def test_positional_encoding_matches_formula(max_len, d_model):
    """The sinusoidal table of "Attention Is All You Need": sines in even columns, cosines in odd ones.

    Tolerance 1e-4 because an implementation computing the angles in float32 is correct too, and at
    position 511 the float32 rounding of the angle is about 3e-5; a wrong formula is off by O(1).
    """
    torch.set_default_dtype(torch.float64)
    expected = formula_positional_encoding(max_len, d_model)
    pe = transformer.positional_encoding(max_len, d_model)
    assert_close(pe, expected, case=f"L{max_len}_d{d_model}", what="positional_encoding(max_len, d_model)",
                 atol=1e-4, rtol=0)


@pytest.mark.points(1, part="3.b.iii")
def test_positional_encoding_module_adds_a_buffer():
    """PositionalEncoding adds PE[:T] to x (B, T, d_model); the table is a buffer, not a trained parameter."""
    torch.set_default_dtype(torch.float64)
    module = transformer.PositionalEncoding(6, max_seq_length=40)
    assert not list(module.parameters()), "the positional encoding must not be a parameter: register_buffer"
    assert any(b.numel() == 40 * 6 for b in module.buffers()), "register the (max_seq_length, d_model) table"
    x = torch.randn(2, 9, 6)
    assert_close(module(x), x + formula_positional_encoding(40, 6)[:9], case="B2_T9_d6",
                 what="x + PE[:T]", atol=1e-6, rtol=0)


def test_positional_encoding_rejects_too_long_sequences():
    module = transformer.PositionalEncoding(4, max_seq_length=8)
    with pytest.raises(ValueError, match="max_seq_length"):
        module(torch.zeros(1, 9, 4))


# --- encoder layer --------------------------------------------------------------------------------
def _make_encoder(d_model: int, num_heads: int, d_ff: int, output_size: int):
    """The student's TransformerEncoder with random weights, and torch's layer with the same weights."""
    torch.set_default_dtype(torch.float64)
    encoder = transformer.TransformerEncoder(d_model, num_heads, d_ff, output_size)
    with torch.no_grad():
        for p in encoder.parameters():
            p.copy_(torch.randn(p.shape) * (0.5 if p.dim() == 1 else 1.5 / math.sqrt(p.shape[-1])))
    ref = nn.TransformerEncoderLayer(d_model, num_heads, d_ff, dropout=0.0, activation="relu",
                                     batch_first=True, norm_first=False)
    ref.train()  # the exact math path, not the fused eval-mode kernel
    copy_multi_head_weights(encoder.attention, ref.self_attn)
    linear_1, linear_2 = encoder.feed_forward[0], encoder.feed_forward[2]
    with torch.no_grad():
        for dst, src in [(ref.linear1, linear_1), (ref.linear2, linear_2), (ref.norm1, encoder.norm_1),
                         (ref.norm2, encoder.norm_2)]:
            dst.weight.copy_(src.weight)
            dst.bias.copy_(src.bias)
    return encoder, ref


def _reference(encoder, ref, x, mask):
    """torch's encoder layer followed by (a detached copy of) the student's output layer."""
    W, b = encoder.output_layer.weight.detach(), encoder.output_layer.bias.detach()
    return ref(x, src_key_padding_mask=mask) @ W.T + b


def _left_padding_mask(B: int, T: int) -> torch.Tensor:
    n_pad = torch.tensor([min(2 * b, T - 1) for b in range(B)])
    return torch.arange(T).unsqueeze(0) < n_pad.unsqueeze(1)


ENCODER_CASES = {"B2_T5_d8_h2_ff16_O3": (2, 5, 8, 2, 16, 3), "B3_T7_d12_h4_ff10_O2": (3, 7, 12, 4, 10, 2)}


@pytest.mark.points(1, part="3.b.iii")
@pytest.mark.parametrize("masked", [False, True], ids=["no_mask", "left_padded"])
@pytest.mark.parametrize("case", list(ENCODER_CASES))
def test_transformer_encoder_matches_torch(case, masked, from_scratch):
    """LayerNorm(x + MHA(x)), then LayerNorm(x + FFN(x)), then the output layer: (B, T, output_size)."""
    B, T, d, h, d_ff, O = ENCODER_CASES[case]
    encoder, ref = _make_encoder(d, h, d_ff, O)
    x = torch.randn(B, T, d)
    mask = _left_padding_mask(B, T) if masked else None
    expected = _reference(encoder, ref, x, mask).detach()
    with from_scratch("TransformerEncoder", "attention"), torch.no_grad():
        out = encoder(x, mask)
    name = f"{case}_{'left_padded' if masked else 'no_mask'}"
    assert_close(out, expected, case=name, what="TransformerEncoder output (B, T, output_size)", **TOL)


@pytest.mark.points(1, part="3.b.iii")
def test_transformer_encoder_input_gradient_matches_torch(from_scratch):
    """The gradient with respect to the input flows through both residual connections and both norms."""
    B, T, d, h, d_ff, O = ENCODER_CASES["B3_T7_d12_h4_ff10_O2"]
    encoder, ref = _make_encoder(d, h, d_ff, O)
    x = torch.randn(B, T, d)
    mask = _left_padding_mask(B, T)
    grad_out = torch.randn(B, T, O)
    x_ref = x.clone().requires_grad_(True)
    (_reference(encoder, ref, x_ref, mask) * grad_out).sum().backward()
    x = x.clone().requires_grad_(True)
    with from_scratch("TransformerEncoder", "attention"):
        (encoder(x, mask) * grad_out).sum().backward()
    assert_close(x.grad, x_ref.grad, case="B3_T7_d12_h4_ff10_O2_left_padded", what="gradient of the input x",
                 **TOL)


# --- the full model -------------------------------------------------------------------------------
@pytest.mark.points(2, part="3.b.iii")
def test_transformer_model_masks_pad_tokens(from_scratch):
    """Transformer: embedding (padding_idx=0) + positional encoding -> encoder, with PAD (id 0) keys masked.

    Tolerance 1e-6: the positional table may have been computed in float32.
    """
    vocab, d, h, d_ff, O = 30, 8, 2, 16, 2
    torch.set_default_dtype(torch.float64)
    model = transformer.Transformer(vocab, d, h, d_ff, O, max_seq_length=64)
    assert isinstance(model.embedding, nn.Embedding) and model.embedding.padding_idx == 0, (
        "Transformer.embedding must be nn.Embedding(vocab_size, embedding_size, padding_idx=0)"
    )
    encoder, ref = _make_encoder(d, h, d_ff, O)
    model.encoder = encoder
    B, T = 3, 9
    tokens = torch.randint(1, vocab, (B, T))
    tokens[0, :4] = 0  # left padding
    tokens[1, :1] = 0
    x = model.embedding(tokens).detach() + formula_positional_encoding(64, d)[:T]
    expected = _reference(encoder, ref, x, tokens == 0).detach()
    with from_scratch("Transformer", "attention"), torch.no_grad():
        out = model(tokens)
    assert_close(out, expected, case="vocab30_d8_h2_ff16_B3_T9_left_padded",
                 what="Transformer output (B, T, O)", atol=1e-6, rtol=1e-6)
