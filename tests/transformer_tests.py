"""Problem 3(b): positional encoding against stored values, the encoder against nn.TransformerEncoderLayer.

The positional encoding is compared with values of the sinusoidal table written out below (PyTorch has
no such module), to 10 decimals.

The reference is ``nn.TransformerEncoderLayer(d_model, nhead, d_ff, dropout=0, activation="relu",
batch_first=True, norm_first=False)`` (post-norm: x = LayerNorm(x + MHA(x)); x = LayerNorm(x + FFN(x))) in
train mode, which runs the plain math (the eval-mode fast path is a fused kernel), in float64 with the
student's weights copied in, followed by the student's output layer. Random inputs and weights, from-scratch
guard; the value tests run in float64 and judge the output at the precision of the dtype it comes back in.
The encoder's input gradient is tested without and with a padding mask, in separate tests.

A few small tests check what training relies on besides the values: the positional table follows the default
dtype, the encoder and the model follow their input's (or their parameters') dtype (``.double()``,
``.float()``) and device (the ``meta`` device stands in for a GPU), and each call depends only on its own
batch. They use batches without padding, so the masking itself is judged by the masked tests.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from tests.attention_tests import (
    LIKE_INPUT_HINT,
    STATE_HINT,
    _dtype_name,
    copy_multi_head_weights,
)
from tests.helpers import (
    assert_close_at_precision,
    assert_equal,
    assert_padding_embedding,
    expect,
    hint,
    kind,
)
from tests.sandbox import Ref, Student, StudentError, type_name

TOL = {"atol": 1e-10, "rtol": 1e-8}
MODEL_TOL = {"atol": 1e-6, "rtol": 1e-6}  # the model's positional table may have been computed in float32
PE_DTYPE_HINT = ("Return the table in the default dtype: build it in float64 if you like, then "
                 ".to(torch.get_default_dtype()); a float64 table in a float32 model makes its activations float64, "
                 "and its float32 layers then fail.")


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
    got = tuple(pe.shape) if isinstance(pe, torch.Tensor) else type_name(pe)
    assert_equal(got, (max_len, d_model), f"{what}: expected a tensor of shape {(max_len, d_model)}, got {got}",
                 case=f"L{max_len}_d{d_model}", what=f"{what}'s shape")
    if (max_len, d_model) == (9, 8):
        assert_close_at_precision(pe, PE_9_8, case="L9_d8", what=what, atol=1e-4, rtol=0)
        return
    positions, columns, values = PE_SAMPLES[(max_len, d_model)]
    actual = pe[list(positions)][:, list(columns)]
    assert_close_at_precision(actual, torch.tensor(values, dtype=torch.float64), case=f"L{max_len}_d{d_model}",
                              what=f"{what} at positions {positions}, columns {columns}", atol=1e-4, rtol=0)


@pytest.mark.weight(1, part="3.b")
def test_positional_encoding_module_adds_a_buffer(student):
    """PositionalEncoding adds PE[:T] to x (B, T, d_model); the table is a buffer, not a trained parameter."""
    torch.set_default_dtype(torch.float64)
    module = student.module("transformer").PositionalEncoding(8, max_seq_length=40)
    # iter() first: list() of a Ref would also ask the student's side for len() of the generator
    case = "PositionalEncoding(8, max_seq_length=40)"
    parameters = [tuple(p.shape) for p in iter(module.parameters())]
    expect(not parameters, f"the positional encoding must not be a parameter: register_buffer; got parameters of "
           f"shapes {parameters}", got=parameters, case=case, what="parameters' shapes")
    buffers = [b for b in module.buffers()]  # copies
    shapes = [tuple(b.shape) for b in buffers]
    expect(any(b.numel() == 40 * 8 for b in buffers), f"register the (max_seq_length, d_model) table; got buffers of "
           f"shapes {shapes}", got=shapes, case=case, what="buffers' shapes")
    x = torch.randn(2, 9, 8)
    assert_close_at_precision(module(x), x + PE_9_8, case="B2_T9_d8", what="x + PE[:T]", atol=1e-6, rtol=0)


@pytest.mark.weight(0.25, part="3.b")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_positional_encoding_follows_the_default_dtype(dtype, student):
    """positional_encoding returns its table in the default dtype, and PositionalEncoding's buffer is in it
    too: a float32 model adds a float32 table. Targets a table built in float64 (or float32) and returned as it
    is, which makes a float32 Transformer's activations float64 (its float32 layers then fail)."""
    torch.set_default_dtype(dtype)  # the student's side follows it
    name = _dtype_name(dtype)
    case = f"default_dtype_{name}"
    transformer = student.module("transformer")
    with hint(PE_DTYPE_HINT):
        pe = transformer.positional_encoding(9, 8)
        ok = isinstance(pe, torch.Tensor) and pe.dtype == dtype  # outside assert: no tensor dump
        expect(ok, (
            f"[{case}] positional_encoding(9, 8) returned {kind(pe)} with the default dtype {name}, expected {name}"),
            got=kind(pe), case=case, what="positional_encoding(9, 8)'s dtype")
        module = transformer.PositionalEncoding(8, max_seq_length=9)
        tables = [b for b in module.buffers() if b.is_floating_point()]
        expect(tables, f"[{case}] PositionalEncoding(8, max_seq_length=9) has no floating-point buffer (the table)",
               got=[], case=case, what="PositionalEncoding's floating-point buffers' dtypes")
        dtypes = sorted({_dtype_name(b.dtype) for b in tables})
        expect(all(b.dtype == dtype for b in tables), (
            f"[{case}] PositionalEncoding(8, max_seq_length=9) built with the default dtype {name} has buffers of "
            f"dtypes {dtypes}, expected {name}"), got=dtypes, case=case,
            what="PositionalEncoding's floating-point buffers' dtypes")


