"""Mistakes in rnn.py (Problem 2(a)i): the recurrence h_t = tanh(x_t W_xh + h_{t-1} W_hh + b_h)."""

from __future__ import annotations

from grading.mutants import Mutant

FWD = "RNNLayer.forward"
STEP = "h_t = torch.tanh(torch.addmm(x_proj_t, h_t, self.W_hh))"
H0 = "h_t = x.new_zeros(B, self.hidden_size)"
LOOP = """\
        h_t = x.new_zeros(B, self.hidden_size)
        hidden_states = []
        for x_proj_t in x_proj.unbind(dim=1):  # one (B, H) slice per time step
            h_t = torch.tanh(torch.addmm(x_proj_t, h_t, self.W_hh))
            hidden_states.append(h_t)
"""
OUT = """\
        h = torch.stack(hidden_states, dim=1)  # (B, T, H)
        return h @ self.W_hy + self.b_y
"""
OUT_BUFFER = """\
        y = torch.zeros(B, T, self.output_size{})  # filled one time step at a time
        for t, h_t in enumerate(hidden_states):
            y[:, t] = h_t @ self.W_hy + self.b_y
        return y
"""

MUTANTS: list[Mutant] = [
    Mutant("rnn.missing_tanh", FWD, STEP, "h_t = torch.addmm(x_proj_t, h_t, self.W_hh)",
           "no tanh: a linear recurrence",
           breaks="the RNN recurrence or its output layer: every output and gradient of the layer and the model is wrong"),
    Mutant("rnn.sigmoid_not_tanh", FWD, STEP, "h_t = torch.sigmoid(torch.addmm(x_proj_t, h_t, self.W_hh))",
           "sigmoid instead of tanh",
           breaks="the RNN recurrence or its output layer: every output and gradient of the layer and the model is wrong"),
    Mutant("rnn.weights_swapped", FWD, "x.reshape(B * T, -1), self.W_xh)", "x.reshape(B * T, -1), self.W_hh)",
           "W_hh used for the input (W_xh and W_hh swapped)",
           breaks="the RNN recurrence or its output layer: every output and gradient of the layer and the model is wrong"),
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
""", "h_t computed from h_{t-2} (the previous state variables updated in the wrong order)",
           breaks="the RNN recurrence or its output layer: every output and gradient of the layer and the model is wrong"),
    Mutant("rnn.state_reset_each_step", FWD, STEP,
           "h_t = torch.tanh(torch.addmm(x_proj_t, torch.zeros_like(h_t), self.W_hh))",
           "h_{t-1} replaced by zeros at every step: no recurrence at all",
           breaks="the RNN recurrence or its output layer: every output and gradient of the layer and the model is wrong"),
    Mutant("rnn.bias_missing", FWD, "torch.addmm(self.b_h, x.reshape(B * T, -1), self.W_xh)",
           "(x.reshape(B * T, -1) @ self.W_xh)", "b_h never added",
           breaks="the RNN recurrence or its output layer: every output and gradient of the layer and the model is wrong"),
    Mutant("rnn.output_bias_missing", FWD, "return h @ self.W_hy + self.b_y", "return h @ self.W_hy",
           "b_y never added",
           breaks="the RNN recurrence or its output layer: every output and gradient of the layer and the model is wrong"),
    Mutant("rnn.output_is_hidden_state_tanh", FWD, "return h @ self.W_hy + self.b_y",
           "return torch.tanh(h @ self.W_hy + self.b_y)", "a tanh on the output layer too",
           breaks="the RNN recurrence or its output layer: every output and gradient of the layer and the model is wrong"),
    # issue #15: what training needs besides the values (the input's dtype and device, batch after batch)
    Mutant("rnn.h0_default_dtype_and_cpu", FWD, H0, "h_t = torch.zeros(B, self.hidden_size)",
           "h_0 = torch.zeros(B, H): float32 on the CPU whatever the input (fails after .double() and on a "
           "GPU)"),
    Mutant("rnn.h0_on_cpu", FWD, H0, "h_t = torch.zeros(B, self.hidden_size, dtype=x.dtype)",
           "h_0 created with the input's dtype but on the CPU (fails on a GPU)"),
    Mutant("rnn.h0_default_dtype", FWD, H0, "h_t = torch.zeros(B, self.hidden_size, device=x.device)",
           "h_0 created on the input's device but in the default dtype (fails after .double() or .float())"),
    Mutant("rnn.state_carried_over", FWD, LOOP, """\
        if getattr(self, "h_last", None) is None:  # the first call starts from h_0 = 0
            self.h_last = x.new_zeros(B, self.hidden_size)
        h_t = self.h_last  # later calls go on from the last state of the previous call
        hidden_states = []
        for x_proj_t in x_proj.unbind(dim=1):  # one (B, H) slice per time step
            h_t = torch.tanh(torch.addmm(x_proj_t, h_t, self.W_hh))
            hidden_states.append(h_t)
            self.h_last = h_t.detach()
""", "the last h_t kept on self as the next call's h_0 (a stateful RNN: wrong values for the next batch, "
         "a crash when its size differs)"),
    Mutant("rnn.h0_cached_for_first_batch", FWD, H0, """\
if getattr(self, "h_0", None) is None:  # allocated once, on the first call
            self.h_0 = x.new_zeros(B, self.hidden_size)
        h_t = self.h_0""", "a zero h_0 made on the first call and reused (a crash when a batch has another "
           "size)"),
    Mutant("rnn.output_buffer_default_dtype_and_cpu", FWD, OUT, OUT_BUFFER.format(""),
           "the outputs written into torch.zeros(B, T, O): the default dtype on the CPU whatever the input"),
    Mutant("rnn.output_buffer_float32", FWD, OUT, OUT_BUFFER.format(", dtype=torch.float"),
           "the outputs written into a float32 buffer on the CPU (a float64 layer loses precision; fails "
           "after .double() and on a GPU)"),
]
