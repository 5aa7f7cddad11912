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
needs only numpy, so that ``import triage`` stays fast. :func:`top_terms_many` explains outputs by
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


def contributions(X, coef: np.ndarray, shown_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-term contributions to every output for a whole chunk: the CSR matrix ``X`` restricted
    to the features that can be shown, as (indptr, feature indices, contributions n_kept x K)."""
    keep = shown_mask[X.indices]
    indices = X.indices[keep]
    counts = np.add.reduceat(keep, X.indptr[:-1]) if len(keep) else np.zeros(X.shape[0], dtype=np.int64)
    counts[np.diff(X.indptr) == 0] = 0
    indptr = np.zeros(X.shape[0] + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return indptr, indices, X.data[keep][:, None] * coef[indices]


def top_terms_from(indices: np.ndarray, contrib: np.ndarray, columns: Sequence[int], shown: np.ndarray, k: int = 3) -> list[list[str]]:
    """For each output column in ``columns``, the ``k`` distinct terms with the largest positive
    contribution, from one document's slice of :func:`contributions`. A term inside a longer
    listed term (or around it) is not repeated."""
    if not len(indices) or not columns:
        return [[] for _ in columns]
    sub = contrib[:, columns]
    m = min(len(indices), 4 * k + 4)
    order = np.argsort(-sub, axis=0)[:m].T.tolist()
    values = sub.T.tolist()
    terms = indices.tolist()
    out: list[list[str]] = []
    for col_order, col_values in zip(order, values):
        picked: list[str] = []
        for i in col_order:
            if col_values[i] <= 0 or len(picked) >= k:
                break
            term = shown[terms[i]]
            if not any(term in p or p in term for p in picked):
                picked.append(term)
        out.append(picked)
    return out


def top_terms_many(
    indices: np.ndarray,
    data: np.ndarray,
    coef: np.ndarray,
    columns: Sequence[int],
    shown: np.ndarray,
    k: int = 3,
) -> list[list[str]]:
    """For each output column in ``columns``, the ``k`` distinct terms of one document that
    pushed that linear output up the most.

    ``indices``/``data`` are the document's non-zero features (a CSR row), ``coef`` is an
    (n_features x n_outputs) matrix, ``shown`` the names from :func:`explainable_names`.
    """
    keep = shown[indices] != ""
    indices = indices[keep]
    return top_terms_from(indices, data[keep][:, None] * coef[indices], columns, shown, k)


def top_terms(indices: np.ndarray, data: np.ndarray, coef: np.ndarray, names: np.ndarray, k: int = 3) -> list[str]:
    """The ``k`` distinct terms that pushed one linear output (``coef``, 1-D) up the most."""
    return top_terms_many(indices, data, np.asarray(coef).reshape(-1, 1), [0], explainable_names(names), k)[0]