def test_positional_encoding_rejects_too_long_sequences(student):
    module = student.module("transformer").PositionalEncoding(4, max_seq_length=8)
    with pytest.raises((ValueError, StudentError), match="max_seq_length") as raised:  # StudentError: from the worker
        module(torch.zeros(1, 9, 4))
    assert raised.type is ValueError or "ValueError" in str(raised.value), str(raised.value)


# --- encoder layer --------------------------------------------------------------------------------
def _random_values(module: Ref) -> dict[str, torch.Tensor]:
    """Random values for every parameter of the student's ``module``, drawn here in the order of its
    ``named_parameters()`` (biases 0.5 N(0, 1), weights 1.5 / sqrt(fan_in) N(0, 1)), in the default dtype."""
    return {name: torch.randn(p.shape) * (0.5 if p.dim() == 1 else 1.5 / math.sqrt(p.shape[-1]))
            for name, p in module.named_parameters()}


def _torch_encoder(encoder: Ref, d_model: int, num_heads: int, d_ff: int) -> nn.TransformerEncoderLayer:
    """torch's encoder layer in float64 (train mode: the exact math path, not the fused eval-mode kernel) with
    the weights of the student's ``encoder`` (read as data) copied in."""
    ref = nn.TransformerEncoderLayer(d_model, num_heads, d_ff, dropout=0.0, activation="relu",
                                     batch_first=True, norm_first=False, dtype=torch.float64)
    ref.train()
    copy_multi_head_weights(encoder.attention, ref.self_attn)
    feed_forward = encoder.feed_forward
    linear_1, linear_2 = feed_forward[0], feed_forward[2]
    with torch.no_grad():
        for dst, src in [(ref.linear1, linear_1), (ref.linear2, linear_2), (ref.norm1, encoder.norm_1),
                         (ref.norm2, encoder.norm_2)]:
            dst.weight.copy_(src.weight)
            dst.bias.copy_(src.bias)
    return ref


def _new_encoder(student: Student, d_model: int, num_heads: int, d_ff: int, output_size: int,
                 randomize: bool = True) -> Ref:
    """The student's TransformerEncoder built with the tests' current default dtype, with random weights
    (unless ``randomize`` is False)."""
    encoder = student.module("transformer").TransformerEncoder(d_model, num_heads, d_ff, output_size)
    if randomize:
        student.load(encoder, _random_values(encoder))
    return encoder


