"""Stage 4: the classifier heads, each a scikit-learn estimator over the shared features.

- :class:`CategoryHead`: multi-label; one calibrated linear model per category, per-label
  thresholds tuned on dev, at least one label, ``other`` never beside another label.
- :class:`SentimentHead`: negative / neutral / positive (multinomial logistic regression).
- :class:`UrgencyHead`: four *ordered* levels, as cumulative binary models
  P(level > low), P(level > medium), P(level > high) (Frank & Hall).
- :class:`FlagHead`: a binary detector (threat, safety) over features that include the keyword
  counts, so learned weights and the team's keyword lists are combined.

Every head exposes ``coef_matrix_`` (n_features x n_outputs) so that predictions can be
explained by the terms that pushed each output the most (:func:`top_terms`).

:func:`make_head_pipeline` wraps a head and a fresh :class:`~triage.features.TextFeatures` in a
scikit-learn ``Pipeline`` for analysts who want to grid-search ``features__...`` parameters.
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from .errors import DataError

CATEGORIES = ("quality", "service_attitude", "delivery", "price", "counterfeit", "agent_violation", "other")
SENTIMENTS = ("negative", "neutral", "positive")
URGENCIES = ("low", "medium", "high", "critical")
OTHER = "other"


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


def _fit_platt(decision: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Platt scaling: p = sigmoid(a * decision + b), fitted on out-of-fold decision values."""
    lr = LogisticRegression(C=1e4, solver="lbfgs", max_iter=1000)
    lr.fit(decision.reshape(-1, 1), y)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


class CalibratedLinearClassifier(ClassifierMixin, BaseEstimator):
    """Binary logistic regression whose probabilities are Platt-calibrated out of fold.

    Like ``CalibratedClassifierCV(ensemble=False, method="sigmoid")``: the linear model is fitted
    on all the data (so its coefficients explain predictions), the calibration on decision
    values from ``cv`` folds it did not see.
    """

    def __init__(self, C: float = 4.0, class_weight: str | None = "balanced", cv: int = 3, random_state: int = 0):
        self.C = C
        self.class_weight = class_weight
        self.cv = cv
        self.random_state = random_state

    def _base(self) -> LogisticRegression:
        return LogisticRegression(
            C=self.C, class_weight=self.class_weight, solver="liblinear", max_iter=2000, random_state=self.random_state
        )

    def fit(self, X, y) -> "CalibratedLinearClassifier":
        y = np.asarray(y).astype(int)
        self.classes_ = np.array([0, 1])
        n_pos = int(y.sum())
        if n_pos == 0 or n_pos == len(y):
            # A constant answer: the observed rate, no terms to blame.
            rate = (n_pos + 0.5) / (len(y) + 1.0)
            self.coef_ = np.zeros(X.shape[1])
            self.intercept_ = float(np.log(rate / (1 - rate)))
            self.platt_ = (1.0, 0.0)
            return self
        model = self._base().fit(X, y)
        self.coef_ = model.coef_[0].astype(np.float64)
        self.intercept_ = float(model.intercept_[0])
        folds = min(self.cv, n_pos, len(y) - n_pos)
        if folds >= 2:
            oof = np.empty(len(y))
            splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=self.random_state)
            for train_idx, test_idx in splitter.split(np.zeros(len(y)), y):
                fold = self._base().fit(X[train_idx], y[train_idx])
                oof[test_idx] = fold.decision_function(X[test_idx])
            self.platt_ = _fit_platt(oof, y)
        else:
            self.platt_ = (1.0, 0.0)
        return self

    def decision_function(self, X) -> np.ndarray:
        check_is_fitted(self, "coef_")
        return np.asarray(X @ self.coef_).ravel() + self.intercept_

    def predict_proba(self, X) -> np.ndarray:
        p = _sigmoid(self.platt_[0] * self.decision_function(X) + self.platt_[1])
        return np.column_stack([1 - p, p])

    def predict(self, X) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


class _StackedBinaries(ClassifierMixin, BaseEstimator):
    """Shared code of heads made of several calibrated binary models over the same features."""

    def _stack(self, models: Sequence[CalibratedLinearClassifier]) -> None:
        self.coef_matrix_ = np.column_stack([m.coef_ for m in models]).astype(np.float32)
        self.intercepts_ = np.array([m.intercept_ for m in models])
        self.platt_a_ = np.array([m.platt_[0] for m in models])
        self.platt_b_ = np.array([m.platt_[1] for m in models])

    def _binary_probas(self, X) -> np.ndarray:
        check_is_fitted(self, "coef_matrix_")
        z = np.asarray(X @ self.coef_matrix_) + self.intercepts_
        return _sigmoid(self.platt_a_ * z + self.platt_b_)


