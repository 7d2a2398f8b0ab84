"""Mistakes in data.py (Problem 2(a)iii): preprocessing, the tokenizer, padding and the dataset."""

from __future__ import annotations

from grading.mutants import Mutant

PRE, FIT, ENC, PAD, DS = ("preprocess", "BOWTokenizer.fit", "BOWTokenizer.encode", "pad_and_truncate",
                          "TextClassificationDataset.__init__")
PUNCT = 'text = text.translate(str.maketrans(string.punctuation, " " * len(string.punctuation)))'
KEEP = "kept = [(words, label) for words, label in documents if words and len(words) >= min_seq_length]"
KEEP_AND_CUT = f"""\
        {KEEP}
        if dataset_length is not None:
            kept = kept[:dataset_length]
"""
FIT_TOKENIZER = """\
        if tokenizer is None:
            tokenizer = BOWTokenizer(vocab_size).fit(words for words, _ in documents)
"""

MUTANTS: list[Mutant] = [
    # --- preprocess ---------------------------------------------------------------------------------
    Mutant("data.punctuation_kept", PRE, PUNCT, "text = text", "punctuation is never removed"),
    Mutant("data.punctuation_deleted", PRE, PUNCT,
           'text = text.translate(str.maketrans("", "", string.punctuation))',
           'punctuation deleted instead of replaced by a space ("must-see" becomes "mustsee")'),
    Mutant("data.stopwords_kept", PRE, "return [word for word in text.split() if word not in STOPWORDS]",
           "return text.split()", "stopwords are not dropped"),
    Mutant("data.no_lowercase", PRE, 'text = re.sub(r"<[^>]*>", " ", text.lower())',
           'text = re.sub(r"<[^>]*>", " ", text)', "the text is not lowercased"),
    Mutant("data.html_greedy_regex", PRE, 're.sub(r"<[^>]*>", " ", text.lower())',
           're.sub(r"<.*>", " ", text.lower())',
           "a greedy <.*> regex deletes everything from the first < to the last > of the review"),
    Mutant("data.apostrophe_to_space", PRE, 'text = text.replace("\'", "")', "text = text",
           "apostrophes replaced by a space like other punctuation (\"didn't\" becomes \"didn\", \"t\")"),
    Mutant("data.split_on_single_space", PRE, "for word in text.split() if", 'for word in text.split(" ") if',
           'split(" ") instead of split(): empty words and words glued by tabs or newlines'),
    # --- tokenizer ----------------------------------------------------------------------------------
    Mutant("data.ties_not_alphabetical", FIT,
           "ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))",
           "ranked = counts.most_common()",
           "Counter.most_common: ties in order of first appearance, not alphabetical"),
    Mutant("data.document_frequency", FIT, "counts.update(words)", "counts.update(set(words))",
           "counts the reviews a word appears in, not its occurrences"),
    Mutant("data.vocab_too_large", FIT, "ranked[: self.vocab_size - 2]", "ranked[: self.vocab_size]",
           "vocab_size words plus PAD and UNK: two ids too many"),
    Mutant("data.unk_dropped", ENC, "return [self.word_to_id.get(w, self.UNK) for w in words]",
           "return [self.word_to_id[w] for w in words if w in self.word_to_id]",
           "unknown words dropped instead of mapped to UNK"),
    # --- pad_and_truncate ---------------------------------------------------------------------------
    Mutant("data.right_padding", PAD, "ids = [BOWTokenizer.PAD] * (max_seq_length - len(ids)) + ids",
           "ids = ids + [BOWTokenizer.PAD] * (max_seq_length - len(ids))",
           "PAD on the right: the last position, which the models classify, is padding"),
    Mutant("data.last_tokens_kept", PAD, "ids = list(ids[:max_seq_length])", "ids = list(ids[-max_seq_length:])",
           "the last max_seq_length words kept instead of the first"),
    Mutant("data.pad_flag_ignored", PAD, """\
    if pad:
        ids = [BOWTokenizer.PAD]""", """\
    if True:
        ids = [BOWTokenizer.PAD]""", "pad=False still pads"),
    Mutant("data.no_pad_skips_truncation", PAD, """\
    ids = list(ids[:max_seq_length])
    if pad:
""", """\
    if pad:
        ids = list(ids[:max_seq_length])
""", "pad=False returns the ids as they are: no truncation either"),
    # --- the dataset --------------------------------------------------------------------------------
    Mutant("data.min_seq_length_ignored", DS, KEEP,
           "kept = [(words, label) for words, label in documents if words]",
           "min_seq_length ignored"),
    Mutant("data.min_seq_length_strict", DS, KEEP,
           "kept = [(words, label) for words, label in documents if words and len(words) > min_seq_length]",
           "reviews of exactly min_seq_length words dropped (> instead of >=)"),
    Mutant("data.empty_reviews_kept", DS, KEEP,
           "kept = [(words, label) for words, label in documents if len(words) >= min_seq_length]",
           "empty reviews kept (their sequence is all PAD)"),
    Mutant("data.length_before_filter", DS, KEEP_AND_CUT, """\
        if dataset_length is not None:
            documents = documents[:dataset_length]
        kept = [(words, label) for words, label in documents if words and len(words) >= min_seq_length]
""", "dataset_length applied before dropping the short reviews"),
    Mutant("data.tokenizer_fitted_on_test", DS, FIT_TOKENIZER,
           "        tokenizer = BOWTokenizer(vocab_size).fit(words for words, _ in documents)\n",
           "a new tokenizer fitted on every dataset, also on the test reviews"),
    Mutant("data.tokenizer_fitted_after_filter", DS, FIT_TOKENIZER + KEEP_AND_CUT,
           KEEP_AND_CUT + FIT_TOKENIZER.replace("in documents", "in kept"),
           "the tokenizer fitted on the kept reviews only: the vocabulary changes with min_seq_length"),
]
