"""Problem 3(b): positional encoding against stored values, the encoder against nn.TransformerEncoderLayer.

The positional encoding is compared with values of the sinusoidal table written out below (PyTorch has
no such module), to 10 decimals.

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

from tests.attention_tests import copy_multi_head_weights
from tests.helpers import assert_close
from tests.sandbox import Ref, Student, StudentError, type_name

TOL = {"atol": 1e-10, "rtol": 1e-8}


#: PE[:9] of the table with d_model = 8 (positions 0-8, columns 0-7), to 10 decimals.
PE_9_8 = torch.tensor([
    [0.0000000000, 1.0000000000, 0.0000000000, 1.0000000000, 0.0000000000, 1.0000000000, 0.0000000000, 1.0000000000],
    [0.8414709848, 0.5403023059, 0.0998334166, 0.9950041653, 0.0099998333, 0.9999500004, 0.0009999998, 0.9999995000],
    [0.9092974268, -0.4161468365, 0.1986693308, 0.9800665778, 0.0199986667, 0.9998000067, 0.0019999987, 0.9999980000],
    [0.1411200081, -0.9899924966, 0.2955202067, 0.9553364891, 0.0299955002, 0.9995500337, 0.0029999955, 0.9999955000],
    [-0.7568024953, -0.6536436209, 0.3894183423, 0.9210609940, 0.0399893342, 0.9992001067, 0.0039999893, 0.9999920000],
    [-0.9589242747, 0.2836621855, 0.4794255386, 0.8775825619, 0.0499791693, 0.9987502604, 0.0049999792, 0.9999875000],
    [-0.2794154982, 0.9601702867, 0.5646424734, 0.8253356149, 0.0599640065, 0.9982005399, 0.0059999640, 0.9999820001],
    [0.6569865987, 0.7539022543, 0.6442176872, 0.7648421873, 0.0699428473, 0.9975510003, 0.0069999428, 0.9999755001],
    [0.9893582466, -0.1455000338, 0.7173560909, 0.6967067093, 0.0799146940, 0.9968017063, 0.0079999147, 0.9999680002],
], dtype=torch.float64)
#: (max_seq_length, d_model) -> (positions, columns, values[position][column]) of larger tables, to 10 decimals.
PE_SAMPLES = {
    (512, 128): ((1, 100, 511), (0, 1, 2, 3, 64, 65, 126, 127), [
        [0.8414709848, 0.5403023059, 0.7617204085, 0.6479058723, 0.0099998333, 0.9999500004, 0.0001154782, 0.9999999933],
        [-0.5063656411, 0.8623188723, -0.9795398107, 0.2012504889, 0.8414709848, 0.5403023059, 0.0115475632, 0.9999333247],
        [0.8817704008, -0.4716788742, 0.4410739110, -0.8974707823, -0.9219886775, 0.3872168365, 0.0589751193, 0.9982594529],
    ]),
    (50, 7): ((1, 49), (0, 1, 2, 3, 4, 5, 6), [  # odd d_model: the last column is a sine
        [0.8414709848, 0.5403023059, 0.0719064568, 0.9974113803, 0.0051794515, 0.9999865866, 0.0003727594],
        [-0.9537526528, 0.3005925437, -0.3754360028, -0.9268483197, 0.2510784745, 0.9679667348, 0.0182641936],
    ]),
}


# --- positional encoding ---------------------------------------------------------------------------
@pytest.mark.weight(1, part="3.b")
@pytest.mark.parametrize("max_len,d_model", [(512, 128), (50, 7), (9, 8)], ids=["L512_d128", "L50_d7_odd", "L9_d8"])
def test_positional_encoding_matches_stored_values(max_len, d_model, student):
    """The sinusoidal table of "Attention Is All You Need": sines in even columns, cosines in odd ones.

    Tolerance 1e-4 because an implementation computing the angles in float32 is correct too, and at
    position 511 the float32 rounding of the angle is about 3e-5; a wrong formula is off by O(1).
    """
    torch.set_default_dtype(torch.float64)
    pe = student.module("transformer").positional_encoding(max_len, d_model)
    what = "positional_encoding(max_len, d_model)"
    assert isinstance(pe, torch.Tensor) and tuple(pe.shape) == (max_len, d_model), (
        f"{what}: expected a tensor of shape {(max_len, d_model)}, got "
        f"{tuple(pe.shape) if isinstance(pe, torch.Tensor) else type_name(pe)}")
    if (max_len, d_model) == (9, 8):
        assert_close(pe, PE_9_8, case="L9_d8", what=what, atol=1e-4, rtol=0)
        return
    positions, columns, values = PE_SAMPLES[(max_len, d_model)]
    actual = pe[list(positions)][:, list(columns)]
    assert_close(actual, torch.tensor(values, dtype=pe.dtype), case=f"L{max_len}_d{d_model}",
                 what=f"{what} at positions {positions}, columns {columns}", atol=1e-4, rtol=0)


@pytest.mark.weight(1, part="3.b")
def test_positional_encoding_module_adds_a_buffer(student):
    """PositionalEncoding adds PE[:T] to x (B, T, d_model); the table is a buffer, not a trained parameter."""
    torch.set_default_dtype(torch.float64)
    module = student.module("transformer").PositionalEncoding(8, max_seq_length=40)
    # iter() first: list() of a Ref would also ask the student's side for len() of the generator
    assert not list(iter(module.parameters())), "the positional encoding must not be a parameter: register_buffer"
    assert any(b.numel() == 40 * 8 for b in module.buffers()), "register the (max_seq_length, d_model) table"
    x = torch.randn(2, 9, 8)
    assert_close(module(x), x + PE_9_8, case="B2_T9_d8", what="x + PE[:T]", atol=1e-6, rtol=0)


def test_positional_encoding_rejects_too_long_sequences(student):
    module = student.module("transformer").PositionalEncoding(4, max_seq_length=8)
    with pytest.raises((ValueError, StudentError), match="max_seq_length") as raised:  # StudentError: from the worker
        module(torch.zeros(1, 9, 4))
    assert raised.type is ValueError or "ValueError" in str(raised.value), str(raised.value)


# --- encoder layer --------------------------------------------------------------------------------
def _make_encoder(student: Student, d_model: int, num_heads: int, d_ff: int,
                  output_size: int) -> tuple[Ref, nn.TransformerEncoderLayer]:
    """The student's TransformerEncoder with random weights (drawn here in the order of its
    ``named_parameters()``, copied in), and torch's layer with the same weights (read from it as data)."""
    torch.set_default_dtype(torch.float64)
    encoder = student.module("transformer").TransformerEncoder(d_model, num_heads, d_ff, output_size)
    values = {name: torch.randn(p.shape) * (0.5 if p.dim() == 1 else 1.5 / math.sqrt(p.shape[-1]))
              for name, p in encoder.named_parameters()}
    student.load(encoder, values)
    ref = nn.TransformerEncoderLayer(d_model, num_heads, d_ff, dropout=0.0, activation="relu",
                                     batch_first=True, norm_first=False)
    ref.train()  # the exact math path, not the fused eval-mode kernel
    copy_multi_head_weights(encoder.attention, ref.self_attn)
    feed_forward = encoder.feed_forward
    linear_1, linear_2 = feed_forward[0], feed_forward[2]
    with torch.no_grad():
        for dst, src in [(ref.linear1, linear_1), (ref.linear2, linear_2), (ref.norm1, encoder.norm_1),
                         (ref.norm2, encoder.norm_2)]:
            dst.weight.copy_(src.weight)
            dst.bias.copy_(src.bias)
    return encoder, ref


