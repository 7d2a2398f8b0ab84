"""Batches of IMDB reviews of similar length, each padded only to its own longest review.

``TextClassificationDataset`` left-pads every review to ``max_seq_length`` (PAD = 0; a real word is
never 0). The median short review has about 90 words, so most of a (32, 200) batch is padding that the
RNN, the LSTM and the Transformer still process. The loaders here cut that work:

- **training** (``BucketBatchSampler``): every epoch, shuffle the reviews, cut the order into buckets of
  ``bucket_batches * batch_size`` reviews, sort each bucket by length (ties stay in random order), cut it
  into batches of ``batch_size`` (one shorter batch per bucket at most) and shuffle the order of all the
  batches. Every review is seen exactly once per epoch; reproducible from ``seed``.
- **evaluation** (``length_batches``): reviews grouped by their exact length, up to ``eval_batch_size``
  per batch, so a review is evaluated with no padding at all: its logits are the same as when it is
  evaluated alone, whatever the batch size and whichever reviews share its batch.
- every batch is **cropped** (``crop``): the leading columns that are PAD in every row are dropped, so a
  batch is as wide as its longest review. The reviews are the same ones as before (their first
  ``max_seq_length`` words, left-padded); only the amount of leading padding shrinks.

Cropping is not free of consequences: the models' outputs depend on the leading padding (the RNN and LSTM
biases move the hidden state during PAD steps, and the Transformer's positional encoding numbers the
columns, so a review's words get other positions). Training and evaluation therefore use the same
convention (as little padding as possible); ``bucketing=False`` restores the fixed-width batches of
``utils.tensor_loader`` exactly (``train_imdb.py --no_bucketing``).

Not a student module: shipped as is.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import torch
from torch.utils.data import DataLoader, Dataset, Sampler, TensorDataset

from utils import UserError, tensor_loader

#: The padding id of ``data.BOWTokenizer`` (kept here so that this module does not import a student file).
PAD = 0
#: Default number of batches per bucket: 50 * 32 = 1600 reviews, whose lengths differ by a few words
#: between neighbours after sorting, while the batches still mix reviews from all over the training set.
BUCKET_BATCHES = 50
#: Default evaluation batch size (forward passes only: larger batches, fewer Python steps).
EVAL_BATCH_SIZE = 256
#: At most this many batch * length**2 cells per evaluation batch: the Transformer's attention scores are
#: (B, heads, T, T), so 256 reviews of 400 words would need 1.3 GB per score tensor (a long run peaked at
#: 3.8 GB of memory); with this cap a batch of 400-word reviews holds 26 (about 130 MB per score tensor).
EVAL_MAX_CELLS = 2**22


class PaddedReviews(Protocol):
    """What the loaders need of a dataset: ``TextClassificationDataset`` has both attributes."""

    sequences: torch.Tensor  # (N, T) int64, left-padded with PAD
    labels: torch.Tensor  # (N,) int64


def sequence_lengths(sequences: torch.Tensor) -> torch.Tensor:
    """Number of real (non-PAD) tokens of each left-padded sequence.

    Shape:
        - sequences: (N, T) int64
        - returns: (N,) int64
    """
    if sequences.dim() != 2:
        raise ValueError(f"expected padded sequences of shape (N, T), got {tuple(sequences.shape)}")
    return (sequences != PAD).sum(dim=1)


def crop(sequences: torch.Tensor) -> torch.Tensor:
    """Drop the leading columns that are PAD in every row (left padding): (B, T) -> (B, T').

    T' is the length of the longest sequence in the batch (at least 1). Every real token is kept, and
    the last column, the one the models classify, stays the last. Returns a view when nothing to drop.
    """
    width = max(int(sequence_lengths(sequences).max()), 1) if len(sequences) else sequences.shape[1]
    return sequences[:, sequences.shape[1] - width:]


class CroppedBatches(Dataset):
    """Indexed with a LIST of indices (one batch): returns ``(crop(sequences[indices]), labels[indices])``.

    Used with ``DataLoader(..., batch_size=None)`` and a sampler that yields lists, as ``utils.tensor_loader``
    does, so a batch is fetched with one indexing operation.
    """

    def __init__(self, sequences: torch.Tensor, labels: torch.Tensor) -> None:
        if len(sequences) != len(labels):
            raise ValueError(f"{len(sequences)} sequences but {len(labels)} labels")
        self.sequences, self.labels = sequences, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.as_tensor(indices, dtype=torch.long)
        return crop(self.sequences[index]), self.labels[index]


class BucketBatchSampler(Sampler[list[int]]):
    """Training batches of reviews of similar length; each epoch a new, seeded order.

    Each epoch: a random permutation of the reviews, cut into buckets of ``bucket_batches * batch_size``;
    each bucket sorted by length (a stable sort, so reviews of equal length stay in random order) and cut
    into batches of ``batch_size`` (the last batch of a bucket may be shorter); then the order of all the
    batches is shuffled. Every index appears exactly once per epoch.

    Args:
        lengths: (N,) length of each review (``sequence_lengths``).
        batch_size: reviews per batch.
        seed: seed of the generator; two samplers with the same arguments yield the same epochs.
        bucket_batches: batches per bucket (1 = no sorting beyond the batch; N / batch_size or more = the
            whole epoch sorted at once).
    """

    def __init__(self, lengths: torch.Tensor, batch_size: int, seed: int = 0,
                 bucket_batches: int = BUCKET_BATCHES) -> None:
        if batch_size < 1:
            raise UserError(f"batch size must be at least 1, got {batch_size}")
        if bucket_batches < 1:
            raise UserError(f"batches per bucket must be at least 1, got {bucket_batches}")
        self.lengths = torch.as_tensor(lengths, dtype=torch.long)
        self.batch_size = batch_size
        self.bucket_size = batch_size * bucket_batches
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        n, size = len(self.lengths), self.bucket_size
        full, rest = divmod(n, size)
        return full * -(-size // self.batch_size) + -(-rest // self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        order = torch.randperm(len(self.lengths), generator=self.generator)
        batches: list[torch.Tensor] = []
        for bucket in order.split(self.bucket_size):
            bucket = bucket[torch.argsort(self.lengths[bucket], stable=True)]
            batches.extend(bucket.split(self.batch_size))
        for i in torch.randperm(len(batches), generator=self.generator).tolist():
            yield batches[i].tolist()


def length_batches(lengths: torch.Tensor, max_batch_size: int, max_cells: int = EVAL_MAX_CELLS) -> list[list[int]]:
    """Evaluation batches: indices grouped by exact length T (ascending), at most ``max_batch_size`` each
    and at most ``max_cells // T**2`` (at least 1), which bounds the memory of attention's (T, T) scores.

    Within a length the indices keep their dataset order; the result is deterministic.
    """
    if max_batch_size < 1:
        raise UserError(f"evaluation batch size must be at least 1, got {max_batch_size}")
    lengths = torch.as_tensor(lengths, dtype=torch.long)
    order = torch.argsort(lengths, stable=True)
    _, counts = torch.unique_consecutive(lengths[order], return_counts=True)
    batches: list[list[int]] = []
    for group in order.split(counts.tolist()):
        length = int(lengths[group[0]])
        size = max(1, min(max_batch_size, max_cells // max(1, length * length)))
        batches.extend(chunk.tolist() for chunk in group.split(size))
    return batches


def bucketed_loader(dataset: PaddedReviews, batch_size: int, seed: int = 0,
                    bucket_batches: int = BUCKET_BATCHES) -> DataLoader:
    """Training loader: ``BucketBatchSampler`` batches, each cropped to its longest review."""
    sampler = BucketBatchSampler(sequence_lengths(dataset.sequences), batch_size, seed, bucket_batches)
    return DataLoader(CroppedBatches(dataset.sequences, dataset.labels), sampler=sampler, batch_size=None)


def eval_loader(dataset: PaddedReviews, eval_batch_size: int = EVAL_BATCH_SIZE) -> DataLoader:
    """Evaluation loader: reviews of equal length together (``length_batches``), no padding left."""
    batches = length_batches(sequence_lengths(dataset.sequences), eval_batch_size)
    return DataLoader(CroppedBatches(dataset.sequences, dataset.labels), sampler=batches, batch_size=None)


def make_imdb_loaders(
    train_set: PaddedReviews,
    val_set: PaddedReviews,
    test_set: PaddedReviews,
    batch_size: int,
    seed: int,
    bucketing: bool = True,
    eval_batch_size: int = EVAL_BATCH_SIZE,
    bucket_batches: int = BUCKET_BATCHES,
) -> tuple[DataLoader, DataLoader, DataLoader]:
    """The ``(train, validation, test)`` loaders of ``train_imdb.py``; batches are ``(tokens, labels)``.

    With ``bucketing`` (the default): ``bucketed_loader`` for training, ``eval_loader`` for validation and
    test. Without: fixed-width batches exactly as before, ``utils.tensor_loader`` over the padded tensors
    (training shuffled with ``seed``, evaluation in dataset order, ``eval_batch_size`` per batch, at most
    ``EVAL_MAX_CELLS // width**2``).
    """
    if not bucketing:
        width = int(train_set.sequences.shape[1])
        eval_size = max(1, min(eval_batch_size, EVAL_MAX_CELLS // max(1, width * width)))  # memory, as in length_batches
        return (
            tensor_loader(TensorDataset(train_set.sequences, train_set.labels), batch_size, shuffle=True,
                          seed=seed),
            tensor_loader(TensorDataset(val_set.sequences, val_set.labels), eval_size),
            tensor_loader(TensorDataset(test_set.sequences, test_set.labels), eval_size),
        )
    return (bucketed_loader(train_set, batch_size, seed, bucket_batches),
            eval_loader(val_set, eval_batch_size), eval_loader(test_set, eval_batch_size))
