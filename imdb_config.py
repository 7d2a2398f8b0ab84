"""The IMDB models' hyperparameters, fixed by the handout (Problems 2 and 3), in one place.

The three sizes are chosen so that the RNN, the LSTM and the Transformer have (nearly) the same number of
parameters, about 1.38 M each, most of them in the 10000 x 128 embedding. ``train_imdb.py`` builds its
models from these dictionaries (``utils.build_model(model_type, MODEL_CONFIGS[model_type])``) and
``tests/models_tests.py`` checks the parameter counts. Not a student module: shipped as is.
"""

from __future__ import annotations

#: Size of the tokenizer's vocabulary (index 0 = PAD, 1 = UNK) and of every model's embedding table.
VOCAB_SIZE = 10000
#: Embedding size of the three models (the Transformer's d_model).
EMBEDDING_SIZE = 128
#: Two classes: 0 = negative, 1 = positive.
OUTPUT_SIZE = 2

#: Constructor keyword arguments of ``rnn.RNN``, ``lstm.LSTM`` and ``transformer.Transformer``.
MODEL_CONFIGS: dict[str, dict[str, int]] = {
    "rnn": {
        "vocab_size": VOCAB_SIZE,
        "embedding_size": EMBEDDING_SIZE,
        "hidden_size": 256,
        "output_size": OUTPUT_SIZE,
    },
    "lstm": {
        "vocab_size": VOCAB_SIZE,
        "embedding_size": EMBEDDING_SIZE,
        "hidden_size": 108,
        "output_size": OUTPUT_SIZE,
    },
    "transformer": {
        "vocab_size": VOCAB_SIZE,
        "embedding_size": EMBEDDING_SIZE,
        "num_heads": 8,
        "d_ff": 128,
        "output_size": OUTPUT_SIZE,
        "max_seq_length": 512,
    },
}
