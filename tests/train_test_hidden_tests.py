"""Hidden graded tests for train_test.py (autograder only): what the public tests leave open.

Added because mutants of the grader-accuracy catalog (``grading/mutants/train_test.py``) survived them:
``train_test.grad_clip_ignored`` and ``train_test.clip_before_backward`` -- the public clipping test is not
graded, so a training step that never clips lost no points. The clipped step is compared with the student's own
unclipped step, so only a clipping mistake costs these points.
"""

from __future__ import annotations

import pytest
import torch

from tests.helpers import assert_close
from tests.sandbox import Ref
from tests.train_test_tests import (
    B0,
    W0,
    X_TRAIN,
    Y_TRAIN,
    cross_entropy,
    linear_model,
    sgd,
    softmax_regression,
)


@pytest.mark.hidden
@pytest.mark.weight(1, part="1.b.ii")
@pytest.mark.timeout(30)
@pytest.mark.parametrize("grad_clip", [1e-3, 1e3], ids=["clipped", "below_the_limit"])
def test_train_step_clips_the_gradient_norm(student, grad_clip):
    """train_step(..., grad_clip=c) rescales the gradients to total norm at most c after backward, before the
    step: with plain SGD (lr 1) the step is -g * min(1, c / |g|).

    Compared with YOUR unclipped step (grad_clip=None) on the same batch, -g when it is right: the clipped step is
    that step times min(1, c / |step|). So a mistake in the step itself (gradients never cleared, or cleared before
    optimizer.step()) costs test_train_history_and_weights, not this test."""
    _, _, grad_w, grad_b = softmax_regression(W0, B0, X_TRAIN, Y_TRAIN)
    norm = float(torch.cat([grad_w.flatten(), grad_b]).norm())
    assert norm > 1e-2, "test setup: the gradient should be larger than the clipping limit"
    train_step = student.module("train_test").train_step

    def step(clip: float | None) -> tuple[Ref, torch.Tensor, torch.Tensor]:
        model = linear_model(student)
        train_step(model, X_TRAIN, Y_TRAIN, sgd(student, model, lr=1.0), cross_entropy(student), grad_clip=clip)
        return model, model.weight.detach() - W0, model.bias.detach() - B0

    _, free_w, free_b = step(None)
    free_norm = float(torch.cat([free_w.flatten(), free_b]).norm())
    scale = min(1.0, grad_clip / free_norm) if free_norm > 0 else 1.0
    model, _, _ = step(grad_clip)
    case = (f"one SGD step (lr 1) on 5 examples, gradient norm {norm:.4f} (your unclipped step: {free_norm:.4f}), "
            f"grad_clip={grad_clip:g}")
    what = ("weights after the step (clip the total gradient norm with torch.nn.utils.clip_grad_norm_ after "
            "loss.backward() and before optimizer.step())")
    assert_close(model.weight, W0 + scale * free_w, case=case, what=what, atol=1e-8, rtol=0)
    assert_close(model.bias, B0 + scale * free_b, case=case, what="bias after the step", atol=1e-8, rtol=0)
