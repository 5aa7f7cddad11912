"""Stage 3: features shared by every classifier head.

:class:`FeatureSpace` turns normalized texts into one sparse matrix made of

- TF-IDF word n-grams over the :class:`~triage.segment.Segmenter`'s words,
- TF-IDF character n-grams (robust to segmentation errors, typos and unknown words),
- keyword-group counts (threat, safety, ... from ``data/keywords.toml``), so that the learned heads
  weigh the team's keyword lists, and the reasons can say which words fired.

This module is the scoring-time code and needs only numpy and scipy (no scikit-learn, which
takes most of a second to import). The scikit-learn estimator over it, for analysts' pipelines
and grid searches, is :class:`triage.estimators.TextFeatures`.

>>> space = FeatureSpace.fit(["物流很慢", "物流很快", "假货"] * 2, segmenter=Segmenter(backend="jieba"))
>>> space.transform(["物流太慢"]).shape[0]
1
"""

from __future__ import annotations

import re
from itertools import chain, repeat
from typing import Iterable, Iterator, Mapping, Sequence

import numpy as np
import scipy.sparse as sp

from .segment import Segmenter

#: keyword groups whose words get columns of their own by default (see FeatureSpace.fit)
FLAG_KEYWORD_GROUPS = ("threat", "safety", "counterparty")

_SHIFT = np.uint64(21)  # code points fit in 21 bits: up to three per 63-bit n-gram id
_MASK21 = (1 << 21) - 1


def literal_pattern(words: Iterable[str]) -> re.Pattern[str] | None:
    """One regex finding any of ``words``, the longest where several start at the same place
    (like ``"|".join`` of the words sorted longest first), built as a trie so that the regex
    engine branches on each character instead of trying every word (1.5x faster on our lists).
    ``None`` when there are no words.

    >>> literal_pattern(["中毒", "食物中毒", "食品"]).findall("食物中毒和食品")
    ['食物中毒', '食品']
    """
    trie: dict = {}
    for word in words:
        if word:
            node = trie
            for ch in word:
                node = node.setdefault(ch, {})
            node[""] = {}
    if not trie:
        return None

    def build(node: dict) -> str:
        branches = [re.escape(ch) + build(sub) for ch, sub in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body  # greedy: the longer word first

    return re.compile(build(trie))


class KeywordMatcher:
    """Find the words of keyword groups in a text with one compiled regex for all groups.

    A word may belong to several groups. Longer words win where they overlap ("食物中毒"
    before "中毒").

    >>> m = KeywordMatcher({"threat": ["12315", "曝光"], "safety": ["过敏"]})
    >>> m.find("打12315，还要曝光")
    {'threat': ['12315', '曝光']}
    """

    def __init__(self, groups: Mapping[str, Sequence[str]], per_word: Iterable[str] = ()):
        self.groups = {name: tuple(sorted(set(words), key=lambda w: (-len(w), w))) for name, words in groups.items()}
        per_word = set(per_word)  # read once: a generator would be empty the second time
        unknown = sorted(per_word - set(self.groups))
        if unknown:
            raise ValueError(f"per_word names groups that do not exist: {unknown}; the groups are {sorted(self.groups)}.")
        #: the groups whose every word also has a column of its own, in group order
        self.per_word = tuple(name for name in self.groups if name in per_word)
        self._word_groups: dict[str, list[int]] = {}
        for g, words in enumerate(self.groups.values()):
            for w in words:
                self._word_groups.setdefault(w, []).append(g)
        # The words with a column of their own (first group wins for the name), after the group columns.
        self._own: dict[str, str] = {}
        for name in self.per_word:
            for w in self.groups[name]:
                self._own.setdefault(w, name)
        n_groups = len(self.groups)
        own_col = {w: n_groups + i for i, w in enumerate(self._own)}
        self._word_columns = {w: gs + ([own_col[w]] if w in own_col else []) for w, gs in self._word_groups.items()}
        self._pattern = literal_pattern(self._word_groups)

    @property
    def names(self) -> list[str]:
        return list(self.groups)

    @property
    def column_names(self) -> list[str]:
        """One name per column of :meth:`entries`: ``<group>`` for every group, then
        ``<group:word>`` for every word of the ``per_word`` groups."""
        return [f"<{n}>" for n in self.groups] + [f"<{g}:{w}>" for w, g in self._own.items()]

    def find(self, text: str) -> dict[str, list[str]]:
        """Group -> the distinct keywords found, in order of appearance; groups without a hit omitted."""
        found: dict[str, list[str]] = {}
        if self._pattern is None:
            return found
        names = self.names
        for word in dict.fromkeys(self._pattern.findall(text)):
            for g in self._word_groups[word]:
                found.setdefault(names[g], []).append(word)
        return {name: found[name] for name in names if name in found}

    def entries(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(row, column) of every keyword hit in ``texts``: the columns of the word's groups (a word
        in two groups counts in both) and the word's own column if it has one (``per_word``)."""
        rows: list[int] = []
        cols: list[int] = []
        if self._pattern is not None:
            word_groups = self._word_columns
            findall = self._pattern.findall
            for i, text in enumerate(texts):
                for word in findall(text):
                    for g in word_groups[word]:
                        rows.append(i)
                        cols.append(g)
        return np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)

    def counts(self, texts: Iterable[str]) -> sp.csr_matrix:
        """Matrix of log(1 + number of hits), one column per entry of :attr:`column_names`."""
        texts = list(texts)
        counts = np.zeros((len(texts), len(self.column_names)))
        rows, cols = self.entries(texts)
        np.add.at(counts, (rows, cols), 1)
        return sp.csr_matrix(np.log1p(counts))

    def __getstate__(self) -> dict:
        return {"groups": self.groups, "per_word": self.per_word}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["groups"], state.get("per_word") or ())


