"""The IMDB models and the handout's settings for them (Problems 2 and 3), in one place.

The three sizes are chosen so that the RNN, the LSTM and the Transformer have (nearly) the same number of
parameters, about 1.38 M each, most of them in the 10000 x 128 embedding. ``train_imdb.py`` builds its
models from these configs (``utils.build_model(model_type, MODEL_CONFIGS[model_type])``), the write-up
and ``test_imdb.py`` take the model names from here, and ``tests/models_tests.py`` checks the parameter
counts. Not a student module: shipped as is.
"""

from __future__ import annotations

from dataclasses import dataclass

from utils import ModelConfig

#: Size of the tokenizer's vocabulary (index 0 = PAD, 1 = UNK) and of every model's embedding table.
VOCAB_SIZE = 10000
#: Embedding size of the three models (the Transformer's d_model).
EMBEDDING_SIZE = 128
#: Two classes: 0 = negative, 1 = positive.
OUTPUT_SIZE = 2


@dataclass(frozen=True)
class RecurrentConfig(ModelConfig):
    """Keyword arguments of ``rnn.RNN`` and ``lstm.LSTM``: embedding, then one recurrent layer."""

    vocab_size: int = VOCAB_SIZE
    embedding_size: int = EMBEDDING_SIZE
    hidden_size: int = 0
    output_size: int = OUTPUT_SIZE


@dataclass(frozen=True)
class RNNConfig(RecurrentConfig):
    """``rnn.RNN`` (Problem 2(a))."""

    hidden_size: int = 256


@dataclass(frozen=True)
class LSTMConfig(RecurrentConfig):
    """``lstm.LSTM`` (Problem 2(c)iii): fewer hidden units than the RNN, for the same number of parameters."""

    hidden_size: int = 108


@dataclass(frozen=True)
class TransformerConfig(ModelConfig):
    """Keyword arguments of ``transformer.Transformer`` (Problem 3(b)).

    ``max_seq_length`` is the length of the positional-encoding table: the longest review the model
    can read (``train_imdb.py --max_seq_length`` may not exceed it).
    """

    vocab_size: int = VOCAB_SIZE
    embedding_size: int = EMBEDDING_SIZE
    num_heads: int = 8
    d_ff: int = 128
    output_size: int = OUTPUT_SIZE
    max_seq_length: int = 512


#: The handout's configuration of each model, in the handout's order (the one list of IMDB model names).
MODEL_CONFIGS: dict[str, ModelConfig] = {
    "rnn": RNNConfig(),
    "lstm": LSTMConfig(),
    "transformer": TransformerConfig(),
}
MODEL_TYPES: tuple[str, ...] = tuple(MODEL_CONFIGS)
#: CPU threads ``train_imdb.py`` uses for each model unless --num_threads says otherwise: the faster of 1
#: and 2 per training step with bucketed batches when the run has a 2-core machine to itself (a second
#: thread speeds up the Transformer 1.6-1.8x, the RNN 1.6x, the LSTM 1.3-1.4x). When another job shares
#: the cores, pass --num_threads 1: the RNN's and LSTM's many small per-step products then make two threads
#: wait for each other (measured 4-10x slower), while the Transformer's large products mostly still gain.
NUM_THREADS: dict[str, int] = {"rnn": 2, "lstm": 2, "transformer": 2}
#: Whether ``train_imdb.py`` batches reviews of similar length (batching.py; --bucketing / --no_bucketing
#: override it). The recurrent models train 1.3-1.7x faster that way and as well (2026-12-02, seed 0: RNN
#: 77.43 / 59.27 %, LSTM 86.68 / 80.07 % short / long). The Transformer does not: cropping the leading padding
#: moves every review's words, and the position the model classifies from, to other positional encodings
#: in every batch, and on the 3140 long training reviews it then learns more slowly (test 80.13 % with
#: bucketed batches against 84.65 % with fixed-width ones; validation 54.8 / 70.8 / 79.7 % after epochs
#: 1-3 against 59.5 / 82.3 %; seed 1 bucketed alike), so it keeps the fixed-width batches.
BUCKETING: dict[str, bool] = {"rnn": True, "lstm": True, "transformer": False}
#: model_type -> (module, class) of the student's implementation.
MODEL_CLASSES: dict[str, tuple[str, str]] = {
    "rnn": ("rnn", "RNN"),
    "lstm": ("lstm", "LSTM"),
    "transformer": ("transformer", "Transformer"),
}
#: model_type -> the handout part that trains it.
HANDOUT_LABELS: dict[str, str] = {"rnn": "2(a)", "lstm": "2(c)iii", "transformer": "3(b)"}
#: The two settings of every IMDB training part and of the 3(c) table: (min_seq_length, max_seq_length).
HANDOUT_SETTINGS: dict[str, tuple[int, int]] = {"short": (0, 200), "long": (200, 400)}


def setting_name(min_seq_length: int | None, max_seq_length: int | None) -> str | None:
    """``"short"`` or ``"long"`` for one of the handout's settings, else None."""
    for name, setting in HANDOUT_SETTINGS.items():
        if (min_seq_length, max_seq_length) == setting:
            return name
    return None