class CategoryHead(_StackedBinaries):
    """Multi-label categories with calibrated per-label probabilities and tuned thresholds.

    ``fit(X, Y)`` takes ``Y`` as a 0/1 indicator matrix whose columns follow ``labels``.
    """

    def __init__(self, labels: Sequence[str] = CATEGORIES, C: float = 4.0, cv: int = 3, random_state: int = 0):
        self.labels = labels
        self.C = C
        self.cv = cv
        self.random_state = random_state

    def fit(self, X, Y) -> "CategoryHead":
        Y = np.asarray(Y)
        if Y.ndim != 2 or Y.shape[1] != len(self.labels):
            raise DataError(
                f"CategoryHead.fit expects an indicator matrix with {len(self.labels)} columns "
                f"({', '.join(self.labels)}), got shape {Y.shape}."
            )
        self.classes_ = np.asarray(self.labels, dtype=object)
        models = [
            CalibratedLinearClassifier(C=self.C, cv=self.cv, random_state=self.random_state).fit(X, Y[:, j])
            for j in range(Y.shape[1])
        ]
        self._stack(models)
        self.thresholds_ = np.full(len(self.labels), 0.5)
        return self

    def predict_proba(self, X) -> np.ndarray:
        return self._binary_probas(X)

    def tune_thresholds(self, X, Y, *, grid: np.ndarray | None = None, min_support: int = 8) -> "CategoryHead":
        """Set each label's threshold to the one that maximizes its F1 on (X, Y), usually dev."""
        grid = np.round(np.arange(0.15, 0.86, 0.05), 2) if grid is None else grid
        P = self.predict_proba(X)
        Y = np.asarray(Y)
        for j in range(len(self.labels)):
            if Y[:, j].sum() < min_support:
                continue
            best, best_f1 = 0.5, -1.0
            for t in grid:
                pred = P[:, j] >= t
                tp = np.sum(pred & (Y[:, j] == 1))
                f1 = 2 * tp / max(pred.sum() + Y[:, j].sum(), 1)
                if f1 > best_f1 + 1e-9 or (abs(f1 - best_f1) <= 1e-9 and abs(t - 0.5) < abs(best - 0.5)):
                    best, best_f1 = float(t), f1
            self.thresholds_[j] = best
        return self

    def decide(self, P: np.ndarray) -> np.ndarray:
        """Indicator matrix from probabilities.

        A label is chosen at or above its threshold; ``other`` never stands beside another
        category (a specific category above its threshold wins); when nothing passes, the most
        probable label is taken, so every complaint has at least one category.
        """
        chosen = P >= self.thresholds_
        if OTHER in self.labels:
            j = list(self.labels).index(OTHER)
            specific = np.delete(chosen, j, axis=1).any(axis=1)
            chosen[specific, j] = False
        empty = ~chosen.any(axis=1)
        chosen[empty, np.argmax(P[empty], axis=1)] = True
        return chosen

    def predict(self, X) -> np.ndarray:
        return self.decide(self.predict_proba(X)).astype(int)


class UrgencyHead(_StackedBinaries):
    """Ordered levels as cumulative binary models (Frank & Hall, 2001).

    ``predict_proba`` returns one column per level in ``levels`` order.
    """

    def __init__(self, levels: Sequence[str] = URGENCIES, C: float = 4.0, cv: int = 3, random_state: int = 0):
        self.levels = levels
        self.C = C
        self.cv = cv
        self.random_state = random_state

    def fit(self, X, y) -> "UrgencyHead":
        index = {level: i for i, level in enumerate(self.levels)}
        unknown = sorted(set(y) - set(index))
        if unknown:
            raise DataError(f"Unknown urgency levels {unknown}; allowed: {list(self.levels)}.")
        ranks = np.array([index[v] for v in y])
        self.classes_ = np.asarray(self.levels, dtype=object)
        models = [
            CalibratedLinearClassifier(C=self.C, cv=self.cv, random_state=self.random_state).fit(X, (ranks > k).astype(int))
            for k in range(len(self.levels) - 1)
        ]
        self._stack(models)
        return self

    def predict_proba(self, X) -> np.ndarray:
        above = self._binary_probas(X)  # P(rank > k), k = 0..K-2
        above = np.minimum.accumulate(above, axis=1)  # keep the cumulative curve non-increasing
        cum = np.hstack([np.ones((above.shape[0], 1)), above, np.zeros((above.shape[0], 1))])
        probs = cum[:, :-1] - cum[:, 1:]
        return probs / probs.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class FlagHead(CalibratedLinearClassifier):
    """A binary flag (threat, safety): calibrated linear model with a decision threshold."""

    def __init__(self, C: float = 4.0, class_weight: str | None = "balanced", cv: int = 3, random_state: int = 0, threshold: float = 0.5):
        super().__init__(C=C, class_weight=class_weight, cv=cv, random_state=random_state)
        self.threshold = threshold

    def fit(self, X, y) -> "FlagHead":
        super().fit(X, y)
        self.coef_ = self.coef_.astype(np.float32)
        return self

    @property
    def coef_matrix_(self) -> np.ndarray:
        return self.coef_.reshape(-1, 1)

    def predict(self, X) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= self.threshold).astype(int)


