"""Labelling help for analysts: what to label next, draft labels for a cold start, likely mislabels.

- :func:`suggest_for_labeling`: the complaints whose labels would teach the model most: those
  it is least sure about (a category near its threshold, a flag near 0.5, a spread-out sentiment
  or urgency), one from each of ``n`` k-means clusters of the pool, so that they also cover the
  kinds of complaint in it.
- :func:`draft_labels`: keyword rules (the model's keyword groups, from ``data/keywords.toml``)
  give draft labels for a person to correct, when there is no model for the data yet.
- :func:`find_label_issues`: labelled rows the model disagrees with confidently.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from .errors import DataError
from .pipeline import TriagePipeline

# keyword group -> category, for draft labels
GROUP_CATEGORY = {
    "quality": "quality", "service": "service_attitude", "delivery": "delivery", "price": "price",
    "counterfeit": "counterfeit", "agent": "agent_violation",
}
_DEMANDS = ("退款", "退货", "赔偿", "换货", "维修", "要求", "道歉", "处理", "解决", "给个说法", "退钱")
_PRAISE = ("好评", "满意", "不错", "很好", "很快", "感谢", "谢谢", "表扬", "推荐", "点赞", "给力")
_NEGATIVE = ("差", "坏", "慢", "没", "不", "假", "骗", "贵", "垃圾", "投诉", "退", "问题", "失望", "难", "烂", "坑",
             "才送到", "才到", "洒", "漏", "破", "错", "少了", "拒绝", "敷衍", "什么态度", "欺骗", "虚假")
# Asking for (or paying for) a good review is not praise: 「骑手还让我给五星好评」.
_PRAISE_REQUESTS = ("给五星好评", "给个好评", "给好评", "五星好评", "好评返现", "要好评", "求好评")


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


HEADS = ("category", "sentiment", "urgency", "threat", "safety")
HEAD_COLUMN = {"category": "categories", "sentiment": "sentiment", "urgency": "urgency", "threat": "threat", "safety": "safety"}
LABEL_KEYS = frozenset(HEAD_COLUMN.values())


def uncertainty(pipeline: TriagePipeline, texts: Sequence[str], heads: Sequence[str] = HEADS) -> np.ndarray:
    """How unsure the model is about each text, in 0..1 (1: a coin toss somewhere), over the
    heads that will be labelled (``heads``)."""
    _check_heads(heads)
    return _uncertainty(pipeline, pipeline.probabilities(texts), heads)


def _check_heads(heads: Sequence[str]) -> None:
    unknown = sorted(set(heads) - set(HEADS))
    if unknown:
        raise DataError(f"Unknown heads {unknown}; choose from {', '.join(HEADS)}.")


def _uncertainty(pipeline: TriagePipeline, P: Mapping[str, np.ndarray], heads: Sequence[str]) -> np.ndarray:
    """:func:`uncertainty` from the heads' probabilities ``P`` (as :meth:`TriagePipeline.probabilities` gives)."""

    def spread(M: np.ndarray) -> np.ndarray:
        return -(M * np.log(np.clip(M, 1e-12, 1))).sum(axis=1) / np.log(M.shape[1])

    parts = []
    if "category" in heads:
        thresholds = pipeline.model.heads["category"].thresholds
        parts.append(np.exp(-np.min(np.abs(_logit(P["category"]) - _logit(thresholds)), axis=1)))
        parts.append(spread(P["category"] / P["category"].sum(axis=1, keepdims=True)))
    for flag in ("threat", "safety"):
        if flag in heads:
            parts.append(np.exp(-np.abs(_logit(P[flag]))))
    for head in ("sentiment", "urgency"):
        if head in heads:
            parts.append(spread(P[head]))
    return np.max(np.column_stack(parts), axis=1)


