"""Tests for the IMDB part of data.py (handout 2(a)iii): preprocessing, tokenizer, dataset.

Everything runs on tiny hand-written reviews; no test reads data/. Your data.py is reached through the
``student`` fixture (``tests/sandbox.py``): lists, tuples, dicts and tensors come back as copies; tokenizers
and datasets stay on your side and are used through references.
"""

from __future__ import annotations

import pytest
import torch

from tests.sandbox import Ref, Student, type_name

PAD, UNK = 0, 1


def _check_preprocess(student: Student, text: str, expected: list[str], rule: str) -> None:
    actual = student.module("data").preprocess(text)
    assert isinstance(actual, list), f"preprocess must return a list of words, got {type_name(actual)}"
    assert actual == expected, f"preprocess({text!r}): expected {expected}, got {actual} ({rule})"


# --- preprocessing ---------------------------------------------------------------------------------
@pytest.mark.weight(1, part="2.a.iii")
@pytest.mark.timeout(10)
def test_preprocess_lowercases(student):
    _check_preprocess(student, "GREAT Movie, BRILLIANT Cast", ["great", "movie", "brilliant", "cast"],
                      "lowercase every word")


@pytest.mark.weight(1, part="2.a.iii")
@pytest.mark.timeout(10)
def test_preprocess_removes_html_tags(student):
    _check_preprocess(
        student,
        "Loved every minute.<br /><br />Superb acting<br/>plot <i>twists</i>",
        ["loved", "every", "minute", "superb", "acting", "plot", "twists"],
        "every HTML tag such as <br /> or <i> is replaced by a space",
    )


@pytest.mark.weight(1, part="2.a.iii")
@pytest.mark.timeout(10)
def test_preprocess_removes_punctuation(student):
    _check_preprocess(
        student,
        'Wow!!! "Great" fun, (really) - a must-see... 10/10; #1 movie?',
        ["wow", "great", "fun", "really", "must", "see", "10", "10", "1", "movie"],
        "every punctuation character except the apostrophe is replaced by a space",
    )


@pytest.mark.weight(1, part="2.a.iii")
@pytest.mark.timeout(10)
def test_preprocess_deletes_apostrophes(student):
    _check_preprocess(
        student,
        "Didn't like it. Wouldn't watch again; the director's worst",
        ["didnt", "like", "wouldnt", "watch", "directors", "worst"],
        "apostrophes are deleted, so \"didn't\" becomes \"didnt\" and \"it's\" becomes the stopword \"its\"",
    )


@pytest.mark.weight(1, part="2.a.iii")
@pytest.mark.timeout(10)
def test_preprocess_drops_stopwords(student):
    _check_preprocess(
        student,
        "This is one of the best films I have ever seen and it was a joy",
        ["one", "best", "films", "ever", "seen", "joy"],
        "words in data.STOPWORDS are dropped",
    )


@pytest.mark.weight(1, part="2.a.iii")
@pytest.mark.timeout(10)
def test_preprocess_keeps_negations(student):
    _check_preprocess(
        student,
        "Not good, no plot, never funny, nor clever. I don't and didn't and can't care",
        ["not", "good", "no", "plot", "never", "funny", "nor", "clever", "dont", "didnt", "cant", "care"],
        "negations carry the sentiment and are not stopwords",
    )
    kept = {"not", "no", "nor", "never", "cannot", "dont", "didnt", "doesnt", "isnt", "wasnt", "wont"}
    stopwords = set(student.module("data").STOPWORDS)  # a set is not data: iterated on the student's side
    assert not kept & stopwords, f"negations must not be in data.STOPWORDS: {sorted(kept & stopwords)}"


@pytest.mark.weight(1, part="2.a.iii")
@pytest.mark.timeout(10)
def test_preprocess_whitespace_and_empty_reviews(student):
    _check_preprocess(student, "  great\tacting\n\nweak   plot  ", ["great", "acting", "weak", "plot"],
                      "split on any run of whitespace, no empty words")
    _check_preprocess(student, "<br /><br />... It is what it is!!!", [],
                      "only stopwords, punctuation and tags: nothing left")


# --- tokenizer -----------------------------------------------------------------------------------------
def _corpus() -> list[list[str]]:
    """Word counts: good 5, film 4, bad 3, plot 2 (both in one review), dull 1."""
    return [["good", "film", "bad"], ["good", "film", "plot", "plot"], ["good", "film", "bad"],
            ["good", "film", "bad", "good", "dull"]]