class SentimentHead(ClassifierMixin, BaseEstimator):
    """Negative / neutral / positive with multinomial logistic regression."""

    def __init__(self, labels: Sequence[str] = SENTIMENTS, C: float = 4.0, class_weight: str | None = "balanced"):
        self.labels = labels
        self.C = C
        self.class_weight = class_weight

    def fit(self, X, y, sample_weight=None) -> "SentimentHead":
        unknown = sorted(set(y) - set(self.labels))
        if unknown:
            raise DataError(f"Unknown sentiment labels {unknown}; allowed: {list(self.labels)}.")
        model = LogisticRegression(C=self.C, class_weight=self.class_weight, solver="lbfgs", max_iter=3000)
        model.fit(X, np.asarray(y, dtype=object), sample_weight=sample_weight)
        order = [list(model.classes_).index(label) for label in self.labels if label in model.classes_]
        self.classes_ = np.asarray([model.classes_[i] for i in order], dtype=object)
        coef = model.coef_
        intercept = model.intercept_
        if len(model.classes_) == 2:  # binary LR stores one row: expand to two softmax rows
            coef = np.vstack([-coef[0] / 2, coef[0] / 2])
            intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
        self.coef_matrix_ = coef[order].T.astype(np.float32)
        self.intercepts_ = intercept[order].astype(np.float64)
        return self

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self, "coef_matrix_")
        z = np.asarray(X @ self.coef_matrix_) + self.intercepts_
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


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


def top_terms_many(
    indices: np.ndarray,
    data: np.ndarray,
    coef: np.ndarray,
    columns: Sequence[int],
    shown: np.ndarray,
    k: int = 3,
    shown_mask: np.ndarray | None = None,
) -> list[list[str]]:
    """For each output column in ``columns``, the ``k`` distinct terms of one document that
    pushed that linear output up the most.

    ``indices``/``data`` are the document's non-zero features (a CSR row), ``coef`` is an
    (n_features x n_outputs) matrix, ``shown`` the names from :func:`explainable_names` and
    ``shown_mask`` (optional, for speed) ``shown != ""``. A term inside a longer listed term (or
    around it) is not repeated.
    """
    keep = shown_mask[indices] if shown_mask is not None else shown[indices] != ""
    indices, data = indices[keep], data[keep]
    if not len(indices) or not columns:
        return [[] for _ in columns]
    contrib = data[:, None] * coef[indices][:, columns]
    m = min(len(indices), 4 * k + 4)
    order = np.argsort(-contrib, axis=0)[:m].T.tolist()
    values = contrib.T.tolist()
    out: list[list[str]] = []
    for col_order, col_values in zip(order, values):
        picked: list[str] = []
        for i in col_order:
            if col_values[i] <= 0 or len(picked) >= k:
                break
            term = shown[indices[i]]
            if not any(term in p or p in term for p in picked):
                picked.append(term)
        out.append(picked)
    return out


def top_terms(indices: np.ndarray, data: np.ndarray, coef: np.ndarray, names: np.ndarray, k: int = 3) -> list[str]:
    """The ``k`` distinct terms that pushed one linear output (``coef``, 1-D) up the most."""
    return top_terms_many(indices, data, np.asarray(coef).reshape(-1, 1), [0], explainable_names(names), k)[0]


def make_head_pipeline(head: BaseEstimator, features: BaseEstimator) -> Pipeline:
    """A scikit-learn ``Pipeline`` of fresh (unfitted) ``features`` and ``head``.

    Analysts use it to cross-validate or grid-search one head alone, e.g. with
    ``{"features__char_ngram_range": [(1, 2), (1, 3)], "clf__C": [1, 4]}``.
    """
    return Pipeline([("features", clone(features)), ("clf", clone(head))])


class TriageHeads:
    """The fitted features and every head of one model; what a bundle stores.

    All heads read the same feature matrix, so scoring computes the features once.
    """

    HEAD_NAMES = ("category", "sentiment", "urgency", "threat", "safety")

    def __init__(
        self,
        features,
        category: CategoryHead,
        sentiment: SentimentHead,
        urgency: UrgencyHead,
        threat: FlagHead,
        safety: FlagHead,
    ):
        self.features = features
        self.category = category
        self.sentiment = sentiment
        self.urgency = urgency
        self.threat = threat
        self.safety = safety

    @property
    def labels(self) -> dict[str, list[str]]:
        return {
            "categories": [str(c) for c in self.category.classes_],
            "sentiment": [str(c) for c in self.sentiment.classes_],
            "urgency": [str(c) for c in self.urgency.classes_],
            "flags": ["threat", "safety"],
        }

    def head_pipeline(self, name: str) -> Pipeline:
        """A fitted scikit-learn ``Pipeline`` (features -> head) for one head, for analysts."""
        if name not in self.HEAD_NAMES:
            raise ValueError(f"Unknown head {name!r}; choose one of {self.HEAD_NAMES}.")
        return Pipeline([("features", self.features), ("clf", getattr(self, name))])