class NgramTable:
    """TF-IDF over character or word n-grams, computed with numpy instead of per-n-gram Python.

    Every n-gram becomes an integer id (character n-grams: code points packed 21 bits apart;
    word n-grams: word indices packed the same way), looked up with ``np.searchsorted`` in the
    sorted ids kept at fit time. Only words go through Python (one dict lookup each), which makes
    this several times faster than a vocabulary or hashing vectorizer. The output equals
    scikit-learn's ``TfidfVectorizer(sublinear_tf=True, norm="l2", smooth_idf=True)`` over the
    kept n-grams (a test checks it).

    Build one with :meth:`fit`.
    """

    def __init__(self, analyzer: str, ngram_range: tuple[int, int], segmenter: Segmenter | None, kept: dict[int, np.ndarray],
                 idf: np.ndarray, names: np.ndarray, word_index: dict[str, int] | None = None):
        self.analyzer = analyzer
        self.ngram_range = tuple(ngram_range)
        self.segmenter = segmenter
        self.kept = kept
        self.idf = idf
        self.names = names
        self.word_index = word_index
        self.offsets: dict[int, int] = {}
        start = 0
        for n in range(self.ngram_range[0], self.ngram_range[1] + 1):
            self.offsets[n] = start
            start += len(kept.get(n, ()))
        self.n_features = start

    # -- ids ---------------------------------------------------------------------------------
    @staticmethod
    def _check(analyzer: str, ngram_range: Sequence[int]) -> None:
        if analyzer not in ("char", "word"):
            raise ValueError(f"analyzer must be 'char' or 'word', got {analyzer!r}.")
        if not 1 <= ngram_range[0] <= ngram_range[1] <= 3:
            raise ValueError(f"ngram_range must lie within (1, 3), got {tuple(ngram_range)!r}.")

    @staticmethod
    def _char_units(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        joined = "\x00".join(t.lower() for t in texts)
        units = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
        return units, lengths

    @staticmethod
    def _word_units(docs: Sequence[Sequence[str]], index: Mapping[str, int]) -> tuple[np.ndarray, np.ndarray]:
        lengths = np.fromiter((len(d) for d in docs), dtype=np.int64, count=len(docs))
        n_words = int(lengths.sum())
        ids = np.fromiter(map(index.get, chain.from_iterable(docs), repeat(len(index) + 1)), dtype=np.uint64, count=n_words)
        # Documents separated by a 0 unit, as in _char_units.
        units = np.zeros(max(0, n_words + len(docs) - 1), dtype=np.uint64)
        units[np.arange(n_words) + np.repeat(np.arange(len(docs)), lengths)] = ids
        return units, lengths

    @staticmethod
    def _ngram_ids(units: np.ndarray, lengths: np.ndarray, ngram_range: Sequence[int], unknown: int | None) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """(order, ids, docs) for every n-gram order; n-grams never cross documents or unknown words."""
        doc_of = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths + 1)[: len(units)]
        blocked = units == 0
        if unknown is not None:
            blocked |= units == np.uint64(unknown)
        for n in range(ngram_range[0], ngram_range[1] + 1):
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

    def _ids(self, texts: Sequence[str]) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        if self.analyzer == "char":
            units, lengths = self._char_units(texts)
            return self._ngram_ids(units, lengths, self.ngram_range, None)
        docs = [self.segmenter(t) for t in texts]
        units, lengths = self._word_units(docs, self.word_index)
        return self._ngram_ids(units, lengths, self.ngram_range, len(self.word_index) + 1)

    # -- fit -----------------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        *,
        analyzer: str = "char",
        ngram_range: tuple[int, int] = (1, 3),
        segmenter: Segmenter | None = None,
        min_df: int = 2,
        max_features: int | None = 60000,
    ) -> "NgramTable":
        """Learn the kept n-grams (document frequency >= ``min_df``, the ``max_features`` most
        frequent) and their idf from ``texts``."""
        cls._check(analyzer, ngram_range)
        texts = list(texts)
        word_index = None
        if analyzer == "char":
            units, lengths = cls._char_units(texts)
            unknown = None
        else:
            segmenter = segmenter if segmenter is not None else Segmenter()
            docs = [segmenter(t) for t in texts]
            df_words: dict[str, int] = {}
            for words in docs:
                for w in set(words):
                    df_words[w] = df_words.get(w, 0) + 1
            word_index = {w: i + 1 for i, w in enumerate(sorted(w for w, c in df_words.items() if c >= min_df))}
            units, lengths = cls._word_units(docs, word_index)
            unknown = len(word_index) + 1
        all_ids, all_df, all_order = [], [], []
        for n, ids, docs_of in cls._ngram_ids(units, lengths, ngram_range, unknown):
            pairs = np.unique(np.column_stack([ids, docs_of.astype(np.uint64)]), axis=0)
            uniq, df = np.unique(pairs[:, 0], return_counts=True)
            keep = df >= min_df
            all_ids.append(uniq[keep])
            all_df.append(df[keep])
            all_order.append(np.full(int(keep.sum()), n))
        ids = np.concatenate(all_ids) if all_ids else np.zeros(0, np.uint64)
        df = np.concatenate(all_df) if all_df else np.zeros(0, np.int64)
        order = np.concatenate(all_order) if all_order else np.zeros(0, np.int64)
        if max_features is not None and len(ids) > max_features:
            top = np.lexsort((ids, order, -df))[:max_features]
            ids, df, order = ids[top], df[top], order[top]
        columns = np.lexsort((ids, order))  # grouped by order, sorted by id within an order
        ids, df, order = ids[columns], df[columns], order[columns]
        idf = np.log((1.0 + len(texts)) / (1.0 + df)) + 1.0
        kept = {n: ids[order == n] for n in range(ngram_range[0], ngram_range[1] + 1)}
        names = cls._decode(ids, order, word_index)
        return cls(analyzer, ngram_range, segmenter if analyzer == "word" else None, kept, idf, names, word_index)

    @staticmethod
    def _decode(ids: np.ndarray, order: np.ndarray, word_index: Mapping[str, int] | None) -> np.ndarray:
        words = None
        if word_index is not None:
            words = [""] * (len(word_index) + 2)
            for w, i in word_index.items():
                words[i] = w
        names = np.empty(len(ids), dtype=object)
        for j, (value, n) in enumerate(zip(ids.tolist(), order.tolist())):
            parts = [(value >> (21 * (n - 1 - k))) & _MASK21 for k in range(n)]
            names[j] = "".join(chr(p) for p in parts) if words is None else " ".join(words[p] for p in parts)
        return names

    # -- transform -----------------------------------------------------------------------------
    def document_frequency(self, word: str) -> float:
        """Share of training documents containing ``word`` (word tables; 0.0 when not kept)."""
        if self.word_index is None or self.ngram_range[0] != 1:
            raise ValueError("document_frequency needs a word table with unigrams.")
        if not hasattr(self, "_unigram_df"):
            kept = self.kept[1]
            idf = self.idf[self.offsets[1] : self.offsets[1] + len(kept)]
            # idf = ln((1 + n) / (1 + df)) + 1  =>  df / n ~ exp(1 - idf)
            shares = np.exp(1.0 - idf)
            words = [""] * (len(self.word_index) + 2)
            for w, i in self.word_index.items():
                words[i] = w
            self._unigram_df = {words[int(i)]: float(sh) for i, sh in zip(kept.tolist(), shares)}
        return self._unigram_df.get(word, 0.0)

    def entries(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(row, column) of every kept n-gram occurrence in ``texts`` (repeated when repeated)."""
        rows, cols = [], []
        for n, ids, docs in self._ids(texts):
            kept = self.kept[n]
            if not len(kept) or not len(ids):
                continue
            order = np.argsort(ids)  # sorted keys make searchsorted about twice as fast
            ids, docs = ids[order], docs[order]
            pos = np.searchsorted(kept, ids)
            pos[pos == len(kept)] = 0
            hit = kept[pos] == ids
            rows.append(docs[hit])
            cols.append(pos[hit] + self.offsets[n])
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        return np.concatenate(rows), np.concatenate(cols)

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """TF-IDF rows (sublinear tf, l2-normalized), one per text."""
        texts = list(texts)
        rows, cols = self.entries(texts)
        return _tfidf_rows(rows, cols, len(texts), self.n_features, self.idf)


def _tfidf_rows(rows: np.ndarray, cols: np.ndarray, n_rows: int, n_cols: int, idf: np.ndarray, *,
                blocks: Sequence[int] = (0,), plain_from: int | None = None, plain_weight: float = 1.0) -> sp.csr_matrix:
    """CSR matrix from (row, col) occurrences: (1 + log count) * idf, l2-normalized per row within
    each block of columns (``blocks``: their first columns). Columns from ``plain_from`` on are
    ``plain_weight * log(1 + count)`` and not normalized (keyword counts)."""
    if not len(rows):
        return sp.csr_matrix((n_rows, n_cols))
    key = rows * n_cols + cols
    key.sort()
    starts = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
    counts = np.diff(np.append(starts, len(key)))
    rr, cc = np.divmod(key[starts], n_cols)
    if plain_from is None:
        data = (1.0 + np.log(counts)) * idf[cc]
    else:
        tfidf = cc < plain_from
        data = np.where(tfidf, (1.0 + np.log(counts)) * idf[np.minimum(cc, plain_from - 1)], np.log1p(counts) * plain_weight)
    block = rr * len(blocks) + (np.searchsorted(blocks, cc, side="right") - 1) if len(blocks) > 1 else rr
    sq = data * data if plain_from is None else np.where(tfidf, data * data, 0.0)
    norms = np.sqrt(np.bincount(block, weights=sq, minlength=n_rows * len(blocks)))
    norms[norms == 0] = 1.0
    data = data / norms[block] if plain_from is None else np.where(tfidf, data / norms[block], data)
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(rr, minlength=n_rows), out=indptr[1:])
    return sp.csr_matrix((data, cc.astype(np.int32), indptr.astype(np.int32)), shape=(n_rows, n_cols))


class FeatureSpace:
    """Word n-grams, character n-grams and keyword counts side by side: what every head reads."""

    def __init__(self, segmenter: Segmenter, words: NgramTable, chars: NgramTable, keywords: KeywordMatcher, keyword_weight: float):
        self.segmenter = segmenter
        self.words = words
        self.chars = chars
        self.keywords = keywords
        self.keyword_weight = keyword_weight
        self.names = np.concatenate(
            [words.names, chars.names, np.asarray(keywords.column_names, dtype=object)]
        ).astype(object)
        self.n_features = len(self.names)

    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        *,
        segmenter: Segmenter | None = None,
        keywords: Mapping[str, Sequence[str]] | None = None,
        word_ngram_range: tuple[int, int] = (1, 2),
        char_ngram_range: tuple[int, int] = (1, 3),
        min_df: int = 2,
        max_word_features: int | None = 40000,
        max_char_features: int | None = 60000,
        keyword_weight: float = 0.5,
        keyword_words: Sequence[str] = FLAG_KEYWORD_GROUPS,
    ) -> "FeatureSpace":
        """Fit the n-gram tables on ``texts``. ``keyword_words``: the keyword groups whose every
        word also gets a column of its own (groups not in ``keywords`` are skipped), so that the
        heads weigh 「咨询了律师」 and 「起诉」 apart instead of one count for the whole group."""
        texts = list(texts)
        keywords = keywords or {}
        segmenter = segmenter if segmenter is not None else Segmenter()
        words = NgramTable.fit(texts, analyzer="word", ngram_range=word_ngram_range, segmenter=segmenter, min_df=min_df, max_features=max_word_features)
        chars = NgramTable.fit(texts, analyzer="char", ngram_range=char_ngram_range, min_df=min_df, max_features=max_char_features)
        return cls(segmenter, words, chars, KeywordMatcher(keywords, per_word=[g for g in keyword_words if g in keywords]), keyword_weight)

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """The feature rows of ``texts``: the word table, the character table (each TF-IDF,
        l2-normalized on its own) and the keyword counts (``keyword_weight * log(1 + hits)``),
        side by side. Built with one sort for all three blocks."""
        texts = list(texts)
        n_words, n_chars = self.words.n_features, self.chars.n_features
        kw_start = n_words + n_chars
        rw, cw = self.words.entries(texts)
        rc, cc = self.chars.entries(texts)
        rk, ck = self.keywords.entries(texts)
        rows = np.concatenate([rw, rc, rk])
        cols = np.concatenate([cw, cc + n_words, ck + kw_start])
        return _tfidf_rows(rows, cols, len(texts), self.n_features, self._idf, blocks=(0, n_words),
                           plain_from=kw_start, plain_weight=self.keyword_weight)

    @property
    def _idf(self) -> np.ndarray:
        idf = self.__dict__.get("_idf_cache")
        if idf is None:
            idf = self.__dict__["_idf_cache"] = np.concatenate([self.words.idf, self.chars.idf])
        return idf

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_idf_cache", None)
        return state