def _make_encoder(student: Student, d_model: int, num_heads: int, d_ff: int,
                  output_size: int) -> tuple[Ref, nn.TransformerEncoderLayer]:
    """The student's TransformerEncoder (float64) with random weights (drawn here in the order of its
    ``named_parameters()``, copied in), and torch's layer with the same weights (read from it as data)."""
    torch.set_default_dtype(torch.float64)
    encoder = _new_encoder(student, d_model, num_heads, d_ff, output_size)
    return encoder, _torch_encoder(encoder, d_model, num_heads, d_ff)


def _reference(encoder: Ref, ref: nn.TransformerEncoderLayer, x: torch.Tensor,
               mask: torch.Tensor | None) -> torch.Tensor:
    """torch's encoder layer followed by (a detached float64 copy of) the student's output layer, in float64."""
    output_layer = encoder.output_layer
    W, b = output_layer.weight.detach().double(), output_layer.bias.detach().double()
    return ref(x.double(), src_key_padding_mask=mask) @ W.T + b


def _left_padding_mask(B: int, T: int) -> torch.Tensor:
    n_pad = torch.tensor([min(2 * b, T - 1) for b in range(B)])
    return torch.arange(T).unsqueeze(0) < n_pad.unsqueeze(1)


ENCODER_CASES = {"B2_T5_d8_h2_ff16_O3": (2, 5, 8, 2, 16, 3), "B3_T7_d12_h4_ff10_O2": (3, 7, 12, 4, 10, 2)}
SMALL_ENCODER = (3, 5, 8, 2, 16, 3)  # (B, T, d_model, num_heads, d_ff, O) of the robustness tests


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
    assert_close_at_precision(out, expected, case=name, what="TransformerEncoder output (B, T, output_size)", **TOL)


def _check_encoder_input_gradient(student: Student, from_scratch, masked: bool) -> None:
    """The gradient of (encoder(x, mask) * grad_out).sum() with respect to x, against torch's."""
    B, T, d, h, d_ff, O = ENCODER_CASES["B3_T7_d12_h4_ff10_O2"]
    encoder, ref = _make_encoder(student, d, h, d_ff, O)
    x = torch.randn(B, T, d)
    mask = _left_padding_mask(B, T) if masked else None
    grad_out = torch.randn(B, T, O)
    x_ref = x.clone().requires_grad_(True)
    (_reference(encoder, ref, x_ref, mask) * grad_out).sum().backward()
    x = x.clone().requires_grad_(True)
    args = (x,) if mask is None else (x, mask)
    with from_scratch("TransformerEncoder", "attention"):
        out, (x_grad, *_) = student.backward(encoder, *args, grad=grad_out)  # backpropagates (out * grad_out).sum()
    if isinstance(out, torch.Tensor) and out.is_floating_point() and out.dtype != torch.float64 \
            and isinstance(x_grad, torch.Tensor):
        x_grad = x_grad.to(out.dtype)  # behind a float32 output the gradient is only as precise as float32
    case = f"B3_T7_d12_h4_ff10_O2_{'left_padded' if masked else 'no_mask'}"
    assert_close_at_precision(x_grad, x_ref.grad, case=case, what="gradient of the input x", **TOL)


@pytest.mark.weight(1, part="3.b")
def test_transformer_encoder_input_gradient_matches_torch(student, from_scratch):
    """The gradient with respect to the input flows through both residual connections and both norms (with a
    padding mask; without one: the next test)."""
    _check_encoder_input_gradient(student, from_scratch, masked=True)


@pytest.mark.weight(1, part="3.b")
def test_transformer_encoder_input_gradient_matches_torch_no_mask(student, from_scratch):
    """The same gradient without a mask: a correct unmasked backward keeps these points even if the masked
    path is wrong."""
    _check_encoder_input_gradient(student, from_scratch, masked=False)


