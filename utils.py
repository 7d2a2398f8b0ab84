"""Support code shared by the training scripts (not a student module).

Seeding, device choice, run folders, atomic file writes, typed model configurations and checkpoints
(save, load, rebuild the model), plots of the training history, a fast batch loader over in-memory
tensors, and the one-line error handling of the command-line scripts. The end of a training run (what
goes into the run folder, the results.json schema) is ``runs.py``.

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

import dataclasses
import errno
import os
import pickle
import random
import sys
import zipfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
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

    A starter TODO that stops the script (a ``NotImplementedError`` from a stub, or a ``name = None  # TODO``
    line that surfaces as a TypeError or AttributeError, see :func:`find_unfinished`) becomes ONE line
    naming the function to write and its handout part, exit status 1. Everything else (a bug) keeps its
    traceback. Ctrl-C exits with status 130 without a traceback. An int returned by ``main()`` is the
    exit status.
    """
    try:
        status = main()
    except UserError as err:
        # a UserError raised while handling a starter stub ("conv.py is not finished: ...") gets the same line
        todo = find_unfinished(err.__context__) if err.__context__ is not None else None
        _close_progress_bars()
        print(f"error: {todo.sentence() if todo else err}", file=sys.stderr)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        _close_progress_bars()
        print("interrupted", file=sys.stderr)
        raise SystemExit(130) from None
    except Exception as err:  # re-raised unless a starter TODO is behind it
        todo = find_unfinished(err)
        if todo is None:
            raise
        _close_progress_bars()
        print(f"error: {todo.sentence()}", file=sys.stderr)
        raise SystemExit(1) from None
    if isinstance(status, int) and not isinstance(status, bool) and status != 0:
        raise SystemExit(status)


def _close_progress_bars() -> None:
    """Remove the tqdm bars an error interrupted, so that the error is the only line left on a terminal."""
    tqdm = sys.modules.get("tqdm")
    for bar in list(getattr(getattr(tqdm, "tqdm", None), "_instances", ())):
        try:
            bar.leave = False
            bar.close()
        except Exception:  # a bar that cannot be closed is only cosmetic
            pass


@dataclasses.dataclass(frozen=True)
class Unfinished:
    """A starter TODO that stopped the code: the function to write, its handout part, what is left."""

    function: str  # "cnn.CNN.__init__"
    part: str | None  # the handout label, "1(b)i"; None outside the graded parts
    todo: str  # the stub's TODO text, or which "= None  # TODO" line is left
    stub: bool = True  # True: a NotImplementedError stub; False: a "= None  # TODO" line

    @property
    def name(self) -> str:
        """``"cnn.CNN.__init__ (1(b)i)"``."""
        return f"{self.function} ({self.part})" if self.part else self.function

    def tests(self) -> str | None:
        """The public test file of the function's module, if there is one (``tests/cnn_tests.py``)."""
        rel = f"tests/{self.function.split('.')[0]}_tests.py"
        return rel if (Path(__file__).resolve().parent / rel).is_file() else None

    def sentence(self) -> str:
        """One line for a script: what to write, where it is in the handout, how to check it."""
        part = f" (handout {self.part})" if self.part else ""
        state = "is not implemented yet" if self.stub else "is not finished"
        check = f'check it with "python -m pytest {self.tests()}", ' if self.tests() else ""
        return f"{self.function}{part} {state}: {self.todo}; write it, {check}then run this again"


