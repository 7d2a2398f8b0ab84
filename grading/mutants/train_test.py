"""Mistakes in train_test.py: the last time step (2(a)iv) and the training step / bookkeeping (1(b)ii)."""

from __future__ import annotations

from grading.mutants import Mutant

COUNT = "return int((logits.argmax(dim=1) == labels).sum().item())"

MUTANTS: list[Mutant] = [
    Mutant("train_test.first_time_step", "last_time_step", "return outputs[:, -1, :]", "return outputs[:, 0, :]",
           "the first time step instead of the last (the RNN has read only one word there)"),
    Mutant("train_test.mean_over_time", "last_time_step", "return outputs[:, -1, :]",
           "return outputs.mean(dim=1)", "the logits averaged over all time steps"),
    Mutant("train_test.last_batch_element", "last_time_step", "return outputs[:, -1, :]",
           "return outputs[-1]", "outputs[-1]: the last element of the BATCH (all its time steps)"),
    Mutant("train_test.softmax_over_batch", "count_correct", COUNT,
           "return int((torch.softmax(logits, dim=0).argmax(dim=1) == labels).sum().item())",
           "softmax over the batch axis (dim=0) before taking the predicted class"),
    Mutant("train_test.accuracy_not_count", "count_correct", COUNT,
           "return (logits.argmax(dim=1) == labels).float().mean().item()",
           "count_correct returns the fraction correct, not the count (train/test divide again)"),
    Mutant("train_test.count_as_tensor", "count_correct", COUNT,
           "return (logits.argmax(dim=1) == labels).sum()",
           "count_correct returns a 0-d tensor, not a Python int"),
    Mutant("train_test.no_zero_grad", "train_step", """\
    optimizer.zero_grad()
""", "", "gradients never cleared: they accumulate over the steps"),
    Mutant("train_test.zero_grad_before_step", "train_step", """\
    optimizer.step()
""", """\
    optimizer.zero_grad()
    optimizer.step()
""", "the gradients cleared after backward but before the step: the weights never change"),
    Mutant("train_test.step_without_last_time_step", "train_step", "logits = last_time_step(model(inputs))",
           "logits = model(inputs)", "the training step feeds all time steps' logits (B, T, C) to the loss"),
    Mutant("train_test.grad_clip_ignored", "train_step", """\
    if grad_clip is not None:
        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
""", "", "grad_clip is accepted but the gradients are never clipped"),
    Mutant("train_test.clip_before_backward", "train_step", """\
    loss.backward()
    if grad_clip is not None:
        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
""", """\
    if grad_clip is not None:
        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    loss.backward()
""", "the gradients clipped before backward (the old, already cleared gradients), not the new ones"),
]
