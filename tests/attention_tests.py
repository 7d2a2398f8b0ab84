"""Problem 3(a)iv: self-attention and multi-head attention against nn.MultiheadAttention.

Self-attention is nn.MultiheadAttention with one head (d_k = d_model) and an identity output projection,
with the student's W_q, W_k, W_v copied in; multi-head attention is nn.MultiheadAttention with all four
projections copied in. The references run here in float64, on the weights read from the student's module.

Inputs and weights are random (with all-equal inputs every attention weight is equal and many mistakes
vanish), the value tests run in float64 and judge the output at the precision of the dtype it comes back in,
and the student's code runs under the from-scratch guard. A key-padding mask (B, T) is True at padded
positions; the masks here leave at least one real key in every sequence, except in the test about fully
padded sequences. Gradients are tested without and with a mask, in separate tests: a mistake in one path
costs that path's tests only.

A few small tests check what training relies on besides the values: the modules follow their input's dtype
(``.double()``, ``.float()``) and device (the ``meta`` device stands in for a GPU), and each call depends only
on its own batch. They pass masks with no padded key, so the masking itself is judged by the masked tests.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from tests.helpers import assert_close_at_precision, assert_equal, expect, hint, kind
from tests.sandbox import Ref, Student, StudentError, type_name

TOL = {"atol": 1e-10, "rtol": 1e-8}
LAYERS = ("SelfAttention", "MultiHeadAttention")
SMALL = (3, 5, 8, 2)  # (B, T, d_model, num_heads) of the robustness tests
LIKE_INPUT_HINT = ("Create every tensor inside forward like the tensors it meets: x.new_zeros(...), or "
                   "torch.zeros(..., dtype=scores.dtype, device=scores.device) (a mask on key_padding_mask.device); "
                   "torch.zeros(...) alone is in the default dtype on the CPU, whatever the input is.")
STATE_HINT = ("Each call depends only on its own x and key_padding_mask: keep nothing of one batch (its mask, its "
              "shapes) on self for the next call.")


def _left_padding_mask(B: int, T: int) -> torch.Tensor:
    """(B, T) bool: sequence b has b * 2 padded positions on the left (capped at T - 1)."""
    n_pad = torch.tensor([min(2 * b, T - 1) for b in range(B)])
    return torch.arange(T).unsqueeze(0) < n_pad.unsqueeze(1)


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _randomize(student: Student, module: Ref) -> None:
    """Random weights and biases of a realistic size, so that the attention weights are far from uniform.

    Drawn here (in the order of ``module.named_parameters()``) and copied into the student's module."""
    values = {name: torch.randn(p.shape) * (1.0 if p.dim() == 1 else 1.5 / math.sqrt(p.shape[-1]))
              for name, p in module.named_parameters()}
    student.load(module, values)


def _torch_self_attention_layer(module: Ref) -> nn.MultiheadAttention:
    """torch's nn.MultiheadAttention in float64 with one head (d_k = d_model), the student's W_q, W_k, W_v copied
    in (read as data) and an identity output projection: self-attention as the handout defines it."""
    W_q, W_k, W_v = module.W_q, module.W_k, module.W_v
    weights = [W_q.weight, W_k.weight, W_v.weight]
    biases = [W_q.bias, W_k.bias, W_v.bias]
    d_model = weights[0].shape[0]
    ref = nn.MultiheadAttention(d_model, 1, dropout=0.0, batch_first=True, dtype=torch.float64)
    ref.train()  # the plain math path, not the fused eval-mode kernel
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([w.detach() for w in weights]))
        ref.in_proj_bias.copy_(torch.cat([b.detach() for b in biases]))
        ref.out_proj.weight.copy_(torch.eye(d_model))
        ref.out_proj.bias.zero_()
    return ref


