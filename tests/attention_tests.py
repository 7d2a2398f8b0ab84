"""Problem 3(a)iv: self-attention and multi-head attention against nn.MultiheadAttention.

Self-attention is nn.MultiheadAttention with one head (d_k = d_model) and an identity output projection,
with the student's W_q, W_k, W_v copied in; multi-head attention is nn.MultiheadAttention with all four
projections copied in.

Inputs and weights are random (with all-equal inputs every attention weight is equal and many mistakes
vanish), everything is float64, and the student's code runs under the from-scratch guard. A key-padding
mask (B, T) is True at padded positions; the masks here leave at least one real key in every sequence,
except in the test about fully padded sequences.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from tests.helpers import assert_close
from tests.sandbox import Ref, Student, StudentError

TOL = {"atol": 1e-10, "rtol": 1e-8}


def _left_padding_mask(B: int, T: int) -> torch.Tensor:
    """(B, T) bool: sequence b has b * 2 padded positions on the left (capped at T - 1)."""
    n_pad = torch.tensor([min(2 * b, T - 1) for b in range(B)])
    return torch.arange(T).unsqueeze(0) < n_pad.unsqueeze(1)


def _randomize(student: Student, module: Ref) -> None:
    """Random weights and biases of a realistic size, so that the attention weights are far from uniform.

    Drawn here (in the order of ``module.named_parameters()``) and copied into the student's module."""
    values = {name: torch.randn(p.shape) * (1.0 if p.dim() == 1 else 1.5 / math.sqrt(p.shape[-1]))
              for name, p in module.named_parameters()}
    student.load(module, values)


def torch_self_attention(module: Ref, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """torch's nn.MultiheadAttention with one head (d_k = d_model), the module's W_q, W_k, W_v copied in and an
    identity output projection: self-attention as the handout defines it. Detached, shape (B, T, d_model).

    ``module`` is the student's module (a Ref): its weights are read as data, torch's layer runs here."""
    W_q, W_k, W_v = module.W_q, module.W_k, module.W_v
    weights = [W_q.weight, W_k.weight, W_v.weight]
    biases = [W_q.bias, W_k.bias, W_v.bias]
    d_model = weights[0].shape[0]
    ref = nn.MultiheadAttention(d_model, 1, dropout=0.0, batch_first=True, dtype=weights[0].dtype)
    ref.train()  # the plain math path, not the fused eval-mode kernel
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat(weights))
        ref.in_proj_bias.copy_(torch.cat(biases))
        ref.out_proj.weight.copy_(torch.eye(d_model))
        ref.out_proj.bias.zero_()
        return ref(x, x, x, key_padding_mask=mask, need_weights=False)[0]


def _check_linear_layers(student: Student, module: Ref, names: tuple[str, ...], d_model: int, what: str) -> None:
    """Each of ``names`` is an nn.Linear(d_model, d_model) attribute of the student's ``module``."""
    for name in names:
        try:
            layer = getattr(module, name)
        except (AttributeError, StudentError):  # AttributeError here, StudentError from the worker
            layer = None
        assert student.isinstance(layer, "torch.nn.Linear") and tuple(layer.weight.shape) == (d_model, d_model), (
            f"{what}.{name} must be nn.Linear({d_model}, {d_model})"
        )


def _make_self_attention(student: Student, d_model: int) -> Ref:
    """The student's SelfAttention (float64) with random weights."""
    torch.set_default_dtype(torch.float64)
    module = student.module("attention").SelfAttention(d_model)
    _check_linear_layers(student, module, ("W_q", "W_k", "W_v"), d_model, f"SelfAttention({d_model})")
    _randomize(student, module)
    return module


def _make_multi_head(student: Student, d_model: int, num_heads: int) -> tuple[Ref, nn.MultiheadAttention]:
    """The student's module and torch's, with the same random weights (torch in train mode: plain math)."""
    torch.set_default_dtype(torch.float64)
    module = student.module("attention").MultiHeadAttention(d_model, num_heads)
    _check_linear_layers(student, module, ("W_q", "W_k", "W_v", "W_o"), d_model,
                         f"MultiHeadAttention({d_model}, {num_heads})")
    _randomize(student, module)
    ref = nn.MultiheadAttention(d_model, num_heads, dropout=0.0, batch_first=True)
    ref.train()
    copy_multi_head_weights(module, ref)
    return module, ref


def copy_multi_head_weights(module: Ref, ref: nn.MultiheadAttention) -> None:
    """Copy W_q, W_k, W_v, W_o of the student's ``module`` (read as data) into torch's in_proj (stacked q, k, v
    rows) and out_proj."""
    W_q, W_k, W_v, W_o = module.W_q, module.W_k, module.W_v, module.W_o
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([W_q.weight, W_k.weight, W_v.weight]))
        ref.in_proj_bias.copy_(torch.cat([W_q.bias, W_k.bias, W_v.bias]))
        ref.out_proj.weight.copy_(W_o.weight)
        ref.out_proj.bias.copy_(W_o.bias)


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
    assert_close(out, expected, case=case, what="SelfAttention output (B, T, d_model)", **TOL)


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
    assert_close(out, expected, case="B3_T7_d6_left_padded", what="SelfAttention output with a padding mask",
                 **TOL)
    real = ~mask
    assert_close(
        out_changed[real], expected[real], case="B3_T7_d6_left_padded_values_changed",
        what="outputs at real positions after changing x at the padded positions (must not change)", **TOL,
    )


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
    assert_close(out, expected, case=name, what="MultiHeadAttention output (B, T, d_model)", **TOL)


@pytest.mark.weight(1, part="3.a.iv")
def test_multi_head_attention_gradients_match_torch(student, from_scratch):
    """Gradients of W_q, W_k, W_v, W_o (weights and biases) and of x, as in nn.MultiheadAttention."""
    B, T, d, h = 3, 6, 8, 4
    module, ref = _make_multi_head(student, d, h)
    x = torch.randn(B, T, d)
    mask = _left_padding_mask(B, T)
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
        _, (x_grad, _) = student.backward(module, x, mask, grad=grad_out)  # backpropagates (out * grad_out).sum()
    params = {name: p for name, p in module.named_parameters()}  # copies, with their .grad
    for name, grad in expected.items():
        assert params[name].grad is not None, f"MultiHeadAttention.{name} received no gradient: is it used?"
        assert_close(params[name].grad, grad, case="B3_T6_d8_h4_left_padded", what=f"gradient of {name}",
                     **TOL)
    assert_close(x_grad, x_ref.grad, case="B3_T6_d8_h4_left_padded", what="gradient of the input x", **TOL)


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
    assert bool(torch.isfinite(out).all()), f"[{case}] the output contains NaN or inf"
    for name, p in module.named_parameters():
        assert bool(torch.isfinite(p.grad).all()), f"[{case}] the gradient of {name} contains NaN or inf"
    assert_close(out[1:], expected_other, case=case, what="output of the other (unpadded) sequence", **TOL)


def test_num_heads_must_divide_d_model(student):
    with pytest.raises((ValueError, StudentError), match="num_heads") as raised:  # StudentError: from the worker
        student.module("attention").MultiHeadAttention(10, 3)
    assert raised.type is ValueError or "ValueError" in str(raised.value), str(raised.value)
