"""The three IMDB models with the handout's hyperparameters (``imdb_config.MODEL_CONFIGS``).

The sizes are chosen so that the RNN (2(a)ii), the LSTM (2(c)iii) and the Transformer (3(b)) have nearly
the same number of parameters (about 1.38 M, most of them in the 10000 x 128 embedding), which makes their
accuracies comparable in 3(c). Each model is imported only by its own tests, so a broken ``rnn.py`` costs
only the RNN's points.
"""

from __future__ import annotations

import importlib

import pytest
import torch

from imdb_config import MODEL_CLASSES, MODEL_CONFIGS

TARGET = 1.38e6


def _model(name: str) -> torch.nn.Module:
    """``MODEL_CLASSES[name]`` built with the handout's config (the student module imported here, lazily)."""
    module, cls = MODEL_CLASSES[name]
    return getattr(importlib.import_module(module), cls)(**MODEL_CONFIGS[name].to_dict())


def _count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


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
def test_parameter_count_is_the_handouts(name):
    """With the handout's sizes the model has 1.38 M trainable parameters, within 1 % (all three do: 3(c))."""
    n = _count(_model(name))
    assert abs(n - TARGET) <= 0.01 * TARGET, (
        f"{name}: {n:,} trainable parameters with the handout's sizes ({MODEL_CONFIGS[name]}), expected 1.38 M "
        "within 1 %: check which layers the model has and their sizes (bias terms included)")


@pytest.mark.parametrize("name", list(MODEL_CONFIGS))
def test_models_map_token_batches_to_logits(name):
    """Left-padded token ids (B, T) -> finite logits (B, T, 2); every parameter gets a gradient."""
    model = _model(name)
    tokens = torch.randint(1, 10000, (4, 30))
    tokens[0, :10] = 0
    tokens[3, :29] = 0
    logits = model(tokens)
    assert tuple(logits.shape) == (4, 30, 2), f"{name}: expected logits (4, 30, 2), got {tuple(logits.shape)}"
    assert bool(torch.isfinite(logits).all()), f"{name}: the logits contain NaN or inf"
    logits[:, -1].sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, f"{name}: these parameters received no gradient: {missing}"


@pytest.mark.slow
def test_benchmark_rnn_script_writes_its_table(tmp_path, capsys):
    """benchmark_rnn.py end to end on tiny sizes: the table is printed and the CSV has the four rows."""
    import pandas as pd

    import benchmark_rnn

    args = ["--batch_size", "2", "--seq_length", "3", "--input_size", "4", "--rnn_hidden_size", "5",
            "--lstm_hidden_size", "3", "--rounds", "1", "--min_run_time", "0.01", "--threads", "1",
            "--results_path", str(tmp_path)]
    threads = torch.get_num_threads()
    try:
        assert benchmark_rnn.main(args) == 0
    finally:
        torch.set_num_threads(threads)  # main() sets it for the whole process
    table = pd.read_csv(tmp_path / "benchmark_rnn.csv")
    assert len(table) == 4 and set(table["model"]) == {"rnn", "lstm"}
    assert (table["median_ms"] > 0).all() and (table["ratio_to_torch"] > 0).all()
    assert "ratio_to_torch" in capsys.readouterr().out
