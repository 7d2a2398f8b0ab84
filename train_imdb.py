"""Problems 2 and 3: train the RNN, the LSTM or the Transformer on IMDB sentiment and test it.

    python train_imdb.py --model_type lstm                                         # short reviews (3c)
    python train_imdb.py --model_type lstm --min_seq_length 200 --max_seq_length 400  # long reviews
    python train_imdb.py --model_type rnn --dataset_length 500 --num_epochs 1      # a quick check
    python train_imdb.py --summary                                                 # the 3(c) table so far

Writes into results/imdb/<model_type>/<timestamp>/: loss.png, accuracy.png, metrics.csv (per
epoch), results.json (final metrics, settings, time per epoch) and model.pt (checkpoint with the
tokenizer, for test_imdb.py), and adds a row to results/imdb_summary.csv. Then prints the handout's
3(c) table -- test accuracy of each model on short and long reviews -- from every run so far.
"""

from __future__ import annotations

import argparse
import csv
import os
import time
from datetime import datetime
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import TensorDataset

from data import TextClassificationDataset, load_imdb
from imdb_config import MODEL_CONFIGS, VOCAB_SIZE
from train_test import test, train
from utils import (
    UserError,
    build_model,
    get_device,
    make_run_dir,
    plot_history,
    run_script,
    save_checkpoint,
    set_seed,
    tensor_loader,
    write_run_outputs,
)

MODEL_TYPES = ("rnn", "lstm", "transformer")
SUMMARY_FILE = "imdb_summary.csv"
SUMMARY_COLUMNS = (
    "timestamp", "model_type", "min_seq_length", "max_seq_length", "num_epochs", "dataset_length",
    "test_accuracy", "val_accuracy", "seconds_per_epoch", "num_train", "num_test", "run_dir",
)
#: The two settings of the handout's 3(c) table: (min_seq_length, max_seq_length) -> column name.
HANDOUT_SETTINGS = {(0, 200): "short (0-200)", (200, 400): "long (200-400)"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--model_type", choices=MODEL_TYPES, default="rnn",
                        help="rnn (2a), lstm (2b) or transformer (3b); sizes from imdb_config.py")
    parser.add_argument("--num_epochs", type=int, default=5, help="passes over the training reviews")
    parser.add_argument("--batch_size", type=int, default=32, help="training reviews per optimizer step")
    parser.add_argument("--learning_rate", type=float, default=1e-3, help="Adam's learning rate")
    parser.add_argument("--min_seq_length", type=int, default=0,
                        help="drop reviews with fewer words than this (after preprocessing), in every split")
    parser.add_argument("--max_seq_length", type=int, default=200,
                        help="keep the first this many words of each review; shorter ones are left-padded")
    parser.add_argument("--dataset_length", type=int, default=None,
                        help="use at most this many reviews of each split (train, validation, test), for quick "
                             "debugging; runs with it are left out of the 3(c) table")
    parser.add_argument("--data_dir", default="data/imdb",
                        help="folder holding aclImdb/ or 'IMDB Dataset.csv' (see data/README.md)")
    parser.add_argument("--download", action="store_true",
                        help="download the official aclImdb_v1.tar.gz (md5-checked) into --data_dir if no data is there")
    parser.add_argument("--results_path", default="results",
                        help=f"run folders go to <results_path>/imdb/<model_type>/; the summary to <results_path>/{SUMMARY_FILE}")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the initial weights, the train/validation split and the shuffling")
    parser.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, cuda:N or mps")
    parser.add_argument("--grad_clip", type=float, default=None,
                        help="clip the gradients' total norm to this before each step (default: no clipping)")
    parser.add_argument("--restore_best", action="store_true",
                        help="at the end, keep the weights of the epoch with the best VALIDATION accuracy "
                             "(default: the last epoch's)")
    parser.add_argument("--summary", action="store_true",
                        help=f"only print the 3(c) table from <results_path>/{SUMMARY_FILE} (no training)")
    parser.add_argument("--no_progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    for name in ("num_epochs", "batch_size", "max_seq_length"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.min_seq_length < 0:
        parser.error("--min_seq_length must be at least 0")
    if args.min_seq_length > args.max_seq_length:
        parser.error("--min_seq_length must not exceed --max_seq_length")
    if args.dataset_length is not None and args.dataset_length < 1:
        parser.error("--dataset_length must be at least 1")
    if args.learning_rate <= 0:
        parser.error("--learning_rate must be positive")
    if args.grad_clip is not None and args.grad_clip <= 0:
        parser.error("--grad_clip must be positive")
    return args


def model_config(model_type: str, max_seq_length: int) -> dict[str, int]:
    """The handout's hyperparameters (imdb_config.py); the Transformer's table covers max_seq_length."""
    config = dict(MODEL_CONFIGS[model_type])
    if "max_seq_length" in config:
        config["max_seq_length"] = max(config["max_seq_length"], max_seq_length)
    return config


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


def append_summary(path: Path, row: dict[str, object]) -> None:
    """Add one run to the summary CSV (header written when the file is new)."""
    is_new = not path.is_file()
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=SUMMARY_COLUMNS, lineterminator="\n")
        if is_new:
            writer.writeheader()
        writer.writerow({k: row.get(k) for k in SUMMARY_COLUMNS})


