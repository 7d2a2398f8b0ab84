"""Problems 2 and 3: train the RNN, the LSTM or the Transformer on IMDB sentiment and test it.

    python train_imdb.py --model_type lstm                                         # short reviews (3c)
    python train_imdb.py --model_type lstm --min_seq_length 200 --max_seq_length 400  # long reviews
    python train_imdb.py --model_type rnn --dataset_length 500 --num_epochs 1      # a quick check
    python train_imdb.py --summary                                                 # the 3(c) table so far

Writes into results/imdb/<model_type>/<timestamp>/ (see runs.py): loss.png, accuracy.png,
metrics.csv (per epoch), results.json (the run record) and model.pt (checkpoint with the tokenizer,
for test_imdb.py), and adds a row to results/imdb_summary.csv. Then prints the handout's 3(c) table
-- test accuracy of each model on short and long reviews -- from every full run so far.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

import runs
from batching import EVAL_BATCH_SIZE, make_imdb_loaders
from data import TextClassificationDataset, load_imdb
from imdb_config import (
    BUCKETING,
    HANDOUT_LABELS,
    HANDOUT_SETTINGS,
    MODEL_CONFIGS,
    MODEL_TYPES,
    NUM_THREADS,
    VOCAB_SIZE,
    setting_name,
)
from utils import UserError, build_model, run_script


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = runs.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parts = ", ".join(f"{model} ({HANDOUT_LABELS[model]})" for model in MODEL_TYPES)
    parser.add_argument("--model_type", choices=MODEL_TYPES, default=MODEL_TYPES[0],
                        help=f"{parts}; sizes from imdb_config.py")
    runs.add_training_arguments(
        parser, examples="reviews", data_dir="data/imdb",
        data_help="folder holding aclImdb/ or 'IMDB Dataset.csv' (see data/README.md)",
        download_help="download the official aclImdb_v1.tar.gz (md5-checked) into --data_dir if no data is there",
        results_help=f"run folders go to <results_path>/imdb/<model_type>/; the summary to "
                     f"<results_path>/{runs.SUMMARY_FILE}",
        num_threads=None, num_threads_help="CPU threads for torch (default: the model's best choice; 0: torch's "
                                           "default, one per core)")
    short, long = HANDOUT_SETTINGS["short"], HANDOUT_SETTINGS["long"]
    parser.add_argument("--min_seq_length", type=runs.nonnegative_int, default=short[0],
                        help=f"drop reviews with fewer words than this (after preprocessing), in every split; "
                             f"the handout's long setting: {long[0]}")
    parser.add_argument("--max_seq_length", type=runs.positive_int, default=short[1],
                        help=f"keep the first this many words of each review; shorter ones are left-padded; the "
                             f"handout's long setting: {long[1]}")
    parser.add_argument("--dataset_length", type=runs.positive_int, default=None,
                        help="use at most this many reviews of each split (train, validation, test), for quick "
                             "debugging; runs with it are left out of the 3(c) table and the write-up")
    parser.add_argument("--grad_clip", type=runs.positive_float, default=None,
                        help="clip the gradients' total norm to this before each step (default: no clipping)")
    parser.add_argument("--bucketing", dest="bucketing", action="store_const", const=True, default=None,
                        help="batch reviews of similar length, each batch padded only to its longest review "
                             "(batching.py; faster); the default for the RNN and the LSTM (imdb_config.BUCKETING)")
    parser.add_argument("--no_bucketing", dest="bucketing", action="store_const", const=False,
                        help="batches of --batch_size random reviews, all padded to --max_seq_length; the default "
                             "for the Transformer")
    parser.add_argument("--eval_batch_size", type=runs.positive_int, default=EVAL_BATCH_SIZE,  # batching.py (H7)
                        help="reviews per batch for validation and test (does not change their results)")
    parser.add_argument("--summary", action="store_true",
                        help=f"only print the 3(c) table from <results_path>/{runs.SUMMARY_FILE} (no training)")
    args = parser.parse_args(argv)
    if args.bucketing is None:
        args.bucketing = BUCKETING[args.model_type]
    args.no_bucketing = not args.bucketing  # recorded in the checkpoint: test_imdb.py pads the same way
    if args.min_seq_length > args.max_seq_length:
        parser.error("--min_seq_length must not exceed --max_seq_length")
    table = getattr(MODEL_CONFIGS[args.model_type], "max_seq_length", None)
    if table is not None and args.max_seq_length > table:
        parser.error(f"--max_seq_length {args.max_seq_length} is longer than the {args.model_type}'s positional "
                     f"encoding ({table} positions, imdb_config.py)")
    return args


def default_threads(model_type: str) -> int:
    """CPU threads for ``model_type`` when --num_threads is not given (measured: ``imdb_config.NUM_THREADS``)."""
    return NUM_THREADS.get(model_type, 0)


def build_datasets(
    args: argparse.Namespace,
) -> tuple[TextClassificationDataset, TextClassificationDataset, TextClassificationDataset]:
    """Train, validation and test sets; the tokenizer is fitted on the training reviews only."""
    train_reviews, val_reviews, test_reviews = load_imdb(args.data_dir, download=args.download, seed=args.seed)
    options = {"min_seq_length": args.min_seq_length, "max_seq_length": args.max_seq_length,
               "dataset_length": args.dataset_length}
    train_set = TextClassificationDataset(train_reviews, vocab_size=VOCAB_SIZE, **options)
    if len(train_set) == 0:
        raise UserError(f"no training review has at least --min_seq_length {args.min_seq_length} words; lower it")
    val_set = TextClassificationDataset(val_reviews, tokenizer=train_set.tokenizer, **options)
    test_set = TextClassificationDataset(test_reviews, tokenizer=train_set.tokenizer, **options)
    for name, dataset in (("validation", val_set), ("test", test_set)):
        if len(dataset) == 0:
            raise UserError(f"no {name} review has at least --min_seq_length {args.min_seq_length} words; lower it")
    return train_set, val_set, test_set


def build_loaders(args: argparse.Namespace, train_set: TextClassificationDataset,
                  val_set: TextClassificationDataset, test_set: TextClassificationDataset) -> tuple[Any, Any, Any]:
    """The (train, validation, test) batches: the one place that decides how reviews are batched (batching.py)."""
    return make_imdb_loaders(train_set, val_set, test_set, args.batch_size, args.seed,
                             bucketing=args.bucketing, eval_batch_size=args.eval_batch_size)


def summary_table(path: Path) -> str:
    """The 3(c) table from the summary CSV: model x setting, test accuracy and seconds per epoch.

    Only full runs count (the handout's epochs, no --dataset_length); for each model and setting the
    LATEST run is shown.
    """
    rows = [row for row in runs.read_summary(path) if runs.is_full_run(row["num_epochs"], row["dataset_length"])]
    if not rows:
        return (f"no full IMDB runs yet in {path} (runs with fewer than {runs.HANDOUT_NUM_EPOCHS} epochs or "
                "with --dataset_length are left out): train with train_imdb.py first")
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for row in sorted(rows, key=lambda row: row["timestamp"]):
        lo, hi = row["min_seq_length"], row["max_seq_length"]
        name = setting_name(lo, hi)
        latest[row["model_type"], f"{name} ({lo}-{hi})" if name else f"{lo}-{hi}"] = row
    columns = [f"{name} ({lo}-{hi})" for name, (lo, hi) in HANDOUT_SETTINGS.items()]
    columns += sorted({setting for _, setting in latest} - set(columns))
    models = [m for m in MODEL_TYPES if any(model == m for model, _ in latest)]
    cells = {key: f"{100 * row['test_accuracy']:.2f}% ({row['seconds_per_epoch']:.0f} s/epoch, "
                  f"{row['num_epochs']} ep.)" for key, row in latest.items()}
    widths = [max(len(c), *(len(cells.get((m, c), "-")) for m in models)) for c in columns]
    lines = ["  ".join([f"{'model':<11}", *(f"{c:>{w}}" for c, w in zip(columns, widths))])]
    lines += ["  ".join([f"{m:<11}", *(f"{cells.get((m, c), '-'):>{w}}" for c, w in zip(columns, widths))])
              for m in models]
    return "test accuracy (time per epoch), latest full run of each cell:\n" + "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    summary_path = Path(args.results_path) / runs.SUMMARY_FILE
    if args.summary:
        print(summary_table(summary_path))
        return
    start = time.perf_counter()
    if args.num_threads is None:
        args.num_threads = default_threads(args.model_type)
    device = runs.start(args)
    runs.check_summary(summary_path)  # a foreign summary file fails now, not after training

    train_set, val_set, test_set = build_datasets(args)
    data_seconds = time.perf_counter() - start
    print(f"data: {len(train_set)} training, {len(val_set)} validation, {len(test_set)} test reviews with "
          f"{args.min_seq_length} to {args.max_seq_length} words (longer ones cut), vocabulary of "
          f"{len(train_set.tokenizer)} ids, prepared in {data_seconds:.1f} s")
    loaders = build_loaders(args, train_set, val_set, test_set)

    config = MODEL_CONFIGS[args.model_type]
    model = build_model(args.model_type, config)
    print(f"{args.model_type}: {sum(p.numel() for p in model.parameters())} parameters; device {device}; "
          f"{runs.set_threads(None)} CPU threads")
    history, record = runs.fit(model, loaders, args, device, grad_clip=args.grad_clip)
    run_dir, result = runs.finish_run(
        results_path=args.results_path, dataset="imdb", model_type=args.model_type, model=model,
        config=config, history=history,
        record={**record, "num_train": len(train_set), "num_val": len(val_set), "num_test": len(test_set),
                "dataset_length": args.dataset_length, "min_seq_length": args.min_seq_length,
                "max_seq_length": args.max_seq_length, "wall_seconds": time.perf_counter() - start,
                "extras": {"data_seconds": data_seconds, "vocabulary_size": len(train_set.tokenizer),
                           "omp_num_threads": os.environ.get("OMP_NUM_THREADS")}},
        checkpoint_extras={"tokenizer": train_set.tokenizer.to_dict(), "min_seq_length": args.min_seq_length,
                           "max_seq_length": args.max_seq_length, "test_accuracy": record["test_accuracy"],
                           "val_accuracy": record["val_accuracy"], "args": vars(args)},
    )
    try:
        runs.append_summary(summary_path, result)
    except (OSError, UserError) as err:
        raise UserError(f"the run is saved in {run_dir}, but {summary_path} was not updated ({err})") from None
    print(f"validation accuracy {100 * result.val_accuracy:.2f}%; test accuracy {100 * result.test_accuracy:.2f}% "
          f"(test loss {result.test_loss:.4f}); {result.seconds_per_epoch:.1f} s per epoch")
    print(f"run folder: {run_dir}")
    print()
    print(summary_table(summary_path))


if __name__ == "__main__":
    run_script(main)