def torch_self_attention(module: Ref, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """torch's nn.MultiheadAttention with one head (d_k = d_model), the module's W_q, W_k, W_v copied in and an
    identity output projection: self-attention as the handout defines it. Detached, float64, (B, T, d_model).

    ``module`` is the student's module (a Ref): its weights are read as data, torch's layer runs here."""
    ref = _torch_self_attention_layer(module)
    x = x.detach().to(torch.float64)
    with torch.no_grad():
        return ref(x, x, x, key_padding_mask=mask, need_weights=False)[0]


def _check_linear_layers(student: Student, module: Ref, names: tuple[str, ...], d_model: int, what: str) -> None:
    """Each of ``names`` is an nn.Linear(d_model, d_model) attribute of the student's ``module``."""
    for name in names:
        try:
            layer = getattr(module, name)
        except (AttributeError, StudentError):  # AttributeError here, StudentError from the worker
            layer = None
        is_linear = student.isinstance(layer, "torch.nn.Linear")
        got = (type_name(layer), tuple(layer.weight.shape) if is_linear else None)
        expect(is_linear and got[1] == (d_model, d_model), (
            f"{what}.{name} must be nn.Linear({d_model}, {d_model}), got {got[0]}"
            + (f" with weights of shape {got[1]}" if is_linear else "")
        ), got=got, case=what, what=f"{name}'s (class, weight shape)")


def _new_layer(student: Student, which: str, d_model: int, num_heads: int = 1, randomize: bool = True) -> Ref:
    """The student's ``which`` ("SelfAttention" or "MultiHeadAttention") built with the tests' current default
    dtype, after checking its projections; random weights unless ``randomize`` is False."""
    attention = student.module("attention")
    if which == "SelfAttention":
        module = attention.SelfAttention(d_model)
        names, what = ("W_q", "W_k", "W_v"), f"SelfAttention({d_model})"
    else:
        module = attention.MultiHeadAttention(d_model, num_heads)
        names, what = ("W_q", "W_k", "W_v", "W_o"), f"MultiHeadAttention({d_model}, {num_heads})"
    _check_linear_layers(student, module, names, d_model, what)
    if randomize:
        _randomize(student, module)
    return module


def _make_self_attention(student: Student, d_model: int) -> Ref:
    """The student's SelfAttention (float64) with random weights."""
    torch.set_default_dtype(torch.float64)
    return _new_layer(student, "SelfAttention", d_model)


def _torch_multi_head(module: Ref, d_model: int, num_heads: int) -> nn.MultiheadAttention:
    """torch's nn.MultiheadAttention in float64 (train mode: plain math) with the student's weights copied in."""
    ref = nn.MultiheadAttention(d_model, num_heads, dropout=0.0, batch_first=True, dtype=torch.float64)
    ref.train()
    copy_multi_head_weights(module, ref)
    return ref


def _make_multi_head(student: Student, d_model: int, num_heads: int) -> tuple[Ref, nn.MultiheadAttention]:
    """The student's module and torch's, with the same random weights (torch in train mode: plain math)."""
    torch.set_default_dtype(torch.float64)
    module = _new_layer(student, "MultiHeadAttention", d_model, num_heads)
    return module, _torch_multi_head(module, d_model, num_heads)


def copy_multi_head_weights(module: Ref, ref: nn.MultiheadAttention) -> None:
    """Copy W_q, W_k, W_v, W_o of the student's ``module`` (read as data) into torch's in_proj (stacked q, k, v
    rows) and out_proj (converted to ``ref``'s dtype)."""
    W_q, W_k, W_v, W_o = module.W_q, module.W_k, module.W_v, module.W_o
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([W_q.weight, W_k.weight, W_v.weight]))
        ref.in_proj_bias.copy_(torch.cat([W_q.bias, W_k.bias, W_v.bias]))
        ref.out_proj.weight.copy_(W_o.weight)
        ref.out_proj.bias.copy_(W_o.bias)


def _layer_reference(which: str, module: Ref, x: torch.Tensor, d_model: int, num_heads: int) -> torch.Tensor:
    """torch's output (float64, detached, no mask) for the student's ``which`` module on ``x``."""
    if which == "SelfAttention":
        return torch_self_attention(module, x, None)
    x = x.detach().to(torch.float64)
    with torch.no_grad():
        return _torch_multi_head(module, d_model, num_heads)(x, x, x, need_weights=False)[0]