@pytest.mark.weight(1, part="2.a.iii")
@pytest.mark.timeout(10)
def test_tokenizer_pad_unk_and_top_k_by_frequency(student):
    tokenizer = student.module("data").BOWTokenizer(vocab_size=5).fit(_corpus())
    words = ["good", "film", "bad", "plot", "dull", "never_seen"]
    actual = tokenizer.encode(words)
    expected = [2, 3, 4, UNK, UNK, UNK]
    assert actual == expected, (
        f"BOWTokenizer(vocab_size=5) fitted on counts good 5, film 4, bad 3, plot 2, dull 1: encode({words}) "
        f"should be {expected} (0 = PAD, 1 = UNK, then the 3 most frequent words, most frequent first), got {actual}"
    )
    assert len(tokenizer) == 5, f"vocab_size=5 means 5 ids (PAD, UNK and 3 words), got len(tokenizer) = {len(tokenizer)}"
    assert tokenizer.decode([PAD, UNK, 2]) == ["<pad>", "<unk>", "good"], "id_to_word must start <pad>, <unk>"


@pytest.mark.weight(1, part="2.a.iii")
@pytest.mark.timeout(10)
def test_tokenizer_small_corpus_keeps_every_word(student):
    tokenizer = student.module("data").BOWTokenizer(vocab_size=100).fit(_corpus())
    assert len(tokenizer) == 7, f"5 distinct words + PAD + UNK = 7 ids with vocab_size=100, got {len(tokenizer)}"
    actual = tokenizer.encode(["dull", "plot"])
    assert actual == [6, 5], f"encode(['dull', 'plot']): expected [6, 5] (least frequent last), got {actual}"


@pytest.mark.weight(1, part="2.a.iii")
@pytest.mark.timeout(10)
def test_tokenizer_ties_are_alphabetical_and_order_independent(student):
    data = student.module("data")
    docs = [["zesty", "awful", "meh"], ["meh", "zesty", "awful"], ["top", "top", "top"]]
    expected = {"top": 2, "awful": 3, "meh": 4, "zesty": 5}
    for order in (docs, docs[::-1], [d[::-1] for d in docs]):
        tokenizer = data.BOWTokenizer(vocab_size=10).fit(order)
        actual = dict(zip(expected, tokenizer.encode(list(expected))))
        assert actual == expected, (
            f"counts top 3, awful/meh/zesty 2 each: ties must be broken alphabetically, whatever the order of "
            f"the documents; expected ids {expected}, got {actual} (documents {order})"
        )


@pytest.mark.weight(1, part="2.a.iii")
@pytest.mark.timeout(10)
def test_tokenizer_unknown_words_become_unk_not_dropped(student):
    tokenizer = student.module("data").BOWTokenizer(vocab_size=10).fit(_corpus())
    actual = tokenizer.encode(["good", "unseen", "bad", "other"])
    assert actual == [2, UNK, 4, UNK], (
        f"encode(['good', 'unseen', 'bad', 'other']): unknown words map to UNK = 1 and are kept; "
        f"expected [2, 1, 4, 1], got {actual}"
    )
    assert tokenizer.encode([]) == [], "encode([]) should be []"


def test_tokenizer_round_trip_through_a_checkpoint(student, tmp_path):
    data = student.module("data")
    tokenizer = data.BOWTokenizer(vocab_size=6).fit(_corpus())
    path = tmp_path / "tok.pt"
    torch.save({"tokenizer": tokenizer.to_dict()}, path)  # to_dict() comes back as data: saved here
    restored = data.BOWTokenizer.from_dict(torch.load(path, weights_only=True)["tokenizer"])
    words = ["good", "dull", "plot", "nope"]
    assert restored.encode(words) == tokenizer.encode(words)
    assert restored.vocab_size == 6 and len(restored) == len(tokenizer)


