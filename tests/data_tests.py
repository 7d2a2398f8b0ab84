"""Tests for the IMDB part of data.py (handout 2(a)iii): preprocessing, tokenizer, dataset.

Everything runs on tiny hand-written reviews; no test reads data/. Your data.py is reached through the
``student`` fixture (``tests/sandbox.py``): lists, tuples, dicts and tensors come back as copies; tokenizers
and datasets stay on your side and are used through references.

One mistake costs the tests of what it breaks, no more: each preprocessing test feeds text that exercises its
own rule only (lowercase words, single spaces, no punctuation, tags or stopwords unless they are the rule under
test); the tokenizer tests use word lists; the dataset tests use plain reviews and compare the dataset with what
YOUR own ``preprocess``, ``BOWTokenizer`` and ``pad_and_truncate`` give (those have their own tests), so they
judge only the dataset's part: which reviews it keeps, in which order, with which labels and tokenizer.
"""

from __future__ import annotations

import pytest
import torch

from tests.helpers import assert_equal, expect
from tests.sandbox import Ref, Student, type_name

PAD, UNK = 0, 1


def _check_preprocess(student: Student, text: str, expected: list[str], rule: str) -> None:
    actual = student.module("data").preprocess(text)
    case = f"preprocess({text!r})"
    expect(isinstance(actual, list), f"preprocess must return a list of words, got {type_name(actual)}", got=actual,
           case=case, what="words")
    assert_equal(actual, expected, f"{case}: expected {expected}, got {actual} ({rule})", case=case, what="words")


# --- preprocessing ---------------------------------------------------------------------------------
# Each input exercises its own rule only: lowercase words, single spaces, no punctuation, tags or stopwords
# unless they are the rule under test (so, e.g., split(" ") costs only the whitespace test).
@pytest.mark.weight(1, part="2.a.iii")
@pytest.mark.timeout(10)
def test_preprocess_lowercases(student):
    _check_preprocess(student, "GREAT Movie BRILLIANT Cast", ["great", "movie", "brilliant", "cast"],
                      "lowercase every word")


@pytest.mark.weight(1, part="2.a.iii")
@pytest.mark.timeout(10)
def test_preprocess_removes_html_tags(student):
    _check_preprocess(
        student,
        "loved every minute<br />superb acting<br/>plot<i>twists</i>ending",
        ["loved", "every", "minute", "superb", "acting", "plot", "twists", "ending"],
        "every HTML tag such as <br /> or <i> is replaced by a space",
    )


@pytest.mark.weight(1, part="2.a.iii")
@pytest.mark.timeout(10)
def test_preprocess_removes_punctuation(student):
    _check_preprocess(
        student,
        'wow!must-see:great,fun;10/10(really)well-made#1.superb?yes"indeed"ok',
        ["wow", "must", "see", "great", "fun", "10", "10", "really", "well", "made", "1", "superb", "yes", "indeed",
         "ok"],
        "every punctuation character except the apostrophe is replaced by a space",
    )


@pytest.mark.weight(1, part="2.a.iii")
@pytest.mark.timeout(10)
def test_preprocess_deletes_apostrophes(student):
    _check_preprocess(
        student,
        "didn't like wouldn't watch director's worst",
        ["didnt", "like", "wouldnt", "watch", "directors", "worst"],
        "apostrophes are deleted, so \"didn't\" becomes \"didnt\" and \"it's\" becomes the stopword \"its\"",
    )


@pytest.mark.weight(1, part="2.a.iii")
@pytest.mark.timeout(10)
def test_preprocess_drops_stopwords(student):
    _check_preprocess(
        student,
        "this is one of the best films i have ever seen and it was a joy",
        ["one", "best", "films", "ever", "seen", "joy"],
        "words in data.STOPWORDS are dropped",
    )


@pytest.mark.weight(1, part="2.a.iii")
@pytest.mark.timeout(10)
def test_preprocess_keeps_negations(student):
    _check_preprocess(
        student,
        "not good no plot never funny nor clever dont care didnt cant cannot isnt",
        ["not", "good", "no", "plot", "never", "funny", "nor", "clever", "dont", "care", "didnt", "cant", "cannot",
         "isnt"],
        "negations carry the sentiment and are not stopwords",
    )
    kept = {"not", "no", "nor", "never", "cannot", "dont", "didnt", "doesnt", "isnt", "wasnt", "wont"}
    stopwords = set(student.module("data").STOPWORDS)  # a set is not data: iterated on the student's side
    expect(not kept & stopwords, f"negations must not be in data.STOPWORDS: {sorted(kept & stopwords)}",
           got=sorted(kept & stopwords), case="data.STOPWORDS", what="negations in it")


