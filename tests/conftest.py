"""Fixtures shared by the public tests."""

from __future__ import annotations

import pytest
import torch

from tests.helpers import forbid_builtins


@pytest.fixture(autouse=True)
def _seed_and_threads():
    """Every test starts from the same random state, in float32 by default."""
    torch.manual_seed(0)
    torch.set_default_dtype(torch.float32)
    yield
    torch.set_default_dtype(torch.float32)


@pytest.fixture
def from_scratch():
    """The from-scratch guard: ``with from_scratch("Conv2d", "conv"): ...``.

    Inside the block, calling a built-in of the named groups ("conv", "rnn", "attention"; see
    ``tests.helpers.FORBIDDEN``) raises ``ForbiddenCallError`` with a message such as
    "Conv2d must not call torch.nn.functional.conv2d". Compute reference outputs first.
    """

    def guard(who: str, *groups: str):
        return forbid_builtins(who, groups or ("conv",))

    return guard
