"""The answer key's derivations (writeup/main.tex, between ``% BEGIN SOLUTION`` markers), checked numerically.

Instructors only (moved out of the public tests/writeup_tests.py, which ship: these assert the key's
formulas): the residual block's Jacobian (1e), backpropagation through time (2b), the LSTM cell path (2c),
the variance of q.k and the softmax saturation (3a), the parameter counts quoted in the key.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn


# --- the answer key's derivations, checked numerically ----------------------------------------------------
def test_1e_residual_block_jacobian():
    """h = ReLU(W h') + h'  =>  dh/dh' = diag(1[W h' > 0]) W + I."""
    g = torch.Generator().manual_seed(1)
    n = 7
    W = torch.randn(n, n, generator=g, dtype=torch.float64)
    h_prev = torch.randn(n, generator=g, dtype=torch.float64)
    jacobian = torch.autograd.functional.jacobian(lambda v: torch.relu(W @ v) + v, h_prev)
    active = ((W @ h_prev) > 0).to(torch.float64)
    assert 0 < active.sum() < n, "the example should have active and inactive units"
    formula = torch.diag(active) @ W + torch.eye(n, dtype=torch.float64)
    torch.testing.assert_close(jacobian, formula, atol=1e-12, rtol=0)


def test_1e_skip_connections_keep_the_gradient():
    """With ||D_l W_l|| <= eps: residual gradient >= (1-eps)^L, plain gradient <= eps^L (relative)."""
    g = torch.Generator().manual_seed(2)
    n, depth, eps = 16, 20, 0.1
    weights = []
    for _ in range(depth):
        W = torch.randn(n, n, generator=g, dtype=torch.float64)
        weights.append(eps * W / torch.linalg.matrix_norm(W, ord=2))
    x0 = torch.randn(n, generator=g, dtype=torch.float64)
    upstream = torch.randn(n, generator=g, dtype=torch.float64)

    def input_gradient(residual: bool) -> float:
        x = x0.clone().requires_grad_(True)
        h = x
        for W in weights:
            h = torch.relu(W @ h) + h if residual else torch.relu(W @ h)
        (h @ upstream).backward()
        return float(x.grad.norm() / upstream.norm())

    assert input_gradient(residual=True) >= (1 - eps) ** depth
    assert input_gradient(residual=False) <= eps**depth
    assert (1 - eps) ** depth > 0.1 and eps**depth < 1e-19  # the numbers quoted in the key


def rnn_forward(x, h0, W_xh, W_hh, b_h):
    """h_t = tanh(x_t W_xh + h_{t-1} W_hh + b_h), row vectors; returns [h_0, h_1, ..., h_T]."""
    hs = [h0]
    for t in range(x.shape[0]):
        hs.append(torch.tanh(x[t] @ W_xh + hs[-1] @ W_hh + b_h))
    return hs


def test_2b_bptt_gradient_matches_autograd():
    """dL/dW_hh = sum_t h_{t-1}^T [grad_y W_hy^T J_T ... J_{t+1}] diag(1 - h_t^2), J_k = diag(1-h_k^2) W_hh^T."""
    g = torch.Generator().manual_seed(3)
    T, D, H, O = 7, 3, 5, 2
    f64 = {"generator": g, "dtype": torch.float64}
    x = torch.randn(T, D, **f64)
    W_xh, W_hy = torch.randn(D, H, **f64) * 0.5, torch.randn(H, O, **f64)
    b_h, b_y = torch.randn(H, **f64) * 0.1, torch.randn(O, **f64)
    W_hh = (torch.randn(H, H, **f64) * 0.5).requires_grad_(True)
    label = torch.tensor([1])
    hs = rnn_forward(x, torch.zeros(H, dtype=torch.float64), W_xh, W_hh, b_h)
    y_T = hs[-1] @ W_hy + b_y
    loss = nn.functional.cross_entropy(y_T[None], label)
    (autograd,) = torch.autograd.grad(loss, W_hh)

    with torch.no_grad():
        grad_y = torch.softmax(y_T, 0) - nn.functional.one_hot(label[0], O)  # dl/dy_T, a row
        dL_dhT = grad_y @ W_hy.T
        eye = torch.eye(H, dtype=torch.float64)
        formula = torch.zeros(H, H, dtype=torch.float64)
        for t in range(1, T + 1):
            product = eye  # J_T J_{T-1} ... J_{t+1}
            for k in range(T, t, -1):
                product = product @ (torch.diag(1 - hs[k] ** 2) @ W_hh.T)
            delta_t = dL_dhT @ product @ torch.diag(1 - hs[t] ** 2)
            formula += torch.outer(hs[t - 1], delta_t)
    torch.testing.assert_close(autograd, formula, atol=1e-12, rtol=0)


def test_2b_jacobian_product_is_bounded_by_the_spectral_norm():
    """||dh_T/dh_t|| <= sigma_max(W_hh)^(T-t): with sigma_max < 1 the gradient vanishes geometrically."""
    g = torch.Generator().manual_seed(4)
    T, D, H, sigma = 30, 3, 8, 0.8
    x = torch.randn(T, D, generator=g, dtype=torch.float64)
    W_xh = torch.randn(D, H, generator=g, dtype=torch.float64)
    W = torch.randn(H, H, generator=g, dtype=torch.float64)
    W_hh = sigma * W / torch.linalg.matrix_norm(W, ord=2)
    b_h = torch.zeros(H, dtype=torch.float64)
    for t in (0, 10, 20, 29):
        def h_T_from_h_t(h_t, t=t):
            return rnn_forward(x[t:], h_t, W_xh, W_hh, b_h)[-1]

        h_t = rnn_forward(x[:t], torch.zeros(H, dtype=torch.float64), W_xh, W_hh, b_h)[-1]
        norm = torch.linalg.matrix_norm(torch.autograd.functional.jacobian(h_T_from_h_t, h_t), ord=2)
        assert norm <= sigma ** (T - t) + 1e-12, f"t={t}: {norm} > {sigma}^{T - t}"


def test_2c_cell_path_jacobian_is_the_forget_gate():
    """C_t = F_t * C_{t-1} + I_t * C~_t with h_{t-1} fixed  =>  dC_t/dC_{t-1} = diag(F_t)."""
    g = torch.Generator().manual_seed(5)
    D, H = 3, 4
    x, h_prev = torch.randn(D, generator=g, dtype=torch.float64), torch.randn(H, generator=g, dtype=torch.float64)
    W = {name: torch.randn(D + H, H, generator=g, dtype=torch.float64) for name in "fic"}
    xh = torch.cat([x, h_prev])
    F_t, I_t = torch.sigmoid(xh @ W["f"]), torch.sigmoid(xh @ W["i"])
    C_tilde = torch.tanh(xh @ W["c"])
    C_prev = torch.randn(H, generator=g, dtype=torch.float64)
    jacobian = torch.autograd.functional.jacobian(lambda c: F_t * c + I_t * C_tilde, C_prev)
    torch.testing.assert_close(jacobian, torch.diag(F_t), atol=1e-15, rtol=0)


@pytest.mark.parametrize("distribution", ["normal", "uniform"])
def test_3a_dot_product_variance_is_d_k(distribution):
    """Independent components with mean 0, variance 1: Var(q.k) = d_k, Var(q.k / sqrt(d_k)) = 1."""
    g = torch.Generator().manual_seed(6)
    n, chunk = 50_000, 5_000

    def components(d_k: int) -> torch.Tensor:  # (2, chunk, d_k): a query and a key per sample
        if distribution == "normal":
            return torch.randn(2, chunk, d_k, generator=g, dtype=torch.float64)
        return (torch.rand(2, chunk, d_k, generator=g, dtype=torch.float64) * 2 - 1) * math.sqrt(3)  # var 1

    for d_k in (4, 64, 256):
        scores = torch.cat([(q * k).sum(-1) for q, k in (components(d_k) for _ in range(n // chunk))])
        # standard errors: mean sqrt(d_k / n); variance about d_k * sqrt(2 / n) = 0.6 % of d_k. Allow 5 sigma.
        assert abs(float(scores.mean())) < 5 * math.sqrt(d_k / n)
        assert abs(float(scores.var()) / d_k - 1) < 0.035, f"d_k={d_k}: Var(q.k) = {float(scores.var()):.2f}"
        assert abs(float((scores / math.sqrt(d_k)).var()) - 1) < 0.035


def test_3a_softmax_saturates_without_scaling():
    """Unscaled scores of width d_k make the attention nearly one-hot and its Jacobian tiny."""
    g = torch.Generator().manual_seed(7)
    d_k, T, trials = 256, 16, 200
    q = torch.randn(trials, 1, d_k, generator=g, dtype=torch.float64)
    k = torch.randn(trials, T, d_k, generator=g, dtype=torch.float64)
    scores = (q * k).sum(-1)  # (trials, T)
    unscaled, scaled = torch.softmax(scores, -1), torch.softmax(scores / math.sqrt(d_k), -1)
    assert float(unscaled.max(-1).values.mean()) > 0.9, "unscaled attention should be nearly one-hot"
    assert float(scaled.max(-1).values.mean()) < 0.5

    def jacobian_norm(p: torch.Tensor) -> float:  # d softmax / d scores = diag(p) - p p^T; median over trials
        return float(torch.linalg.matrix_norm(torch.diag_embed(p) - p[:, :, None] * p[:, None, :], ord=2).median())

    assert jacobian_norm(unscaled) < 0.2 * jacobian_norm(scaled)


def test_parameter_counts_quoted_in_the_key():
    for heads in (1, 2, 8):  # multi-head attention: 4 (d^2 + d), whatever the number of heads
        mha = nn.MultiheadAttention(128, heads)
        assert sum(p.numel() for p in mha.parameters()) == 4 * (128 * 128 + 128) == 66_048
    cnn = nn.ModuleList([nn.Conv2d(1, 4, 3, padding=1), nn.Linear(4 * 28 * 28, 10)])  # the 1(b) CNN
    assert [sum(p.numel() for p in m.parameters()) for m in cnn] == [40, 31_370]