def _reference(encoder: Ref, ref: nn.TransformerEncoderLayer, x: torch.Tensor,
               mask: torch.Tensor | None) -> torch.Tensor:
    """torch's encoder layer followed by (a detached copy of) the student's output layer."""
    output_layer = encoder.output_layer
    W, b = output_layer.weight.detach(), output_layer.bias.detach()
    return ref(x, src_key_padding_mask=mask) @ W.T + b


def _left_padding_mask(B: int, T: int) -> torch.Tensor:
    n_pad = torch.tensor([min(2 * b, T - 1) for b in range(B)])
    return torch.arange(T).unsqueeze(0) < n_pad.unsqueeze(1)


ENCODER_CASES = {"B2_T5_d8_h2_ff16_O3": (2, 5, 8, 2, 16, 3), "B3_T7_d12_h4_ff10_O2": (3, 7, 12, 4, 10, 2)}


@pytest.mark.weight(1, part="3.b")
@pytest.mark.parametrize("masked", [False, True], ids=["no_mask", "left_padded"])
@pytest.mark.parametrize("case", list(ENCODER_CASES))
def test_transformer_encoder_matches_torch(case, masked, student, from_scratch):
    """LayerNorm(x + MHA(x)), then LayerNorm(x + FFN(x)), then the output layer: (B, T, output_size)."""
    B, T, d, h, d_ff, O = ENCODER_CASES[case]
    encoder, ref = _make_encoder(student, d, h, d_ff, O)
    x = torch.randn(B, T, d)
    mask = _left_padding_mask(B, T) if masked else None
    expected = _reference(encoder, ref, x, mask).detach()
    with from_scratch("TransformerEncoder", "attention"), student.no_grad():
        out = encoder(x, mask)
    name = f"{case}_{'left_padded' if masked else 'no_mask'}"
    assert_close(out, expected, case=name, what="TransformerEncoder output (B, T, output_size)", **TOL)


