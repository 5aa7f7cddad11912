"""Stage 3: features shared by every classifier head.

:class:`TextFeatures` turns normalized texts into one sparse matrix made of

- TF-IDF word n-grams over the :class:`~triage.segment.Segmenter`'s words,
- TF-IDF character n-grams (robust to segmentation errors, typos and unknown words),
- keyword-group counts (threat, safety, ... from the model's keyword lists), so that the learned
  heads can weigh the team's keyword lists, and the reasons can say which words fired.

It follows scikit-learn's estimator contract (``__init__`` stores, ``fit`` learns attributes
ending in ``_``), so analysts can grid-search ``features__char_ngram_range`` and friends.
"""

from __future__ import annotations

import re
from typing import Iterable, Mapping, Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.utils.validation import check_is_fitted

from .segment import Segmenter


class KeywordMatcher:
    """Find the words of each keyword group in a text with one compiled regex per group.

    >>> m = KeywordMatcher({"threat": ["12315", "曝光"], "safety": ["过敏"]})
    >>> m.find("打12315，还要曝光")
    {'threat': ['12315', '曝光']}
    """

    def __init__(self, groups: Mapping[str, Sequence[str]]):
        self.groups = {name: tuple(sorted(set(words), key=len, reverse=True)) for name, words in groups.items()}
        self._patterns = {
            name: re.compile("|".join(map(re.escape, words))) for name, words in self.groups.items() if words
        }

    @property
    def names(self) -> list[str]:
        return list(self.groups)

    def find(self, text: str) -> dict[str, list[str]]:
        """Group -> the distinct keywords found, in order of appearance; groups without a hit omitted."""
        found: dict[str, list[str]] = {}
        for name, pattern in self._patterns.items():
            hits = list(dict.fromkeys(pattern.findall(text)))
            if hits:
                found[name] = hits
        return found

    def counts(self, texts: Iterable[str]) -> sp.csr_matrix:
        """Matrix of log(1 + number of hits), one column per group."""
        names = self.names
        rows = []
        for text in texts:
            rows.append(
                [np.log1p(len(self._patterns[n].findall(text))) if n in self._patterns else 0.0 for n in names]
            )
        return sp.csr_matrix(np.asarray(rows, dtype=np.float64).reshape(len(rows), len(names)))

    def __getstate__(self) -> dict:
        return {"groups": self.groups}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["groups"])


class TextFeatures(TransformerMixin, BaseEstimator):
    """Word n-grams + character n-grams + keyword-group counts, as one sparse matrix.

    Parameters
    ----------
    segmenter : Segmenter
        Cuts texts into words for the word n-grams.
    keywords : mapping of str to list of str, optional
        Keyword groups; one count column each.
    word_ngram_range, char_ngram_range : tuple (min_n, max_n)
    min_df : int
        Ignore n-grams seen in fewer documents.
    max_word_features, max_char_features : int or None
        Keep only the most frequent n-grams (keeps the model small and fast).
    keyword_weight : float
        Scale of the keyword columns relative to the TF-IDF blocks.
    """

    def __init__(
        self,
        segmenter: Segmenter | None = None,
        keywords: Mapping[str, Sequence[str]] | None = None,
        word_ngram_range: tuple[int, int] = (1, 2),
        char_ngram_range: tuple[int, int] = (1, 3),
        min_df: int = 2,
        max_word_features: int | None = 40000,
        max_char_features: int | None = 60000,
        keyword_weight: float = 0.5,
    ):
        self.segmenter = segmenter
        self.keywords = keywords
        self.word_ngram_range = word_ngram_range
        self.char_ngram_range = char_ngram_range
        self.min_df = min_df
        self.max_word_features = max_word_features
        self.max_char_features = max_char_features
        self.keyword_weight = keyword_weight

    def fit(self, X: Sequence[str], y=None) -> "TextFeatures":
        texts = list(X)
        segmenter = self.segmenter if self.segmenter is not None else Segmenter()
        self.segmenter_ = segmenter
        self.word_vectorizer_ = TfidfVectorizer(
            tokenizer=segmenter,
            token_pattern=None,
            lowercase=False,
            ngram_range=tuple(self.word_ngram_range),
            min_df=self.min_df,
            max_features=self.max_word_features,
            sublinear_tf=True,
            dtype=np.float64,
        ).fit(texts)
        self.char_vectorizer_ = TfidfVectorizer(
            analyzer="char",
            lowercase=True,
            ngram_range=tuple(self.char_ngram_range),
            min_df=self.min_df,
            max_features=self.max_char_features,
            sublinear_tf=True,
            dtype=np.float64,
        ).fit(texts)
        self.keyword_matcher_ = KeywordMatcher(self.keywords or {})
        words = self.word_vectorizer_.get_feature_names_out()
        chars = self.char_vectorizer_.get_feature_names_out()
        self.feature_names_ = np.concatenate(
            [words, chars, np.asarray([f"<{n}>" for n in self.keyword_matcher_.names], dtype=object)]
        ).astype(object)
        self.n_features_out_ = len(self.feature_names_)
        return self

    def transform(self, X: Sequence[str]) -> sp.csr_matrix:
        check_is_fitted(self, "feature_names_")
        texts = list(X)
        blocks = [self.word_vectorizer_.transform(texts), self.char_vectorizer_.transform(texts)]
        if self.keyword_matcher_.names:
            blocks.append(self.keyword_matcher_.counts(texts) * self.keyword_weight)
        return sp.hstack(blocks, format="csr")

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        check_is_fitted(self, "feature_names_")
        return self.feature_names_
