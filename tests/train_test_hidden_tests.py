"""Hidden graded tests for train_test.py (autograder only): what the public tests leave open.

Added because mutants of the grader-accuracy catalog (``grading/mutants/train_test.py``) survived them:
``train_test.grad_clip_ignored`` and ``train_test.clip_before_backward`` -- the public clipping test is not
graded, so a training step that never clips lost no points.
"""

from __future__ import annotations

import pytest
import torch

from tests.helpers import assert_close
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
    step: with plain SGD (lr 1) the step is -g * min(1, c / |g|)."""
    _, _, grad_w, grad_b = softmax_regression(W0, B0, X_TRAIN, Y_TRAIN)
    norm = float(torch.cat([grad_w.flatten(), grad_b]).norm())
    assert norm > 1e-2, "test setup: the gradient should be larger than the clipping limit"
    scale = min(1.0, grad_clip / norm)
    model = linear_model(student)
    optimizer = sgd(student, model, lr=1.0)
    student.module("train_test").train_step(model, X_TRAIN, Y_TRAIN, optimizer, cross_entropy(student),
                                            grad_clip=grad_clip)
    case = f"one SGD step (lr 1) on 5 examples, gradient norm {norm:.4f}, grad_clip={grad_clip:g}"
    what = ("weights after the step (clip the total gradient norm with torch.nn.utils.clip_grad_norm_ after "
            "loss.backward() and before optimizer.step())")
    assert_close(model.weight, W0 - scale * grad_w, case=case, what=what, atol=1e-8, rtol=0)
    assert_close(model.bias, B0 - scale * grad_b, case=case, what="bias after the step", atol=1e-8, rtol=0)