@pytest.mark.weight(1, part="3.b")
def test_transformer_encoder_input_gradient_matches_torch(student, from_scratch):
    """The gradient with respect to the input flows through both residual connections and both norms."""
    B, T, d, h, d_ff, O = ENCODER_CASES["B3_T7_d12_h4_ff10_O2"]
    encoder, ref = _make_encoder(student, d, h, d_ff, O)
    x = torch.randn(B, T, d)
    mask = _left_padding_mask(B, T)
    grad_out = torch.randn(B, T, O)
    x_ref = x.clone().requires_grad_(True)
    (_reference(encoder, ref, x_ref, mask) * grad_out).sum().backward()
    x = x.clone().requires_grad_(True)
    with from_scratch("TransformerEncoder", "attention"):
        _, (x_grad, _) = student.backward(encoder, x, mask, grad=grad_out)  # backpropagates (out * grad_out).sum()
    assert_close(x_grad, x_ref.grad, case="B3_T7_d12_h4_ff10_O2_left_padded", what="gradient of the input x",
                 **TOL)


# --- the full model -------------------------------------------------------------------------------
@pytest.mark.weight(2, part="3.b")
def test_transformer_model_masks_pad_tokens(student, from_scratch):
    """Transformer: embedding (padding_idx=0) + positional encoding -> encoder, with PAD (id 0) keys masked.

    Tolerance 1e-6: the positional table may have been computed in float32.
    """
    vocab, d, h, d_ff, O = 30, 8, 2, 16, 2
    torch.set_default_dtype(torch.float64)
    model = student.module("transformer").Transformer(vocab, d, h, d_ff, O, max_seq_length=64)
    embedding = model.embedding
    assert student.isinstance(embedding, "torch.nn.Embedding") and embedding.padding_idx == 0, (
        "Transformer.embedding must be nn.Embedding(vocab_size, embedding_size, padding_idx=0)"
    )
    encoder, ref = _make_encoder(student, d, h, d_ff, O)
    model.encoder = encoder  # on the student's side: the model's encoder is now this one
    B, T = 3, 9
    tokens = torch.randint(1, vocab, (B, T))
    tokens[0, :4] = 0  # left padding
    tokens[1, :1] = 0
    x = embedding(tokens).detach() + PE_9_8[:T]  # d = 8, T = 9 (the student's word vectors, as data)
    expected = _reference(encoder, ref, x, tokens == 0).detach()
    with from_scratch("Transformer", "attention"), student.no_grad():
        out = model(tokens)
    assert_close(out, expected, case="vocab30_d8_h2_ff16_B3_T9_left_padded",
                 what="Transformer output (B, T, O)", atol=1e-6, rtol=1e-6)
