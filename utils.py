"""Support code shared by the training scripts (not a student module).

Seeding, device choice, run folders, checkpoints (save, load, rebuild the model), plots of the
training history, the run's metrics files, a fast batch loader over in-memory tensors, and the
one-line error handling of the command-line scripts.

A training history (see ``train_test.train``) is a dict::

    {"epoch": [1, 2, ...],                      # per epoch
     "train_loss": [...], "train_accuracy": [...],
     "val_loss": [...], "val_accuracy": [...],  # empty lists when there is no validation set
     "epoch_seconds": [...],
     "step_loss": [...],                        # one training loss per optimizer step
     "steps_per_epoch": int,
     "best_epoch": int | None}                  # epoch whose weights were restored, if any
"""

from __future__ import annotations

import json
import os
import pickle
import random
import sys
import zipfile
from collections.abc import Callable
from datetime import datetime
from importlib import import_module
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler, TensorDataset


# --- errors a user can fix -------------------------------------------------------------------------
class UserError(Exception):
    """A mistake the user can fix (a missing file, a bad option): shown as one line, no traceback."""


class CheckpointError(UserError):
    """A checkpoint that is missing, unreadable or not of the expected kind."""


def run_script(main: Callable[[], object]) -> None:
    """Run a script's ``main()``: a ``UserError`` becomes ``error: <message>`` on stderr and exit status 1.

    Everything else (a bug) keeps its traceback. Ctrl-C exits with status 130 without a traceback.
    """
    try:
        main()
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        raise SystemExit(130) from None


# --- reproducibility and devices --------------------------------------------------------------------
def set_seed(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's random number generators (CPU and every GPU)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds CUDA and MPS


def get_device(name: str = "auto") -> torch.device:
    """The device to train on: ``"auto"`` picks CUDA, then Apple's MPS, then the CPU.

    Any other name (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``) is used as given; a device
    that is not available raises ``UserError``.
    """
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda: no CUDA GPU is available here; use --device auto or cpu")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise UserError("--device mps: Apple MPS is not available here; use --device auto or cpu")
    return device


# --- data loading --------------------------------------------------------------------------------------
def tensor_loader(
    dataset: TensorDataset, batch_size: int, shuffle: bool = False, seed: int | None = None
) -> DataLoader:
    """A ``DataLoader`` over in-memory tensors that fetches each batch with ONE indexing operation.

    The default ``DataLoader`` indexes a dataset item by item and stacks the items again, which is
    most of the time of an epoch for a model as small as the CNN. Here the sampler yields whole
    lists of indices and ``TensorDataset`` indexes all its tensors with them at once
    ("disable automatic batching", ``batch_size=None``, in the ``torch.utils.data`` docs). Each
    batch is ``(inputs, labels)`` exactly as with ``DataLoader(dataset, batch_size, shuffle)``.

    Args:
        dataset: a ``TensorDataset`` (or any dataset that accepts a list of indices).
        batch_size: examples per batch; the last batch may be smaller.
        shuffle: draw a new random order every epoch.
        seed: seed of the shuffling order (epoch after epoch reproducible); ``None`` draws one from
            torch's global generator.
    """
    if batch_size < 1:
        raise UserError(f"batch size must be at least 1, got {batch_size}")
    if shuffle:
        generator = torch.Generator()
        generator.manual_seed(int(torch.randint(2**62, ()).item()) if seed is None else seed)
        sampler = RandomSampler(dataset, generator=generator)
    else:
        sampler = SequentialSampler(dataset)
    return DataLoader(dataset, sampler=BatchSampler(sampler, batch_size, drop_last=False), batch_size=None)


# --- run folders -----------------------------------------------------------------------------------------
def make_run_dir(results_path: str | os.PathLike, dataset: str, model_type: str) -> Path:
    """Create and return ``<results_path>/<dataset>/<model_type>/<YYYYmmdd-HHMMSS>/``.

    Two runs started in the same second get ``-1``, ``-2``, ... appended instead of sharing a folder.
    """
    parent = Path(results_path) / dataset / model_type
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        for i in range(1000):
            run_dir = parent / (stamp if i == 0 else f"{stamp}-{i}")
            try:
                run_dir.mkdir()
                return run_dir
            except FileExistsError:
                continue
    except OSError as err:
        raise UserError(f"cannot create a run folder under {parent}: {err.strerror or err}") from None
    raise UserError(f"cannot create a run folder under {parent}: too many runs in the same second")


# --- checkpoints -------------------------------------------------------------------------------------------
#: model_type -> (module, class). Imported only when needed, so MNIST code never imports the IMDB models.
MODEL_REGISTRY: dict[str, tuple[str, str]] = {
    "cnn": ("cnn", "CNN"),
    "manual_cnn": ("cnn", "ManualCNN"),
    "rnn": ("rnn", "RNN"),
    "lstm": ("lstm", "LSTM"),
    "transformer": ("transformer", "Transformer"),
}


def build_model(model_type: str, config: dict[str, Any]) -> nn.Module:
    """A fresh model of registered type ``model_type``, built as ``Class(**config)``."""
    if model_type not in MODEL_REGISTRY:
        raise UserError(f"unknown model type {model_type!r}; expected one of {', '.join(MODEL_REGISTRY)}")
    module_name, class_name = MODEL_REGISTRY[model_type]
    model_class = getattr(import_module(module_name), class_name)
    return model_class(**config)


def save_checkpoint(
    path: str | os.PathLike, model: nn.Module, model_type: str, config: dict[str, Any], **extras: Any
) -> None:
    """Save ``{"model_type", "config", "state_dict", "extras"}`` to ``path``.

    ``config`` holds the constructor's keyword arguments (``build_model(model_type, config)``
    rebuilds the model). ``extras`` holds anything else needed later, e.g. a tokenizer's
    vocabulary or the test accuracy. Use plain Python values (str, int, float, bool, None, lists,
    dicts) and tensors, so that ``torch.load(..., weights_only=True)`` can read the file.
    """
    checkpoint = {
        "model_type": model_type,
        "config": dict(config),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "extras": extras,
    }
    torch.save(checkpoint, path)


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by ``save_checkpoint`` (``weights_only=True``: no code is executed).

    Raises ``CheckpointError`` (one line) when the file is missing, unreadable, or not such a checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"checkpoint not found: {path} (train a model first; scripts write <run folder>/model.pt)"
        )
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile,
            KeyError, IndexError, TypeError, AttributeError) as err:  # what torch's unpickler raises on junk
        # torch's own message is long and suggests weights_only=False, which would run code from the file
        raise CheckpointError(
            f"{path} is not a readable PyTorch checkpoint (corrupt, truncated, or not written by torch.save "
            f"with tensors and plain Python values only: {type(err).__name__})"
        ) from None
    missing = (
        [k for k in ("model_type", "config", "state_dict") if k not in checkpoint]
        if isinstance(checkpoint, dict)
        else ["model_type", "config", "state_dict"]
    )
    if missing:
        raise CheckpointError(
            f"{path} is not a checkpoint written by this project's scripts (missing {', '.join(missing)})"
        )
    checkpoint.setdefault("extras", {})
    return checkpoint


