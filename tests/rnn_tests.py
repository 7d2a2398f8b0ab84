"""Problem 2(a)i: the from-scratch RNN against ``torch.nn.RNN`` with the same weights.

torch's ``nn.RNN`` computes h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), so the handout's
W_xh = W_ih^T, W_hh(handout) = W_hh(torch)^T and b_h = b_ih + b_hh. The reference output is torch's hidden
states times the same output layer, y_t = h_t W_hy + b_y. The value tests run in float64 on random inputs and
random weights (non-zero biases) and judge the output at the precision of the dtype it comes back in; the
student's code runs under the from-scratch guard, on the student's side (``student`` fixture): the layer's
weights come back as data and the reference runs here.

A few small tests check what training relies on besides the values: the layer follows its input's dtype
(``.double()``, ``.float()``) and device (the ``meta`` device stands in for a GPU), and each call starts
from h_0 = 0 whatever was called before.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tests.helpers import (
    assert_close_at_precision,
    assert_equal,
    assert_gradients_match,
    assert_padding_embedding,
    expect,
    hint,
    kind,
    make_random_layer,
    run_reference,
)
from tests.sandbox import Ref, Student

# (B, T, D, H, O); D != H so that swapping W_xh and W_hh cannot go unnoticed
CASES = {
    "B3_T7_D4_H5_O2": (3, 7, 4, 5, 2),
    "B2_T12_D6_H3_O4": (2, 12, 6, 3, 4),
    "B1_T1_D3_H6_O3": (1, 1, 3, 6, 3),
}
SMALL = (3, 5, 4, 5, 2)  # the robustness tests' shapes
PARAMETERS = ("W_xh", "W_hh", "b_h", "W_hy", "b_y")
TOL = {"atol": 1e-10, "rtol": 1e-8}  # for a float64 output; a float32 one is judged at float32 precision
H0_HINT = ("Create every tensor forward makes (h_0, any buffer) like the input: x.new_zeros(B, H), "
           "or torch.zeros(B, H, dtype=x.dtype, device=x.device); torch.zeros(B, H) alone is in the "
           "default dtype on the CPU, whatever the input.")
STATE_HINT = ("Every call starts from h_0 = 0 of the new batch's size (B, H): do not keep the hidden state "
              "(or a zero state) on self from one call to the next.")


def _make_layer(student: Student, D: int, H: int, O: int, dtype: torch.dtype = torch.float64) -> Ref:
    """An rnn.RNNLayer with random weights AND biases (on the student's side), built with ``dtype`` as the
    default dtype (which stays the tests' default dtype afterwards)."""
    shapes = {"W_xh": (D, H), "W_hh": (H, H), "b_h": (H,), "W_hy": (H, O), "b_y": (O,)}
    return make_random_layer(student, "rnn.RNNLayer", D, H, O, shapes, dtype=dtype)


def _torch_reference(layer: Ref, x: torch.Tensor, grad_out: torch.Tensor):
    """Output and gradients of nn.RNN in float64 (weights copied from ``layer``) + the same output layer."""
    W_xh = layer.W_xh  # each attribute comes back as a copy: fetch once
    D, H = W_xh.shape
    ref = nn.RNN(D, H, batch_first=True, nonlinearity="tanh", dtype=torch.float64)
    with torch.no_grad():
        ref.weight_ih_l0.copy_(W_xh.T)
        ref.weight_hh_l0.copy_(layer.W_hh.T)
        ref.bias_ih_l0.copy_(layer.b_h)
        ref.bias_hh_l0.zero_()
    y, grads = run_reference(ref, layer, x, grad_out)
    grads.update(W_xh=ref.weight_ih_l0.grad.T, W_hh=ref.weight_hh_l0.grad.T, b_h=ref.bias_ih_l0.grad)
    return y, grads


@pytest.mark.weight(1, part="2.a.i")
@pytest.mark.parametrize("case", list(CASES))
def test_rnn_layer_output_matches_torch(case, student, from_scratch):
    """y_t = (tanh recurrence from h_0 = 0) W_hy + b_y at every time step, shape (B, T, O)."""
    B, T, D, H, O = CASES[case]
    layer = _make_layer(student, D, H, O)
    x = torch.randn(B, T, D)
    expected, _ = _torch_reference(layer, x, torch.ones(B, T, O))
    with from_scratch("RNNLayer", "rnn"), student.no_grad():
        out = layer(x)
    assert_close_at_precision(out, expected, case=case, what="RNNLayer output (B, T, O)", **TOL)


@pytest.mark.weight(1, part="2.a.i")
@pytest.mark.parametrize("case", list(CASES))
def test_rnn_layer_gradients_match_torch(case, student, from_scratch):
    """Backpropagation through time reaches every parameter and the input, as in nn.RNN."""
    B, T, D, H, O = CASES[case]
    layer = _make_layer(student, D, H, O)
    x = torch.randn(B, T, D)
    grad_out = torch.randn(B, T, O)
    _, expected = _torch_reference(layer, x, grad_out)
    x = x.clone().requires_grad_(True)
    with from_scratch("RNNLayer", "rnn"):  # layer(x), then (layer(x) * grad_out).sum().backward()
        out, (x_grad,) = student.backward(layer, x, grad=grad_out)
    assert_gradients_match(layer, x_grad, PARAMETERS, expected, case=case, output=out, **TOL)


@pytest.mark.weight(0.25, part="2.a.i")
def test_rnn_layer_follows_a_float64_input(student, from_scratch):
    """Default dtype float32, the layer built, then ``.double()``: a float64 input gives a float64 output
    with the right values. Targets h_0 = torch.zeros(B, H) (float32 whatever the input's dtype)."""
    B, T, D, H, O = SMALL
    case = "float32_layer.double()_float64_input"
    layer = _make_layer(student, D, H, O, dtype=torch.float32)  # the default dtype stays float32
    layer.double()
    x = torch.randn(B, T, D, dtype=torch.float64)
    expected, _ = _torch_reference(layer, x, torch.ones(B, T, O))
    with hint(H0_HINT):
        with from_scratch("RNNLayer", "rnn"), student.no_grad():
            out = layer(x)
        expect(isinstance(out, torch.Tensor) and out.dtype == torch.float64, (
            f"[{case}] RNNLayer converted with .double() returned {kind(out)} for a float64 input, "
            "expected float64"), got=kind(out), case=case, what="RNNLayer output's dtype")
        assert_close_at_precision(out, expected, case=case, what="RNNLayer output (B, T, O)", **TOL)


@pytest.mark.weight(0.25, part="2.a.i")
def test_rnn_layer_follows_a_float32_input(student, from_scratch):
    """Default dtype float64, the layer converted with ``.float()``: a float32 input gives a float32 output
    with the right values (at float32 precision). Targets h_0 = torch.zeros(B, H) (in the default dtype)."""
    B, T, D, H, O = SMALL
    case = "float64_layer.float()_float32_input"
    layer = _make_layer(student, D, H, O)  # the default dtype stays float64
    layer.float()
    x = torch.randn(B, T, D, dtype=torch.float32)
    expected, _ = _torch_reference(layer, x, torch.ones(B, T, O))
    with hint(H0_HINT):
        with from_scratch("RNNLayer", "rnn"), student.no_grad():
            out = layer(x)
        expect(isinstance(out, torch.Tensor) and out.dtype == torch.float32, (
            f"[{case}] RNNLayer converted with .float() returned {kind(out)} for a float32 input, "
            "expected float32"), got=kind(out), case=case, what="RNNLayer output's dtype")
        assert_close_at_precision(out, expected, case=case, what="RNNLayer output (B, T, O)", **TOL)


@pytest.mark.weight(0.25, part="2.a.i")
def test_rnn_layer_runs_on_the_input_device(student, from_scratch):
    """Moved to another device with ``.to(...)``, the layer runs an input on that device and returns a tensor
    there, of shape (B, T, O). The ``meta`` device (shapes, no values) stands in for a GPU, which
    train_imdb.py picks first. Targets h_0 = torch.zeros(B, H) (on the CPU whatever the input's device)."""
    B, T, D, H, O = SMALL
    case = f"meta_device_B{B}_T{T}_D{D}_H{H}_O{O}"
    layer = _make_layer(student, D, H, O)
    layer.to("meta")
    x = torch.empty(B, T, D, device="meta")
    with hint(H0_HINT):
        with from_scratch("RNNLayer", "rnn"), student.no_grad():
            out = layer(x)
        expect(isinstance(out, torch.Tensor) and out.is_meta, (
            f"[{case}] RNNLayer moved to the meta device returned {kind(out)} for an input on the meta "
            "device, expected a tensor on the input's device"), got=kind(out), case=case, what="RNNLayer output's device")
    assert_equal(tuple(out.shape), (B, T, O), (
        f"[{case}] RNNLayer output: expected shape {(B, T, O)}, got {tuple(out.shape)}"), case=case,
        what="RNNLayer output's shape")


@pytest.mark.weight(0.5, part="2.a.i")
def test_rnn_layer_starts_each_call_from_zero(student, from_scratch):
    """Called on a batch, then on another batch of another size (B and T), the layer gives the second batch's
    output from h_0 = 0. Targets a state carried over between calls (the last h_t kept on self as the next
    call's h_0, or a zero state kept for the first batch's size)."""
    _, _, D, H, O = SMALL
    case = "B3_T6_then_B2_T4"
    layer = _make_layer(student, D, H, O)
    first, second = torch.randn(3, 6, D), torch.randn(2, 4, D)
    expected, _ = _torch_reference(layer, second, torch.ones(2, 4, O))
    with hint(STATE_HINT):
        with from_scratch("RNNLayer", "rnn"), student.no_grad():
            layer(first)
            out = layer(second)
        what = "RNNLayer output for the second batch (B, T, O)"
        assert_close_at_precision(out, expected, case=case, what=what, **TOL)


@pytest.mark.weight(1, part="2.a.ii")
def test_rnn_model_embeds_then_runs_the_layer(student, from_scratch):
    """RNN: nn.Embedding(padding_idx=0) then the RNN layer, on left-padded token ids (B, T) -> (B, T, O)."""
    torch.set_default_dtype(torch.float64)  # the student's side follows
    vocab, E, H, O = 20, 6, 5, 2
    model = student.module("rnn").RNN(vocab, E, H, O)
    embedding = assert_padding_embedding(student, model, "RNN", case="vocab20_E6_H5_O2")
    layer = _make_layer(student, E, H, O)
    model.rnn = layer
    tokens = torch.randint(1, vocab, (3, 9))
    tokens[0, :4] = 0  # left padding
    tokens[2, :1] = 0
    expected, _ = _torch_reference(layer, embedding(tokens), torch.ones(3, 9, O))
    with from_scratch("RNN", "rnn"), student.no_grad():
        out = model(tokens)
    assert_close_at_precision(out, expected, case="vocab20_E6_H5_O2", what="RNN output (B, T, O)", **TOL)
