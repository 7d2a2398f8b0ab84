"""Training and evaluation loops shared by the MNIST (Problem 1) and IMDB (Problems 2, 3) scripts.

Yours to write: ``count_correct`` and ``train_step`` (handout 1(b)ii), ``last_time_step`` (handout 2(a)iv).

Every model here is a classifier. A CNN returns logits of shape (B, C) for a batch of images;
a sequence model (RNN, LSTM, Transformer) returns logits at every time step, (B, T, C), and the
prediction for the whole sequence is read at the last time step (``last_time_step``).

Losses are means over examples and accuracies are fractions in [0, 1]. Per-epoch numbers are
weighted by batch size, so a smaller last batch counts for exactly what it holds.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm


def last_time_step(outputs: torch.Tensor) -> torch.Tensor:
    """The logits the classifier decides on: those of the last time step of a sequence model.

    Handout 2(a)iv: the RNN has read the whole review only after its last token, so its output
    there is the prediction for the review.

    Shape:
        - outputs: (B, T, C) from a sequence model, or (B, C) from a model without time steps.
        - returns: (B, C); a (B, C) input is returned unchanged.
    """
    if outputs.dim() == 2:  # a CNN's logits: nothing to select
        return outputs
    if outputs.dim() != 3:
        raise ValueError(f"expected logits of shape (B, C) or (B, T, C), got {tuple(outputs.shape)}")
    # BEGIN SOLUTION select the logits at the last time step: (B, T, C) -> (B, C)
    return outputs[:, -1, :]
    # END SOLUTION


def count_correct(logits: torch.Tensor, labels: torch.Tensor) -> int:
    """How many predictions (the class with the largest logit) equal the labels (handout 1(b)ii).

    Returns a Python ``int``.

    Shape:
        - logits: (B, C)
        - labels: (B,) class indices
    """
    # Hint: torch.argmax over the class dimension; compare with the labels; count the matches.
    # BEGIN SOLUTION count the predictions (argmax over the classes) that equal the labels, as an int
    return int((logits.argmax(dim=1) == labels).sum().item())
    # END SOLUTION


def train_step(
    model: nn.Module,
    inputs: torch.Tensor,
    labels: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    criterion: nn.Module,
    grad_clip: float | None = None,
) -> tuple[float, int]:
    """One optimizer step on one batch (handout 1(b)ii); returns ``(mean loss of the batch, number correct)``.

    Both are measured on the forward pass of this step, before the weights change.

    Args:
        model: returns logits (B, C) or (B, T, C); see ``last_time_step``.
        inputs, labels: one batch, already on the model's device.
        optimizer: updates the model's parameters.
        criterion: a loss with ``reduction="mean"``, e.g. ``nn.CrossEntropyLoss()``.
        grad_clip: if given, rescale the gradients so that their total norm is at most this
            (``torch.nn.utils.clip_grad_norm_``) before the step; None: no clipping.
    """
    # Steps: clear the old gradients, forward pass, loss on the last time step's logits,
    # backward pass, optional clipping, optimizer step. Name the logits (B, C) `logits` and the
    # batch's loss (a scalar tensor) `loss`: the return line below uses them.
    # BEGIN SOLUTION zero the gradients, compute the logits and the loss, backpropagate, (clip,) step
    optimizer.zero_grad()
    logits = last_time_step(model(inputs))
    loss = criterion(logits, labels)
    loss.backward()
    if grad_clip is not None:
        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    # END SOLUTION
    return loss.item(), count_correct(logits, labels)


def _batches(loader: Iterable, desc: str, progress: bool) -> tqdm:
    total = len(loader) if hasattr(loader, "__len__") else None
    return tqdm(loader, desc=desc, total=total, disable=not progress, leave=False, dynamic_ncols=True)


@torch.no_grad()
def test(
    model: nn.Module,
    loader: Iterable,
    criterion: nn.Module,
    device: torch.device | str,
    desc: str = "test",
    progress: bool = True,
) -> tuple[float, float]:
    """Evaluate ``model`` on every batch of ``loader``; returns ``(mean loss, accuracy in [0, 1])``.

    The mean is over examples (each batch's mean loss weighted by its size). The model is put in
    eval mode (dropout off) and no gradients are computed.
    """
    model.eval()
    total_loss, total_correct, total_count = 0.0, 0, 0
    bar = _batches(loader, desc, progress)
    for inputs, labels in bar:
        inputs, labels = inputs.to(device), labels.to(device)
        logits = last_time_step(model(inputs))
        batch_size = labels.shape[0]
        total_loss += criterion(logits, labels).item() * batch_size
        total_correct += count_correct(logits, labels)
        total_count += batch_size
        bar.set_postfix(
            loss=f"{total_loss / total_count:.4f}", acc=f"{total_correct / total_count:.4f}", refresh=False
        )
    if total_count == 0:
        raise ValueError(f"{desc}: the loader yielded no examples")
    return total_loss / total_count, total_correct / total_count


def train(
    model: nn.Module,
    train_loader: Iterable,
    val_loader: Iterable | None,
    optimizer: torch.optim.Optimizer,
    criterion: nn.Module,
    num_epochs: int,
    device: torch.device | str,
    *,
    grad_clip: float | None = None,
    restore_best: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Train for ``num_epochs`` epochs; after each, evaluate on ``val_loader`` (if given).

    Args:
        model: moved to ``device`` here.
        train_loader: yields ``(inputs, labels)`` batches, reshuffled each epoch.
        val_loader: validation batches, or ``None`` to skip validation.
        optimizer, criterion: see ``train_step``.
        num_epochs: passes over ``train_loader``.
        device: where the batches are moved to.
        grad_clip: maximum gradient norm (``None``: no clipping).
        restore_best: at the end, load the weights of the epoch with the highest validation
            accuracy (early stopping in hindsight). Selection uses the validation set only,
            never the test set. Off by default: the model keeps its last weights.
        progress: show tqdm bars with the running loss and accuracy.

    Returns:
        the history: per-epoch ``epoch``, ``train_loss``, ``train_accuracy`` (means over the
        epoch's steps, weighted by batch size), ``val_loss``, ``val_accuracy`` (after the epoch;
        empty without ``val_loader``), ``epoch_seconds``; per-step ``step_loss``;
        ``steps_per_epoch``; ``best_epoch`` (the restored epoch, or ``None``).
    """
    model.to(device)
    history: dict[str, Any] = {
        "epoch": [],
        "train_loss": [],
        "train_accuracy": [],
        "val_loss": [],
        "val_accuracy": [],
        "epoch_seconds": [],
        "step_loss": [],
        "steps_per_epoch": 0,
        "best_epoch": None,
    }
    best_accuracy, best_state = -1.0, None
    for epoch in range(1, num_epochs + 1):
        start = time.perf_counter()
        model.train()
        total_loss, total_correct, total_count, steps = 0.0, 0, 0, 0
        bar = _batches(train_loader, f"epoch {epoch}/{num_epochs}", progress)
        for inputs, labels in bar:
            inputs, labels = inputs.to(device), labels.to(device)
            loss, correct = train_step(model, inputs, labels, optimizer, criterion, grad_clip)
            batch_size = labels.shape[0]
            total_loss += loss * batch_size
            total_correct += correct
            total_count += batch_size
            steps += 1
            history["step_loss"].append(loss)
            bar.set_postfix(
                loss=f"{total_loss / total_count:.4f}",
                acc=f"{total_correct / total_count:.4f}",
                refresh=False,
            )
        if total_count == 0:
            raise ValueError("train: the training loader yielded no examples")
        history["epoch"].append(epoch)
        history["train_loss"].append(total_loss / total_count)
        history["train_accuracy"].append(total_correct / total_count)
        history["steps_per_epoch"] = steps
        summary = (
            f"epoch {epoch}/{num_epochs}: train loss {total_loss / total_count:.4f}, "
            f"accuracy {100 * total_correct / total_count:.2f}%"
        )
        if val_loader is not None:
            val_loss, val_accuracy = test(model, val_loader, criterion, device, "validate", progress)
            history["val_loss"].append(val_loss)
            history["val_accuracy"].append(val_accuracy)
            summary += f" | validation loss {val_loss:.4f}, accuracy {100 * val_accuracy:.2f}%"
            if restore_best and val_accuracy > best_accuracy:
                best_accuracy, history["best_epoch"] = val_accuracy, epoch
                best_state = copy.deepcopy(model.state_dict())
        history["epoch_seconds"].append(time.perf_counter() - start)
        if progress:
            tqdm.write(summary)
    if restore_best and best_state is not None:
        model.load_state_dict(best_state)
        if progress:
            tqdm.write(
                f"restored the weights of epoch {history['best_epoch']} "
                f"(best validation accuracy {100 * best_accuracy:.2f}%)"
            )
    return history