@pytest.mark.weight(1, part="2.a.iii")
@pytest.mark.timeout(10)
def test_preprocess_whitespace_and_empty_reviews(student):
    _check_preprocess(student, "  great\tacting\n\nweak   plot  ", ["great", "acting", "weak", "plot"],
                      "split on any run of whitespace, no empty words")
    _check_preprocess(student, " \t\n  ", [], "only whitespace: nothing left, not empty words")


# --- tokenizer -----------------------------------------------------------------------------------------
def _corpus() -> list[list[str]]:
    """Word counts: good 5, film 4, bad 3, plot 2, dull 1 -- no ties, and no word twice in one review, so
    counting reviews instead of occurrences ranks them the same (that mistake has its own test)."""
    return [["good", "film", "bad", "plot", "dull"], ["good", "film", "bad", "plot"], ["good", "film", "bad"],
            ["good", "film"], ["good"]]


@pytest.mark.weight(1, part="2.a.iii")
@pytest.mark.timeout(10)
def test_tokenizer_pad_unk_and_top_k_by_frequency(student):
    """The vocabulary: PAD, UNK, then the vocab_size - 2 most frequent words, most frequent first. Read from the
    ids themselves (decode), so encoding unknown words (test_tokenizer_unknown_words_become_unk_not_dropped)
    is not judged here."""
    tokenizer = student.module("data").BOWTokenizer(vocab_size=5).fit(_corpus())
    case = "BOWTokenizer(vocab_size=5) on good 5, film 4, bad 3, plot 2, dull 1"
    size = len(tokenizer)
    assert_equal(size, 5, f"vocab_size=5 means 5 ids (PAD, UNK and 3 words), got len(tokenizer) = {size}",
                 case=case, what="len(tokenizer)")
    vocabulary = tokenizer.decode(list(range(len(tokenizer))))
    expected = ["<pad>", "<unk>", "good", "film", "bad"]
    assert_equal(vocabulary, expected, (
        f"BOWTokenizer(vocab_size=5) fitted on counts good 5, film 4, bad 3, plot 2, dull 1: ids 0..4 should be "
        f"{expected} (0 = PAD, 1 = UNK, then the 3 most frequent words, most frequent first), got {vocabulary}"
    ), case=case, what="decode(ids 0..4)")
    words = ["good", "film", "bad"]
    actual = tokenizer.encode(words)
    assert_equal(actual, [2, 3, 4], f"encode({words}) should be [2, 3, 4] (most frequent first), got {actual}",
                 case=case, what=f"encode({words})")
    decoded = tokenizer.decode([PAD, UNK, 2])
    assert_equal(decoded, ["<pad>", "<unk>", "good"],
                 f"id_to_word must start <pad>, <unk>: decode([0, 1, 2]) should be ['<pad>', '<unk>', 'good'], got "
                 f"{decoded}", case=case, what="decode([0, 1, 2])")


@pytest.mark.weight(1, part="2.a.iii")
@pytest.mark.timeout(10)
def test_tokenizer_small_corpus_keeps_every_word(student):
    tokenizer = student.module("data").BOWTokenizer(vocab_size=100).fit(_corpus())
    case = "BOWTokenizer(vocab_size=100) on good 5, film 4, bad 3, plot 2, dull 1"
    size = len(tokenizer)
    assert_equal(size, 7, f"5 distinct words + PAD + UNK = 7 ids with vocab_size=100, got {size}", case=case,
                 what="len(tokenizer)")
    actual = tokenizer.encode(["dull", "plot"])
    assert_equal(actual, [6, 5], f"encode(['dull', 'plot']): expected [6, 5] (least frequent last), got {actual}",
                 case=case, what="encode(['dull', 'plot'])")