# --- the full model -------------------------------------------------------------------------------
@pytest.mark.weight(2, part="3.b")
def test_transformer_model_masks_pad_tokens(student, from_scratch):
    """Transformer: embedding (padding_idx=0) + positional encoding -> encoder, with PAD (id 0) keys masked.

    Tolerance 1e-6: the positional table may have been computed in float32.
    """
    vocab, d, h, d_ff, O = 30, 8, 2, 16, 2
    torch.set_default_dtype(torch.float64)
    model = student.module("transformer").Transformer(vocab, d, h, d_ff, O, max_seq_length=64)
    embedding = assert_padding_embedding(student, model, "Transformer", case=f"vocab{vocab}_d{d}_h{h}_ff{d_ff}_O{O}")
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
    assert_close_at_precision(out, expected, case="vocab30_d8_h2_ff16_B3_T9_left_padded",
                              what="Transformer output (B, T, O)", **MODEL_TOL)


# --- 3(b): dtype, device, one call after another (small weights) -----------------------------------------
def _check_encoder_follows_dtype(student: Student, from_scratch, default: torch.dtype, dtype: torch.dtype,
                                 convert: str) -> None:
    """Built with the default dtype ``default``, converted with ``.<convert>()``, called on ``dtype`` inputs with
    and without a mask (no padded key): the output is ``dtype``, with the right values."""
    B, T, d, h, d_ff, O = SMALL_ENCODER
    torch.set_default_dtype(default)  # the student's side follows it: the encoder is built in it
    encoder = _new_encoder(student, d, h, d_ff, O)
    getattr(encoder, convert)()
    x = torch.randn(B, T, d, dtype=dtype)
    expected = _reference(encoder, _torch_encoder(encoder, d, h, d_ff), x, None).detach()
    case = f"default_{_dtype_name(default)}_.{convert}()_{_dtype_name(dtype)}_input"
    with hint(LIKE_INPUT_HINT):
        with from_scratch("TransformerEncoder", "attention"), student.no_grad():
            outs = {"without a mask": encoder(x),
                    "with a key-padding mask (no padded key)": encoder(x, torch.zeros(B, T, dtype=torch.bool))}
        for how, out in outs.items():
            ok = isinstance(out, torch.Tensor) and out.dtype == dtype  # outside assert: no tensor dump
            expect(ok, (
                f"[{case}] TransformerEncoder converted with .{convert}() returned {kind(out)} for a "
                f"{_dtype_name(dtype)} input {how}, expected {_dtype_name(dtype)}"),
                got=kind(out), case=case, what=f"TransformerEncoder output's dtype {how}")
            assert_close_at_precision(out, expected, case=case, what=f"TransformerEncoder output {how}", **TOL)


@pytest.mark.weight(0.25, part="3.b")
def test_transformer_encoder_follows_a_float64_input(student, from_scratch):
    """Default dtype float32, the encoder built, then ``.double()``: a float64 input gives a float64 output with
    the right values, with and without a mask. Targets tensors made in forward in a fixed dtype."""
    _check_encoder_follows_dtype(student, from_scratch, torch.float32, torch.float64, "double")


@pytest.mark.weight(0.25, part="3.b")
def test_transformer_encoder_follows_a_float32_input(student, from_scratch):
    """Default dtype float64, the encoder converted with ``.float()``: a float32 input gives a float32 output
    with the right values (at float32 precision), with and without a mask. Targets tensors made in forward with
    the default dtype."""
    _check_encoder_follows_dtype(student, from_scratch, torch.float64, torch.float32, "float")


