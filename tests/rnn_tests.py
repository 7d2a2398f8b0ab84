"""Problem 2(a)i: the from-scratch RNN against ``torch.nn.RNN`` with the same weights.

torch's ``nn.RNN`` computes h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), so the handout's
W_xh = W_ih^T, W_hh(handout) = W_hh(torch)^T and b_h = b_ih + b_hh. The reference output is torch's hidden
states times the same output layer, y_t = h_t W_hy + b_y. Everything runs in float64 on random inputs and
random weights (non-zero biases), and the student's code runs under the from-scratch guard, on the student's
side (``student`` fixture): the layer's weights come back as data and the reference runs here.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tests.helpers import assert_close, assert_gradients_match, make_random_layer, run_reference
from tests.sandbox import Ref, Student

# (B, T, D, H, O); D != H so that swapping W_xh and W_hh cannot go unnoticed
CASES = {
    "B3_T7_D4_H5_O2": (3, 7, 4, 5, 2),
    "B2_T12_D6_H3_O4": (2, 12, 6, 3, 4),
    "B1_T1_D3_H6_O3": (1, 1, 3, 6, 3),
}
PARAMETERS = ("W_xh", "W_hh", "b_h", "W_hy", "b_y")


def _make_layer(student: Student, D: int, H: int, O: int) -> Ref:
    """A float64 rnn.RNNLayer with random weights AND biases (on the student's side)."""
    shapes = {"W_xh": (D, H), "W_hh": (H, H), "b_h": (H,), "W_hy": (H, O), "b_y": (O,)}
    return make_random_layer(student, "rnn.RNNLayer", D, H, O, shapes)


def _torch_reference(layer: Ref, x: torch.Tensor, grad_out: torch.Tensor):
    """Output and gradients of nn.RNN (weights copied from ``layer``) + the same output layer."""
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
    assert_close(out, expected, case=case, what="RNNLayer output (B, T, O)", atol=1e-10, rtol=1e-8)


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
        _, (x_grad,) = student.backward(layer, x, grad=grad_out)
    assert_gradients_match(layer, x_grad, PARAMETERS, expected, case=case, atol=1e-10, rtol=1e-8)


@pytest.mark.weight(1, part="2.a.ii")
def test_rnn_model_embeds_then_runs_the_layer(student, from_scratch):
    """RNN: nn.Embedding(padding_idx=0) then the RNN layer, on left-padded token ids (B, T) -> (B, T, O)."""
    torch.set_default_dtype(torch.float64)  # the student's side follows
    vocab, E, H, O = 20, 6, 5, 2
    model = student.module("rnn").RNN(vocab, E, H, O)
    embedding = model.embedding
    assert student.isinstance(embedding, "torch.nn.Embedding") and embedding.padding_idx == 0, (
        "RNN.embedding must be nn.Embedding(vocab_size, embedding_size, padding_idx=0)"
    )
    layer = _make_layer(student, E, H, O)
    model.rnn = layer
    tokens = torch.randint(1, vocab, (3, 9))
    tokens[0, :4] = 0  # left padding
    tokens[2, :1] = 0
    expected, _ = _torch_reference(layer, embedding(tokens), torch.ones(3, 9, O))
    with from_scratch("RNN", "rnn"), student.no_grad():
        out = model(tokens)
    assert_close(out, expected, case="vocab20_E6_H5_O2", what="RNN output (B, T, O)", atol=1e-10, rtol=1e-8)