@pytest.mark.weight(1, part="2.a.iii")
@pytest.mark.timeout(10)
def test_tokenizer_counts_occurrences_not_reviews(student):
    """Frequency is the number of occurrences over all the reviews, not the number of reviews a word appears
    in (targets ``counts.update(set(words))``)."""
    docs = [["plot", "plot", "plot"], ["good"], ["good"]]
    tokenizer = student.module("data").BOWTokenizer(vocab_size=10).fit(docs)
    actual = tokenizer.encode(["plot", "good"])
    assert_equal(actual, [2, 3], (
        f"fitted on {docs}: 'plot' occurs 3 times (in one review), 'good' twice (in two reviews): frequency counts "
        f"occurrences, so encode(['plot', 'good']) should be [2, 3], got {actual}"
    ), case=f"fitted on {docs}", what="encode(['plot', 'good'])")


@pytest.mark.weight(1, part="2.a.iii")
@pytest.mark.timeout(10)
def test_tokenizer_ties_are_alphabetical_and_order_independent(student):
    data = student.module("data")
    docs = [["zesty", "awful", "meh", "top"], ["meh", "zesty", "awful", "top"], ["top"]]
    expected = {"top": 2, "awful": 3, "meh": 4, "zesty": 5}
    for order in (docs, docs[::-1], [d[::-1] for d in docs]):
        tokenizer = data.BOWTokenizer(vocab_size=10).fit(order)
        actual = dict(zip(expected, tokenizer.encode(list(expected))))
        assert_equal(actual, expected, (
            f"counts top 3, awful/meh/zesty 2 each: ties must be broken alphabetically, whatever the order of "
            f"the documents; expected ids {expected}, got {actual} (documents {order})"
        ), case=f"fitted on {order}", what="ids of top, awful, meh, zesty")


@pytest.mark.weight(1, part="2.a.iii")
@pytest.mark.timeout(10)
def test_tokenizer_unknown_words_become_unk_not_dropped(student):
    tokenizer = student.module("data").BOWTokenizer(vocab_size=10).fit([["good", "bad"], ["good"]])
    actual = tokenizer.encode(["good", "unseen", "bad", "other"])
    case = "fitted on [['good', 'bad'], ['good']]"
    assert_equal(actual, [2, UNK, 3, UNK], (
        f"fitted on [['good', 'bad'], ['good']]: encode(['good', 'unseen', 'bad', 'other']): unknown words map to "
        f"UNK = 1 and are kept; expected [2, 1, 3, 1], got {actual}"
    ), case=case, what="encode(['good', 'unseen', 'bad', 'other'])")
    nothing = tokenizer.encode([])
    assert_equal(nothing, [], f"encode([]) should be [], got {nothing}", case=case, what="encode([])")


def test_tokenizer_round_trip_through_a_checkpoint(student, tmp_path):
    data = student.module("data")
    tokenizer = data.BOWTokenizer(vocab_size=6).fit(_corpus())
    path = tmp_path / "tok.pt"
    torch.save({"tokenizer": tokenizer.to_dict()}, path)  # to_dict() comes back as data: saved here
    restored = data.BOWTokenizer.from_dict(torch.load(path, weights_only=True)["tokenizer"])
    words = ["good", "dull", "plot", "nope"]
    case = "BOWTokenizer(vocab_size=6) through to_dict() and from_dict()"
    got, expected = restored.encode(words), tokenizer.encode(words)
    assert_equal(got, expected, f"the restored tokenizer's encode({words}): expected {expected} (the original's), "
                 f"got {got}", case=case, what=f"encode({words})")
    got = (restored.vocab_size, len(restored))
    expected = (6, len(tokenizer))
    assert_equal(got, expected, f"the restored tokenizer's (vocab_size, len): expected {expected}, got {got}",
                 case=case, what="(vocab_size, len)")


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
    pad_and_truncate = student.module("data").pad_and_truncate
    actual = list(pad_and_truncate(list(ids), max_len, pad=pad))
    if not pad and len(ids) > max_len:
        # WHICH ids are kept is keep_first's rule: here pad=False must truncate exactly as pad=True does.
        expected = list(pad_and_truncate(list(ids), max_len, pad=True))
        rule = f"{rule}, the same ids as pad_and_truncate({ids}, {max_len}, pad=True)"
    case = f"pad_and_truncate({ids}, {max_len}, pad={pad})"
    assert_equal(actual, expected, f"{case}: expected {expected}, got {actual} ({rule})", case=case, what="ids")


