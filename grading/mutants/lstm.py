"""Mistakes in lstm.py (Problem 2(c)iii): the gates, the memory cell and h_t = O_t * tanh(C_t)."""

from __future__ import annotations

from grading.mutants import Mutant

FWD = "LSTMLayer.forward"
H0 = "h_t = x.new_zeros(B, H)\n        C_t = x.new_zeros(B, H)"
LOOP = H0 + """
        hidden_states = []
        for x_proj_t in x_proj.unbind(dim=1):  # one (B, 4H) slice per time step
            # the pre-activations of the four, x_t W_xg + h_{t-1} W_hg + b_g, each (B, H)
            A_i, A_f, A_o, A_c = torch.addmm(x_proj_t, h_t, W_h).chunk(4, dim=1)
            I_t = torch.sigmoid(A_i)
            F_t = torch.sigmoid(A_f)
            O_t = torch.sigmoid(A_o)
            C_tilde = torch.tanh(A_c)
            C_t = F_t * C_t + I_t * C_tilde
            h_t = O_t * torch.tanh(C_t)
            hidden_states.append(h_t)
"""

MUTANTS: list[Mutant] = [
    Mutant("lstm.forget_gate_tanh", FWD, "F_t = torch.sigmoid(A_f)", "F_t = torch.tanh(A_f)",
           "the forget gate with tanh instead of the sigmoid",
           breaks="the LSTM recurrence itself: every output and gradient of the layer and the model is wrong"),
    Mutant("lstm.candidate_sigmoid", FWD, "C_tilde = torch.tanh(A_c)", "C_tilde = torch.sigmoid(A_c)",
           "the candidate memory cell with a sigmoid instead of tanh",
           breaks="the LSTM recurrence itself: every output and gradient of the layer and the model is wrong"),
    Mutant("lstm.no_forget_gate", FWD, "C_t = F_t * C_t + I_t * C_tilde", "C_t = C_t + I_t * C_tilde",
           "the cell update without the forget gate",
           breaks="the LSTM recurrence itself: every output and gradient of the layer and the model is wrong"),
    Mutant("lstm.gates_swapped_in_cell", FWD, "C_t = F_t * C_t + I_t * C_tilde", "C_t = I_t * C_t + F_t * C_tilde",
           "input and forget gates swapped in the cell update",
           breaks="the LSTM recurrence itself: every output and gradient of the layer and the model is wrong"),
    Mutant("lstm.hidden_without_tanh", FWD, "h_t = O_t * torch.tanh(C_t)", "h_t = O_t * C_t",
           "h_t = O_t * C_t instead of O_t * tanh(C_t)",
           breaks="the LSTM recurrence itself: every output and gradient of the layer and the model is wrong"),
    Mutant("lstm.output_from_cell", FWD, "hidden_states.append(h_t)", "hidden_states.append(C_t)",
           "the outputs y_t computed from the memory cell C_t instead of h_t",
           breaks="the LSTM recurrence itself: every output and gradient of the layer and the model is wrong"),
    Mutant("lstm.hidden_state_not_carried", FWD, "A_i, A_f, A_o, A_c = torch.addmm(x_proj_t, h_t, W_h)",
           "A_i, A_f, A_o, A_c = torch.addmm(x_proj_t, torch.zeros_like(h_t), W_h)",
           "the gates computed from h_0 = 0 at every step (only the cell state carries over)",
           breaks="the LSTM recurrence itself: every output and gradient of the layer and the model is wrong"),
    Mutant("lstm.gate_order_mixed", FWD, "A_i, A_f, A_o, A_c = torch.addmm(x_proj_t, h_t, W_h).chunk(4, dim=1)",
           "A_i, A_f, A_c, A_o = torch.addmm(x_proj_t, h_t, W_h).chunk(4, dim=1)",
           "the fused pre-activations split in another order than the matrices were concatenated",
           breaks="the LSTM recurrence itself: every output and gradient of the layer and the model is wrong"),
    # issue #15: what training needs besides the values (the input's dtype and device, batch after batch)
    Mutant("lstm.h0_default_dtype_and_cpu", FWD, H0,
           "h_t = torch.zeros(B, H)\n        C_t = torch.zeros(B, H)",
           "h_0 = C_0 = torch.zeros(B, H): float32 on the CPU whatever the input (fails after .double() and "
           "on a GPU)"),
    Mutant("lstm.h0_on_cpu", FWD, H0,
           "h_t = torch.zeros(B, H, dtype=x.dtype)\n        C_t = torch.zeros(B, H, dtype=x.dtype)",
           "h_0 and C_0 created with the input's dtype but on the CPU (fails on a GPU)"),
    Mutant("lstm.state_carried_over", FWD, LOOP, LOOP.replace(H0, """\
if getattr(self, "state", None) is None:  # the first call starts from h_0 = C_0 = 0
            self.state = (x.new_zeros(B, H), x.new_zeros(B, H))
        h_t, C_t = self.state  # later calls go on from the last state of the previous call""").replace(
        "hidden_states.append(h_t)\n",
        "hidden_states.append(h_t)\n            self.state = (h_t.detach(), C_t.detach())\n"),
           "the last h_t and C_t kept on self as the next call's h_0 and C_0 (a stateful LSTM: wrong values "
           "for the next batch, a crash when its size differs)"),
]