def find_unfinished(error: BaseException) -> Unfinished | None:
    """The starter TODO behind ``error`` (or the exceptions it was raised from), or None for a real bug.

    Recognised: a ``NotImplementedError`` whose message is a starter stub's
    (``"cnn.CNN.__init__ (1(b)i): build the layers"``, see ``zip_assignment.TODO_MESSAGE``); a TypeError or
    AttributeError about ``None`` raised where a ``name = None  # TODO`` line of a student file still holds
    None (in the frame that failed), or raised on a line that calls a student function (or model) that
    still has such a line. Anything else is not recognised. Never raises.
    """
    try:
        from zip_assignment import STUDENT_FILES, TODO_LINE, parse_todo_message
    except ImportError:  # zip_assignment.py is not next to this file: nothing to compare with
        return None
    seen: set[int] = set()
    try:
        while error is not None and id(error) not in seen and len(seen) < 20:
            seen.add(id(error))
            if isinstance(error, NotImplementedError) and error.args and isinstance(error.args[0], str):
                parsed = parse_todo_message(error.args[0])
                if parsed is not None:
                    return Unfinished(*parsed)
            if isinstance(error, TypeError | AttributeError) and "None" in str(error):
                found = _todo_left_as_none(error, set(STUDENT_FILES), TODO_LINE)
                if found is not None:
                    return found
            error = error.__cause__ or error.__context__
    except Exception:  # an exception or object that fails when looked at (student code): not recognised
        return None
    return None


def _todo_left_as_none(error: BaseException, student_files: set[str], todo_line: Any) -> Unfinished | None:
    """A ``= None  # TODO`` line behind a TypeError/AttributeError about None (see :func:`find_unfinished`)."""
    import ast
    import inspect
    import linecache

    def todo_lines(code: Any) -> list[tuple[int, Any]]:
        """The ``= None  # TODO`` lines of a student function's own body: (line number, match)."""
        filename = code.co_filename
        if Path(filename).name not in student_files:
            return []
        rows = [row for _, _, row in code.co_lines() if row is not None]
        lines = linecache.getlines(filename)
        first, last = code.co_firstlineno, max(rows, default=code.co_firstlineno)
        return [(n, m) for n in range(first, min(last, len(lines)) + 1) if (m := todo_line.match(lines[n - 1]))]

    def unfinished(code: Any, rows: list[int], match: Any, why: str) -> Unfinished:
        function = f"{Path(code.co_filename).stem}.{getattr(code, 'co_qualname', code.co_name)}"
        line = linecache.getline(code.co_filename, rows[0]).strip()
        more = f" (and line{'s' * (len(rows) > 2)} {', '.join(map(str, rows[1:]))})" if len(rows) > 1 else ""
        return Unfinished(function, match["part"],
                          f'{Path(code.co_filename).name}:{rows[0]} is still "{line}"{more} ({why})', stub=False)

    def value(frame: Any, name: str) -> Any:
        head, *rest = name.split(".")
        obj = frame.f_locals.get(head, frame.f_globals.get(head, ...))
        for attr in rest:
            obj = getattr(obj, attr, ...)
        return obj

    why = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}".rstrip(": ")
    frames = []
    tb = error.__traceback__
    while tb is not None:
        frames.append((tb.tb_frame, tb.tb_lineno))
        tb = tb.tb_next
    # 1. A frame that failed while one of its own TODO names still holds None.
    for frame, _ in reversed(frames):
        left = [(row, match) for row, match in todo_lines(frame.f_code)
                if any(value(frame, n.strip()) is None for n in match["names"].split(","))]
        if left:
            return unfinished(frame.f_code, [row for row, _ in left], left[0][1], why)
    # 2. A line being run (innermost first: the None may have travelled into torch) calls a student function,
    #    or a model whose forward is one, that still has a TODO line.
    for frame, row in reversed(frames):
        try:
            tree = ast.parse(linecache.getline(frame.f_code.co_filename, row).strip())
        except SyntaxError:  # a statement over several lines: not looked into
            continue
        for func in (n.func for n in ast.walk(tree) if isinstance(n, ast.Call)):
            target = value(frame, ast.unparse(func)) if isinstance(func, ast.Name | ast.Attribute) else ...
            if isinstance(target, nn.Module):
                target = type(target).forward
            code = getattr(inspect.unwrap(getattr(target, "__func__", target)), "__code__", None) \
                if callable(target) else None
            left = todo_lines(code) if code is not None else []
            if left:
                return unfinished(code, [row for row, _ in left], left[0][1], f"it returned None: {why}")
    return None


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


