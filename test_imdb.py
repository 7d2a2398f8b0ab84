"""Problem 3(d): classify your own movie reviews with a model trained by train_imdb.py.

    python test_imdb.py results/imdb/lstm/<timestamp>/model.pt                  # type reviews, `quit` ends
    python test_imdb.py results/imdb/lstm/<timestamp>/model.pt --review "A gem." --review "Dull."

Prints Positive or Negative and the confidence: the softmax probability of the predicted class.
The review goes through the same preprocessing, vocabulary and left padding as in training.
"""

from __future__ import annotations

import argparse
import sys

import torch
from torch import nn

from batching import crop
from data import BOWTokenizer, encode_review
from imdb_config import MODEL_TYPES
from train_test import last_time_step
from utils import CheckpointError, UserError, get_device, load_model, run_script

LABELS = ("Negative", "Positive")  # label 0, label 1
QUIT_WORDS = ("quit", "exit")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("checkpoint", help="a model.pt written by train_imdb.py (results/imdb/<model>/<time>/model.pt)")
    parser.add_argument("--review", action="append", metavar="TEXT",
                        help="classify this review and exit (repeat for several); without it: interactive")
    parser.add_argument("--device", default="cpu", help="cpu, auto (cuda > mps > cpu), cuda, cuda:N or mps")
    return parser.parse_args(argv)


def load_classifier(path: str, device: torch.device) -> tuple[nn.Module, BOWTokenizer, int, str, bool]:
    """The model (eval mode, on ``device``), its tokenizer, its max_seq_length, its model type, and whether
    it was trained on batches padded to max_seq_length (``train_imdb.py --no_bucketing``; checkpoints from
    before batching.py) rather than to their longest review (the default).

    The weights are loaded onto the CPU first (a GPU-trained model works everywhere).
    """
    model, checkpoint = load_model(path, expected_types=MODEL_TYPES, map_location="cpu")
    extras = checkpoint["extras"]
    if not isinstance(extras.get("tokenizer"), dict):
        raise CheckpointError(f"{path} has no tokenizer: use a model.pt written by train_imdb.py")
    try:
        tokenizer = BOWTokenizer.from_dict(extras["tokenizer"])
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"{path}: the saved tokenizer is damaged ({err})") from None
    padded = bool(extras.get("args", {}).get("no_bucketing", True))
    return model.to(device), tokenizer, int(extras.get("max_seq_length", 200)), checkpoint["model_type"], padded


@torch.no_grad()
def predict(model: nn.Module, tokenizer: BOWTokenizer, text: str, max_seq_length: int,
            padded: bool = True) -> tuple[str, float]:
    """``(label, confidence)``: "Positive" or "Negative" and the softmax probability of that class.

    Raises:
        ValueError: nothing is left of the review after preprocessing.
    """
    device = next(model.parameters()).device
    ids = encode_review(text, tokenizer, max_seq_length).unsqueeze(0).to(device)  # (1, max_seq_length)
    if not padded:  # trained with batching.py: as train_imdb.py evaluates it, without padding
        ids = crop(ids)
    probabilities = torch.softmax(last_time_step(model(ids)), dim=-1)[0]  # (2,)
    label = int(probabilities.argmax())
    return LABELS[label], float(probabilities[label])


def classify(model: nn.Module, tokenizer: BOWTokenizer, text: str, max_seq_length: int, padded: bool = True) -> str:
    """One line of output for one review (or why it cannot be classified)."""
    try:
        label, confidence = predict(model, tokenizer, text, max_seq_length, padded)
    except ValueError as err:
        return f"cannot classify this review: {err}; write a few real words"
    return f"{label} (confidence {100 * confidence:.1f}%)"


NO_INPUT = "type reviews in a terminal, pipe them in (one per line), or pass --review TEXT"


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if not args.review and (sys.stdin is None or sys.stdin.closed):  # e.g. started with 0<&-
        raise UserError(f"no input to read reviews from (stdin is closed); {NO_INPUT}")
    device = get_device(args.device)
    model, tokenizer, max_seq_length, model_type, padded = load_classifier(args.checkpoint, device)
    if args.review:
        for text in args.review:
            print(classify(model, tokenizer, text, max_seq_length, padded))
        return
    print(f"{model_type} model from {args.checkpoint}. Type a movie review and press Enter; "
          f"'quit' or Ctrl-D ends. Confidence = softmax probability of the predicted class.")
    classified = 0
    interactive = sys.stdin.isatty()
    while True:
        try:
            text = input("review> ")
        except (EOFError, RuntimeError, OSError, ValueError) as err:  # end of input; lost or unreadable stdin
            print()
            if classified == 0 and not (isinstance(err, EOFError) and interactive):  # Ctrl-D in a terminal: quit
                why = "stdin ended before any review" if isinstance(err, EOFError) else f"cannot read stdin ({err})"
                raise UserError(f"no review classified: {why}; {NO_INPUT}") from None
            break
        if text.strip().lower() in QUIT_WORDS:
            break
        if text.strip():
            print(classify(model, tokenizer, text, max_seq_length, padded))
            classified += 1


if __name__ == "__main__":
    run_script(main)