# --- padding and truncation ---------------------------------------------------------------------------
@pytest.mark.weight(1, part="2.a.iii")
@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("ids", "max_len", "pad", "expected", "rule"),
    [
        ([5, 6, 7], 5, True, [0, 0, 5, 6, 7], "shorter: PAD = 0 goes on the LEFT"),
        ([5, 6, 7, 8, 9, 10], 4, True, [5, 6, 7, 8], "longer: keep the FIRST max_seq_length ids"),
        ([5, 6, 7], 3, True, [5, 6, 7], "exactly max_seq_length: unchanged"),
        ([5, 6, 7], 5, False, [5, 6, 7], "pad=False: no padding"),
        ([5, 6, 7, 8], 2, False, [5, 6], "pad=False still truncates to the first ids"),
    ],
    ids=["left_pad", "keep_first", "exact", "no_pad", "no_pad_truncate"],
)
def test_pad_and_truncate(student, ids, max_len, pad, expected, rule):
    actual = list(student.module("data").pad_and_truncate(list(ids), max_len, pad=pad))
    assert actual == expected, f"pad_and_truncate({ids}, {max_len}, pad={pad}): expected {expected}, got {actual} ({rule})"


# --- dataset -----------------------------------------------------------------------------------------------
def _reviews() -> list[tuple[str, int]]:
    """Word counts in lowercase, stopword-free reviews, so any correct preprocessing gives the same words."""
    return [
        ("alpha bravo charlie delta echo foxtrot golf hotel", 1),  # 8 words
        ("alpha bravo", 0),  # 2 words
        ("Alpha, charlie! delta echo", 1),  # 4 words
        ("<br />", 0),  # nothing left after preprocessing
        ("bravo charlie delta echo foxtrot", 0),  # 5 words
        ("golf", 1),  # 1 word
    ]


def _decoded(dataset: Ref, index: int) -> list[str]:
    ids, _ = dataset[index]
    return dataset.tokenizer.decode(ids.tolist())


@pytest.mark.weight(1, part="2.a.iii")
@pytest.mark.timeout(10)
def test_dataset_items_are_left_padded_first_tokens(student):
    dataset = student.module("data").TextClassificationDataset(_reviews(), max_seq_length=6)
    assert len(dataset) == 5, f"5 of the 6 reviews have words left (the '<br />' one is dropped), got {len(dataset)}"
    ids, label = dataset[0]
    assert isinstance(ids, torch.Tensor) and ids.dtype == torch.long and tuple(ids.shape) == (6,), (
        f"an item's ids must be a LongTensor of shape (max_seq_length,) = (6,), got {type(ids).__name__} "
        f"{getattr(ids, 'dtype', '')} {tuple(getattr(ids, 'shape', ()))}"
    )
    assert int(label) == 1, f"item 0's label should be 1, got {label}"
    expected = {
        0: ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"],  # truncated: the first 6 words
        1: ["<pad>"] * 4 + ["alpha", "bravo"],  # left-padded
        2: ["<pad>"] * 2 + ["alpha", "charlie", "delta", "echo"],
        4: ["<pad>"] * 5 + ["golf"],
    }
    for index, words in expected.items():
        actual = _decoded(dataset, index)
        assert actual == words, (
            f"item {index} with max_seq_length=6: expected {words}, got {actual} "
            "(keep the first max_seq_length words; PAD on the left so the last position is a real word)"
        )
    labels = [int(dataset[i][1]) for i in range(len(dataset))]
    assert labels == [1, 0, 1, 0, 1], f"labels must follow the kept reviews: expected [1, 0, 1, 0, 1], got {labels}"


@pytest.mark.weight(1, part="2.a.iii")
@pytest.mark.timeout(10)
def test_dataset_min_seq_length_drops_short_reviews(student):
    dataset = student.module("data").TextClassificationDataset(_reviews(), min_seq_length=4, max_seq_length=5)
    kept = [_decoded(dataset, i) for i in range(len(dataset))]
    expected = [
        ["alpha", "bravo", "charlie", "delta", "echo"],
        ["<pad>", "alpha", "charlie", "delta", "echo"],
        ["bravo", "charlie", "delta", "echo", "foxtrot"],
    ]
    assert kept == expected, (
        f"min_seq_length=4 keeps the reviews with at least 4 words (8, 4 and 5 words), in order: expected "
        f"{expected}, got {kept}"
    )
    assert [int(dataset[i][1]) for i in range(len(dataset))] == [1, 1, 0], "labels of the kept reviews: [1, 1, 0]"


