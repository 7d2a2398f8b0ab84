"""Problem 2(c)iii: the from-scratch LSTM against ``torch.nn.LSTM`` with the same weights.

torch stacks the four gates' weights as rows of ``weight_ih_l0`` (4H, D) and ``weight_hh_l0`` (4H, H) in
the order input i, forget f, cell candidate g (the handout's C~), output o, and multiplies by their
transposes: so W_xi = weight_ih_l0[0:H].T, W_xf = weight_ih_l0[H:2H].T, W_xc = weight_ih_l0[2H:3H].T,
W_xo = weight_ih_l0[3H:4H].T (likewise W_h*), and b_i + b_f + ... = bias_ih + bias_hh. The reference output
is torch's hidden states times the same output layer. Float64, random inputs, random weights and biases,
and the student's code runs under the from-scratch guard.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

import lstm
from tests.helpers import assert_close, assert_gradients_match, make_random_layer, run_reference

# (B, T, D, H, O); D != H so that swapping W_x* and W_h* cannot go unnoticed
CASES = {
    "B3_T6_D4_H5_O2": (3, 6, 4, 5, 2),
    "B2_T11_D7_H3_O4": (2, 11, 7, 3, 4),
    "B1_T1_D3_H6_O3": (1, 1, 3, 6, 3),
}
TORCH_GATE_ORDER = ("i", "f", "c", "o")  # torch's i, f, g, o
PARAMETERS = tuple(f"{kind}{g}" for g in "ifoc" for kind in ("W_x", "W_h", "b_")) + ("W_hy", "b_y")


def _make_layer(D: int, H: int, O: int) -> lstm.LSTMLayer:
    """A float64 LSTMLayer with random weights AND biases."""
    shapes = {"W_hy": (H, O), "b_y": (O,)}
    for g in "ifoc":
        shapes.update({f"W_x{g}": (D, H), f"W_h{g}": (H, H), f"b_{g}": (H,)})
    return make_random_layer(lstm.LSTMLayer, D, H, O, shapes)


def _torch_reference(layer: lstm.LSTMLayer, x: torch.Tensor, grad_out: torch.Tensor):
    """Output and gradients of nn.LSTM (weights copied from ``layer``) + the same output layer."""
    D, H = layer.W_xi.shape
    ref = nn.LSTM(D, H, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        ref.weight_ih_l0.copy_(torch.cat([getattr(layer, f"W_x{g}").T for g in TORCH_GATE_ORDER]))
        ref.weight_hh_l0.copy_(torch.cat([getattr(layer, f"W_h{g}").T for g in TORCH_GATE_ORDER]))
        ref.bias_ih_l0.copy_(torch.cat([getattr(layer, f"b_{g}") for g in TORCH_GATE_ORDER]))
        ref.bias_hh_l0.zero_()
    y, grads = run_reference(ref, layer, x, grad_out)  # h_0 = C_0 = 0
    for k, g in enumerate(TORCH_GATE_ORDER):
        rows = slice(k * H, (k + 1) * H)
        grads[f"W_x{g}"] = ref.weight_ih_l0.grad[rows].T
        grads[f"W_h{g}"] = ref.weight_hh_l0.grad[rows].T
        grads[f"b_{g}"] = ref.bias_ih_l0.grad[rows]
    return y, grads


@pytest.mark.weight(1, part="2.c.iii")
@pytest.mark.parametrize("case", list(CASES))
def test_lstm_layer_output_matches_torch(case, from_scratch):
    """y_t = h_t W_hy + b_y with the handout's gates, C_t and h_t = O_t * tanh(C_t), shape (B, T, O)."""
    B, T, D, H, O = CASES[case]
    layer = _make_layer(D, H, O)
    x = torch.randn(B, T, D)
    expected, _ = _torch_reference(layer, x, torch.ones(B, T, O))
    with from_scratch("LSTMLayer", "rnn"), torch.no_grad():
        out = layer(x)
    assert_close(out, expected, case=case, what="LSTMLayer output (B, T, O)", atol=1e-10, rtol=1e-8)


@pytest.mark.weight(1, part="2.c.iii")
@pytest.mark.parametrize("case", list(CASES))
def test_lstm_layer_gradients_match_torch(case, from_scratch):
    """Backpropagation through time reaches all 14 parameters and the input, as in nn.LSTM."""
    B, T, D, H, O = CASES[case]
    layer = _make_layer(D, H, O)
    x = torch.randn(B, T, D)
    grad_out = torch.randn(B, T, O)
    _, expected = _torch_reference(layer, x, grad_out)
    x = x.clone().requires_grad_(True)
    with from_scratch("LSTMLayer", "rnn"):
        (layer(x) * grad_out).sum().backward()
    assert_gradients_match(layer, x, PARAMETERS, expected, case=case, atol=1e-10, rtol=1e-8)


@pytest.mark.weight(1, part="2.c.iii")
def test_lstm_model_embeds_then_runs_the_layer(from_scratch):
    """LSTM: nn.Embedding(padding_idx=0) then the LSTM layer, on left-padded token ids (B, T) -> (B, T, O)."""
    torch.set_default_dtype(torch.float64)
    vocab, E, H, O = 20, 6, 5, 2
    model = lstm.LSTM(vocab, E, H, O)
    assert isinstance(model.embedding, nn.Embedding) and model.embedding.padding_idx == 0, (
        "LSTM.embedding must be nn.Embedding(vocab_size, embedding_size, padding_idx=0)"
    )
    layer = _make_layer(E, H, O)
    model.lstm = layer
    tokens = torch.randint(1, vocab, (3, 9))
    tokens[0, :4] = 0  # left padding
    tokens[2, :1] = 0
    expected, _ = _torch_reference(layer, model.embedding(tokens), torch.ones(3, 9, O))
    with from_scratch("LSTM", "rnn"), torch.no_grad():
        out = model(tokens)
    assert_close(out, expected, case="vocab20_E6_H5_O2", what="LSTM output (B, T, O)", atol=1e-10, rtol=1e-8)