def summary_table(path: Path) -> str:
    """The 3(c) table from the summary CSV: model x setting, test accuracy and seconds per epoch.

    Only full runs count (no --dataset_length); for each model and setting the LATEST run is shown.
    """
    import pandas as pd

    if not path.is_file():
        return f"no IMDB runs yet ({path} does not exist): train with train_imdb.py first"
    runs = pd.read_csv(path)
    runs = runs[runs["dataset_length"].isna()]
    if runs.empty:
        return f"no full IMDB runs yet in {path} (runs with --dataset_length are left out)"
    runs = runs.sort_values("timestamp").groupby(["model_type", "min_seq_length", "max_seq_length"]).tail(1)
    runs["setting"] = [
        HANDOUT_SETTINGS.get((int(lo), int(hi)), f"{int(lo)}-{int(hi)}")
        for lo, hi in zip(runs["min_seq_length"], runs["max_seq_length"])
    ]
    columns = [c for c in HANDOUT_SETTINGS.values() if c in set(runs["setting"])]
    columns += sorted(set(runs["setting"]) - set(columns))
    rows = [m for m in MODEL_TYPES if m in set(runs["model_type"])]
    cell = [f"{100 * a:.2f}% ({s:.0f} s/epoch, {int(e)} ep.)"
            for a, s, e in zip(runs["test_accuracy"], runs["seconds_per_epoch"], runs["num_epochs"])]
    table = runs.assign(cell=cell).pivot(index="model_type", columns="setting", values="cell")
    table = table.reindex(index=rows, columns=columns).fillna("-")
    table.index.name, table.columns.name = "model", None
    return "test accuracy (time per epoch), latest full run of each cell:\n" + table.to_string()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    summary_path = Path(args.results_path) / SUMMARY_FILE
    if args.summary:
        print(summary_table(summary_path))
        return
    set_seed(args.seed)
    device = get_device(args.device)
    progress = not args.no_progress

    start = time.perf_counter()
    train_set, val_set, test_set = build_datasets(args)
    data_seconds = time.perf_counter() - start
    print(f"data: {len(train_set)} training, {len(val_set)} validation, {len(test_set)} test reviews with "
          f"{args.min_seq_length} to {args.max_seq_length} words (longer ones cut), vocabulary of "
          f"{len(train_set.tokenizer)} ids, prepared in {data_seconds:.1f} s")
    train_loader = tensor_loader(TensorDataset(train_set.sequences, train_set.labels), args.batch_size,
                                 shuffle=True, seed=args.seed)
    val_loader = tensor_loader(TensorDataset(val_set.sequences, val_set.labels), 256)
    test_loader = tensor_loader(TensorDataset(test_set.sequences, test_set.labels), 256)

    config = model_config(args.model_type, args.max_seq_length)
    model = build_model(args.model_type, config)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.learning_rate)
    criterion = nn.CrossEntropyLoss()
    print(f"{args.model_type}: {sum(p.numel() for p in model.parameters())} parameters; device {device}; "
          f"{torch.get_num_threads()} CPU threads")

    history = train(model, train_loader, val_loader, optimizer, criterion, args.num_epochs, device,
                    grad_clip=args.grad_clip, restore_best=args.restore_best, progress=progress)
    val_loss, val_accuracy = test(model, val_loader, criterion, device, "validation set", progress)
    test_start = time.perf_counter()
    test_loss, test_accuracy = test(model, test_loader, criterion, device, "test set", progress)
    test_seconds = time.perf_counter() - test_start
    seconds_per_epoch = sum(history["epoch_seconds"]) / len(history["epoch_seconds"])

    run_dir = make_run_dir(args.results_path, "imdb", args.model_type)
    results = {
        "model_type": args.model_type,
        "min_seq_length": args.min_seq_length, "max_seq_length": args.max_seq_length,
        "last_epoch_train_loss": history["train_loss"][-1],
        "last_epoch_train_accuracy": history["train_accuracy"][-1],
        "val_loss": val_loss, "val_accuracy": val_accuracy,
        "test_loss": test_loss, "test_accuracy": test_accuracy,
        "best_epoch": history["best_epoch"],
        "seconds_per_epoch": seconds_per_epoch, "epoch_seconds": history["epoch_seconds"],
        "data_seconds": data_seconds, "test_seconds": test_seconds,
        "num_train": len(train_set), "num_val": len(val_set), "num_test": len(test_set),
        "vocabulary_size": len(train_set.tokenizer),
        "config": config, "args": vars(args), "device": str(device), "num_threads": torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
    }
    save_checkpoint(run_dir / "model.pt", model, args.model_type, config,
                    tokenizer=train_set.tokenizer.to_dict(), min_seq_length=args.min_seq_length,
                    max_seq_length=args.max_seq_length, test_accuracy=test_accuracy,
                    val_accuracy=val_accuracy, args=vars(args))
    plot_history(history, run_dir)
    results["wall_seconds"] = time.perf_counter() - start
    write_run_outputs(run_dir, history, results)
    append_summary(summary_path, {
        "timestamp": datetime.now().isoformat(timespec="seconds"), "model_type": args.model_type,
        "min_seq_length": args.min_seq_length, "max_seq_length": args.max_seq_length,
        "num_epochs": args.num_epochs, "dataset_length": args.dataset_length,
        "test_accuracy": round(test_accuracy, 6), "val_accuracy": round(val_accuracy, 6),
        "seconds_per_epoch": round(seconds_per_epoch, 1), "num_train": len(train_set),
        "num_test": len(test_set), "run_dir": str(run_dir),
    })
    print(f"validation accuracy {100 * val_accuracy:.2f}%; test accuracy {100 * test_accuracy:.2f}% "
          f"(test loss {test_loss:.4f}); {seconds_per_epoch:.1f} s per epoch")
    print(f"run folder: {run_dir}")
    print()
    print(summary_table(summary_path))


if __name__ == "__main__":
    run_script(main)