# --- dataset -----------------------------------------------------------------------------------------------
# The dataset's own part is which reviews it keeps (min_seq_length, dataset_length, never an empty one), in which
# order, with which labels, and which tokenizer it uses. Its items are compared with what YOUR preprocess,
# tokenizer and pad_and_truncate make of the kept reviews: a mistake in those costs their own tests, not these.
def _reviews() -> list[tuple[str, int]]:
    """Plain reviews (lowercase words, single spaces, no punctuation, tags or stopwords), so that any
    preprocessing gives the same words; none of them is empty (test_dataset_never_keeps_an_empty_review owns
    that rule)."""
    return [
        ("alpha bravo charlie delta echo foxtrot golf hotel", 1),  # 8 words
        ("alpha bravo", 0),  # 2 words
        ("alpha charlie delta echo", 1),  # 4 words
        ("bravo charlie delta echo foxtrot", 0),  # 5 words
        ("golf", 1),  # 1 word
    ]


def _items(dataset: Ref) -> list[list[int]]:
    """Every item's ids, in order."""
    return [dataset[i][0].tolist() for i in range(len(dataset))]


def _words(tokenizer: Ref, items: list[list[int]]) -> list[list[str]]:
    """The items as words, for the messages."""
    return [tokenizer.decode(ids) for ids in items]


def _expected_items(data: Ref, tokenizer: Ref, texts: list[str], max_seq_length: int) -> list[list[int]]:
    """The items ``texts`` must give, with your own preprocess, ``tokenizer`` and pad_and_truncate."""
    return [list(data.pad_and_truncate(tokenizer.encode(data.preprocess(text)), max_seq_length)) for text in texts]


def _vocabulary(tokenizer: Ref) -> list[str]:
    return tokenizer.decode(list(range(len(tokenizer))))


@pytest.mark.weight(1, part="2.a.iii")
@pytest.mark.timeout(10)
def test_dataset_items_are_left_padded_first_tokens(student):
    """Every review kept, in order, with its label; each item is its review encoded and passed through
    pad_and_truncate (whose left padding and truncation are judged by test_pad_and_truncate)."""
    data = student.module("data")
    reviews = _reviews()
    dataset = data.TextClassificationDataset(reviews, max_seq_length=6)
    case = "5 reviews, max_seq_length=6"
    size = len(dataset)
    assert_equal(size, 5, f"none of the 5 reviews is empty and min_seq_length=0: all 5 are kept, got {size}",
                 case=case, what="len(dataset)")
    ids, label = dataset[0]
    got = (type(ids).__name__, str(getattr(ids, "dtype", "")), tuple(getattr(ids, "shape", ())))
    expect(isinstance(ids, torch.Tensor) and ids.dtype == torch.long and tuple(ids.shape) == (6,), (
        f"an item's ids must be a LongTensor of shape (max_seq_length,) = (6,), got {type(ids).__name__} "
        f"{getattr(ids, 'dtype', '')} {tuple(getattr(ids, 'shape', ()))}"
    ), got=got, case=case, what="item 0's ids: type, dtype, shape")
    expect(int(label) == 1, f"item 0's label should be 1, got {label}", got=int(label), case=case,
           what="item 0's label")
    tokenizer = dataset.tokenizer
    expected = _expected_items(data, tokenizer, [text for text, _ in reviews], 6)
    actual = _items(dataset)
    expect(actual == expected, lambda: (  # decoding the items: requests, only on failure
        "with max_seq_length=6, item i is review i encoded with the dataset's tokenizer and passed through "
        "pad_and_truncate(ids, 6) (the first 6 words, PAD on the left so the last position is a real word): "
        f"expected {_words(tokenizer, expected)}, got {_words(tokenizer, actual)}"
    ), got=actual, case=case, what="items")
    labels = [int(dataset[i][1]) for i in range(len(dataset))]
    assert_equal(labels, [1, 0, 1, 0, 1], f"labels must follow the kept reviews: expected [1, 0, 1, 0, 1], got {labels}",
                 case=case, what="labels")