def _assert_gradients(module: Ref, who: str, out: object, expected: dict[str, torch.Tensor],
                      x_grad: object, x_expected: torch.Tensor, case: str) -> None:
    """Every parameter of ``expected`` (dotted names) and the input got the expected gradient, judged at the
    precision of the dtype the module returned (``out``): behind a float32 output they can only be as precise
    as float32."""
    lower = (out.dtype if isinstance(out, torch.Tensor) and out.is_floating_point() and out.dtype != torch.float64
             else None)

    def check(grad: object, want: torch.Tensor, what: str) -> None:
        if lower is not None and isinstance(grad, torch.Tensor) and grad.is_floating_point():
            grad = grad.to(lower)
        assert_close_at_precision(grad, want, case=case, what=what, **TOL)

    params = {name: p for name, p in module.named_parameters()}  # copies, with their .grad
    for name, grad in expected.items():
        expect(params[name].grad is not None, f"{who}.{name} received no gradient: is it used?",
               got=params[name].grad, case=case, what=f"gradient of {name} is None")
        check(params[name].grad, grad, f"gradient of {name}")
    check(x_grad, x_expected, "gradient of the input x")


def _backward(student: Student, module: Ref, x: torch.Tensor, mask: torch.Tensor | None,
              grad_out: torch.Tensor) -> tuple[object, object]:
    """``module(x)`` (or ``module(x, mask)``), then backpropagate ``(out * grad_out).sum()``: (out, x's gradient)."""
    args = (x,) if mask is None else (x, mask)
    out, grads = student.backward(module, *args, grad=grad_out)
    return out, grads[0]


# --- 3(a)iv: self-attention ------------------------------------------------------------------------
SELF_CASES = {"B2_T5_d6": (2, 5, 6), "B3_T8_d4": (3, 8, 4), "B1_T1_d3": (1, 1, 3)}


@pytest.mark.weight(1, part="3.a.iv")
@pytest.mark.parametrize("case", list(SELF_CASES))
def test_self_attention_matches_torch(case, student, from_scratch):
    """softmax(Q K^T / sqrt(d_k)) V with Q, K, V = W_q(x), W_k(x), W_v(x), softmax over the keys."""
    B, T, d = SELF_CASES[case]
    module = _make_self_attention(student, d)
    x = torch.randn(B, T, d)
    expected = torch_self_attention(module, x, None)
    with from_scratch("SelfAttention", "attention"), student.no_grad():
        out = module(x)
    assert_close_at_precision(out, expected, case=case, what="SelfAttention output (B, T, d_model)", **TOL)


@pytest.mark.weight(1, part="3.a.iv")
def test_self_attention_ignores_padded_keys(student, from_scratch):
    """Padded keys get zero weight: the output equals torch's with the padding mask, and changing x at padded
    positions changes nothing at the real positions."""
    B, T, d = 3, 7, 6
    module = _make_self_attention(student, d)
    x = torch.randn(B, T, d)
    mask = _left_padding_mask(B, T)
    expected = torch_self_attention(module, x, mask)
    x_changed = torch.where(mask.unsqueeze(-1), torch.randn(B, T, d) * 3, x)
    with from_scratch("SelfAttention", "attention"), student.no_grad():
        out = module(x, mask)
        out_changed = module(x_changed, mask)
    assert_close_at_precision(out, expected, case="B3_T7_d6_left_padded",
                              what="SelfAttention output with a padding mask", **TOL)
    real = ~mask
    assert_close_at_precision(
        out_changed[real], expected[real], case="B3_T7_d6_left_padded_values_changed",
        what="outputs at real positions after changing x at the padded positions (must not change)", **TOL,
    )


