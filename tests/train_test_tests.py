"""Tests for train_test.py: the last-time-step selection (2(a)iv) and the training bookkeeping (1(b)).

The expected numbers are computed here independently of torch's autograd and optimizers: softmax
regression (one linear layer) has the closed-form gradient (softmax(z) - onehot(y)) x / B.

One mistake costs the tests of what it breaks, no more: ``train`` and ``test`` (given) add up what YOUR
``count_correct`` returns, so their accuracies are compared with your own ``count_correct`` on the right logits
(``test_count_correct`` judges it); the sequence-model test uses your own ``last_time_step`` (judged by
``test_last_time_step_selects_the_last_step``) and one step before any update (the gradient bookkeeping is
``test_train_history_and_weights``'s).

Your functions are reached through the ``student`` fixture (``tests/sandbox.py``): the models, optimizers and
losses they receive are built on your side (the toy models are in ``tests/toys.py``); the batches are sent
as lists of ``(inputs, labels)`` tuples of tensors.
"""

from __future__ import annotations

import math

import pytest
import torch

from tests.helpers import assert_close, assert_equal, expect
from tests.sandbox import Ref, Student

# a fixed tiny problem: 5 training and 4 validation examples, 2 features, 3 classes, float64
X_TRAIN = torch.tensor([[1.0, 2.0], [-1.0, 0.5], [0.3, -1.2], [2.0, -0.5], [-0.7, -0.3]], dtype=torch.float64)
Y_TRAIN = torch.tensor([0, 1, 2, 0, 1])
X_VAL = torch.tensor([[0.5, 1.0], [-1.5, 0.2], [1.0, -1.0], [0.1, 0.1]], dtype=torch.float64)
Y_VAL = torch.tensor([0, 2, 2, 1])
W0 = torch.tensor([[0.2, -0.1], [-0.3, 0.4], [0.1, 0.05]], dtype=torch.float64)
B0 = torch.tensor([0.0, 0.1, -0.1], dtype=torch.float64)
BATCH = 2  # batches of 2, 2 and 1: a per-epoch mean must weight them by size


def batches(x: torch.Tensor, y: torch.Tensor, size: int = BATCH) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(x[i : i + size], y[i : i + size]) for i in range(0, len(y), size)]


def linear_model(student: Student) -> Ref:
    """``nn.Linear(2, 3)`` in float64 with weights W0 and bias B0, on the student's side."""
    return student.module("tests.toys").linear_model(W0, B0)


def cross_entropy(student: Student) -> Ref:
    """``nn.CrossEntropyLoss()`` on the student's side."""
    return student.module("torch.nn").CrossEntropyLoss()


def sgd(student: Student, model: Ref, lr: float) -> Ref:
    """``torch.optim.SGD(model.parameters(), lr=lr)`` on the student's side."""
    return student.module("torch.optim").SGD(model.parameters(), lr=lr)