@pytest.mark.weight(1, part="2.a.iii")
@pytest.mark.timeout(10)
def test_dataset_min_seq_length_drops_short_reviews(student):
    data = student.module("data")
    reviews = _reviews()
    dataset = data.TextClassificationDataset(reviews, min_seq_length=4, max_seq_length=5)
    tokenizer = dataset.tokenizer
    expected = _expected_items(data, tokenizer, [reviews[i][0] for i in (0, 2, 3)], 5)
    actual = _items(dataset)
    case = "5 reviews, min_seq_length=4, max_seq_length=5"
    expect(actual == expected, lambda: (  # decoding the items: requests, only on failure
        f"min_seq_length=4 keeps the reviews with at least 4 words (the ones of 8, 4 and 5 words), in order: expected "
        f"{_words(tokenizer, expected)}, got {_words(tokenizer, actual)}"
    ), got=actual, case=case, what="items")
    labels = [int(dataset[i][1]) for i in range(len(dataset))]
    assert_equal(labels, [1, 1, 0], f"labels of the kept reviews: expected [1, 1, 0], got {labels}", case=case,
                 what="labels")


@pytest.mark.weight(1, part="2.a.iii")
@pytest.mark.timeout(10)
def test_dataset_length_takes_the_first_kept_reviews(student):
    """dataset_length cuts AFTER the min_seq_length filter: compared with the same dataset without
    dataset_length (so a min_seq_length mistake costs only test_dataset_min_seq_length_drops_short_reviews)."""
    data = student.module("data")
    reviews = _reviews()
    filtered = data.TextClassificationDataset(reviews, min_seq_length=3, max_seq_length=5)
    dataset = data.TextClassificationDataset(reviews, min_seq_length=3, max_seq_length=5, dataset_length=2)
    expected = _words(filtered.tokenizer, _items(filtered))[:2]
    kept = _words(dataset.tokenizer, _items(dataset))
    case = "5 reviews, min_seq_length=3, max_seq_length=5, dataset_length=2"
    assert_equal(kept, expected, (
        "dataset_length=2 keeps the first 2 of the reviews that pass min_seq_length=3 (filter first, then take the "
        f"first dataset_length), i.e. the first 2 items of the same dataset without dataset_length: expected "
        f"{expected}, got {kept}"
    ), case=case, what="items as words")
    labels = [int(dataset[i][1]) for i in range(len(dataset))]
    expected_labels = [int(filtered[i][1]) for i in range(min(2, len(filtered)))]
    assert_equal(labels, expected_labels, f"labels of the kept reviews: expected {expected_labels}, got {labels}",
                 case=case, what="labels")
    everything = data.TextClassificationDataset(reviews, dataset_length=100)
    size = len(everything)
    assert_equal(size, 5, f"dataset_length larger than the data keeps all 5 reviews, got {size}",
                 case="5 reviews, dataset_length=100", what="len(dataset)")


@pytest.mark.weight(1, part="2.a.iii")
@pytest.mark.timeout(10)
def test_dataset_never_keeps_an_empty_review(student):
    """The one test of "a review with no words left after preprocessing is dropped, even with min_seq_length=0"
    (targets ``len(words) >= min_seq_length`` alone). Which reviews are empty is what YOUR preprocess returns
    (its own tests judge it); max_seq_length=1 keeps padding and truncation out of it."""
    data = student.module("data")
    reviews = [("bravo", 1), ("", 0), ("charlie delta", 1), ("the and of", 0), ("<br />!!!", 0), (" \n ", 0),
               ("echo", 1)]
    words = [data.preprocess(text) for text, _ in reviews]
    empty = [text for (text, _), w in zip(reviews, words) if len(w) == 0]
    expected = [label for (_, label), w in zip(reviews, words) if len(w) > 0]
    dataset = data.TextClassificationDataset(reviews, max_seq_length=1)
    labels = [int(dataset[i][1]) for i in range(len(dataset))]
    case = "7 reviews, 4 of them empty after preprocessing, max_seq_length=1"
    assert_equal(labels, expected, (
        f"reviews with no words left after preprocessing ({empty}) are dropped even with min_seq_length=0 (their "
        f"sequence would be all PAD): expected {len(expected)} items with labels {expected}, got {len(labels)} "
        f"with labels {labels}"
    ), case=case, what="labels")
    for i in range(len(dataset)):
        ids, _ = dataset[i]
        expect(int(ids[-1]) != PAD, f"item {i}: the last position must be a real word, got ids {ids.tolist()}",
               got=ids.tolist(), case=case, what=f"item {i}'s ids")


