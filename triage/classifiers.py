"""Stage 4: the classifier heads at scoring time.

Every head is linear over the shared features, so all of them are computed with ONE sparse
matrix product ``Z = X @ W`` (W holds every head's coefficients side by side); each head then
turns its slice of ``Z`` into probabilities:

- ``categories`` (multi-label): Platt-calibrated sigmoid per label, per-label thresholds tuned on
  dev, at least one label, ``other`` never beside another label (:func:`decide_categories`);
- ``sentiment``: softmax over negative / neutral / positive;
- ``urgency``: four *ordered* levels from cumulative calibrated models P(level > k)
  (Frank & Hall), made monotone;
- ``threat`` and ``safety``: calibrated binary detectors over features that include the
  keyword-group counts, so learned weights and the team's keyword lists are combined.

The scikit-learn estimators that learn these numbers are in :mod:`triage.estimators`; this module
needs only numpy, so that ``import triage`` stays fast. :func:`top_terms_chunk` explains outputs by
the terms that pushed them the most.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

CATEGORIES = ("quality", "service_attitude", "delivery", "price", "counterfeit", "agent_violation", "other")
SENTIMENTS = ("negative", "neutral", "positive")
URGENCIES = ("low", "medium", "high", "critical")
OTHER = "other"
HEAD_NAMES = ("category", "sentiment", "urgency", "threat", "safety")


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def ordinal_probabilities(above: np.ndarray) -> np.ndarray:
    """Level probabilities from P(level > k), k = 0..K-2 (made non-increasing first)."""
    above = np.minimum.accumulate(above, axis=1)
    n = above.shape[0]
    cum = np.hstack([np.ones((n, 1)), above, np.zeros((n, 1))])
    probs = cum[:, :-1] - cum[:, 1:]
    return probs / probs.sum(axis=1, keepdims=True)


def decide_categories(P: np.ndarray, thresholds: np.ndarray, labels: Sequence[str]) -> np.ndarray:
    """Indicator matrix from category probabilities.

    A label is chosen at or above its threshold; ``other`` never stands beside another category
    (a specific category above its threshold wins); when nothing passes, the most probable label
    is taken, so every complaint has at least one category.
    """
    chosen = P >= thresholds
    if OTHER in labels:
        j = list(labels).index(OTHER)
        specific = np.delete(chosen, j, axis=1).any(axis=1)
        chosen[specific, j] = False
    empty = ~chosen.any(axis=1)
    chosen[empty, np.argmax(P[empty], axis=1)] = True
    return chosen


@dataclass
class Head:
    """One head's slice of the stacked coefficients and how to read it.

    kind: ``multilabel`` (sigmoid per column with Platt a, b), ``softmax``, ``ordinal``
    (cumulative sigmoids with Platt a, b) or ``binary`` (one sigmoid column).
    """

    name: str
    kind: str
    labels: tuple[str, ...]
    start: int
    stop: int
    platt_a: np.ndarray | None = None
    platt_b: np.ndarray | None = None
    thresholds: np.ndarray | None = None  # multilabel: per label; binary: one value
    params: dict = field(default_factory=dict)  # hyper-parameters, for the record

    def probabilities(self, Z: np.ndarray) -> np.ndarray:
        z = Z[:, self.start : self.stop]
        if self.kind == "softmax":
            return softmax(z)
        p = sigmoid(self.platt_a * z + self.platt_b)
        if self.kind == "ordinal":
            return ordinal_probabilities(p)
        if self.kind == "binary":
            return p[:, 0]
        return p


class LinearHeads:
    """All heads over one feature space: stacked coefficients ``coef`` (n_features x K, stored
    as float32), intercepts (K) and a :class:`Head` per output."""

    def __init__(self, coef: np.ndarray, intercept: np.ndarray, heads: Sequence[Head]):
        self.coef = np.ascontiguousarray(coef, dtype=np.float32)
        self.intercept = np.asarray(intercept, dtype=np.float64)
        self.heads = {h.name: h for h in heads}
        self._coef64: np.ndarray | None = None

    def __getitem__(self, name: str) -> Head:
        return self.heads[name]

    @property
    def coef64(self) -> np.ndarray:
        # float64 once, at first use: a float32 matrix would be converted on every product.
        if self._coef64 is None:
            self._coef64 = self.coef.astype(np.float64)
        return self._coef64

    def decision(self, X) -> np.ndarray:
        """Z = X @ W + b for a CSR matrix X (rows computed independently of each other)."""
        return np.asarray(X @ self.coef64) + self.intercept

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_coef64"] = None
        return state


class TriageModel:
    """A fitted model at scoring time: the feature space and the linear heads over it.

    This is what a bundle stores (``model.joblib``). It is built by
    :meth:`triage.estimators.TriageHeads.compile` and needs neither scikit-learn nor pandas.
    """

    def __init__(self, features, heads: LinearHeads):
        self.features = features
        self.heads = heads

    @property
    def segmenter(self):
        return self.features.segmenter

    @property
    def labels(self) -> dict[str, list[str]]:
        return {
            "categories": list(self.heads["category"].labels),
            "sentiment": list(self.heads["sentiment"].labels),
            "urgency": list(self.heads["urgency"].labels),
            "flags": ["threat", "safety"],
        }

    def predict(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Probabilities of every head for normalized texts (and the feature matrix, ``X``)."""
        X = self.features.transform(texts)
        Z = self.heads.decision(X)
        out = {name: head.probabilities(Z) for name, head in self.heads.heads.items()}
        out["X"] = X
        return out


