"""The run record: what every training script accepts, checks, writes and reads back (not a student module).

- ``add_training_arguments``: the options ``train_mnist.py`` and ``train_imdb.py`` share, checked as
  they are parsed (``ArgumentParser`` reports a bad value in one line).
- ``check_results_path``: is the results folder writable? Asked before any work starts.
- ``finish_run``: the one ending of every training run. It writes, each file atomically, into
  ``<results_path>/<dataset>/<model_type>/<YYYYmmdd-HHMMSS>.incomplete/``: ``model.pt``, ``loss.png``,
  ``accuracy.png``, any extra figures, ``metrics.csv`` (one row per epoch) and, last, ``results.json``
  (a ``RunRecord``); then renames the folder to ``<YYYYmmdd-HHMMSS>``. A run interrupted while saving
  keeps its ``.incomplete`` name and says what it kept.
- ``RunRecord`` (``results.json``) and the summary CSV of IMDB runs (a few of its fields per row): the
  ONE schema that ``train_imdb.py --summary``, ``writeup/make_includes.py`` and the tests read.
- The benchmark CSVs' columns (``CONV_BENCHMARK_COLUMNS``, ``RNN_BENCHMARK_COLUMNS``) and their reader.

Units everywhere: accuracies are fractions in [0, 1], losses mean cross-entropy (nats), times seconds
(benchmark times milliseconds, as their column names say).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import json
import math
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import torch

from utils import (
    INCOMPLETE_SUFFIX,
    ModelConfig,
    UserError,
    atomic_write,
    get_device,
    make_run_dir,
    plot_history,
    save_checkpoint,
    set_seed,
)

#: Version of the RunRecord schema (results.json, the summary CSV). Bump it when a field changes meaning.
SCHEMA_VERSION = 1
#: Epochs of every training part of the handout. A run with fewer is a quick check, never a result.
HANDOUT_NUM_EPOCHS = 5
RESULTS_FILE = "results.json"
METRICS_FILE = "metrics.csv"
SUMMARY_FILE = "imdb_summary.csv"


class RecordError(UserError):
    """A results file that is not of this schema (another version, cut off, or a foreign file)."""


# --- command-line options -----------------------------------------------------------------------------
class ArgumentParser(argparse.ArgumentParser):
    """An ``argparse.ArgumentParser`` whose errors are one line: ``prog: error: ... (see --help)``, exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _number(text: str, kind: type, minimum: float, inclusive: bool, what: str) -> Any:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if not math.isfinite(value) or value < minimum or (value == minimum and not inclusive):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    return _number(text, int, 1, True, "a whole number >= 1")


def nonnegative_int(text: str) -> int:
    return _number(text, int, 0, True, "a whole number >= 0")


def positive_float(text: str) -> float:
    return _number(text, float, 0.0, False, "a finite number > 0")


def seed(text: str) -> int:
    value = _number(text, int, 0, True, "a whole number from 0 to 2**32 - 1")
    if value >= 2**32:
        raise argparse.ArgumentTypeError(f"expected a whole number from 0 to 2**32 - 1, got {text!r}")
    return value


def add_training_arguments(
    parser: argparse.ArgumentParser,
    *,
    examples: str,
    data_dir: str,
    data_help: str,
    download_help: str,
    results_help: str,
    num_threads: int | None,
    num_threads_help: str,
) -> None:
    """The options every training script has; ``examples`` names what is trained on ("images", "reviews")."""
    parser.add_argument("--num_epochs", type=positive_int, default=HANDOUT_NUM_EPOCHS,
                        help=f"passes over the training {examples} (the handout's parts use {HANDOUT_NUM_EPOCHS}; "
                             "runs with fewer are quick checks the write-up skips)")
    parser.add_argument("--batch_size", type=positive_int, default=32,
                        help=f"training {examples} per optimizer step")
    parser.add_argument("--learning_rate", type=positive_float, default=1e-3, help="Adam's learning rate")
    parser.add_argument("--data_dir", default=data_dir, help=data_help)
    parser.add_argument("--download", action="store_true", help=download_help)
    parser.add_argument("--results_path", default="results", help=results_help)
    parser.add_argument("--seed", type=seed, default=0,
                        help="seed of the initial weights, the train/validation split and the shuffling")
    parser.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, cuda:N or mps")
    parser.add_argument("--restore_best", action="store_true",
                        help="at the end, keep the weights of the epoch with the best VALIDATION accuracy "
                             "(default: the last epoch's)")
    parser.add_argument("--num_threads", type=nonnegative_int, default=num_threads, help=num_threads_help)
    parser.add_argument("--no_progress", action="store_true", help="no progress bars")


