"""Correct alternative: preprocessing with regular expressions only, a tokenizer ranked with sorted() over a dict, padding by slicing, the dataset filtered in a plain loop.

Only the functions written differently are here; `grading.accuracy.splice` puts them into
the reference module in place of its own.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Sequence

import torch


def preprocess(text: str) -> list[str]:
    text = re.sub("<.*?>", " ", text, flags=re.DOTALL).lower()
    text = re.sub("'", "", text)
    text = re.sub("[" + re.escape(string.punctuation) + "]", " ", text)
    words = re.findall(r"\S+", text)
    return list(filter(lambda w: w not in STOPWORDS, words))


class BOWTokenizer:
    def fit(self, documents: Iterable[list[str]]) -> BOWTokenizer:
        counts: dict[str, int] = {}
        for words in documents:
            for w in words:
                counts[w] = counts.get(w, 0) + 1
        words = sorted((w for w in counts if w not in self.SPECIAL_TOKENS), key=lambda w: (-counts[w], w))
        self.id_to_word = ["<pad>", "<unk>", *words[: max(0, self.vocab_size - 2)]]
        self.word_to_id = dict(zip(self.id_to_word, range(len(self.id_to_word))))
        return self

    def encode(self, words: list[str]) -> list[int]:
        ids = []
        for w in words:
            ids.append(self.word_to_id[w] if w in self.word_to_id else BOWTokenizer.UNK)
        return ids


def pad_and_truncate(ids: list[int], max_seq_length: int, pad: bool = True) -> list[int]:
    kept = ids[0:max_seq_length]
    padding = [0] * (max_seq_length - len(kept)) if pad else []
    return padding + list(kept)


class TextClassificationDataset:
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
        if not tokenizer:
            tokenizer = BOWTokenizer(vocab_size)
            tokenizer.fit([words for words, _ in documents])
        kept = []
        for words, label in documents:
            if dataset_length is not None and len(kept) == dataset_length:
                break
            if len(words) > 0 and not len(words) < min_seq_length:
                kept.append((words, label))
        self.tokenizer = tokenizer
        sequences = [pad_and_truncate(self.tokenizer.encode(words), max_seq_length, pad) for words, _ in kept]
        if pad:
            self.sequences = torch.tensor(sequences, dtype=torch.long).reshape(len(kept), max_seq_length)
        else:
            self.sequences = [torch.tensor(ids, dtype=torch.long) for ids in sequences]
        self.labels = torch.tensor([label for _, label in kept], dtype=torch.long)
