"""Imperfect but mostly right submissions (issue #15): slips real students make in otherwise correct code,
and the share of their module's autograded points each must keep (``python -m grading fairness``, part of
``check``). Each is one or more mutants of the catalog applied together (all of one module). The ranges say
what a fair grade is: most of the module's points (the slip costs the small test that owns it), never all."""

from __future__ import annotations

from grading.mutants import Imperfect

IMPERFECT: list[Imperfect] = [
    Imperfect("conv.float32_buffers", ("conv.float32_buffer", "conv.faster_float32_buffer"), (0.9, 0.99),
              "both classes compute in a float32 torch.zeros(...) buffer (the original handout's hint): every "
              "value right at float32 precision, the output does not follow a float64 input"),
    Imperfect("conv.contract_slip", ("conv.convolution_reads_self_filters", "conv.faster_reads_self_filters"),
              (0.9, 0.995), "convolution(x, filters) computes with self.filters in both classes: forward is exact"),
    Imperfect("rnn.state_carried_over_only", ("rnn.state_carried_over",), (0.85, 0.99),
              "an exact RNN layer whose state carries over from the previous call"),
    Imperfect("lstm.state_carried_over_only", ("lstm.state_carried_over",), (0.85, 0.99),
              "an exact LSTM layer whose state carries over from the previous call"),
    Imperfect("rnn.zeros_h0", ("rnn.h0_default_dtype_and_cpu",), (0.85, 0.99),
              "h_0 = torch.zeros(B, H): exact in float32 on the CPU, fails a float64 model and any other device"),
    Imperfect("lstm.zeros_h0", ("lstm.h0_default_dtype_and_cpu",), (0.85, 0.99),
              "h_0 = C_0 = torch.zeros(B, H): exact in float32 on the CPU, fails a float64 model and any other "
              "device"),
]