@pytest.mark.weight(1, part="2.a.iii")
@pytest.mark.timeout(10)
def test_dataset_fits_a_tokenizer_on_its_reviews_only(student):
    """The dataset's tokenizer: a new BOWTokenizer(vocab_size) fitted on ALL its reviews, or the one given, as it is.
    Compared with your own BOWTokenizer fitted on the reviews (the tokenizer tests judge the fitting itself)."""
    data = student.module("data")
    reviews = _reviews()
    all_words = [data.preprocess(text) for text, _ in reviews]
    train = data.TextClassificationDataset(reviews, vocab_size=4, max_seq_length=8)
    vocabulary = _vocabulary(train.tokenizer)
    expected = _vocabulary(data.BOWTokenizer(vocab_size=4).fit(all_words))
    case = "5 reviews, vocab_size=4"
    assert_equal(vocabulary, expected, (
        "a dataset without a tokenizer fits BOWTokenizer(vocab_size=4) on its own reviews: expected the vocabulary "
        f"of BOWTokenizer(vocab_size=4).fit(<its preprocessed reviews>), {expected} (['<pad>', '<unk>', 'alpha', "
        f"'bravo']: alpha..echo appear 3 times each), got {vocabulary}"
    ), case=case, what="the training dataset's vocabulary")
    texts = ["zulu yankee alpha", "xray"]
    test = data.TextClassificationDataset([(texts[0], 1), (texts[1], 0)], tokenizer=train.tokenizer, max_seq_length=3)
    used = _vocabulary(test.tokenizer)
    assert_equal(used, vocabulary, (
        "a dataset given the training tokenizer must use it as it is (never refit it on validation or test "
        f"reviews): expected the vocabulary {vocabulary}, got {used}"
    ), case=case, what="the test dataset's vocabulary")
    expected_items = _expected_items(data, train.tokenizer, texts, 3)
    actual = _items(test)
    expect(actual == expected_items, lambda: (  # decoding the items: requests, only on failure
        "a dataset given the training tokenizer encodes with it: words seen only in the test reviews map to UNK; "
        f"expected {_words(train.tokenizer, expected_items)}, got {_words(train.tokenizer, actual)}"
    ), got=actual, case=case, what="the test dataset's items")
    after = _vocabulary(train.tokenizer)
    assert_equal(after, vocabulary, f"the test set must not change the training tokenizer: its vocabulary was "
                 f"{vocabulary}, is now {after}", case=case, what="the training vocabulary after the test dataset")
    # The vocabulary belongs to the training reviews, not to a length bucket: fit on all of them, then filter.
    # All five reviews: alpha..echo 3 times each -> alpha first; the three kept by min_seq_length=4 alone:
    # alpha and bravo twice, charlie, delta and echo 3 times -> charlie first.
    long_only = data.TextClassificationDataset(reviews, vocab_size=3, min_seq_length=4, max_seq_length=8)
    vocabulary = _vocabulary(long_only.tokenizer)
    expected = _vocabulary(data.BOWTokenizer(vocab_size=3).fit(all_words))
    assert_equal(vocabulary, expected, (
        "fit the tokenizer on ALL the reviews given, before min_seq_length drops the short ones (BOWTokenizer("
        "vocab_size=3), min_seq_length=4: alpha..echo appear 3 times each in all the reviews, but in the 3 kept "
        f"ones charlie, delta and echo lead): expected {expected}, got {vocabulary}"
    ), case="5 reviews, vocab_size=3, min_seq_length=4", what="the dataset's vocabulary")


def test_dataset_batches_with_a_dataloader(student):
    dataset = student.module("data").TextClassificationDataset(_reviews(), max_seq_length=7)
    loader = student.module("torch.utils.data").DataLoader(dataset, batch_size=4)
    ids, labels = next(iter(loader))  # iterating a Ref gives the list of every batch (2 here)
    case = "DataLoader(batch_size=4), max_seq_length=7"
    got = (tuple(ids.shape), tuple(labels.shape))
    assert_equal(got, ((4, 7), (4,)), f"the first batch's (ids, labels) shapes: expected ((4, 7), (4,)), got {got}",
                 case=case, what="shapes")
    got = (ids.dtype, labels.dtype)
    assert_equal(got, (torch.long, torch.long), f"the first batch's (ids, labels) dtypes: expected int64, got {got}",
                 case=case, what="dtypes")
    expect(bool((ids[:, -1] != PAD).all()), f"the last position of every item must be a real word, got ids "
           f"{ids.tolist()}", got=ids.tolist(), case=case, what="ids")