# --- run folders and atomic writes ----------------------------------------------------------------------
#: Suffix of a run folder that is still being written (or was interrupted): it has no results.json.
INCOMPLETE_SUFFIX = ".incomplete"


def make_run_dir(results_path: str | os.PathLike, dataset: str, model_type: str) -> Path:
    """Create and return ``<results_path>/<dataset>/<model_type>/<YYYYmmdd-HHMMSS>.incomplete/``.

    The folder is marked incomplete until the run is saved (``runs.finish_run`` renames it to
    ``<YYYYmmdd-HHMMSS>``). Two runs started in the same second get ``-1``, ``-2``, ... appended.
    """
    parent = Path(results_path) / dataset / model_type
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        for i in range(1000):
            name = stamp if i == 0 else f"{stamp}-{i}"
            if (parent / name).exists():
                continue
            run_dir = parent / (name + INCOMPLETE_SUFFIX)
            try:
                run_dir.mkdir()
                return run_dir
            except FileExistsError:
                continue
    except OSError as err:
        raise UserError(f"cannot create a run folder under {parent}: {err.strerror or err}") from None
    raise UserError(f"cannot create a run folder under {parent}: too many runs in the same second")


@contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator[Path]:
    """Write ``path`` all at once: yields a temporary name next to it, renamed onto ``path`` at the end.

    If the block fails (an error, a full disk, Ctrl-C), the temporary file is removed and ``path`` is
    left as it was, so a file is never half-written. The temporary name keeps the suffix
    (``model.tmp1234.pt``), so writers that go by the suffix (matplotlib) still work. A full disk
    becomes a one-line ``UserError``.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        if isinstance(err, OSError) and err.errno == errno.ENOSPC:
            raise UserError(f"the disk is full: could not write {path}") from None
        raise


# --- checkpoints -------------------------------------------------------------------------------------------
_FIELD_TYPES: dict[str, tuple[type, ...]] = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,)}


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """A model's constructor arguments, typed: ``Model(**config)`` builds it (a config is a read-only mapping).

    Subclasses are frozen dataclasses whose fields are the constructor's keyword arguments
    (``imdb_config.RNNConfig``, ``CNNConfig``...). Checkpoints store ``config.to_dict()``;
    ``from_dict`` reads it back and rejects a config of another model in one line.
    """

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def keys(self) -> list[str]:  # with __getitem__: ``Model(**config)`` and ``config["hidden_size"]`` work
        return [f.name for f in dataclasses.fields(self)]

    def __getitem__(self, name: str) -> Any:
        if name not in self.keys():
            raise KeyError(name)
        return getattr(self, name)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> ModelConfig:
        """The config in ``values``; ``ValueError`` (one line) for unknown or missing keys or wrong types."""
        if not isinstance(values, Mapping):
            raise ValueError(f"a {cls.__name__} is a dict of constructor arguments, got {type(values).__name__}")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(fields))
        missing = sorted(n for n, f in fields.items() if n not in values and f.default is dataclasses.MISSING)
        if unknown or missing:
            problems = [f"{what} {', '.join(names)}" for what, names in (("unknown", unknown), ("missing", missing))
                        if names]
            raise ValueError(f"not a {cls.__name__} ({'; '.join(problems)})")
        for name, value in values.items():
            allowed = _FIELD_TYPES.get(str(fields[name].type), (object,))
            if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
                raise ValueError(f"{cls.__name__}.{name} must be {fields[name].type}, got {value!r}")
        return cls(**values)


@dataclasses.dataclass(frozen=True)
class CNNConfig(ModelConfig):
    """``cnn.CNN`` and ``cnn.ManualCNN``: MNIST digits, 28x28 images; ``conv`` "torch" or "faster"."""

    num_classes: int = 10
    input_size: int = 28
    conv: str = "torch"


#: model_type -> (module, class, config class). Imported only when needed, so MNIST code never imports
#: the IMDB models. The IMDB entries come from imdb_config.py (the one list of IMDB models).
MODEL_REGISTRY: dict[str, tuple[str, str, type[ModelConfig]]] = {
    "cnn": ("cnn", "CNN", CNNConfig),
    "manual_cnn": ("cnn", "ManualCNN", CNNConfig),
}


def _registry() -> dict[str, tuple[str, str, type[ModelConfig]]]:
    from imdb_config import MODEL_CLASSES, MODEL_CONFIGS

    imdb = {name: (*MODEL_CLASSES[name], type(config)) for name, config in MODEL_CONFIGS.items()}
    return {**MODEL_REGISTRY, **imdb}


def model_config(model_type: str, config: ModelConfig | Mapping[str, Any]) -> ModelConfig:
    """``config`` as the typed config of ``model_type`` (a dict is checked: ``ValueError`` if it does not fit)."""
    registry = _registry()
    if model_type not in registry:
        raise UserError(f"unknown model type {model_type!r}; expected one of {', '.join(registry)}")
    config_class = registry[model_type][2]
    if isinstance(config, config_class):
        return config
    return config_class.from_dict(config.to_dict() if isinstance(config, ModelConfig) else config)


def build_model(model_type: str, config: ModelConfig | Mapping[str, Any]) -> nn.Module:
    """A fresh model of registered type ``model_type``, built as ``Class(**config)``."""
    try:
        config = model_config(model_type, config)
    except ValueError as err:
        raise UserError(f"config does not fit a {model_type!r} model: {err}") from None
    module_name, class_name, _ = _registry()[model_type]
    model_class = getattr(import_module(module_name), class_name)
    return model_class(**config.to_dict())


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    model_type: str,
    config: ModelConfig | Mapping[str, Any],
    **extras: Any,
) -> None:
    """Save ``{"model_type", "config", "state_dict", "extras"}`` to ``path`` (atomically: never half a file).

    ``config`` holds the constructor's keyword arguments (``build_model(model_type, config)``
    rebuilds the model); it is stored as a plain dict. ``extras`` holds anything else needed later,
    e.g. a tokenizer's vocabulary or the test accuracy. Use plain Python values (str, int, float,
    bool, None, lists, dicts) and tensors, so that ``torch.load(..., weights_only=True)`` can read it.
    """
    checkpoint = {
        "model_type": model_type,
        "config": config.to_dict() if isinstance(config, ModelConfig) else dict(config),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "extras": extras,
    }
    with atomic_write(path) as tmp:
        torch.save(checkpoint, tmp)


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
    if model_type not in _registry():
        raise CheckpointError(f"{path} holds an unknown model type {model_type!r}")
    try:
        config = model_config(model_type, checkpoint["config"])
        model = build_model(model_type, config)
    except (ValueError, TypeError, RuntimeError) as err:
        raise CheckpointError(f"{path}: the saved config does not fit a {model_type!r} model "
                              f"({str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__})"
                              ) from None
    try:
        model.load_state_dict(checkpoint["state_dict"])
    except (RuntimeError, TypeError, AttributeError) as err:
        raise CheckpointError(
            f"{path}: the saved weights do not fit a {model_type!r} model built from the saved config "
            f"({str(err).strip().splitlines()[0]})"
        ) from None
    return model.eval(), checkpoint


# --- plots and metrics files ------------------------------------------------------------------------------
def save_figure(fig: Any, path: str | os.PathLike, dpi: int = 120) -> None:
    """Save a matplotlib figure to ``path`` atomically (never half a PNG), then close it."""
    import matplotlib.pyplot as plt

    try:
        with atomic_write(path) as tmp:
            fig.savefig(tmp, dpi=dpi)
    finally:
        plt.close(fig)


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
    save_figure(fig, loss_path)

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
    save_figure(fig, acc_path)
    return loss_path, acc_path