def load_model(
    path: str | os.PathLike,
    expected_types: tuple[str, ...] | None = None,
    map_location: str | torch.device = "cpu",
) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the model saved in checkpoint ``path``; returns ``(model in eval mode, checkpoint dict)``.

    ``expected_types`` (e.g. ``("cnn", "manual_cnn")``): any other model type raises ``CheckpointError``.
    """
    checkpoint = load_checkpoint(path, map_location)
    model_type = checkpoint["model_type"]
    if expected_types is not None and model_type not in expected_types:
        raise CheckpointError(
            f"{path} holds a {model_type!r} model; this script needs one of: {', '.join(expected_types)}"
        )
    if model_type not in MODEL_REGISTRY:
        raise CheckpointError(f"{path} holds an unknown model type {model_type!r}")
    model = build_model(model_type, checkpoint["config"])
    try:
        model.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as err:
        raise CheckpointError(
            f"{path}: the saved weights do not fit a {model_type!r} model built from the saved config "
            f"({str(err).strip().splitlines()[0]})"
        ) from None
    return model.eval(), checkpoint


# --- plots and metrics files ------------------------------------------------------------------------------
def plot_history(history: dict[str, Any], run_dir: str | os.PathLike) -> tuple[Path, Path]:
    """Write ``loss.png`` and ``accuracy.png`` into ``run_dir``; returns their paths.

    ``loss.png``: left, the training loss of every optimizer step (faint) and its moving average;
    right, the training and validation loss per epoch. ``accuracy.png``: training and validation
    accuracy per epoch. The per-epoch training values are averages over the epoch, while the
    weights were still changing; the validation values are measured after the epoch.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    run_dir = Path(run_dir)
    epochs = history["epoch"]
    has_val = len(history.get("val_loss", [])) == len(epochs) and len(epochs) > 0

    fig, (ax_step, ax_epoch) = plt.subplots(1, 2, figsize=(11, 4))
    steps = np.asarray(history["step_loss"], dtype=float)
    if len(steps):
        x = np.arange(1, len(steps) + 1)
        ax_step.plot(x, steps, color="tab:blue", alpha=0.25, linewidth=0.6, label="each step")
        window = max(1, min(len(steps) // 20, history.get("steps_per_epoch") or len(steps)))
        if window > 1:
            smooth = np.convolve(steps, np.ones(window) / window, mode="valid")
            ax_step.plot(x[window - 1 :], smooth, color="tab:blue", label=f"moving average ({window} steps)")
        ax_step.legend()
    ax_step.set(title="training loss per step", xlabel="optimizer step", ylabel="loss")
    ax_epoch.plot(epochs, history["train_loss"], "o-", label="train (mean over the epoch)")
    if has_val:
        ax_epoch.plot(epochs, history["val_loss"], "s-", label="validation (after the epoch)")
    ax_epoch.set(title="loss per epoch", xlabel="epoch", ylabel="loss")
    ax_epoch.legend()
    ax_epoch.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in (ax_step, ax_epoch):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    loss_path = run_dir / "loss.png"
    fig.savefig(loss_path, dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(epochs, [100 * a for a in history["train_accuracy"]], "o-", label="train (mean over the epoch)")
    if has_val:
        ax.plot(
            epochs, [100 * a for a in history["val_accuracy"]], "s-", label="validation (after the epoch)"
        )
    if history.get("best_epoch") is not None and has_val:
        best = history["best_epoch"]
        ax.axvline(best, color="gray", linestyle=":", label=f"restored weights (epoch {best})")
    ax.set(title="accuracy per epoch", xlabel="epoch", ylabel="accuracy (%)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    acc_path = run_dir / "accuracy.png"
    fig.savefig(acc_path, dpi=120)
    plt.close(fig)
    return loss_path, acc_path


def write_run_outputs(run_dir: str | os.PathLike, history: dict[str, Any], results: dict[str, Any]) -> None:
    """Write ``metrics.csv`` (one row per epoch) and ``results.json`` (``results`` as given) to ``run_dir``."""
    import pandas as pd

    run_dir = Path(run_dir)
    columns = ["epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "epoch_seconds"]
    n = len(history["epoch"])
    frame = pd.DataFrame({c: history[c] for c in columns if len(history.get(c, [])) == n})
    frame.to_csv(run_dir / "metrics.csv", index=False)
    (run_dir / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
