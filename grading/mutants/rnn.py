"""Mistakes in rnn.py (Problem 2(a)i): the recurrence h_t = tanh(x_t W_xh + h_{t-1} W_hh + b_h)."""

from __future__ import annotations

from grading.mutants import Mutant

FWD = "RNNLayer.forward"
STEP = "h_t = torch.tanh(torch.addmm(x_proj_t, h_t, self.W_hh))"

MUTANTS: list[Mutant] = [
    Mutant("rnn.missing_tanh", FWD, STEP, "h_t = torch.addmm(x_proj_t, h_t, self.W_hh)",
           "no tanh: a linear recurrence"),
    Mutant("rnn.sigmoid_not_tanh", FWD, STEP, "h_t = torch.sigmoid(torch.addmm(x_proj_t, h_t, self.W_hh))",
           "sigmoid instead of tanh"),
    Mutant("rnn.weights_swapped", FWD, "x.reshape(B * T, -1), self.W_xh)", "x.reshape(B * T, -1), self.W_hh)",
           "W_hh used for the input (W_xh and W_hh swapped)"),
    Mutant("rnn.h_from_t_minus_2", FWD, """\
        h_t = x.new_zeros(B, self.hidden_size)
        hidden_states = []
        for x_proj_t in x_proj.unbind(dim=1):  # one (B, H) slice per time step
            h_t = torch.tanh(torch.addmm(x_proj_t, h_t, self.W_hh))
""", """\
        h_t = h_prev = x.new_zeros(B, self.hidden_size)
        hidden_states = []
        for x_proj_t in x_proj.unbind(dim=1):  # one (B, H) slice per time step
            h_prev, h_t = h_t, torch.tanh(torch.addmm(x_proj_t, h_prev, self.W_hh))
""", "h_t computed from h_{t-2} (the previous state variables updated in the wrong order)"),
    Mutant("rnn.state_reset_each_step", FWD, STEP,
           "h_t = torch.tanh(torch.addmm(x_proj_t, torch.zeros_like(h_t), self.W_hh))",
           "h_{t-1} replaced by zeros at every step: no recurrence at all"),
    Mutant("rnn.bias_missing", FWD, "torch.addmm(self.b_h, x.reshape(B * T, -1), self.W_xh)",
           "(x.reshape(B * T, -1) @ self.W_xh)", "b_h never added"),
    Mutant("rnn.output_bias_missing", FWD, "return h @ self.W_hy + self.b_y", "return h @ self.W_hy",
           "b_y never added"),
    Mutant("rnn.output_is_hidden_state_tanh", FWD, "return h @ self.W_hy + self.b_y",
           "return torch.tanh(h @ self.W_hy + self.b_y)", "a tanh on the output layer too"),
]