@pytest.mark.weight(0.5, part="3.a.iv")
@pytest.mark.parametrize("masked", [False, True], ids=["no_mask", "left_padded"])
def test_self_attention_gradients_match_torch(masked, student, from_scratch):
    """Gradients of W_q, W_k, W_v (weights and biases) and of x, as in torch's single-head attention; without a
    mask and with a padding mask, in separate tests (a mistake in one path costs that test only)."""
    B, T, d = 3, 7, 6
    module = _make_self_attention(student, d)
    x = torch.randn(B, T, d)
    mask = _left_padding_mask(B, T) if masked else None
    grad_out = torch.randn(B, T, d)
    ref = _torch_self_attention_layer(module)
    x_ref = x.clone().requires_grad_(True)
    out_ref, _ = ref(x_ref, x_ref, x_ref, key_padding_mask=mask, need_weights=False)
    (out_ref * grad_out).sum().backward()
    w_grads, b_grads = ref.in_proj_weight.grad.chunk(3), ref.in_proj_bias.grad.chunk(3)
    expected = {
        "W_q.weight": w_grads[0], "W_k.weight": w_grads[1], "W_v.weight": w_grads[2],
        "W_q.bias": b_grads[0], "W_k.bias": b_grads[1], "W_v.bias": b_grads[2],
    }
    x = x.clone().requires_grad_(True)
    with from_scratch("SelfAttention", "attention"):
        out, x_grad = _backward(student, module, x, mask, grad_out)  # backpropagates (out * grad_out).sum()
    case = f"B3_T7_d6_{'left_padded' if masked else 'no_mask'}"
    _assert_gradients(module, "SelfAttention", out, expected, x_grad, x_ref.grad, case)


# --- 3(a)iv: multi-head attention ------------------------------------------------------------------
MULTI_CASES = {
    "B2_T5_d8_h2": (2, 5, 8, 2),
    "B3_T6_d12_h3": (3, 6, 12, 3),
    "B2_T4_d8_h8": (2, 4, 8, 8),
    "B2_T5_d6_h1": (2, 5, 6, 1),
}


@pytest.mark.weight(1, part="3.a.iv")
@pytest.mark.parametrize("masked", [False, True], ids=["no_mask", "left_padded"])
@pytest.mark.parametrize("case", list(MULTI_CASES))
def test_multi_head_attention_matches_torch(case, masked, student, from_scratch):
    """Heads of d_k = d_model / h scaled by sqrt(d_k), concatenated, then W_o; padded keys ignored."""
    B, T, d, h = MULTI_CASES[case]
    module, ref = _make_multi_head(student, d, h)
    x = torch.randn(B, T, d)
    mask = _left_padding_mask(B, T) if masked else None
    expected, _ = ref(x, x, x, key_padding_mask=mask, need_weights=False)
    expected = expected.detach()
    with from_scratch("MultiHeadAttention", "attention"), student.no_grad():
        out = module(x, mask)
    name = f"{case}_{'left_padded' if masked else 'no_mask'}"
    assert_close_at_precision(out, expected, case=name, what="MultiHeadAttention output (B, T, d_model)", **TOL)


def _check_multi_head_gradients(student: Student, from_scratch, masked: bool) -> None:
    """Gradients of W_q, W_k, W_v, W_o (weights and biases) and of x against nn.MultiheadAttention's."""
    B, T, d, h = 3, 6, 8, 4
    module, ref = _make_multi_head(student, d, h)
    x = torch.randn(B, T, d)
    mask = _left_padding_mask(B, T) if masked else None
    grad_out = torch.randn(B, T, d)
    x_ref = x.clone().requires_grad_(True)
    out_ref, _ = ref(x_ref, x_ref, x_ref, key_padding_mask=mask, need_weights=False)
    (out_ref * grad_out).sum().backward()
    w_grads = ref.in_proj_weight.grad.chunk(3)
    b_grads = ref.in_proj_bias.grad.chunk(3)
    expected = {
        "W_q.weight": w_grads[0], "W_k.weight": w_grads[1], "W_v.weight": w_grads[2],
        "W_q.bias": b_grads[0], "W_k.bias": b_grads[1], "W_v.bias": b_grads[2],
        "W_o.weight": ref.out_proj.weight.grad, "W_o.bias": ref.out_proj.bias.grad,
    }
    x = x.clone().requires_grad_(True)
    with from_scratch("MultiHeadAttention", "attention"):
        out, x_grad = _backward(student, module, x, mask, grad_out)  # backpropagates (out * grad_out).sum()
    case = f"B3_T6_d8_h4_{'left_padded' if masked else 'no_mask'}"
    _assert_gradients(module, "MultiHeadAttention", out, expected, x_grad, x_ref.grad, case)