@pytest.mark.weight(1, part="2.a.iii")
@pytest.mark.timeout(10)
def test_dataset_length_takes_the_first_kept_reviews(student):
    data = student.module("data")
    dataset = data.TextClassificationDataset(_reviews(), min_seq_length=4, max_seq_length=5, dataset_length=2)
    kept = [_decoded(dataset, i) for i in range(len(dataset))]
    expected = [["alpha", "bravo", "charlie", "delta", "echo"], ["<pad>", "alpha", "charlie", "delta", "echo"]]
    assert kept == expected, (
        f"dataset_length=2 keeps the first 2 of the reviews that pass min_seq_length=4 (filter first, then "
        f"take the first dataset_length): expected {expected}, got {kept}"
    )
    everything = data.TextClassificationDataset(_reviews(), dataset_length=100)
    assert len(everything) == 5, f"dataset_length larger than the data keeps all 5 non-empty reviews, got {len(everything)}"


@pytest.mark.weight(1, part="2.a.iii")
@pytest.mark.timeout(10)
def test_dataset_never_keeps_an_empty_review(student):
    reviews = [("the and of", 1), ("<br />!!!", 0), ("bravo", 1)]
    dataset = student.module("data").TextClassificationDataset(reviews, max_seq_length=4)
    assert len(dataset) == 1, (
        f"reviews with no words left after preprocessing are dropped even with min_seq_length=0 (their last "
        f"position would be PAD); expected 1 item, got {len(dataset)}"
    )
    ids, _ = dataset[0]
    assert int(ids[-1]) != PAD, f"the last position must be a real word, got ids {ids.tolist()}"


@pytest.mark.weight(1, part="2.a.iii")
@pytest.mark.timeout(10)
def test_dataset_fits_a_tokenizer_on_its_reviews_only(student):
    data = student.module("data")
    train = data.TextClassificationDataset(_reviews(), vocab_size=4, max_seq_length=8)
    vocabulary = train.tokenizer.decode(list(range(len(train.tokenizer))))
    assert vocabulary == ["<pad>", "<unk>", "alpha", "bravo"], (
        "a dataset without a tokenizer fits BOWTokenizer(vocab_size=4) on its own reviews (alpha, bravo, charlie, "
        f"delta and echo appear 3 times each): expected ['<pad>', '<unk>', 'alpha', 'bravo'], got {vocabulary}"
    )
    test = data.TextClassificationDataset([("zulu yankee alpha", 1), ("xray", 0)], tokenizer=train.tokenizer,
                                     max_seq_length=3)
    actual = [_decoded(test, 0), _decoded(test, 1)]
    expected = [["<unk>", "<unk>", "alpha"], ["<pad>", "<pad>", "<unk>"]]
    assert actual == expected, (
        "a dataset given the training tokenizer must use it as it is (never refit it on validation or test "
        f"reviews): words seen only in the test reviews map to UNK; expected {expected}, got {actual}"
    )
    assert train.tokenizer.decode(list(range(4))) == vocabulary, (
        "the test set must not change the training tokenizer"
    )
    # The vocabulary belongs to the training reviews, not to a length bucket: fit on all of them, then filter.
    # All six reviews: alpha..echo 3 times each -> alpha first; the three kept by min_seq_length=4 alone:
    # alpha and bravo twice, charlie, delta and echo 3 times -> charlie first.
    long_only = data.TextClassificationDataset(_reviews(), vocab_size=3, min_seq_length=4, max_seq_length=8)
    vocabulary = long_only.tokenizer.decode(list(range(len(long_only.tokenizer))))
    assert vocabulary == ["<pad>", "<unk>", "alpha"], (
        "fit the tokenizer on ALL the reviews given, before min_seq_length drops the short ones (BOWTokenizer("
        "vocab_size=3), min_seq_length=4: alpha..echo appear 3 times each in all the reviews, but in the 3 kept "
        f"ones charlie, delta and echo lead): expected ['<pad>', '<unk>', 'alpha'], got {vocabulary}"
    )


def test_dataset_batches_with_a_dataloader(student):
    dataset = student.module("data").TextClassificationDataset(_reviews(), max_seq_length=7)
    loader = student.module("torch.utils.data").DataLoader(dataset, batch_size=4)
    ids, labels = next(iter(loader))  # iterating a Ref gives the list of every batch (2 here)
    assert tuple(ids.shape) == (4, 7) and tuple(labels.shape) == (4,)
    assert ids.dtype == torch.long and labels.dtype == torch.long
    assert bool((ids[:, -1] != PAD).all())