def logits_of(w: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """x w^T + b (float64), in plain Python."""
    return torch.tensor(
        [[sum(float(w[c, j]) * float(x[i, j]) for j in range(w.shape[1])) + float(b[c]) for c in range(w.shape[0])]
         for i in range(x.shape[0])],
        dtype=torch.float64,
    )


def mean_cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> float:
    """The mean cross-entropy of (B, C) logits, in plain Python."""
    total = 0.0
    for i in range(len(y)):
        z = [float(v) for v in logits[i]]
        top = max(z)
        total -= z[int(y[i])] - top - math.log(sum(math.exp(v - top) for v in z))
    return total / len(y)


def accuracy_by(count_correct: Ref, pairs: list[tuple[torch.Tensor, torch.Tensor]]) -> float:
    """The accuracy train() and test() report over batches with these (logits, labels): what YOUR count_correct
    returns, added up over the batches as they do, over the number of examples (so a count_correct mistake, e.g.
    a tensor instead of an int, costs test_count_correct only)."""
    total = 0
    for z, y in pairs:
        total += count_correct(z, y)
    return as_number(total / sum(len(y) for _, y in pairs))


def as_number(value: object) -> object:
    """A one-element tensor as a float (what test() returns when count_correct returns a tensor); else as is."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return float(value)
    return value


def softmax_regression(w: torch.Tensor, b: torch.Tensor, x: torch.Tensor, y: torch.Tensor):
    """(mean cross-entropy, number correct, grad_w, grad_b), by the textbook formulas in plain Python."""
    n, classes = len(y), w.shape[0]
    loss, correct = 0.0, 0
    grad_w = [[0.0] * w.shape[1] for _ in range(classes)]
    grad_b = [0.0] * classes
    for i in range(n):
        z = [
            sum(float(w[c, j]) * float(x[i, j]) for j in range(w.shape[1])) + float(b[c])
            for c in range(classes)
        ]
        top = max(z)
        log_norm = top + math.log(sum(math.exp(v - top) for v in z))
        loss -= z[int(y[i])] - log_norm
        correct += int(max(range(classes), key=lambda c: z[c]) == int(y[i]))
        for c in range(classes):
            delta = math.exp(z[c] - log_norm) - (1.0 if c == int(y[i]) else 0.0)
            grad_b[c] += delta / n
            for j in range(w.shape[1]):
                grad_w[c][j] += delta * float(x[i, j]) / n
    return (
        loss / n,
        correct,
        torch.tensor(grad_w, dtype=torch.float64),
        torch.tensor(grad_b, dtype=torch.float64),
    )


def expected_sgd_run(lr: float, epochs: int):
    """What train() must record for plain SGD over the batches above, in order; also, per epoch, the
    (logits, labels) of every training batch (before its step) and of the validation batches (after the epoch)."""
    w, b = W0.clone(), B0.clone()
    out = {"step_loss": [], "train_loss": [], "train_accuracy": [], "val_loss": [], "val_accuracy": [],
           "train_logits": [], "val_logits": []}
    for _ in range(epochs):
        loss_sum, correct_sum = 0.0, 0
        out["train_logits"].append([])
        for xb, yb in batches(X_TRAIN, Y_TRAIN):
            out["train_logits"][-1].append((logits_of(w, b, xb), yb))
            loss, correct, gw, gb = softmax_regression(w, b, xb, yb)
            out["step_loss"].append(loss)
            loss_sum += loss * len(yb)
            correct_sum += correct
            w, b = w - lr * gw, b - lr * gb
        out["train_loss"].append(loss_sum / len(Y_TRAIN))
        out["train_accuracy"].append(correct_sum / len(Y_TRAIN))
        val_loss, val_correct, _, _ = softmax_regression(w, b, X_VAL, Y_VAL)
        out["val_loss"].append(val_loss)
        out["val_accuracy"].append(val_correct / len(Y_VAL))
        out["val_logits"].append([(logits_of(w, b, xb), yb) for xb, yb in batches(X_VAL, Y_VAL)])
    return out, w, b


def as_sequences(x: torch.Tensor, steps: int = 4) -> torch.Tensor:
    """(B, 2) -> (B, steps, 2): the example is the last time step; earlier steps are noise."""
    noise = torch.randn(
        x.shape[0], steps - 1, x.shape[1], dtype=x.dtype, generator=torch.Generator().manual_seed(0)
    )
    return torch.cat([noise, x.unsqueeze(1)], dim=1)


def close(actual: float, expected: float, what: str, tol: float = 1e-9, got: object = None) -> None:
    """``actual`` is a Python number within ``tol`` of ``expected``; ``got``: what a failure is recognised by
    (``tests.helpers.known_mistake``; ``actual`` unless told, e.g. the whole list it is part of)."""
    got = actual if got is None else got
    expect(isinstance(actual, (float, int)), f"{what}: expected a Python number, got {type(actual).__name__}",
           got=got, case=what, what="a Python number")
    expect(abs(actual - expected) <= tol, f"{what}: expected {expected:.10g}, got {actual:.10g}", got=got, case=what,
           what="value")


def close_lists(actual, expected, what: str, tol: float = 1e-9) -> None:
    expect(len(actual) == len(expected), f"{what}: expected {len(expected)} values, got {len(actual)}: {actual}",
           got=actual, case=what, what="values")
    for i, (a, e) in enumerate(zip(actual, expected)):
        close(float(a), e, f"{what}[{i}]", tol, got=actual)


# --- 2(a)iv: the prediction of a sequence model is its last time step -------------------------------------
@pytest.mark.weight(1, part="2.a.iv")
@pytest.mark.parametrize("batch, steps", [(2, 5), (4, 1), (3, 3)])
def test_last_time_step_selects_the_last_step(student, batch, steps):
    train_test = student.module("train_test")
    classes = 4
    b = torch.arange(batch).view(-1, 1, 1)
    t = torch.arange(steps).view(1, -1, 1)
    c = torch.arange(classes).view(1, 1, -1)
    outputs = (100 * b + 10 * t + c).double()  # outputs[b, t, c] = 100 b + 10 t + c
    expected = torch.tensor(
        [[100 * i + 10 * (steps - 1) + k for k in range(classes)] for i in range(batch)], dtype=torch.float64
    )
    assert_close(
        train_test.last_time_step(outputs),
        expected,
        case=f"outputs of shape (B={batch}, T={steps}, C={classes})",
        what="last_time_step(outputs), expected outputs[:, T-1, :]",
        atol=0,
        rtol=0,
    )


def test_last_time_step_keeps_2d_logits(student):  # not graded: the given code already does this
    logits = torch.randn(3, 5)
    assert_close(
        student.module("train_test").last_time_step(logits),
        logits,
        case="(B=3, C=5) logits of a CNN",
        what="last_time_step(logits) (must return (B, C) logits unchanged)",
        atol=0,
        rtol=0,
    )


@pytest.mark.weight(1, part="2.a.iv")
@pytest.mark.timeout(30)
def test_train_and_test_use_the_last_time_step(student):
    """train_step (and test) classify a sequence model's (B, T, C) outputs at the last time step, through
    last_time_step (targets ``logits = model(inputs)`` in train_step: every time step fed to the loss).

    Judged with YOUR last_time_step and count_correct (their own tests judge them) and on the training step's loss,
    measured before the step changes the weights (the update is test_train_history_and_weights's). B = T = 4,
    so that even a last_time_step that picks the wrong (B, C) rows gives logits the loss accepts."""
    train_test = student.module("train_test")
    model = student.module("tests.toys").LastStepIsTheAnswer(W0, B0)
    criterion = cross_entropy(student)

    def selected(x: torch.Tensor) -> torch.Tensor:
        logits = train_test.last_time_step(model(x))
        shape = tuple(getattr(logits, "shape", ()))
        expect(isinstance(logits, torch.Tensor) and shape == (x.shape[0], 3), (
            f"last_time_step must turn the (B, T, C) = {tuple(x.shape[:2]) + (3,)} outputs into (B, C) logits, "
            f"got {shape}"
        ), got=logits, case=f"(B, T, C) = {tuple(x.shape[:2]) + (3,)} outputs", what="last_time_step(outputs)")
        return logits.detach()

    x_val = as_sequences(X_VAL)  # (4, 4, 2)
    val_logits = selected(x_val)
    val_loss, val_accuracy = train_test.test(model, [(x_val, Y_VAL)], criterion, "cpu", progress=False)
    close(val_loss, mean_cross_entropy(val_logits, Y_VAL),
          "test() on a sequence model: the loss of last_time_step(outputs)")
    close(as_number(val_accuracy), accuracy_by(train_test.count_correct, [(val_logits, Y_VAL)]),
          "test() on a sequence model: the accuracy of last_time_step(outputs)")

    x_train, y_train = as_sequences(X_TRAIN[:4]), Y_TRAIN[:4]  # (4, 4, 2)
    expected = mean_cross_entropy(selected(x_train), y_train)
    loss, _ = train_test.train_step(model, x_train, y_train, sgd(student, model, lr=0.5), criterion)
    close(loss, expected, "train_step() on a sequence model: the batch's loss must be that of last_time_step("
                          "model(inputs)), the logits at the last time step (B, C), not all the (B, T, C) outputs")


# --- 1(b): the training step and the loss / accuracy bookkeeping ------------------------------------------
@pytest.mark.weight(1, part="1.b.ii")
def test_count_correct(student):
    logits = torch.tensor(
        [[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [0.5, 0.2, 0.9], [1.0, 0.0, -1.0], [0.0, 0.0, 4.0]]
    )
    labels = torch.tensor([0, 1, 1, 2, 2])  # predictions 0, 1, 2, 0, 2: three correct
    count_correct = student.module("train_test").count_correct
    result = count_correct(logits, labels)
    expect(isinstance(result, int) and result == 3, (
        f"count_correct: predictions (argmax over classes) [0, 1, 2, 0, 2] vs labels [0, 1, 1, 2, 2]: "
        f"expected the int 3, got {result!r}"
    ), got=result, case="predictions [0, 1, 2, 0, 2] vs labels [0, 1, 1, 2, 2]", what="count_correct")
    # each row's own argmax: a softmax over the batch (dim=0) first would predict class 1 for the second row
    logits = torch.tensor([[5.0, 0.0], [4.0, 1.0]])
    result = count_correct(logits, torch.tensor([0, 0]))
    expect(isinstance(result, int) and result == 2, (
        f"count_correct: logits [[5, 0], [4, 1]] predict (argmax over the classes of each row) [0, 0] vs labels "
        f"[0, 0]: expected the int 2, got {result!r}"
    ), got=result, case="logits [[5, 0], [4, 1]] vs labels [0, 0]", what="count_correct")


@pytest.mark.weight(2, part="1.b.ii")
def test_test_returns_mean_loss_and_accuracy(student):
    train_test = student.module("train_test")
    model = linear_model(student)
    loss, accuracy = train_test.test(
        model, batches(X_TRAIN, Y_TRAIN), cross_entropy(student), "cpu", progress=False
    )
    expected_loss, _, _, _ = softmax_regression(W0, B0, X_TRAIN, Y_TRAIN)
    expected_accuracy = accuracy_by(train_test.count_correct,
                                    [(logits_of(W0, B0, x), y) for x, y in batches(X_TRAIN, Y_TRAIN)])
    close(loss, expected_loss, "test(): mean cross-entropy over the 5 examples (batches of 2, 2, 1)")
    close(as_number(accuracy), expected_accuracy,
          "test(): accuracy as a fraction of the 5 examples (count_correct summed over the batches)")
    assert_close(
        model.weight, W0, case="test() on a linear model", what="weights (test() must not train)", atol=0
    )


@pytest.mark.weight(3, part="1.b.ii")
@pytest.mark.timeout(30)
def test_train_history_and_weights(student):
    lr, epochs = 0.5, 2
    expected, w, b = expected_sgd_run(lr, epochs)
    train_test = student.module("train_test")
    # the accuracies train() reports are your count_correct's, summed: judged given it (test_count_correct's job)
    train_accuracy = [accuracy_by(train_test.count_correct, pairs) for pairs in expected["train_logits"]]
    val_accuracy = [accuracy_by(train_test.count_correct, pairs) for pairs in expected["val_logits"]]
    model = linear_model(student)
    optimizer = sgd(student, model, lr=lr)
    history = train_test.train(
        model,
        batches(X_TRAIN, Y_TRAIN),
        batches(X_VAL, Y_VAL),
        optimizer,
        cross_entropy(student),
        epochs,
        "cpu",
        progress=False,
    )
    case = "SGD lr 0.5, 2 epochs over batches of 2, 2, 1"
    close_lists(
        history["step_loss"], expected["step_loss"], f"{case}: step_loss (each batch's loss before its step)"
    )
    close_lists(
        history["train_loss"],
        expected["train_loss"],
        f"{case}: train_loss (per epoch, mean over examples: weight each batch by its size)",
    )
    close_lists(history["train_accuracy"], train_accuracy, f"{case}: train_accuracy (per epoch)")
    close_lists(history["val_loss"], expected["val_loss"], f"{case}: val_loss (after each epoch)")
    close_lists(history["val_accuracy"], val_accuracy, f"{case}: val_accuracy (after each epoch)")
    assert_close(
        model.weight,
        w,
        case=case,
        what="weights after training (zero the gradients every step)",
        atol=1e-12,
        rtol=1e-10,
    )
    assert_close(model.bias, b, case=case, what="bias after training", atol=1e-12, rtol=1e-10)


# --- options of train() (not graded) ------------------------------------------------------------------------
def test_train_gradient_clipping_bounds_the_step(student):
    model = linear_model(student)
    student.module("train_test").train(
        model,
        batches(X_TRAIN, Y_TRAIN, size=5),
        None,
        sgd(student, model, lr=1.0),
        cross_entropy(student),
        1,
        "cpu",
        grad_clip=1e-3,
        progress=False,
    )
    change = torch.cat([(model.weight - W0).flatten(), model.bias - B0]).norm().item()
    _, _, gw, gb = softmax_regression(W0, B0, X_TRAIN, Y_TRAIN)
    assert torch.cat([gw.flatten(), gb]).norm().item() > 1e-2, "test setup: the gradient should be large"
    assert change == pytest.approx(1e-3, rel=1e-5), (
        f"grad_clip=1e-3, lr=1: the step should have norm 1e-3, got {change}"
    )


def test_train_restore_best_keeps_the_best_validation_epoch(student):
    train_test = student.module("train_test")
    student.manual_seed(0)
    model = linear_model(student)
    # a learning rate so large that validation accuracy goes up and down
    optimizer = sgd(student, model, lr=20.0)
    history = train_test.train(
        model,
        batches(X_TRAIN, Y_TRAIN),
        batches(X_VAL, Y_VAL),
        optimizer,
        cross_entropy(student),
        6,
        "cpu",
        restore_best=True,
        progress=False,
    )
    best = max(range(6), key=lambda i: (history["val_accuracy"][i], -i))
    case = "SGD lr 20, 6 epochs, restore_best=True"
    assert_equal(history["best_epoch"], best + 1, f"best_epoch: expected {best + 1} (the epoch of the best "
                 f"val_accuracy, counted from 1), got {history['best_epoch']!r}", case=case, what="best_epoch")
    _, accuracy = train_test.test(model, batches(X_VAL, Y_VAL), cross_entropy(student), "cpu", progress=False)
    assert_equal(accuracy, history["val_accuracy"][best], f"the restored model's validation accuracy: expected "
                 f"{history['val_accuracy'][best]!r} (that of the best epoch), got {accuracy!r}", case=case,
                 what="validation accuracy after training")
    model = linear_model(student)
    history = train_test.train(
        model,
        batches(X_TRAIN, Y_TRAIN),
        None,
        sgd(student, model, lr=0.1),
        cross_entropy(student),
        1,
        "cpu",
        restore_best=True,
        progress=False,
    )
    got = (history["best_epoch"], history["val_loss"])
    assert_equal(got, (None, []), f"without validation batches: expected (best_epoch, val_loss) = (None, []), got "
                 f"{got!r}", case="no validation batches, restore_best=True", what="(best_epoch, val_loss)")