@pytest.mark.weight(1, part="3.a.iv")
def test_multi_head_attention_gradients_match_torch(student, from_scratch):
    """Gradients of W_q, W_k, W_v, W_o (weights and biases) and of x, as in nn.MultiheadAttention, with a
    padding mask (without one: the next test)."""
    _check_multi_head_gradients(student, from_scratch, masked=True)


@pytest.mark.weight(1, part="3.a.iv")
def test_multi_head_attention_gradients_match_torch_no_mask(student, from_scratch):
    """The same gradients without a mask: a correct unmasked backward keeps these points even if the masked
    path is wrong."""
    _check_multi_head_gradients(student, from_scratch, masked=False)


@pytest.mark.weight(1, part="3.a.iv")
@pytest.mark.parametrize("which", ["SelfAttention", "MultiHeadAttention"])
def test_fully_padded_sequence_gives_no_nan(which, student, from_scratch):
    """A sequence whose tokens are all padding (no key to attend to) must not produce NaN or inf, neither in
    the output nor in the gradients, and must not disturb the other sequences of the batch."""
    B, T, d = 2, 5, 8
    torch.set_default_dtype(torch.float64)
    x = torch.randn(B, T, d)
    if which == "SelfAttention":
        module = _make_self_attention(student, d)
        expected_other = torch_self_attention(module, x[1:], None)
    else:
        module, ref = _make_multi_head(student, d, 2)
        expected_other = ref(x[1:], x[1:], x[1:], need_weights=False)[0].detach()
    x.requires_grad_(True)
    mask = torch.zeros(B, T, dtype=torch.bool)
    mask[0] = True  # sequence 0: all padding
    with from_scratch(which, "attention"):
        # out.sum().backward(): a scalar upstream gradient of 1 broadcasts to the output, whatever its shape
        out, _ = student.backward(module, x, mask, grad=torch.ones(()))
    case = f"{which}_B2_T5_d8_first_sequence_all_padding"
    expect(bool(torch.isfinite(out).all()), f"[{case}] the output contains NaN or inf", got=out, case=case,
           what="output")
    for name, p in module.named_parameters():
        expect(bool(torch.isfinite(p.grad).all()), f"[{case}] the gradient of {name} contains NaN or inf",
               got=p.grad, case=case, what=f"gradient of {name}")
    assert_close_at_precision(out[1:], expected_other, case=case, what="output of the other (unpadded) sequence",
                              **TOL)


def test_num_heads_must_divide_d_model(student):
    with pytest.raises((ValueError, StudentError), match="num_heads") as raised:  # StudentError: from the worker
        student.module("attention").MultiHeadAttention(10, 3)
    assert raised.type is ValueError or "ValueError" in str(raised.value), str(raised.value)


# --- 3(a)iv: dtype, device, one call after another (small weights) ---------------------------------------
def _check_follows_dtype(student: Student, from_scratch, which: str, default: torch.dtype, dtype: torch.dtype,
                         convert: str) -> None:
    """Built with the default dtype ``default``, converted with ``.<convert>()``, called on ``dtype`` inputs with
    and without a mask (no padded key): the output is ``dtype``, with the right values."""
    B, T, d, h = SMALL
    torch.set_default_dtype(default)  # the student's side follows it: the module is built in it
    module = _new_layer(student, which, d, h)
    getattr(module, convert)()
    x = torch.randn(B, T, d, dtype=dtype)
    expected = _layer_reference(which, module, x, d, h)
    case = f"{which}_default_{_dtype_name(default)}_.{convert}()_{_dtype_name(dtype)}_input"
    with hint(LIKE_INPUT_HINT):
        with from_scratch(which, "attention"), student.no_grad():
            outs = {"without a mask": module(x),
                    "with a key-padding mask (no padded key)": module(x, torch.zeros(B, T, dtype=torch.bool))}
        for how, out in outs.items():
            ok = isinstance(out, torch.Tensor) and out.dtype == dtype  # outside assert: no tensor dump
            expect(ok, (
                f"[{case}] {which} converted with .{convert}() returned {kind(out)} for a {_dtype_name(dtype)} "
                f"input {how}, expected {_dtype_name(dtype)}"),
                got=kind(out), case=case, what=f"{which} output's dtype {how}")
            assert_close_at_precision(out, expected, case=case, what=f"{which} output {how}", **TOL)