@pytest.mark.weight(0.25, part="3.b")
def test_transformer_encoder_runs_on_the_input_device(student, from_scratch):
    """Moved to another device with ``.to(...)``, the encoder runs an input (and a key-padding mask) on that
    device and returns a tensor there, of shape (B, T, O). The ``meta`` device (shapes, no values) stands in
    for a GPU. Targets tensors made in forward on the CPU (torch.zeros(...) without device=...)."""
    B, T, d, h, d_ff, O = SMALL_ENCODER
    torch.set_default_dtype(torch.float64)
    encoder = _new_encoder(student, d, h, d_ff, O, randomize=False)  # no values on the meta device
    encoder.to("meta")
    x = torch.empty(B, T, d, device="meta")
    mask = torch.empty(B, T, dtype=torch.bool, device="meta")
    case = f"meta_device_B{B}_T{T}_d{d}_h{h}_ff{d_ff}_O{O}"
    with hint(LIKE_INPUT_HINT):
        with from_scratch("TransformerEncoder", "attention"), student.no_grad():
            outs = {"without a mask": encoder(x), "with a key-padding mask on the meta device": encoder(x, mask)}
        for how, out in outs.items():
            ok = isinstance(out, torch.Tensor) and out.is_meta  # outside assert: no tensor dump
            expect(ok, (
                f"[{case}] TransformerEncoder moved to the meta device returned {kind(out)} for an input on the "
                f"meta device {how}, expected a tensor on the input's device"),
                got=kind(out), case=case, what=f"TransformerEncoder output's device {how}")
            assert_equal(tuple(out.shape), (B, T, O), (
                f"[{case}] TransformerEncoder output {how}: expected shape {(B, T, O)}, got {tuple(out.shape)}"),
                case=case, what=f"TransformerEncoder output's shape {how}")


@pytest.mark.weight(0.25, part="3.b")
def test_transformer_encoder_called_twice_with_different_batches(student, from_scratch):
    """Called on a batch (B=2, T=5), then on another (B=3, T=7), the encoder gives the second batch's output.
    Both calls pass a key-padding mask with no padded key. Targets anything kept on self from one call to the
    next."""
    _, _, d, h, d_ff, O = SMALL_ENCODER
    encoder, ref = _make_encoder(student, d, h, d_ff, O)
    first, second = torch.randn(2, 5, d), torch.randn(3, 7, d)
    expected = _reference(encoder, ref, second, None).detach()
    with hint(STATE_HINT):
        with from_scratch("TransformerEncoder", "attention"), student.no_grad():
            encoder(first, torch.zeros(2, 5, dtype=torch.bool))
            out = encoder(second, torch.zeros(3, 7, dtype=torch.bool))
        assert_close_at_precision(out, expected, case="B2_T5_then_B3_T7",
                                  what="TransformerEncoder output for the second batch (B, T, O)", **TOL)


MODEL = (30, 8, 2, 16, 2)  # (vocab, d_model, num_heads, d_ff, O) of the model's robustness tests; T <= 9


def _new_model(student: Student, randomize: bool = True) -> Ref:
    """The student's Transformer (max_seq_length 64) built with the tests' current default dtype, with random
    weights (the PAD word vector stays zero) unless ``randomize`` is False."""
    vocab, d, h, d_ff, O = MODEL
    model = student.module("transformer").Transformer(vocab, d, h, d_ff, O, max_seq_length=64)
    if randomize:
        values = _random_values(model)
        if "embedding.weight" in values:
            values["embedding.weight"][0] = 0.0
        student.load(model, values)
    return model


def _model_reference(model: Ref, tokens: torch.Tensor) -> torch.Tensor:
    """torch's encoder (float64, the student's weights) on the student's word vectors + PE, then the output
    layer; the PAD tokens masked. Detached, float64, (B, T, O)."""
    _, d, h, d_ff, _ = MODEL
    encoder = model.encoder
    vectors = model.embedding.weight.detach().double()
    x = vectors[tokens] + PE_9_8[: tokens.shape[1]]
    return _reference(encoder, _torch_encoder(encoder, d, h, d_ff), x, tokens == 0).detach()