_PUNCT_RE = re.compile(r"[^\w]+")


def explainable_names(names: np.ndarray) -> np.ndarray:
    """Feature names as shown in reasons: punctuation and spaces removed; "" for features that
    should not be shown (single characters, keyword-group columns)."""
    out = np.empty(len(names), dtype=object)
    for i, name in enumerate(names):
        name = str(name)
        term = "" if name.startswith("<") else _PUNCT_RE.sub("", name)
        out[i] = term if len(term) >= 2 else ""
    return out


def top_terms_chunk(
    X,
    coef: np.ndarray,
    requests: Sequence[Sequence[int]],
    shown: np.ndarray,
    k: int = 3,
    shown_mask: np.ndarray | None = None,
) -> list[list[list[str]]]:
    """Explanations for a whole chunk at once.

    ``X`` is the chunk's CSR feature matrix, ``coef`` the stacked coefficients (n_features x K),
    ``requests[r]`` the output columns to explain for row ``r`` and ``shown`` the names from
    :func:`explainable_names` (``shown_mask``: ``shown != ""``, if already computed). The answer
    for each requested column is the ``k`` distinct terms of the row with the largest positive
    contribution ``x * coef`` (a term inside a longer picked term, or around it, is not repeated;
    equal contributions go to the higher feature index: longer
    character n-grams come later). Rows never influence each other: all of
    them are ranked with one sort of unique integer keys instead of one sort per row.
    """
    n_req = np.fromiter((len(r) for r in requests), dtype=np.int64, count=len(requests))
    total = int(n_req.sum())
    if total >= 1 << 17:  # the sort key holds 17 bits of request number: split big chunks
        half = len(requests) // 2
        return (top_terms_chunk(X[:half], coef, requests[:half], shown, k, shown_mask)
                + top_terms_chunk(X[half:], coef, requests[half:], shown, k, shown_mask))
    out: list[list[list[str]]] = [[] for _ in requests]
    if total == 0:
        return out
    mask = shown_mask if shown_mask is not None else shown != ""
    # The rows' entries restricted to features that can be shown.
    keep = mask[X.indices]
    kept_idx = X.indices[keep]
    kept_val = X.data[keep].astype(np.float32)
    counts = np.add.reduceat(keep, X.indptr[:-1]) if len(keep) else np.zeros(X.shape[0], dtype=np.int64)
    counts[np.diff(X.indptr) == 0] = 0
    indptr = np.zeros(X.shape[0] + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    # One entry per (request, shown feature of its row).
    req_row = np.repeat(np.arange(len(requests)), n_req)
    req_col = np.fromiter((c for r in requests for c in r), dtype=np.int64, count=total)
    lens = counts[req_row]
    req_of = np.repeat(np.arange(total, dtype=np.uint64), lens)
    local = np.arange(int(lens.sum())) - np.repeat(np.cumsum(lens) - lens, lens)
    entry = np.repeat(indptr[req_row], lens) + local
    flat = kept_idx[entry].astype(np.int64) * coef.shape[1] + np.repeat(req_col, lens)
    values = kept_val[entry] * np.asarray(coef, dtype=np.float32).ravel()[flat]
    sel = np.flatnonzero(values > 0)
    # Key: request (17 bits) | contribution, descending (31 bits of float32) | position (16 bits).
    bits = values[sel].view(np.uint32).astype(np.uint64)
    key = (req_of[sel] << np.uint64(47)) | ((np.uint64(0x7FFFFFFF) - bits) << np.uint64(16)) | (np.uint64(0xFFFF) - np.minimum(local[sel], 0xFFFF).astype(np.uint64))
    order = np.argsort(key)
    req_sorted = (key[order] >> np.uint64(47)).astype(np.int64)
    starts = np.searchsorted(req_sorted, np.arange(total + 1))
    top = np.arange(len(order)) - starts[req_sorted] < 4 * k + 4  # enough for k picks after overlaps
    names = shown[kept_idx[entry[sel[order[top]]]]].tolist()
    bounds = np.searchsorted(req_sorted[top], np.arange(total + 1)).tolist()
    q = 0
    for r, m in enumerate(n_req.tolist()):
        row_out = out[r]
        for q in range(q, q + m):
            picked: list[str] = []
            for term in names[bounds[q] : bounds[q + 1]]:
                for p in picked:
                    if term in p or p in term:
                        break
                else:
                    picked.append(term)
                    if len(picked) == k:
                        break
            row_out.append(picked)
        q += 1 if m else 0
    return out


def top_terms(X_row, coef: np.ndarray, names: np.ndarray, k: int = 3) -> list[str]:
    """The ``k`` distinct terms that pushed one linear output (``coef``, 1-D) up the most, for a
    one-row CSR matrix of features named ``names``."""
    coef = np.asarray(coef, dtype=np.float32).reshape(-1, 1)
    return top_terms_chunk(X_row, coef, [[0]], explainable_names(names), k)[0][0]
