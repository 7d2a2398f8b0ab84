"""Mistakes in lstm.py (Problem 2(c)iii): the gates, the memory cell and h_t = O_t * tanh(C_t)."""

from __future__ import annotations

from grading.mutants import Mutant

FWD = "LSTMLayer.forward"

MUTANTS: list[Mutant] = [
    Mutant("lstm.forget_gate_tanh", FWD, "F_t = torch.sigmoid(A_f)", "F_t = torch.tanh(A_f)",
           "the forget gate with tanh instead of the sigmoid"),
    Mutant("lstm.candidate_sigmoid", FWD, "C_tilde = torch.tanh(A_c)", "C_tilde = torch.sigmoid(A_c)",
           "the candidate memory cell with a sigmoid instead of tanh"),
    Mutant("lstm.no_forget_gate", FWD, "C_t = F_t * C_t + I_t * C_tilde", "C_t = C_t + I_t * C_tilde",
           "the cell update without the forget gate"),
    Mutant("lstm.gates_swapped_in_cell", FWD, "C_t = F_t * C_t + I_t * C_tilde", "C_t = I_t * C_t + F_t * C_tilde",
           "input and forget gates swapped in the cell update"),
    Mutant("lstm.hidden_without_tanh", FWD, "h_t = O_t * torch.tanh(C_t)", "h_t = O_t * C_t",
           "h_t = O_t * C_t instead of O_t * tanh(C_t)"),
    Mutant("lstm.output_from_cell", FWD, "hidden_states.append(h_t)", "hidden_states.append(C_t)",
           "the outputs y_t computed from the memory cell C_t instead of h_t"),
    Mutant("lstm.hidden_state_not_carried", FWD, "A_i, A_f, A_o, A_c = torch.addmm(x_proj_t, h_t, W_h)",
           "A_i, A_f, A_o, A_c = torch.addmm(x_proj_t, torch.zeros_like(h_t), W_h)",
           "the gates computed from h_0 = 0 at every step (only the cell state carries over)"),
    Mutant("lstm.gate_order_mixed", FWD, "A_i, A_f, A_o, A_c = torch.addmm(x_proj_t, h_t, W_h).chunk(4, dim=1)",
           "A_i, A_f, A_c, A_o = torch.addmm(x_proj_t, h_t, W_h).chunk(4, dim=1)",
           "the fused pre-activations split in another order than the matrices were concatenated"),
]
