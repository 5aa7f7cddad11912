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


_SHIFT = np.uint64(21)  # code points fit in 21 bits: up to three per 63-bit n-gram id


class NgramTfidf(TransformerMixin, BaseEstimator):
    """TF-IDF over character or word n-grams, computed with numpy instead of per-n-gram Python.

    Every n-gram becomes an integer id (character n-grams: code points packed 21 bits apart;
    word n-grams: word indices packed the same way), looked up in the sorted array of ids kept at
    fit time with ``np.searchsorted``. Only the words themselves go through Python (one dict
    lookup per word), which makes this several times faster than a vocabulary or hashing
    vectorizer. Output equals a ``TfidfVectorizer(sublinear_tf=True, norm="l2")`` over the kept
    n-grams.

    Parameters
    ----------
    analyzer : {"char", "word"}
    ngram_range : (min_n, max_n), max_n <= 3
    segmenter : Segmenter, for ``analyzer="word"``
    min_df : int
    max_features : int or None
        Keep the n-grams with the highest document frequency.
    """

    def __init__(self, analyzer: str = "char", ngram_range: tuple[int, int] = (1, 3), segmenter: Segmenter | None = None, min_df: int = 2, max_features: int | None = 60000):
        self.analyzer = analyzer
        self.ngram_range = ngram_range
        self.segmenter = segmenter
        self.min_df = min_df
        self.max_features = max_features

    # -- ids -------------------------------------------------------------------------------
    def _units(self, texts: Sequence[str], *, fitting: bool) -> tuple[np.ndarray, np.ndarray]:
        """Per document, a run of unit ids (code points or word indices); 0 separates documents.

        Returns the concatenated ids (uint64) and the document index of every position.
        """
        if self.analyzer == "char":
            joined = "\x00".join(t.lower() for t in texts)
            units = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
            lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
        else:
            cut = self.segmenter_ if hasattr(self, "segmenter_") else self.segmenter
            docs = [cut(t) for t in texts]
            if fitting:
                df: dict[str, int] = {}
                for words in docs:
                    for w in set(words):
                        df[w] = df.get(w, 0) + 1
                kept = sorted(w for w, n in df.items() if n >= self.min_df)
                self.word_index_ = {w: i + 1 for i, w in enumerate(kept)}  # 0 is the separator
            get = self.word_index_.get
            unknown = len(self.word_index_) + 1
            flat: list[int] = []
            for words in docs:
                flat += [get(w, unknown) for w in words]
                flat.append(0)
            units = np.asarray(flat[:-1] if flat else [], dtype=np.uint64)
            lengths = np.fromiter((len(d) for d in docs), dtype=np.int64, count=len(docs))
            units[units == np.uint64(unknown)] = np.uint64(unknown)  # kept as a blocker below
            self._unknown = unknown
        doc_of = np.repeat(np.arange(len(texts), dtype=np.int64), lengths + 1)[: len(units)]
        return units, doc_of

    def _ngram_ids(self, units: np.ndarray, doc_of: np.ndarray):
        """Yield (order, ids, docs) for every n-gram order, documents' edges respected."""
        blocked = units == 0
        if self.analyzer == "word":
            blocked |= units == np.uint64(self._unknown)
        lo, hi = self.ngram_range
        for n in range(lo, hi + 1):
            if len(units) < n:
                continue
            m = len(units) - n + 1
            ids = units[:m].copy()
            bad = blocked[:m].copy()
            for k in range(1, n):
                ids = (ids << _SHIFT) | units[k : k + m]
                bad |= blocked[k : k + m]
            ok = ~bad
            yield n, ids[ok], doc_of[:m][ok]

    # -- fit / transform ---------------------------------------------------------------------
    def fit(self, X: Sequence[str], y=None) -> "NgramTfidf":
        texts = list(X)
        if self.analyzer not in ("char", "word"):
            raise ValueError(f"analyzer must be 'char' or 'word', got {self.analyzer!r}.")
        if not 1 <= self.ngram_range[0] <= self.ngram_range[1] <= 3:
            raise ValueError(f"ngram_range must be within (1, 3), got {self.ngram_range!r}.")
        if self.analyzer == "word":
            self.segmenter_ = self.segmenter if self.segmenter is not None else Segmenter()
        units, doc_of = self._units(texts, fitting=True)
        all_ids, all_df, all_order = [], [], []
        for n, ids, docs in self._ngram_ids(units, doc_of):
            pairs = np.unique(np.column_stack([ids, docs.astype(np.uint64)]), axis=0)
            uniq, df = np.unique(pairs[:, 0], return_counts=True)
            keep = df >= self.min_df
            all_ids.append(uniq[keep])
            all_df.append(df[keep])
            all_order.append(np.full(keep.sum(), n))
        ids = np.concatenate(all_ids) if all_ids else np.zeros(0, np.uint64)
        df = np.concatenate(all_df) if all_df else np.zeros(0, np.int64)
        order = np.concatenate(all_order) if all_order else np.zeros(0, np.int64)
        if self.max_features is not None and len(ids) > self.max_features:
            top = np.lexsort((ids, order, -df))[: self.max_features]
            ids, df, order = ids[top], df[top], order[top]
        self.kept_ = {}
        self.idf_ = np.log((1.0 + len(texts)) / (1.0 + df)) + 1.0
        # Columns grouped by order, sorted by id within each order (for searchsorted).
        columns = np.lexsort((ids, order))
        ids, order, self.idf_ = ids[columns], order[columns], self.idf_[columns]
        self.offsets_ = {}
        start = 0
        for n in range(self.ngram_range[0], self.ngram_range[1] + 1):
            block = ids[order == n]
            self.kept_[n] = block
            self.offsets_[n] = start
            start += len(block)
        self.n_features_out_ = start
        self.names_ = self._decode(ids, order)
        return self

    def _decode(self, ids: np.ndarray, order: np.ndarray) -> np.ndarray:
        words = None
        if self.analyzer == "word":
            words = [""] * (len(self.word_index_) + 2)
            for w, i in self.word_index_.items():
                words[i] = w
        mask = (1 << 21) - 1
        names = np.empty(len(ids), dtype=object)
        for j, (value, n) in enumerate(zip(ids.tolist(), order.tolist())):
            parts = [(value >> (21 * (n - 1 - k))) & mask for k in range(n)]
            names[j] = "".join(chr(p) for p in parts) if words is None else " ".join(words[p] for p in parts)
        return names

    def transform(self, X: Sequence[str]) -> sp.csr_matrix:
        check_is_fitted(self, "kept_")
        texts = list(X)
        units, doc_of = self._units(texts, fitting=False)
        rows, cols = [], []
        for n, ids, docs in self._ngram_ids(units, doc_of):
            kept = self.kept_[n]
            if not len(kept) or not len(ids):
                continue
            order = np.argsort(ids)  # sorted keys make searchsorted about twice as fast
            ids, docs = ids[order], docs[order]
            pos = np.searchsorted(kept, ids)
            pos[pos == len(kept)] = 0
            hit = kept[pos] == ids
            rows.append(docs[hit])
            cols.append(pos[hit] + self.offsets_[n])
        shape = (len(texts), self.n_features_out_)
        if not rows:
            return sp.csr_matrix(shape)
        r = np.concatenate(rows)
        c = np.concatenate(cols)
        out = sp.csr_matrix((np.ones(len(r)), (r, c)), shape=shape)  # duplicates summed
        out.sum_duplicates()
        out.data = (1.0 + np.log(out.data)) * self.idf_[out.indices]
        lengths = np.diff(out.indptr)
        if out.data.size:
            sq = np.add.reduceat(out.data**2, out.indptr[:-1][lengths > 0])
            norms = np.ones(len(texts))
            norms[lengths > 0] = np.sqrt(sq)
            out.data /= np.repeat(norms, lengths)
        return out

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        check_is_fitted(self, "names_")
        return self.names_


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
        Ignore n-grams seen in fewer training documents.
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
        self.word_block_ = NgramTfidf(
            analyzer="word", ngram_range=self.word_ngram_range, segmenter=segmenter, min_df=self.min_df, max_features=self.max_word_features
        ).fit(texts)
        self.char_block_ = NgramTfidf(
            analyzer="char", ngram_range=self.char_ngram_range, min_df=self.min_df, max_features=self.max_char_features
        ).fit(texts)
        self.keyword_matcher_ = KeywordMatcher(self.keywords or {})
        self.feature_names_ = np.concatenate(
            [
                self.word_block_.get_feature_names_out(),
                self.char_block_.get_feature_names_out(),
                np.asarray([f"<{n}>" for n in self.keyword_matcher_.names], dtype=object),
            ]
        ).astype(object)
        self.n_features_out_ = len(self.feature_names_)
        return self

    def transform(self, X: Sequence[str]) -> sp.csr_matrix:
        check_is_fitted(self, "feature_names_")
        texts = list(X)
        blocks = [self.word_block_.transform(texts), self.char_block_.transform(texts)]
        if self.keyword_matcher_.names:
            blocks.append(self.keyword_matcher_.counts(texts) * self.keyword_weight)
        return sp.hstack(blocks, format="csr")

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        check_is_fitted(self, "feature_names_")
        return self.feature_names_
