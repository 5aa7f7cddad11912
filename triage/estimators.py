"""scikit-learn estimators that learn the model: features and every classifier head.

They follow scikit-learn's estimator contract (``__init__`` stores, ``fit`` learns attributes
ending in ``_``, ``clone`` and ``get_params`` work), so analysts can put them in a ``Pipeline``,
cross-validate them and grid-search ``features__char_ngram_range`` or ``clf__C``
(:func:`make_head_pipeline`).

- :class:`TextFeatures`: word + character n-gram TF-IDF + keyword counts (a
  :class:`~triage.features.FeatureSpace`).
- :class:`CategoryHead`: multi-label; one calibrated linear model per category, thresholds tuned
  on dev.
- :class:`SentimentHead`: multinomial logistic regression.
- :class:`UrgencyHead`: ordered levels as cumulative calibrated binary models (Frank & Hall).
- :class:`FlagHead`: a calibrated binary detector (threat, safety).

:meth:`TriageHeads.compile` turns fitted estimators into the scikit-learn-free
:class:`~triage.classifiers.TriageModel` used for scoring. The probability formulas are shared
with it (:mod:`triage.classifiers`), so estimators and the compiled model agree exactly.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from .classifiers import (
    CATEGORIES,
    OTHER,
    SENTIMENTS,
    URGENCIES,
    Head,
    LinearHeads,
    TriageModel,
    decide_categories,
    ordinal_probabilities,
    sigmoid,
    softmax,
)
from .errors import DataError
from .features import FLAG_KEYWORD_GROUPS, FeatureSpace
from .segment import Segmenter

__all__ = [
    "TextFeatures", "CalibratedLinearClassifier", "CategoryHead", "SentimentHead", "UrgencyHead", "FlagHead",
    "TriageHeads", "make_head_pipeline", "CATEGORIES", "SENTIMENTS", "URGENCIES", "OTHER",
]


class TextFeatures(TransformerMixin, BaseEstimator):
    """Word n-grams + character n-grams + keyword-group counts, as one sparse matrix.

    Parameters
    ----------
    segmenter : Segmenter
        Cuts texts into words for the word n-grams (default: rjieba without a user dictionary).
    keywords : mapping of str to list of str, optional
        Keyword groups; one count column each.
    word_ngram_range, char_ngram_range : tuple (min_n, max_n), within (1, 3)
    min_df : int
        Ignore n-grams seen in fewer training documents.
    max_word_features, max_char_features : int or None
        Keep only the most frequent n-grams (keeps the model small and fast).
    keyword_weight : float
        Scale of the keyword columns relative to the TF-IDF blocks.
    keyword_words : sequence of str
        Keyword groups whose every word also gets a column of its own, so that each word earns
        its own weight (「咨询了律师」 need not count as little as 「法院」 in the threat group); the group
        columns stay. Groups missing from ``keywords`` are skipped.
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
        keyword_words: Sequence[str] = FLAG_KEYWORD_GROUPS,
    ):
        self.segmenter = segmenter
        self.keywords = keywords
        self.word_ngram_range = word_ngram_range
        self.char_ngram_range = char_ngram_range
        self.min_df = min_df
        self.max_word_features = max_word_features
        self.max_char_features = max_char_features
        self.keyword_weight = keyword_weight
        self.keyword_words = keyword_words

    def fit(self, X: Sequence[str], y=None) -> "TextFeatures":
        # The parameters are FeatureSpace.fit's keyword arguments, one for one.
        self.space_ = FeatureSpace.fit(list(X), **self.get_params(deep=False))
        self.n_features_out_ = self.space_.n_features
        return self

    def transform(self, X: Sequence[str]):
        check_is_fitted(self, "space_")
        return self.space_.transform(list(X))

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        check_is_fitted(self, "space_")
        return self.space_.names


