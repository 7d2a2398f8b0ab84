"""The three IMDB models with the handout's hyperparameters (``imdb_config.MODEL_CONFIGS``).

The sizes are chosen so that the RNN (2(a)ii), the LSTM (2(c)iii) and the Transformer (3(b)) have nearly
the same number of parameters (about 1.38 M, most of them in the 10000 x 128 embedding), which makes their
accuracies comparable in 3(c). Each model is built only by its own tests, on the student's side (``student``
fixture), so a broken ``rnn.py`` costs only the RNN's points.
"""

from __future__ import annotations

import pytest
import torch

from imdb_config import MODEL_CLASSES, MODEL_CONFIGS
from tests.sandbox import Ref, Student

TARGET = 1.38e6
#: The student modules these tests reach through ``MODEL_CLASSES`` (grading's test selection reads this).
MODULES_UNDER_TEST = ("rnn", "lstm", "transformer")


def _model(student: Student, name: str) -> Ref:
    """``MODEL_CLASSES[name]`` built with the handout's config on the student's side."""
    module, cls = MODEL_CLASSES[name]
    return getattr(student.module(module), cls)(**MODEL_CONFIGS[name].to_dict())


def _count(student: Student, model: Ref) -> int:
    """``sum(p.numel() for p in model.parameters() if p.requires_grad)``, computed on the student's side (an
    int comes back instead of copies of 1.4 M parameters)."""
    py = student.module("builtins")
    trainable = py.filter(student.module("operator").attrgetter("requires_grad"), model.parameters())
    return py.sum(py.map(student.module("torch").Tensor.numel, trainable))


def test_configs_are_the_handouts():
    """Vocab 10000, embedding 128, 2 classes; hidden 256 (RNN), 108 (LSTM); 8 heads, d_ff 128 (Transformer)"""
    for name, config in MODEL_CONFIGS.items():
        sizes = (config["vocab_size"], config["embedding_size"], config["output_size"])
        assert sizes == (10000, 128, 2), f"{name}: vocab, embedding and output sizes {sizes}"
    assert MODEL_CONFIGS["rnn"]["hidden_size"] == 256
    assert MODEL_CONFIGS["lstm"]["hidden_size"] == 108
    assert (MODEL_CONFIGS["transformer"]["num_heads"], MODEL_CONFIGS["transformer"]["d_ff"]) == (8, 128)


@pytest.mark.parametrize("name", [
    "rnn",  # RNNLayer's and LSTMLayer's parameters are given code: a check, not graded
    "lstm",
    pytest.param("transformer", marks=pytest.mark.weight(2, part="3.b")),  # its layers are the student's
])
def test_parameter_count_is_the_handouts(name, student):
    """With the handout's sizes the model has 1.38 M trainable parameters, within 1 % (all three do: 3(c))."""
    n = _count(student, _model(student, name))
    assert abs(n - TARGET) <= 0.01 * TARGET, (
        f"{name}: {n:,} trainable parameters with the handout's sizes ({MODEL_CONFIGS[name]}), expected 1.38 M "
        "within 1 %: check which layers the model has and their sizes (bias terms included)")


@pytest.mark.parametrize("name", list(MODEL_CONFIGS))
def test_models_map_token_batches_to_logits(name, student):
    """Left-padded token ids (B, T) -> finite logits (B, T, 2); every parameter gets a gradient."""
    model = _model(student, name)
    tokens = torch.randint(1, 10000, (4, 30))
    tokens[0, :10] = 0
    tokens[3, :29] = 0
    with student.no_grad():  # the shape first: a wrong one gets this message, not a broadcasting error below
        logits = model(tokens)
    assert tuple(logits.shape) == (4, 30, 2), f"{name}: expected logits (4, 30, 2), got {tuple(logits.shape)}"
    assert bool(torch.isfinite(logits).all()), f"{name}: the logits contain NaN or inf"
    last_step = torch.zeros(4, 30, 2)
    last_step[:, -1] = 1  # backpropagates logits[:, -1].sum()
    student.backward(model, tokens, grad=last_step)
    missing = [n for n, p in model.named_parameters() if p.grad is None]  # copies, with their .grad
    assert not missing, f"{name}: these parameters received no gradient: {missing}"