def suggest_for_labeling(pipeline: TriagePipeline, unlabeled: Any, n: int, *, text_col: str = "text",
                         heads: Sequence[str] = HEADS, max_pool: int = 20000, seed: int = 0,
                         exclude: Iterable[str] = ()) -> list[int]:
    """Positions (in ``unlabeled``) of the ``n`` complaints to label next, most uncertain first.

    ``unlabeled`` is a sequence of texts or a DataFrame with ``text_col``; ``heads`` are the labels
    that will be given (e.g. ``("category",)`` when only categories are labelled). The distinct
    non-blank texts (at most ``max_pool`` of them, drawn at random with ``seed``) are grouped into ``n``
    clusters by k-means on the model's features (reduced to 64 dimensions by a truncated SVD, so
    that memory does not grow with n times the ~100,000 features); from each cluster comes the
    text with the highest uncertainty minus half its distance to the cluster's centre. So the
    suggestions cover the kinds of complaint in the pool in proportion to how common they are, and
    within each kind they are the ones the model is least sure about. Picking only the most
    uncertain texts can fill a batch with near-copies of one kind. On heimao_finance neither way
    beats random selection by more than the spread between starting draws (docs/BENCHMARKS.md).
    Texts in ``exclude`` (e.g. those labelled in earlier rounds) are never suggested.
    """
    from sklearn.cluster import MiniBatchKMeans
    from sklearn.decomposition import TruncatedSVD
    from sklearn.preprocessing import normalize as l2_normalize

    _check_heads(heads)
    texts = unlabeled[text_col].tolist() if hasattr(unlabeled, "columns") else list(unlabeled)
    texts = ["" if not isinstance(t, str) else t for t in texts]
    first: dict[str, int] = {}
    done = {t.strip() for t in exclude if isinstance(t, str)}
    for i, text in enumerate(texts):
        key = text.strip()
        if key and key not in done:  # nothing to label in a blank text
            first.setdefault(text, i)  # exact copies are never suggested twice
    cand = np.fromiter(first.values(), dtype=np.int64, count=len(first))
    if len(cand) > max_pool:
        cand = np.sort(np.random.default_rng(seed).choice(cand, max_pool, replace=False))
    n = min(n, len(cand))
    if n <= 0:
        return []
    out = pipeline.model.predict([pipeline.normalize(texts[i]) for i in cand])  # features once, for both uses
    X = l2_normalize(out.pop("X"))
    u = _uncertainty(pipeline, out, heads)
    if n == len(cand):
        return [int(cand[k]) for k in np.argsort(-u, kind="stable")]
    dims = min(64, len(cand) - 1, X.shape[1] - 1)
    Z = l2_normalize(TruncatedSVD(dims, random_state=seed).fit_transform(X)) if dims >= 2 else X.toarray()
    km = MiniBatchKMeans(n_clusters=n, random_state=seed, n_init=3, batch_size=2048).fit(Z)
    dist = np.linalg.norm(Z - km.cluster_centers_[km.labels_], axis=1)
    score = u - 0.5 * dist
    order = np.lexsort((-score, km.labels_))  # by cluster, best first within each
    starts = np.flatnonzero(np.r_[True, km.labels_[order][1:] != km.labels_[order][:-1]])
    picked = order[starts]
    if len(picked) < n:  # empty clusters: the most uncertain of the rest
        rest = np.setdiff1d(np.arange(len(cand)), picked)
        picked = np.r_[picked, rest[np.argsort(-u[rest], kind="stable")[: n - len(picked)]]]
    picked = picked[np.argsort(-u[picked], kind="stable")]
    return [int(cand[k]) for k in picked]


def model_labels(pipeline: TriagePipeline, texts: Sequence[str]) -> list[dict[str, Any]]:
    """The model's current labels of ``texts``, in the columns of ``LABELING.md``: pre-filled
    labels for a person to correct (see :func:`labelling_sheet`)."""
    return [
        {"text": text, "categories": list(r.categories), "sentiment": r.sentiment.label, "urgency": r.urgency.level,
         "threat": r.flags.threat, "safety": r.flags.safety}
        for text, r in zip(texts, pipeline.score_many(list(texts)))
    ]