def _fit_platt(decision: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> tuple[float, float]:
    """Platt scaling: p = sigmoid(a * decision + b), fitted on out-of-fold decision values."""
    lr = LogisticRegression(C=1e4, solver="lbfgs", max_iter=1000)
    lr.fit(decision.reshape(-1, 1), y, sample_weight=sample_weight)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def _best_threshold(p: np.ndarray, y: np.ndarray, grid: np.ndarray, tolerance: float = 1e-9) -> float:
    """The threshold of ``grid`` with the best F1 of ``p >= t`` against ``y``; F1 values within
    ``tolerance`` of each other count as ties, and ties go to the threshold nearest 0.5."""
    y = np.asarray(y) == 1
    best, best_f1 = 0.5, -1.0
    for t in grid:
        pred = p >= t
        f1 = 2 * np.sum(pred & y) / max(pred.sum() + y.sum(), 1)
        if f1 > best_f1 + tolerance or (abs(f1 - best_f1) <= tolerance and abs(t - 0.5) < abs(best - 0.5)):
            best, best_f1 = float(t), f1
    return best


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

    def fit(self, X, y, sample_weight=None) -> "CalibratedLinearClassifier":
        y = np.asarray(y).astype(int)
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        self.classes_ = np.array([0, 1])
        n_pos = int(y.sum())
        if n_pos == 0 or n_pos == len(y):
            # A constant answer: the observed rate, no terms to blame.
            rate = (n_pos + 0.5) / (len(y) + 1.0)
            self.coef_ = np.zeros(X.shape[1])
            self.intercept_ = float(np.log(rate / (1 - rate)))
            self.platt_ = (1.0, 0.0)
            self.oof_proba_ = None
            return self
        model = self._base().fit(X, y, sample_weight=w)
        self.coef_ = model.coef_[0].astype(np.float64)
        self.intercept_ = float(model.intercept_[0])
        folds = min(self.cv, n_pos, len(y) - n_pos)
        if folds >= 2:
            oof = np.empty(len(y))
            splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=self.random_state)
            for train_idx, test_idx in splitter.split(np.zeros(len(y)), y):
                fold = self._base().fit(X[train_idx], y[train_idx], sample_weight=None if w is None else w[train_idx])
                oof[test_idx] = fold.decision_function(X[test_idx])
            self.platt_ = _fit_platt(oof, y, w)
            # Calibrated probabilities of the training rows from models that did not see them:
            # what thresholds can be tuned on besides dev.
            self.oof_proba_ = sigmoid(self.platt_[0] * oof + self.platt_[1])
        else:
            self.platt_ = (1.0, 0.0)
            self.oof_proba_ = None
        return self

    def decision_function(self, X) -> np.ndarray:
        check_is_fitted(self, "coef_")
        return np.asarray(X @ self.coef_).ravel() + self.intercept_

    def predict_proba(self, X) -> np.ndarray:
        p = sigmoid(self.platt_[0] * self.decision_function(X) + self.platt_[1])
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
        z = np.asarray(X @ self.coef_matrix_.astype(np.float64)) + self.intercepts_
        return sigmoid(self.platt_a_ * z + self.platt_b_)