def _check_model_follows_dtype(student: Student, from_scratch, default: torch.dtype, dtype: torch.dtype,
                               convert: str) -> None:
    """Built with the default dtype ``default``, converted with ``.<convert>()``: the logits of a batch without
    padding are ``dtype``, with the right values."""
    torch.set_default_dtype(default)  # the student's side follows it: the model is built in it
    model = _new_model(student)
    getattr(model, convert)()
    tokens = torch.randint(1, MODEL[0], (3, 9))
    expected = _model_reference(model, tokens)
    case = f"default_{_dtype_name(default)}_model.{convert}()_B3_T9"
    with hint(LIKE_INPUT_HINT):
        with from_scratch("Transformer", "attention"), student.no_grad():
            out = model(tokens)
        ok = isinstance(out, torch.Tensor) and out.dtype == dtype  # outside assert: no tensor dump
        expect(ok, (
            f"[{case}] Transformer converted with .{convert}() returned {kind(out)}, expected {_dtype_name(dtype)} "
            "logits"), got=kind(out), case=case, what="Transformer output's dtype")
        assert_close_at_precision(out, expected, case=case, what="Transformer output (B, T, O)", **MODEL_TOL)


@pytest.mark.weight(0.25, part="3.b")
def test_transformer_follows_a_double_model(student, from_scratch):
    """Default dtype float32, the model built, then ``.double()``: its logits are float64, with the right
    values. Targets tensors made in forward in a fixed dtype (a float32 positional slice or mask)."""
    _check_model_follows_dtype(student, from_scratch, torch.float32, torch.float64, "double")


@pytest.mark.weight(0.25, part="3.b")
def test_transformer_follows_a_float_model(student, from_scratch):
    """Default dtype float64, the model converted with ``.float()``: its logits are float32, with the right
    values (at float32 precision). Targets tensors made in forward with the default dtype."""
    _check_model_follows_dtype(student, from_scratch, torch.float64, torch.float32, "float")


@pytest.mark.weight(0.25, part="3.b")
def test_transformer_runs_on_the_input_device(student, from_scratch):
    """Moved to another device with ``.to(...)``, the model runs token ids on that device and returns logits
    there, of shape (B, T, O). The ``meta`` device (shapes, no values) stands in for a GPU, which
    train_imdb.py picks first. Targets tensors made in forward on the CPU (the padding mask or positions made
    with torch.arange(T) or torch.zeros(...) without device=tokens.device)."""
    B, T, O = 3, 9, MODEL[4]
    torch.set_default_dtype(torch.float64)
    model = _new_model(student, randomize=False)  # no values on the meta device
    model.to("meta")
    tokens = torch.empty(B, T, dtype=torch.long, device="meta")
    case = f"meta_device_B{B}_T{T}"
    with hint(LIKE_INPUT_HINT):
        with from_scratch("Transformer", "attention"), student.no_grad():
            out = model(tokens)
        ok = isinstance(out, torch.Tensor) and out.is_meta  # outside assert: no tensor dump
        expect(ok, (
            f"[{case}] Transformer moved to the meta device returned {kind(out)} for token ids on the meta device, "
            "expected logits on the tokens' device"),
            got=kind(out), case=case, what="Transformer output's device")
    assert_equal(tuple(out.shape), (B, T, O), f"[{case}] Transformer output: expected shape {(B, T, O)}, got "
                 f"{tuple(out.shape)}", case=case, what="Transformer output's shape")


@pytest.mark.weight(0.25, part="3.b")
def test_transformer_called_twice_with_different_batches(student, from_scratch):
    """Called on a batch (B=2, T=5), then on another (B=3, T=9), both without padding, the model gives the
    second batch's logits. Targets anything kept on self from one call to the next (the first batch's
    positional slice PE[:T] or padding mask)."""
    torch.set_default_dtype(torch.float64)
    model = _new_model(student)
    first, second = torch.randint(1, MODEL[0], (2, 5)), torch.randint(1, MODEL[0], (3, 9))
    expected = _model_reference(model, second)
    with hint(STATE_HINT):
        with from_scratch("Transformer", "attention"), student.no_grad():
            model(first)
            out = model(second)
        assert_close_at_precision(out, expected, case="B2_T5_then_B3_T9",
                                  what="Transformer output for the second batch (B, T, O)", **MODEL_TOL)