def labelling_sheet(records: Sequence[Mapping[str, Any]], heads: Sequence[str] = HEADS) -> Any:
    """A DataFrame to label in a spreadsheet and give back to ``triage train``: ``text`` and one
    column per head in ``heads`` (``categories`` joined with ``|``, flags as ``true``/``false``),
    filled from ``records`` (e.g. :func:`model_labels` or :func:`draft_labels`); other keys of the
    records become columns after them. Blank cells are read back as "not labelled"."""
    import pandas as pd

    _check_heads(heads)
    columns = ["text"] + [HEAD_COLUMN[h] for h in HEADS if h in heads]
    rows = []
    for rec in records:
        row: dict[str, Any] = {c: rec.get(c) for c in columns}
        if isinstance(row.get("categories"), (list, tuple)):
            row["categories"] = "|".join(row["categories"])
        for flag in ("threat", "safety"):
            if isinstance(row.get(flag), bool):
                row[flag] = "true" if row[flag] else "false"
        for key, value in rec.items():
            if key not in row and key not in LABEL_KEYS:
                row[key] = json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list, tuple)) else value
        rows.append(row)
    return pd.DataFrame(rows, columns=None if rows else columns)


def draft_labels(texts: Sequence[str], keywords: Mapping[str, Sequence[str]] | None = None) -> list[dict[str, Any]]:
    """Draft labels from keyword rules, for a person to correct (a cold start without a model).

    Categories from the category keyword groups (``other`` when none fires), threat and safety
    from their groups, urgency top-down (critical words, then threat/safety/repeat, then a
    demand, else low), sentiment positive for praise without any complaint word, else negative.
    Keyword groups default to the shipped model's.
    """
    from .features import KeywordMatcher

    if keywords is None:
        from .pipeline import load

        keywords = load(warm_up=False).model.features.keywords.groups
    matcher = KeywordMatcher(keywords)
    drafts = []
    for text in texts:
        text = text if isinstance(text, str) else ""
        found = matcher.find(text)
        cats = [GROUP_CATEGORY[g] for g in GROUP_CATEGORY if g in found]
        threat, safety = "threat" in found, "safety" in found
        if "critical" in found:
            urgency = "critical"
        elif threat or safety or "repeat" in found:
            urgency = "high"
        elif any(w in text for w in _DEMANDS):
            urgency = "medium"
        else:
            urgency = "low"
        rest = text
        for w in _PRAISE_REQUESTS:
            rest = rest.replace(w, "")
        praise = any(w in rest for w in _PRAISE)
        for w in _PRAISE:
            rest = rest.replace(w, "")
        negative = any(w in rest for w in _NEGATIVE) or threat or safety
        if praise and not negative:  # pure praise is `other` (LABELING.md)
            sentiment, cats, urgency = "positive", [], "low"
        else:
            sentiment = "negative" if negative or cats else "neutral"
        drafts.append({
            "text": text, "categories": cats or ["other"], "sentiment": sentiment, "urgency": urgency,
            "threat": threat, "safety": safety, "draft_keywords": {k: v for k, v in found.items()},
        })
    return drafts


def find_label_issues(pipeline: TriagePipeline, rows: Sequence[Mapping[str, Any]], *, confidence: float = 0.9) -> list[dict[str, Any]]:
    """Labelled rows the model contradicts with probability >= ``confidence`` (likely mislabels).

    Returns one entry per row with issues: the row's id and text, and a list of
    ``(label, given, model, probability)`` issues, most confident rows first.
    """
    texts = [r["text"] for r in rows]
    P = pipeline.probabilities(texts)
    labels = pipeline.model.labels
    out = []
    for i, row in enumerate(rows):
        issues = []
        if "categories" in row:
            for j, label in enumerate(labels["categories"]):
                p = float(P["category"][i, j])
                given = label in row["categories"]
                if given and p <= 1 - confidence:
                    issues.append(("categories", label, "absent", round(1 - p, 3)))
                elif not given and p >= confidence:
                    issues.append(("categories", "absent", label, round(p, 3)))
        for head in ("sentiment", "urgency"):
            if head in row:
                j = int(np.argmax(P[head][i]))
                p = float(P[head][i, j])
                if labels[head][j] != row[head] and p >= confidence:
                    issues.append((head, row[head], labels[head][j], round(p, 3)))
        for flag in ("threat", "safety"):
            if flag in row:
                p = float(P[flag][i])
                if bool(row[flag]) and p <= 1 - confidence:
                    issues.append((flag, True, False, round(1 - p, 3)))
                elif not row[flag] and p >= confidence:
                    issues.append((flag, False, True, round(p, 3)))
        if issues:
            out.append({"id": row.get("id", i), "text": row["text"], "issues": issues})
    out.sort(key=lambda e: -max(x[3] for x in e["issues"]))
    return out
