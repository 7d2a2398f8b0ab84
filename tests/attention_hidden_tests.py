"""Hidden graded tests for attention.py (autograder only): what the public tests leave open.

Added because a mutant of the grader-accuracy catalog (``grading/mutants/attention.py``) survived them:
``attention.padded_rows_not_zeroed`` -- a sequence that is all padding attends uniformly to its padding
instead of to nothing. The module's contract says its attention output is exactly zero.
"""

from __future__ import annotations

import pytest
import torch

from tests.attention_tests import TOL, _make_multi_head, _make_self_attention, torch_self_attention
from tests.helpers import assert_close_at_precision


def _mask() -> torch.Tensor:
    """(3, 5): sequence 0 is all padding, sequence 1 has 2 padded positions on the left, sequence 2 none."""
    mask = torch.zeros(3, 5, dtype=torch.bool)
    mask[0] = True
    mask[1, :2] = True
    return mask


@pytest.mark.hidden
@pytest.mark.parametrize("which", [
    pytest.param("SelfAttention", marks=pytest.mark.weight(1, part="3.a.iv"), id="SelfAttention"),
    pytest.param("MultiHeadAttention", marks=pytest.mark.weight(1, part="3.a.iv"), id="MultiHeadAttention"),
])
def test_fully_padded_sequence_attends_to_nothing(which, student, from_scratch):
    """A sequence whose keys are all padding gets zero attention weight everywhere: its attention output is 0
    (SelfAttention) or W_o applied to 0, i.e. W_o's bias (MultiHeadAttention); the other sequences are
    unchanged."""
    B, T, d = 3, 5, 8
    torch.set_default_dtype(torch.float64)
    x = torch.randn(B, T, d)
    mask = _mask()
    if which == "SelfAttention":
        module = _make_self_attention(student, d)
        expected_padded = torch.zeros(T, d)
        expected_rest = torch_self_attention(module, x[1:], mask[1:])
    else:
        module, ref = _make_multi_head(student, d, 2)
        expected_padded = module.W_o.bias.detach().expand(T, d)  # a copy of the student's bias
        expected_rest = ref(x[1:], x[1:], x[1:], key_padding_mask=mask[1:], need_weights=False)[0].detach()
    with from_scratch(which, "attention"), student.no_grad():
        out = module(x, mask)
    case = f"{which}_B3_T5_d8_sequence_0_all_padding"
    what = "output of the all-padding sequence 0 (zero attention weights: " + (
        "the output is 0)" if which == "SelfAttention" else "the output is W_o(0) = W_o.bias)")
    assert_close_at_precision(out[0], expected_padded, case=case, what=what, **TOL)
    assert_close_at_precision(out[1:], expected_rest, case=case, what="output of the other sequences", **TOL)