class CategoryHead(_StackedBinaries):
    """Multi-label categories with calibrated per-label probabilities and tuned thresholds.

    ``fit(X, Y)`` takes ``Y`` as a 0/1 indicator matrix whose columns follow ``labels``.
    """

    def __init__(self, labels: Sequence[str] = CATEGORIES, C: float = 4.0, cv: int = 3, random_state: int = 0):
        self.labels = labels
        self.C = C
        self.cv = cv
        self.random_state = random_state

    def fit(self, X, Y, sample_weight=None) -> "CategoryHead":
        Y = np.asarray(Y)
        if Y.ndim != 2 or Y.shape[1] != len(self.labels):
            raise DataError(
                f"CategoryHead.fit expects an indicator matrix with {len(self.labels)} columns "
                f"({', '.join(self.labels)}), got shape {Y.shape}."
            )
        self.classes_ = np.asarray(self.labels, dtype=object)
        models = [
            CalibratedLinearClassifier(C=self.C, cv=self.cv, random_state=self.random_state).fit(X, Y[:, j], sample_weight)
            for j in range(Y.shape[1])
        ]
        self._stack(models)
        oof = [m.oof_proba_ for m in models]
        self.oof_proba_ = None if any(p is None for p in oof) else np.column_stack(oof)
        self.thresholds_ = np.full(len(self.labels), 0.5)
        return self

    def predict_proba(self, X) -> np.ndarray:
        return self._binary_probas(X)

    def tune_thresholds(self, X, Y, *, grid: np.ndarray | None = None, min_support: int = 8, pooled=None) -> "CategoryHead":
        """Set each label's threshold to the one that maximizes its F1 on (X, Y), usually dev.

        ``pooled``: more (probabilities, indicators) to tune on together with (X, Y), e.g. the
        out-of-fold probabilities of the training rows (``oof_proba_``): a dev split of a few
        hundred rows alone makes thresholds jump between retrainings. Labels with fewer than
        ``min_support`` positives keep 0.5; ties go to the threshold nearest 0.5.
        """
        grid = np.round(np.arange(0.15, 0.86, 0.05), 2) if grid is None else grid
        P = self.predict_proba(X)
        Y = np.asarray(Y)
        if pooled is not None:
            P, Y = np.vstack([P, pooled[0]]), np.vstack([Y, np.asarray(pooled[1])])
        for j in range(len(self.labels)):
            if Y[:, j].sum() >= min_support:
                self.thresholds_[j] = _best_threshold(P[:, j], Y[:, j], grid)
        return self

    def decide(self, P: np.ndarray) -> np.ndarray:
        """Indicator matrix from probabilities (see :func:`triage.classifiers.decide_categories`)."""
        return decide_categories(P, self.thresholds_, self.labels)

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

    def fit(self, X, y, sample_weight=None) -> "UrgencyHead":
        index = {level: i for i, level in enumerate(self.levels)}
        unknown = sorted(set(y) - set(index))
        if unknown:
            raise DataError(f"Unknown urgency levels {unknown}; allowed: {list(self.levels)}.")
        ranks = np.array([index[v] for v in y])
        self.classes_ = np.asarray(self.levels, dtype=object)
        models = [
            CalibratedLinearClassifier(C=self.C, cv=self.cv, random_state=self.random_state).fit(
                X, (ranks > k).astype(int), sample_weight
            )
            for k in range(len(self.levels) - 1)
        ]
        self._stack(models)
        return self

    def predict_proba(self, X) -> np.ndarray:
        return ordinal_probabilities(self._binary_probas(X))

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class FlagHead(CalibratedLinearClassifier):
    """A binary flag (threat, safety): calibrated linear model with a decision threshold."""

    def __init__(self, C: float = 4.0, class_weight: str | None = "balanced", cv: int = 3, random_state: int = 0, threshold: float = 0.5):
        super().__init__(C=C, class_weight=class_weight, cv=cv, random_state=random_state)
        self.threshold = threshold

    def fit(self, X, y, sample_weight=None) -> "FlagHead":
        super().fit(X, y, sample_weight)
        self.coef_ = self.coef_.astype(np.float32)
        return self

    def predict(self, X) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= self.threshold_).astype(int)

    @property
    def threshold_(self) -> float:
        return getattr(self, "tuned_threshold_", self.threshold)

    def tune_threshold(self, X, y, *, grid: np.ndarray | None = None, min_support: int = 8, pooled=None,
                       tolerance: float = 0.005) -> "FlagHead":
        """Set the decision threshold that maximizes F1 on (X, y), usually dev; ``pooled``: more
        (probabilities, labels) to tune on, as in :meth:`CategoryHead.tune_thresholds`.

        F1 values within ``tolerance`` count as ties, which go to the threshold nearest 0.5. On our
        corpus a flag's F1 barely moves between 0.2 and 0.7 (threat: 0.90-0.92), so the exact
        maximum was noise and jumped between retrainings (0.25 one time, 0.45 the next), while real
        traffic, where flags are rarer, pays for a low threshold in false alarms."""
        y = np.asarray(y).astype(int)
        p = self.predict_proba(X)[:, 1]
        if pooled is not None:
            p, y = np.concatenate([p, pooled[0]]), np.concatenate([y, np.asarray(pooled[1]).astype(int)])
        if y.sum() >= min_support:
            grid = np.round(np.arange(0.2, 0.81, 0.05), 2) if grid is None else grid
            self.tuned_threshold_ = _best_threshold(p, y, grid, tolerance)
        return self


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
        coef, intercept = model.coef_, model.intercept_
        if len(model.classes_) == 2:  # binary LR stores one row: expand to two softmax rows
            coef = np.vstack([-coef[0] / 2, coef[0] / 2])
            intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
        self.coef_matrix_ = coef[order].T.astype(np.float32)
        self.intercepts_ = intercept[order].astype(np.float64)
        return self

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self, "coef_matrix_")
        return softmax(np.asarray(X @ self.coef_matrix_.astype(np.float64)) + self.intercepts_)

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def make_head_pipeline(head: BaseEstimator, features: BaseEstimator | None = None) -> Pipeline:
    """A scikit-learn ``Pipeline`` of fresh (unfitted) ``features`` and ``head``.

    Analysts use it to cross-validate or grid-search one head alone, e.g. with
    ``{"features__char_ngram_range": [(1, 2), (1, 3)], "clf__C": [1, 4]}``.
    """
    return Pipeline([("features", clone(features if features is not None else TextFeatures())), ("clf", clone(head))])