@pytest.mark.weight(0.25, part="3.a.iv")
@pytest.mark.parametrize("which", LAYERS)
def test_attention_follows_a_float64_input(which, student, from_scratch):
    """Default dtype float32, the module built, then ``.double()``: a float64 input gives a float64 output with
    the right values, with and without a mask. Targets tensors made in forward in a fixed dtype (an additive
    mask or a scale made with dtype=torch.float32)."""
    _check_follows_dtype(student, from_scratch, which, torch.float32, torch.float64, "double")


@pytest.mark.weight(0.25, part="3.a.iv")
@pytest.mark.parametrize("which", LAYERS)
def test_attention_follows_a_float32_input(which, student, from_scratch):
    """Default dtype float64, the module converted with ``.float()``: a float32 input gives a float32 output
    with the right values (at float32 precision), with and without a mask. Targets tensors made in forward with
    the default dtype (an additive mask torch.zeros(B, T) promotes float32 scores to float64)."""
    _check_follows_dtype(student, from_scratch, which, torch.float64, torch.float32, "float")


@pytest.mark.weight(0.25, part="3.a.iv")
@pytest.mark.parametrize("which", LAYERS)
def test_attention_runs_on_the_input_device(which, student, from_scratch):
    """Moved to another device with ``.to(...)``, the module runs an input (and a key-padding mask) on that
    device and returns a tensor there, of shape (B, T, d_model). The ``meta`` device (shapes, no values) stands
    in for a GPU, which train_imdb.py picks first. Targets tensors made in forward on the CPU (a mask or an
    additive mask made with torch.zeros(...) or torch.arange(...) without device=...)."""
    B, T, d, h = SMALL
    torch.set_default_dtype(torch.float64)
    module = _new_layer(student, which, d, h, randomize=False)  # no values on the meta device
    module.to("meta")
    x = torch.empty(B, T, d, device="meta")
    mask = torch.empty(B, T, dtype=torch.bool, device="meta")
    case = f"{which}_meta_device_B{B}_T{T}_d{d}"
    with hint(LIKE_INPUT_HINT):
        with from_scratch(which, "attention"), student.no_grad():
            outs = {"without a mask": module(x), "with a key-padding mask on the meta device": module(x, mask)}
        for how, out in outs.items():
            ok = isinstance(out, torch.Tensor) and out.is_meta  # outside assert: no tensor dump
            expect(ok, (
                f"[{case}] {which} moved to the meta device returned {kind(out)} for an input on the meta device "
                f"{how}, expected a tensor on the input's device"),
                got=kind(out), case=case, what=f"{which} output's device {how}")
            assert_equal(tuple(out.shape), (B, T, d), (
                f"[{case}] {which} output {how}: expected shape {(B, T, d)}, got {tuple(out.shape)}"),
                case=case, what=f"{which} output's shape {how}")


@pytest.mark.weight(0.25, part="3.a.iv")
@pytest.mark.parametrize("which", LAYERS)
def test_attention_called_twice_with_different_batches(which, student, from_scratch):
    """Called on a batch (B=2, T=5), then on another (B=3, T=7), the module gives the second batch's output.
    Both calls pass a key-padding mask with no padded key. Targets anything kept on self from one call to the
    next (the first batch's mask or shapes)."""
    _, _, d, h = SMALL
    torch.set_default_dtype(torch.float64)
    module = _new_layer(student, which, d, h)
    first, second = torch.randn(2, 5, d), torch.randn(3, 7, d)
    expected = _layer_reference(which, module, second, d, h)
    with hint(STATE_HINT):
        with from_scratch(which, "attention"), student.no_grad():
            module(first, torch.zeros(2, 5, dtype=torch.bool))
            out = module(second, torch.zeros(3, 7, dtype=torch.bool))
        assert_close_at_precision(out, expected, case=f"{which}_B2_T5_then_B3_T7",
                                  what=f"{which} output for the second batch (B, T, d_model)", **TOL)