def set_threads(num_threads: int | None) -> int:
    """``torch.set_num_threads(num_threads)`` unless it is 0 or None (torch's default); the count in use."""
    if num_threads:
        torch.set_num_threads(num_threads)
    return torch.get_num_threads()


def check_results_path(path: str | os.PathLike) -> Path:
    """Create the folder ``path`` and make sure a file can be written into it, before any work starts.

    Raises ``UserError`` (one line) when ``path`` is a file, lies under a file, or is not writable.
    """
    path = Path(path)
    hint = "pass a writable folder as --results_path"
    for parent in (path, *path.parents):
        if parent.exists() and not parent.is_dir():
            where = "is a file" if parent == path else f"lies under the file {parent}"
            raise UserError(f"--results_path {path} {where}: {hint}")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise UserError(f"--results_path {path} is not writable ({err.strerror or err}): {hint}") from None
    return path


def start(args: argparse.Namespace) -> Any:
    """Before the data: results folder checked, threads set, everything seeded; returns the device."""
    check_results_path(args.results_path)
    set_threads(args.num_threads)
    set_seed(args.seed)
    return get_device(args.device)


def criterion() -> Any:
    """The loss of every training script: cross-entropy of the logits (the mean over the batch)."""
    return torch.nn.CrossEntropyLoss()