class TriageHeads:
    """Fitted features and every head of one model (scikit-learn estimators).

    All heads read the same feature matrix. :meth:`compile` stacks them into the
    :class:`~triage.classifiers.TriageModel` that scores and is saved in bundles.
    """

    HEAD_NAMES = ("category", "sentiment", "urgency", "threat", "safety")

    def __init__(self, features: TextFeatures, category: CategoryHead, sentiment: SentimentHead, urgency: UrgencyHead, threat: FlagHead, safety: FlagHead):
        self.features = features
        self.category = category
        self.sentiment = sentiment
        self.urgency = urgency
        self.threat = threat
        self.safety = safety

    def head_pipeline(self, name: str) -> Pipeline:
        """A fitted scikit-learn ``Pipeline`` (features -> head) for one head, for analysts."""
        if name not in self.HEAD_NAMES:
            raise ValueError(f"Unknown head {name!r}; choose one of {self.HEAD_NAMES}.")
        return Pipeline([("features", self.features), ("clf", getattr(self, name))])

    def compile(self) -> TriageModel:
        """The scoring-time model: every head's coefficients stacked, one matrix product."""
        c, s, u, t, f = self.category, self.sentiment, self.urgency, self.threat, self.safety
        blocks = [c.coef_matrix_, s.coef_matrix_, u.coef_matrix_, t.coef_.reshape(-1, 1), f.coef_.reshape(-1, 1)]
        intercepts = [c.intercepts_, s.intercepts_, u.intercepts_, [t.intercept_], [f.intercept_]]
        stops = np.cumsum([b.shape[1] for b in blocks])
        starts = np.concatenate([[0], stops[:-1]])
        heads = [
            Head("category", "multilabel", tuple(map(str, c.classes_)), int(starts[0]), int(stops[0]), c.platt_a_, c.platt_b_,
                 np.asarray(c.thresholds_, dtype=np.float64), {"C": c.C}),
            Head("sentiment", "softmax", tuple(map(str, s.classes_)), int(starts[1]), int(stops[1]), params={"C": s.C}),
            Head("urgency", "ordinal", tuple(map(str, u.classes_)), int(starts[2]), int(stops[2]), u.platt_a_, u.platt_b_, params={"C": u.C}),
            Head("threat", "binary", ("threat",), int(starts[3]), int(stops[3]), np.array([t.platt_[0]]), np.array([t.platt_[1]]),
                 np.array([t.threshold_]), {"C": t.C}),
            Head("safety", "binary", ("safety",), int(starts[4]), int(stops[4]), np.array([f.platt_[0]]), np.array([f.platt_[1]]),
                 np.array([f.threshold_]), {"C": f.C}),
        ]
        linear = LinearHeads(np.hstack(blocks), np.concatenate([np.asarray(i, dtype=np.float64) for i in intercepts]), heads)
        return TriageModel(self.features.space_, linear)
