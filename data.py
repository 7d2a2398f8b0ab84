"""Data loading for Problem Set 3: MNIST (Problem 1) and IMDB sentiment (Problems 2 and 3).

Yours to write (handout 2(a)iii, the text part): ``preprocess``, ``BOWTokenizer.fit`` and ``encode``,
``pad_and_truncate`` and the filtering in ``TextClassificationDataset``. The loaders are given.
"""

from __future__ import annotations

import gzip
import math
import os
import random
import re
import shutil
import string
import struct
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset

from utils import UserError, atomic_write, tensor_loader

# --- MNIST ---------------------------------------------------------------------------------------
#: The four MNIST files (LeCun et al., 1998), in <data_dir>/MNIST/raw/ as torchvision.datasets.MNIST expects.
MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
#: Where the MNIST files are on the course machines (the one-line error message points there).
MNIST_SHARED = "../shared/data/MNIST/raw"


def load_mnist_split(data_dir: str | os.PathLike = "data", train: bool = True, download: bool = False
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """The MNIST training (60k) or test (10k) images and labels, read by ``torchvision.datasets.MNIST``.

    The files are expected in ``<data_dir>/MNIST/raw/`` (the ``.gz`` files are decompressed there on
    first use). With ``download=True`` torchvision fetches any missing file and checks its md5.
    Missing or unreadable files raise ``UserError`` with a one-line message saying what to do.

    Returns:
        images: float32 (N, 1, 28, 28), values in [0, 1]
        labels: int64 (N,), digits 0-9
    """
    from torchvision.datasets import MNIST

    raw = Path(data_dir) / "MNIST" / "raw"
    names = [gz.removesuffix(".gz") for gz in MNIST_FILES]
    copy_again = f"on the course machines: cp {MNIST_SHARED}/*.gz {raw}/; see data/README.md"
    try:
        if download:
            _remove_incomplete_idx(raw, names)  # torchvision counts a half-decompressed file as present
            try:
                dataset = MNIST(data_dir, train=train, download=True)
            finally:
                _remove_incomplete_idx(raw, names)  # a failed download or decompression leaves no debris
        else:  # torchvision wants all four files decompressed, also to read only one split
            for name in names:
                path, gz = raw / name, raw / f"{name}.gz"
                if gz.is_file() and (not _idx_complete(path) or path.stat().st_mtime < gz.stat().st_mtime):
                    _decompress_idx(gz, path, copy_again)  # missing, damaged, or the .gz was copied again
                if not path.is_file():
                    raise UserError(
                        f"MNIST not found: put {', '.join(MNIST_FILES)} into {raw}/ (on the course machines: "
                        f"mkdir -p {raw} && cp {MNIST_SHARED}/*.gz {raw}/), or add --download"
                    )
                if not _idx_complete(path):
                    raise UserError(f"cannot load MNIST: {path} is damaged (truncated or not an IDX file); "
                                    f"delete it and copy {name}.gz again ({copy_again})")
            dataset = MNIST(data_dir, train=train, download=False)
    except UserError:
        raise
    except Exception as err:  # network errors, bad md5, truncated or corrupt files: one line, no traceback
        lines = [line.strip() for line in str(err).splitlines() if line.strip()] or [type(err).__name__]
        reason = lines[0] if len(lines) == 1 else f"{lines[0]} {lines[-1]}"  # torchvision: file ... last error
        action = ("check the network, or copy the four files there by hand" if download
                  else "delete the files and copy them again")
        raise UserError(f"cannot load MNIST from {raw}/ ({reason}); {action} ({copy_again})") from None
    images = dataset.data.unsqueeze(1).float().div_(255)
    return images, dataset.targets.long()


#: Bytes per item of each IDX data type (the third byte of the magic number).
_IDX_ITEM_BYTES = {0x08: 1, 0x09: 1, 0x0B: 2, 0x0C: 4, 0x0D: 4, 0x0E: 8}


def _idx_complete(path: Path) -> bool:
    """True if ``path`` is a whole IDX file: its size is what its header announces (False if missing)."""
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
            if len(magic) < 4 or magic[:2] != b"\0\0" or magic[2] not in _IDX_ITEM_BYTES or not 1 <= magic[3] <= 4:
                return False
            dims = struct.unpack(f">{magic[3]}I", f.read(4 * magic[3]))
        return path.stat().st_size == 4 * (1 + len(dims)) + math.prod(dims) * _IDX_ITEM_BYTES[magic[2]]
    except (OSError, struct.error):
        return False


def _decompress_idx(gz: Path, path: Path, copy_again: str) -> None:
    """Decompress ``gz`` into ``path`` all at once or not at all (``utils.atomic_write``)."""
    try:
        with atomic_write(path) as partial:
            with gzip.open(gz, "rb") as src, open(partial, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            if not _idx_complete(partial):
                raise UserError(f"cannot load MNIST: {gz} does not hold a whole IDX file (truncated?); "
                                f"copy it again ({copy_again})")
    except (OSError, EOFError, zlib.error) as err:  # not gzip (gzip.BadGzipFile is an OSError), truncated
        reason = getattr(err, "strerror", None) or str(err) or type(err).__name__
        raise UserError(f"cannot load MNIST: {gz} is damaged or unreadable ({reason}); copy it again "
                        f"({copy_again})") from None


def _remove_incomplete_idx(raw: Path, names: Iterable[str]) -> None:
    """Delete decompressed MNIST files that are not whole (left by an interrupted decompression)."""
    for name in names:
        path = raw / name
        if path.is_file() and not _idx_complete(path):
            path.unlink(missing_ok=True)


def mnist_datasets(data_dir: str | os.PathLike = "data", val_fraction: float = 0.2, seed: int = 0,
                   download: bool = False) -> tuple[TensorDataset, TensorDataset, TensorDataset]:
    """MNIST as in-memory ``TensorDataset``s ``(train, validation, test)`` of ``(image, label)``.

    The 60k training images are split at random (``seed``) into training and validation sets,
    48k/12k with the default ``val_fraction=0.2``; the test set is MNIST's own 10k. Images are
    float32 (1, 28, 28) in [0, 1]; labels int64. See ``load_mnist_split`` for the files.
    """
    if not 0 < val_fraction < 1:
        raise UserError(f"the validation fraction must be between 0 and 1, got {val_fraction}")
    images, labels = load_mnist_split(data_dir, train=True, download=download)
    test_images, test_labels = load_mnist_split(data_dir, train=False, download=download)
    num_val = round(len(labels) * val_fraction)
    if not 0 < num_val < len(labels):
        raise UserError(f"cannot split {len(labels)} training images with validation fraction {val_fraction}")
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    val, train = order[:num_val], order[num_val:]
    return (TensorDataset(images[train], labels[train]), TensorDataset(images[val], labels[val]),
            TensorDataset(test_images, test_labels))


def mnist_loaders(data_dir: str | os.PathLike = "data", batch_size: int = 32, seed: int = 0,
                  download: bool = False, val_fraction: float = 0.2, eval_batch_size: int = 1000
                  ) -> tuple[DataLoader, DataLoader, DataLoader]:
    """Batches of MNIST ``(images (B, 1, 28, 28), labels (B,))``: ``(train, validation, test)`` loaders.

    The training loader reshuffles every epoch (reproducibly, from ``seed``); validation and test
    go in order, in batches of ``eval_batch_size`` (the batch size does not change their metrics).
    """
    train, val, test = mnist_datasets(data_dir, val_fraction, seed, download)
    return (tensor_loader(train, batch_size, shuffle=True, seed=seed),
            tensor_loader(val, eval_batch_size), tensor_loader(test, eval_batch_size))


# --- IMDB ----------------------------------------------------------------------------------------
#: The official Large Movie Review Dataset (Maas et al., ACL 2011) and its md5 checksum.
IMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
IMDB_MD5 = "7c2ac02c03563afcf9b574c7e56c153a"
IMDB_CSV = "IMDB Dataset.csv"
#: Where the data lives on the course machines (the one-line error message points there).
IMDB_SHARED = "../shared/data/imdb"

#: A labelled review: (text, label) with label 1 = positive, 0 = negative.
Review = tuple[str, int]

#: English stopwords (the NLTK list, written without apostrophes because preprocessing deletes them
#: first: "you're" -> "youre"), without the negations -- "not", "no", "nor", "never", "cannot" and every
#: "n't" form ("don't" -> "dont", "didn't" -> "didnt", "isn't" -> "isnt", ...): those are kept.
STOPWORDS: frozenset[str] = frozenset(
    """
    i me my myself we our ours ourselves you youre youve youll youd your yours yourself yourselves
    he him his himself she shes her hers herself it its itself they them their theirs themselves
    what which who whom this that thatll these those am is are was were be been being have has had
    having do does did doing a an the and but if or because as until while of at by for with about
    against between into through during before after above below to from up down in out on off over
    under again further then once here there when where why how all any both each few more most other
    some such only own same so than too very s t can will just should shouldve now d ll m o re ve y ma
    """.split()
)


def preprocess(text: str) -> list[str]:
    """Turn a raw review into a list of words (handout 2(a)iii).

    In this order:

    1. lowercase everything;
    2. replace every HTML tag -- ``<`` up to the next ``>``, e.g. ``<br />`` -- by a space;
    3. delete apostrophes (``'``), so that ``"didn't"`` becomes ``"didnt"`` and ``"it's"`` becomes
       ``"its"``; replace every other ASCII punctuation character (``string.punctuation``) by a
       space, so that ``"great...fun"`` becomes ``"great fun"`` and ``"well-made"`` ``"well made"``;
    4. split on whitespace;
    5. drop the words in ``STOPWORDS`` (negations such as "not" and "didnt" are kept).

    Example: ``preprocess("This movie wasn't GOOD.<br /><br />Boring!")`` is
    ``["movie", "wasnt", "good", "boring"]``.

    Args:
        text: a review, possibly with HTML line breaks and punctuation.

    Returns:
        The remaining words, in their original order (possibly an empty list).
    """
    # Hints: str.lower, re.sub(r"<[^>]*>", ...), str.replace or str.translate with str.maketrans,
    # str.split() without arguments splits on any run of whitespace.
    # BEGIN SOLUTION lowercase, remove HTML tags and punctuation, split on whitespace, drop STOPWORDS
    text = re.sub(r"<[^>]*>", " ", text.lower())
    text = text.replace("'", "")
    text = text.translate(str.maketrans(string.punctuation, " " * len(string.punctuation)))
    return [word for word in text.split() if word not in STOPWORDS]
    # END SOLUTION


class BOWTokenizer:
    """A word-level vocabulary: the ``vocab_size - 2`` most frequent training words get ids (handout 2(a)iii).

    Ids: ``0`` = ``PAD`` (padding, ``"<pad>"``), ``1`` = ``UNK`` (any word not in the vocabulary,
    ``"<unk>"``), then ``2, 3, ...`` for the words from most to least frequent in the reviews the
    tokenizer was fitted on; words with the same count are ordered alphabetically, so fitting is
    deterministic. Fit it on the **training** reviews only: a word seen only in validation or test
    reviews must map to ``UNK``.

    Example::

        tok = BOWTokenizer(vocab_size=4).fit([["good", "film"], ["good", "bad"]])
        tok.encode(["good", "bad", "awful"])  # [2, 3, 1]: "good" (2x), "bad" < "film" (1x), UNK
    """

    PAD = 0
    UNK = 1
    SPECIAL_TOKENS = ("<pad>", "<unk>")

    def __init__(self, vocab_size: int = 10000) -> None:
        if vocab_size < len(self.SPECIAL_TOKENS):
            raise ValueError(f"vocab_size must be at least 2 (PAD and UNK), got {vocab_size}")
        self.vocab_size = vocab_size
        #: id -> word (``id_to_word[0] == "<pad>"``, ``id_to_word[1] == "<unk>"``).
        self.id_to_word: list[str] = list(self.SPECIAL_TOKENS)
        #: word -> id, for the words in the vocabulary (and the two special tokens).
        self.word_to_id: dict[str, int] = {w: i for i, w in enumerate(self.id_to_word)}

    def fit(self, documents: Iterable[list[str]]) -> BOWTokenizer:
        """Build the vocabulary from preprocessed training reviews (lists of words); returns ``self``.

        Sets ``id_to_word`` to the two special tokens followed by at most ``vocab_size - 2`` words,
        most frequent first -- frequency = total number of occurrences over all documents; ties in
        alphabetical order -- and ``word_to_id`` to its inverse (word -> id).
        """
        # Hints: collections.Counter counts words; sort by (-count, word).
        # BEGIN SOLUTION count the words, keep the vocab_size - 2 most frequent (ties: alphabetical)
        counts: Counter[str] = Counter()
        for words in documents:
            counts.update(words)
        for special in self.SPECIAL_TOKENS:  # never give a special token a second id
            counts.pop(special, None)
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        self.id_to_word = list(self.SPECIAL_TOKENS) + [w for w, _ in ranked[: self.vocab_size - 2]]
        self.word_to_id = {w: i for i, w in enumerate(self.id_to_word)}
        # END SOLUTION
        return self

    def encode(self, words: list[str]) -> list[int]:
        """Map words to ids; words outside the vocabulary become ``UNK`` (never dropped).

        Returns a list of ``len(words)`` ints.
        """
        # BEGIN SOLUTION map each word to its id, unknown words to UNK
        return [self.word_to_id.get(w, self.UNK) for w in words]
        # END SOLUTION

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Map ids back to words (``"<pad>"``, ``"<unk>"`` for the special ids)."""
        return [self.id_to_word[int(i)] for i in ids]

    def __len__(self) -> int:
        """Number of ids in use (``<= vocab_size``); the embedding table needs ``vocab_size`` rows."""
        return len(self.id_to_word)

    def to_dict(self) -> dict[str, object]:
        """Plain lists/ints only, so it can be stored in a checkpoint read with ``weights_only=True``."""
        return {"vocab_size": self.vocab_size, "id_to_word": list(self.id_to_word)}

    @classmethod
    def from_dict(cls, state: dict[str, object]) -> BOWTokenizer:
        """Rebuild a tokenizer saved with :meth:`to_dict`."""
        tokenizer = cls(int(state["vocab_size"]))
        tokenizer.id_to_word = [str(w) for w in state["id_to_word"]]
        tokenizer.word_to_id = {w: i for i, w in enumerate(tokenizer.id_to_word)}
        return tokenizer


def pad_and_truncate(ids: list[int], max_seq_length: int, pad: bool = True) -> list[int]:
    """Keep the FIRST ``max_seq_length`` ids; with ``pad``, LEFT-pad with ``PAD`` to that length (handout 2(a)iii).

    Left padding puts the padding before the review, so the last position -- the one whose output the
    RNN, LSTM and Transformer classify -- is always a real word.

    Example: ``pad_and_truncate([5, 6, 7], 5) == [0, 0, 5, 6, 7]``;
    ``pad_and_truncate([5, 6, 7], 2) == [5, 6]``; ``pad_and_truncate([5], 3, pad=False) == [5]``.
    """
    # BEGIN SOLUTION truncate to the first max_seq_length ids, then left-pad with PAD (if pad)
    ids = list(ids[:max_seq_length])
    if pad:
        ids = [BOWTokenizer.PAD] * (max_seq_length - len(ids)) + ids
    return ids
    # END SOLUTION


class TextClassificationDataset(Dataset):
    """Reviews as padded sequences of word ids (handout 2(a)iii).

    Steps: preprocess every review (:func:`preprocess`); if no ``tokenizer`` is given, fit a new
    :class:`BOWTokenizer` on **all** the reviews (so the vocabulary of the training reviews does not
    depend on ``min_seq_length`` or ``dataset_length``; pass the training set's tokenizer to the
    validation and test sets!); drop reviews with fewer than ``min_seq_length`` words (and always
    empty ones); keep the first ``dataset_length`` of the rest (the loaders below return shuffled
    reviews, so this is a random subset; for quick debugging); encode; keep the first
    ``max_seq_length`` ids and left-pad with ``PAD`` (:func:`pad_and_truncate`).

    Args:
        data: the reviews, a sequence of ``(text, label)`` pairs (label 1 = positive, 0 = negative),
            as returned by :func:`load_imdb`.
        tokenizer: a fitted tokenizer to reuse, or None to fit one on ``data``.
        vocab_size: size of a newly fitted tokenizer (ignored when ``tokenizer`` is given).
        min_seq_length: drop reviews shorter than this many words (after preprocessing).
        max_seq_length: keep at most this many words of each review (its beginning).
        dataset_length: keep at most this many reviews (None: all).
        pad: left-pad every sequence to ``max_seq_length`` (False: variable-length sequences).

    Attributes:
        tokenizer: the tokenizer used (fitted here or given).
        sequences: LongTensor (N, max_seq_length) if ``pad``, else a list of N 1-D LongTensors.
        labels: LongTensor (N,).

    Shape:
        - item: ``(ids, label)`` with ``ids`` a LongTensor (max_seq_length,) and ``label`` a 0-d
          LongTensor; a DataLoader batches them into (B, max_seq_length) and (B,).
    """

    def __init__(
        self,
        data: Sequence[Review],
        tokenizer: BOWTokenizer | None = None,
        vocab_size: int = 10000,
        min_seq_length: int = 0,
        max_seq_length: int = 200,
        dataset_length: int | None = None,
        pad: bool = True,
    ) -> None:
        if max_seq_length < 1:
            raise ValueError(f"max_seq_length must be at least 1, got {max_seq_length}")
        documents = [(preprocess(text), int(label)) for text, label in data]
        # Hints: only the training set fits a tokenizer, on all its reviews, before any is dropped. `kept` is
        # a list of (words, label) pairs; a review with no words left is always dropped (its padded sequence
        # would end in PAD).
        # BEGIN SOLUTION fit a tokenizer on all the reviews unless one is given; keep reviews of >= min_seq_length words (never empty ones), the first dataset_length of them
        if tokenizer is None:
            tokenizer = BOWTokenizer(vocab_size).fit(words for words, _ in documents)
        kept = [(words, label) for words, label in documents if words and len(words) >= min_seq_length]
        if dataset_length is not None:
            kept = kept[:dataset_length]
        # END SOLUTION
        self.tokenizer = tokenizer
        sequences = [pad_and_truncate(self.tokenizer.encode(words), max_seq_length, pad) for words, _ in kept]
        if pad:
            self.sequences = torch.tensor(sequences, dtype=torch.long).reshape(len(kept), max_seq_length)
        else:
            self.sequences = [torch.tensor(ids, dtype=torch.long) for ids in sequences]
        self.labels = torch.tensor([label for _, label in kept], dtype=torch.long)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.sequences[index], self.labels[index]


def load_imdb(
    data_dir: str | Path = "data/imdb", download: bool = False, val_fraction: float = 0.2, seed: int = 0
) -> tuple[list[Review], list[Review], list[Review]]:
    """Load IMDB as shuffled ``(train, val, test)`` lists of ``(text, label)``, label 1 = positive.

    Looks in ``data_dir`` for, in this order:

    1. the official layout ``aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt`` (25k + 25k reviews);
    2. the Kaggle file ``IMDB Dataset.csv`` (columns ``review,sentiment``; 50k reviews, no split:
       duplicate reviews are dropped, then a seeded 50/50 train/test split);
    3. with ``download``, fetches the official ``aclImdb_v1.tar.gz`` (md5-checked) into ``data_dir``.

    The training reviews are split ``1 - val_fraction`` / ``val_fraction`` into train and
    validation with ``seed``; every list is shuffled with ``seed``.

    Raises:
        UserError: nothing found (and no download possible); its message says where to put
            the data.
    """
    data_dir = Path(data_dir)
    if not (data_dir / "aclImdb").is_dir() and not (data_dir / IMDB_CSV).is_file() and download:
        _download_imdb(data_dir)
    if (data_dir / "aclImdb").is_dir():
        train, test = _read_aclimdb(data_dir / "aclImdb", "train"), _read_aclimdb(data_dir / "aclImdb", "test")
    elif (data_dir / IMDB_CSV).is_file():
        train, test = _read_imdb_csv(data_dir / IMDB_CSV, seed)
    else:
        raise UserError(
            f"no IMDB data in {data_dir}/: put aclImdb/ or '{IMDB_CSV}' there (on the course machines: "
            f"tar -xzf {IMDB_SHARED}/aclImdb_labelled.tar.gz -C {data_dir}), or pass --download (see data/README.md)"
        )
    rng = random.Random(seed)
    rng.shuffle(train)
    rng.shuffle(test)
    num_val = round(len(train) * val_fraction)
    return train[num_val:], train[:num_val], test


def _read_aclimdb(root: Path, split: str) -> list[Review]:
    """The reviews of ``root/<split>/{pos,neg}/*.txt`` in sorted file order (pos, then neg)."""
    reviews: list[Review] = []
    for folder, label in (("pos", 1), ("neg", 0)):
        directory = root / split / folder
        if not directory.is_dir():
            raise UserError(f"incomplete IMDB data: {directory}/ is missing (see data/README.md)")
        names = sorted(name for name in os.listdir(directory) if name.endswith(".txt"))
        if not names:  # one class only: a model would "learn" one answer and report a meaningless accuracy
            raise UserError(f"incomplete IMDB data: {directory}/ holds no reviews (*.txt), so {split} has "
                            f"one class only; extract aclImdb again (on the course machines: tar -xzf "
                            f"{IMDB_SHARED}/aclImdb_labelled.tar.gz -C {root.parent}; see data/README.md)")
        for name in names:
            with open(directory / name, encoding="utf-8", errors="replace") as f:
                reviews.append((f.read(), label))
    return reviews


def _read_imdb_csv(path: Path, seed: int) -> tuple[list[Review], list[Review]]:
    """``IMDB Dataset.csv`` split 50/50 (seeded) into train and test, duplicates dropped first."""
    import pandas as pd

    try:
        frame = pd.read_csv(path, usecols=["review", "sentiment"])
    except (ValueError, pd.errors.ParserError) as error:
        raise UserError(f"{path} is not the IMDB CSV (columns review,sentiment): {error}") from None
    frame = frame.dropna().drop_duplicates(subset="review")
    sentiment = frame["sentiment"].astype(str).str.strip().str.lower()
    if not sentiment.isin(["positive", "negative"]).all():
        raise UserError(f"{path}: column 'sentiment' must hold only 'positive' or 'negative'")
    reviews = list(zip(frame["review"].astype(str), (sentiment == "positive").astype(int).tolist()))
    random.Random(seed).shuffle(reviews)
    half = len(reviews) // 2
    train, test = reviews[:half], reviews[half:]
    for split, part in (("training", train), ("test", test)):
        if len({label for _, label in part}) < 2:  # one class only: a meaningless accuracy
            raise UserError(f"{path}: its {split} half holds {'no reviews' if not part else 'one class only'} "
                            f"({len(reviews)} reviews in all); use the whole IMDB CSV (see data/README.md)")
    return train, test


def _download_imdb(data_dir: Path) -> None:
    """Fetch and extract the official archive (md5-checked) into ``data_dir``; one-line error offline."""
    import tempfile

    from torchvision.datasets.utils import download_and_extract_archive

    staging: Path | None = None
    try:  # extract into a hidden folder, moved into place once whole: an interrupted run leaves no half aclImdb/
        data_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".aclImdb-", dir=data_dir))
        download_and_extract_archive(IMDB_URL, download_root=str(data_dir), extract_root=str(staging),
                                     md5=IMDB_MD5, remove_finished=True)
        if not (staging / "aclImdb").is_dir():
            raise RuntimeError("the archive holds no aclImdb/ folder")
        os.replace(staging / "aclImdb", data_dir / "aclImdb")
    except Exception as error:  # no network (URLError), a bad md5 (RuntimeError), a broken archive, ...
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(
            f"could not download {IMDB_URL} ({reason}); put the data in {data_dir}/ yourself "
            f"(on course machines: {IMDB_SHARED}; see data/README.md)"
        ) from None
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)


def encode_review(text: str, tokenizer: BOWTokenizer, max_seq_length: int = 200) -> torch.Tensor:
    """One review as the models see it: LongTensor (max_seq_length,), left-padded.

    Raises:
        ValueError: nothing is left of the review after preprocessing.
    """
    words = preprocess(text)
    if not words:
        raise ValueError("nothing left after preprocessing (only stopwords, punctuation or HTML)")
    return torch.tensor(pad_and_truncate(tokenizer.encode(words), max_seq_length), dtype=torch.long)