def fit(model: Any, loaders: Sequence[Any], args: argparse.Namespace, device: Any,
        grad_clip: float | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Train ``model`` with Adam on its trainable parameters, then measure the final weights.

    ``loaders`` = (train, validation, test). Returns ``train_test.train``'s history and the RunRecord
    fields it measured: validation and test loss and accuracy, device, threads, options.
    """
    from train_test import test, train  # a student module: imported only to train, not to read records

    train_loader, val_loader, test_loader = loaders
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(trainable, lr=args.learning_rate)
    loss_fn = criterion()
    progress = not args.no_progress
    history = train(model, train_loader, val_loader, optimizer, loss_fn, args.num_epochs, device,
                    grad_clip=grad_clip, restore_best=args.restore_best, progress=progress)
    val_loss, val_accuracy = test(model, val_loader, loss_fn, device, "validation set", progress)
    test_loss, test_accuracy = test(model, test_loader, loss_fn, device, "test set", progress)
    return history, {
        "val_loss": val_loss, "val_accuracy": val_accuracy, "test_loss": test_loss, "test_accuracy": test_accuracy,
        "device": str(device), "num_threads": torch.get_num_threads(), "args": vars(args),
    }


# --- the run record -----------------------------------------------------------------------------------
@dataclasses.dataclass
class RunRecord:
    """``results.json`` of one training run (schema version ``SCHEMA_VERSION``): fixed keys, fixed units.

    Accuracies are fractions in [0, 1]; losses are the mean cross-entropy (nats); times are seconds of
    wall-clock time. ``val_*`` is None without a validation set; ``min/max_seq_length`` and
    ``dataset_length`` are None for MNIST. ``extras`` holds anything a script also wants to keep; no
    reader relies on it.
    """

    dataset: str  # "mnist" or "imdb"
    model_type: str  # "cnn", "manual_cnn", "rnn", "lstm" or "transformer"
    timestamp: str  # when the run finished, ISO 8601 local time, e.g. "2026-12-02T07:30:05"
    run_dir: str  # the run folder
    num_epochs: int  # epochs trained
    dataset_length: int | None  # at most this many examples per split (a quick check), None = all data
    min_seq_length: int | None  # IMDB: reviews with fewer words were dropped
    max_seq_length: int | None  # IMDB: reviews cut to this many words
    num_train: int  # examples in each split
    num_val: int
    num_test: int
    train_loss: float  # mean over the last epoch, while the weights changed
    train_accuracy: float
    val_loss: float | None  # of the final weights
    val_accuracy: float | None
    test_loss: float  # of the final weights
    test_accuracy: float
    best_epoch: int | None  # the epoch whose weights were restored (--restore_best), else None
    seconds_per_epoch: float  # mean time of one training epoch (with its validation pass)
    train_seconds: float  # all epochs
    wall_seconds: float  # the run from its start to saving: data, training, testing
    device: str
    num_threads: int  # torch's CPU threads
    config: dict[str, Any]  # the model's constructor arguments (ModelConfig.to_dict())
    args: dict[str, Any]  # the command-line options
    extras: dict[str, Any] = dataclasses.field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    @property
    def is_full_run(self) -> bool:
        """A run of the handout's length on all the data (not a quick check): the only kind the write-up shows."""
        return is_full_run(self.num_epochs, self.dataset_length)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def save(self, path: str | os.PathLike) -> None:
        """Write the record as JSON to ``path`` (atomically)."""
        with atomic_write(path) as tmp:
            tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def from_dict(cls, values: Any, source: str = "the record") -> RunRecord:
        """Check ``values`` against the schema (keys, version, types); ``RecordError`` names the first problem."""
        if not isinstance(values, dict):
            raise RecordError(f"{source} is not a run record (a JSON object expected)")
        if values.get("schema_version") != SCHEMA_VERSION:
            version = f"schema version {values['schema_version']!r}" if "schema_version" in values else "no schema version"
            raise RecordError(f"{source} has {version}, this code reads {SCHEMA_VERSION} (written by another "
                              "version of the scripts: train again)")
        names = {f.name for f in dataclasses.fields(cls)}
        problems = [f"missing {', '.join(sorted(names - set(values)))}"] * bool(names - set(values))
        problems += [f"unknown {', '.join(sorted(set(values) - names))}"] * bool(set(values) - names)
        if problems:
            raise RecordError(f"{source} is not a run record ({'; '.join(problems)})")
        for name in names:
            if not _has_type(values[name], FIELD_TYPES[name]):
                raise RecordError(f"{source}: {name} should be {FIELD_TYPES[name]}, got {values[name]!r}")
        return cls(**values)


def _has_type(value: Any, annotation: str) -> bool:
    kinds = {"int": (int,), "float": (int, float), "str": (str,), "None": (type(None),),
             "dict[str, Any]": (dict,)}
    allowed = tuple(t for part in annotation.split(" | ") for t in kinds[part])
    return isinstance(value, allowed) and not (isinstance(value, bool) and bool not in allowed)


#: field -> its annotation as text ("int | None"), used to check and to parse the CSV summary.
FIELD_TYPES: dict[str, str] = {f.name: str(f.type) for f in dataclasses.fields(RunRecord)}


def is_full_run(num_epochs: int, dataset_length: int | None) -> bool:
    return num_epochs >= HANDOUT_NUM_EPOCHS and dataset_length is None


def load_record(path: str | os.PathLike) -> RunRecord:
    """The ``RunRecord`` in ``path`` (a results.json); ``RecordError`` (one line) if it is not one."""
    path = Path(path)
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RecordError(f"cannot read {path}: {err}") from None
    return RunRecord.from_dict(values, str(path))


def _metrics_csv(history: Mapping[str, Any]) -> str:
    columns = ["epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "epoch_seconds"]
    columns = [c for c in columns if len(history.get(c, [])) == len(history["epoch"])]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(zip(*(history[c] for c in columns)))
    return out.getvalue()


def finish_run(
    *,
    results_path: str | os.PathLike,
    dataset: str,
    model_type: str,
    model: Any,
    config: ModelConfig,
    history: Mapping[str, Any],
    record: Mapping[str, Any],
    checkpoint_extras: Mapping[str, Any] | None = None,
    figures: Mapping[str, Callable[[Path], object]] | None = None,
) -> tuple[Path, RunRecord]:
    """Save a finished run; returns its folder and its ``RunRecord``.

    ``record`` holds the RunRecord fields only the script knows (test metrics, sizes, settings...);
    this fills in the rest from ``history`` (``train_test.train``'s) and the run folder. ``figures``
    maps a file name to a function that draws it into the path it is given. Every file is written
    atomically, ``results.json`` last; then the folder loses its ``.incomplete`` suffix. Interrupted
    (Ctrl-C) or failing (a full disk), it raises ``UserError`` naming what it kept.
    """
    run_dir = make_run_dir(results_path, dataset, model_type)
    final_dir = run_dir.with_name(run_dir.name.removesuffix(INCOMPLETE_SUFFIX))
    epoch_seconds = list(history["epoch_seconds"])
    full = {
        "dataset": dataset, "model_type": model_type, "run_dir": str(final_dir),
        "num_epochs": len(history["epoch"]), "best_epoch": history.get("best_epoch"),
        "train_loss": history["train_loss"][-1], "train_accuracy": history["train_accuracy"][-1],
        "seconds_per_epoch": sum(epoch_seconds) / max(len(epoch_seconds), 1), "train_seconds": sum(epoch_seconds),
        "config": config.to_dict(), "dataset_length": None, "min_seq_length": None, "max_seq_length": None,
        **record,
    }
    steps: list[tuple[str, Callable[[Path], object]]] = [  # (what it writes, how, given the run folder)
        ("model.pt", lambda folder: save_checkpoint(folder / "model.pt", model, model_type, config,
                                                    **(checkpoint_extras or {}))),
        ("loss.png, accuracy.png", lambda folder: plot_history(history, folder)),
        *((name, lambda folder, name=name, draw=draw: _write(folder / name, draw))
          for name, draw in (figures or {}).items()),
        (METRICS_FILE, lambda folder: _write(folder / METRICS_FILE,
                                             lambda tmp: tmp.write_text(_metrics_csv(history), encoding="utf-8"))),
    ]
    kept: list[str] = []
    try:
        for name, write in steps:
            write(run_dir)
            kept.append(name)
        result = RunRecord(timestamp=datetime.now().isoformat(timespec="seconds"), **full)
        result.save(run_dir / RESULTS_FILE)
        os.replace(run_dir, final_dir)
    except (OSError, UserError, KeyboardInterrupt) as err:
        what = "interrupted" if isinstance(err, KeyboardInterrupt) else f"failed ({err})"
        if not kept:
            _remove_empty(run_dir)
            raise UserError(f"saving the run {what}; nothing was kept") from None
        raise UserError(f"saving the run {what}: kept {', '.join(kept)} in {run_dir} (no {RESULTS_FILE}: "
                        "the write-up and --summary skip it)") from None
    return final_dir, result


def _write(path: Path, draw: Callable[[Path], object]) -> None:
    with atomic_write(path) as tmp:
        draw(tmp)


def _remove_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass


# --- the summary of IMDB runs (results/imdb_summary.csv) ---------------------------------------------
#: One row per IMDB run: these RunRecord fields, in this order (header row = these names).
SUMMARY_COLUMNS: tuple[str, ...] = (
    "schema_version", "timestamp", "model_type", "min_seq_length", "max_seq_length", "num_epochs",
    "dataset_length", "test_accuracy", "val_accuracy", "seconds_per_epoch", "num_train", "num_test", "run_dir",
)


def _parse_cell(text: str, annotation: str) -> Any:
    if text == "" and "None" in annotation:
        return None
    if annotation.startswith("int"):
        return int(text)
    if annotation.startswith("float"):
        value = float(text)
        if not math.isfinite(value):
            raise ValueError(text)
        return value
    return text


def _read_summary_text(path: Path) -> tuple[list[str], list[dict[str, Any]], list[int]]:
    """(raw good lines, parsed rows, numbers of bad lines); ``RecordError`` for a foreign header."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise RecordError(f"cannot read {path}: {err}") from None
    lines = text.splitlines()
    hint = f"rename it (e.g. to {path.stem}.old.csv) and train again, or pass another --results_path"
    if not lines or lines[0].split(",") != list(SUMMARY_COLUMNS):
        raise RecordError(f"{path} is not a summary of this schema (version {SCHEMA_VERSION}): {hint}")
    good, rows, bad = [], [], []
    for number, line in enumerate(lines[1:], start=2):
        cells = next(csv.reader([line]), [])
        try:
            if len(cells) != len(SUMMARY_COLUMNS) or (number == len(lines) and not text.endswith("\n")):
                raise ValueError("cut off")
            row = {c: _parse_cell(v, FIELD_TYPES[c]) for c, v in zip(SUMMARY_COLUMNS, cells)}
            if row["schema_version"] != SCHEMA_VERSION:
                raise ValueError("other schema")
        except ValueError:
            bad.append(number)
            continue
        good.append(line)
        rows.append(row)
    return good, rows, bad


def _warn_bad_lines(path: Path, bad: Sequence[int]) -> None:
    if bad:
        print(f"warning: skipped {len(bad)} unreadable row(s) of {path} (line {', '.join(map(str, bad))}: "
              "cut off or edited by hand)", file=sys.stderr)


def read_summary(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The rows of the summary CSV, typed as the RunRecord fields; [] when there is no file.

    A foreign file (other columns) raises ``RecordError``; unreadable rows (cut off, edited) are skipped
    with one warning line on stderr.
    """
    path = Path(path)
    if not path.is_file():
        return []
    _, rows, bad = _read_summary_text(path)
    _warn_bad_lines(path, bad)
    return rows


def check_summary(path: str | os.PathLike) -> None:
    """Before training: a foreign summary file would only fail at the end, so fail now (one line)."""
    if Path(path).is_file():
        _read_summary_text(Path(path))


def append_summary(path: str | os.PathLike, record: RunRecord) -> None:
    """Add ``record`` as a row of the summary CSV, atomically: the file is rewritten whole and renamed.

    Unreadable rows of the old file are dropped (with a warning); a foreign file raises ``RecordError``.
    """
    path = Path(path)
    good: list[str] = []
    if path.is_file():
        good, _, bad = _read_summary_text(path)
        _warn_bad_lines(path, bad)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    values = record.to_dict()
    writer.writerow(["" if values[c] is None else values[c] for c in SUMMARY_COLUMNS])
    with atomic_write(path) as tmp:
        tmp.write_text("\n".join([",".join(SUMMARY_COLUMNS), *good]) + "\n" + out.getvalue(), encoding="utf-8")


# --- benchmark files ----------------------------------------------------------------------------------
#: benchmark_conv2d.py's CSV: one row per batch size; ``pass`` is "forward" or "forward+backward";
#: times are medians in milliseconds, ``*_vs_*`` ratios of times. Forward and forward+backward go to
#: separate files (``conv_benchmark_file``); 1(a)iii is about the forward pass.
CONV_BENCHMARK_COLUMNS: tuple[str, ...] = (
    "pass", "batch_size", "naive_ms", "faster_ms", "torch_ms", "faster_vs_naive", "torch_vs_naive",
    "torch_vs_faster", "clock", "threads",
)
#: benchmark_rnn.py's CSV: one row per implementation; times in milliseconds.
RNN_BENCHMARK_COLUMNS: tuple[str, ...] = (
    "model", "implementation", "batch_size", "seq_length", "input_size", "hidden_size", "output_size",
    "threads", "clock", "median_ms", "min_ms", "max_ms", "ratio_to_torch", "rounds", "load_1min_before",
    "load_1min_after",
)


def conv_benchmark_file(backward: bool) -> str:
    """``benchmark_conv2d.csv`` (forward pass, 1(a)iii) or ``benchmark_conv2d_backward.csv``."""
    return "benchmark_conv2d_backward.csv" if backward else "benchmark_conv2d.csv"


def read_benchmark(path: str | os.PathLike, columns: Sequence[str]) -> list[dict[str, str]]:
    """The rows of a benchmark CSV with exactly ``columns``; ``RecordError`` (one line) otherwise."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if tuple(reader.fieldnames or ()) != tuple(columns):
                raise RecordError(f"{path} does not have the columns this version writes: run the benchmark again")
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise RecordError(f"cannot read {path}: {err}") from None
    if any(None in row or None in row.values() for row in rows):
        raise RecordError(f"{path} is cut off or edited: run the benchmark again")
    return rows


def write_csv(path: str | os.PathLike, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> None:
    """Write ``rows`` (dicts with ``columns``) as a CSV file, atomically."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    with atomic_write(path) as tmp:
        tmp.write_text(out.getvalue(), encoding="utf-8")
