"""Hidden graded tests for transformer.py (autograder only): the whole positional-encoding table.

The public tests compare ``positional_encoding`` with stored values at a few positions and columns; this
one compares every entry with the formula, written out here (a hand-written oracle stays out of the starter).
"""

from __future__ import annotations

import pytest
import torch

from tests.helpers import assert_close_at_precision


def formula_positional_encoding(max_seq_length: int, d_model: int) -> torch.Tensor:
    """PE[pos, 2i] = sin(pos / 10000^(2i/d_model)), PE[pos, 2i+1] = cos(same angle), in float64."""
    pos = torch.arange(max_seq_length, dtype=torch.float64).unsqueeze(1)  # (L, 1)
    j = torch.arange(d_model, dtype=torch.float64)  # column j uses i = j // 2
    angle = pos / torch.pow(10000.0, (j - j % 2) / d_model)  # (L, d_model)
    even = (torch.arange(d_model) % 2 == 0).unsqueeze(0)
    return torch.where(even, torch.sin(angle), torch.cos(angle))


@pytest.mark.hidden
@pytest.mark.weight(1, part="3.b")
@pytest.mark.parametrize("max_len,d_model", [(512, 128), (50, 7)], ids=["L512_d128", "L50_d7_odd"])
def test_positional_encoding_whole_table(max_len, d_model, student):
    """Every entry of the table equals the formula (tolerance 1e-4: angles computed in float32 are fine)."""
    torch.set_default_dtype(torch.float64)
    pe = student.module("transformer").positional_encoding(max_len, d_model)
    assert_close_at_precision(pe, formula_positional_encoding(max_len, d_model), case=f"L{max_len}_d{d_model}",
                 what="positional_encoding(max_len, d_model), every entry", atol=1e-4, rtol=0)
