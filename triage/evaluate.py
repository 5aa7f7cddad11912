"""Evaluation of a pipeline on labelled rows: the numbers behind ``triage evaluate``.

Per-label precision, recall, F1 and support; micro and macro F1; exact-match ratio; sentiment
and urgency macro-F1 and confusion matrices; threat and safety F1; expected calibration error
of the category probabilities; and the worst errors (most confident wrong answers).
Only the label columns present in the rows are evaluated.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from .results import TriageResult


def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4)}


def multilabel_report(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], labels: Sequence[str]) -> dict[str, Any]:
    per_label = {}
    TP = FP = FN = 0
    for label in labels:
        tp = sum(label in g and label in p for g, p in zip(gold, pred))
        fp = sum(label not in g and label in p for g, p in zip(gold, pred))
        fn = sum(label in g and label not in p for g, p in zip(gold, pred))
        TP, FP, FN = TP + tp, FP + fp, FN + fn
        per_label[label] = {**_prf(tp, fp, fn), "support": sum(label in g for g in gold)}
    supported = [v["f1"] for v in per_label.values() if v["support"] > 0]
    return {
        "per_label": per_label,
        "micro_f1": _prf(TP, FP, FN)["f1"],
        "macro_f1": round(float(np.mean(supported)), 4) if supported else 0.0,
        "exact_match": round(float(np.mean([set(g) == set(p) for g, p in zip(gold, pred)])), 4) if gold else 0.0,
    }


def multiclass_report(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
    per_label = {}
    for label in labels:
        tp = sum(g == label and p == label for g, p in zip(gold, pred))
        fp = sum(g != label and p == label for g, p in zip(gold, pred))
        fn = sum(g == label and p != label for g, p in zip(gold, pred))
        per_label[label] = {**_prf(tp, fp, fn), "support": sum(g == label for g in gold)}
    supported = [v["f1"] for v in per_label.values() if v["support"] > 0]
    matrix = [[sum(g == a and p == b for g, p in zip(gold, pred)) for b in labels] for a in labels]
    return {
        "per_label": per_label,
        "accuracy": round(float(np.mean([g == p for g, p in zip(gold, pred)])), 4) if gold else 0.0,
        "macro_f1": round(float(np.mean(supported)), 4) if supported else 0.0,
        "confusion": {"labels": list(labels), "rows_gold_cols_pred": matrix},
    }


def binary_report(gold: Sequence[bool], pred: Sequence[bool]) -> dict[str, Any]:
    tp = sum(g and p for g, p in zip(gold, pred))
    fp = sum((not g) and p for g, p in zip(gold, pred))
    fn = sum(g and not p for g, p in zip(gold, pred))
    return {**_prf(tp, fp, fn), "support": int(sum(gold))}


def expected_calibration_error(probs: np.ndarray, outcomes: np.ndarray, bins: int = 10) -> float:
    """ECE over all (row, label) probabilities, equal-width bins."""
    probs, outcomes = np.ravel(probs), np.ravel(outcomes).astype(float)
    if probs.size == 0:
        return 0.0
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(probs, edges[1:-1]), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        mask = idx == b
        if mask.any():
            ece += mask.mean() * abs(probs[mask].mean() - outcomes[mask].mean())
    return round(float(ece), 4)


def evaluate_results(rows: Sequence[Mapping[str, Any]], results: Sequence[TriageResult], *, worst: int = 20) -> dict[str, Any]:
    """Compare results with the labels in ``rows`` (same order)."""
    report: dict[str, Any] = {"rows": len(rows)}
    summary: dict[str, Any] = {"rows": len(rows)}
    if rows and "categories" in rows[0]:
        labels = list(results[0].category_scores) if results and results[0].category_scores else sorted(
            {c for r in rows for c in r["categories"]}
        )
        gold = [r["categories"] for r in rows]
        pred = [res.categories for res in results]
        cat = multilabel_report(gold, pred, labels)
        P = np.array([[res.category_scores.get(l, 0.0) for l in labels] for res in results])
        Y = np.array([[l in g for l in labels] for g in gold])
        cat["ece"] = expected_calibration_error(P, Y)
        report["categories"] = cat
        summary.update(category_micro_f1=cat["micro_f1"], category_macro_f1=cat["macro_f1"], exact_match=cat["exact_match"], category_ece=cat["ece"])
        errors = []
        for r, res in zip(rows, results):
            missed = set(r["categories"]) ^ set(res.categories)
            if missed:
                conf = max(abs(res.category_scores.get(l, 0.0) - (l in r["categories"])) for l in missed)
                errors.append((conf, r, res))
        errors.sort(key=lambda e: -e[0])
        report["worst_errors"] = [
            {
                "id": r.get("id"),
                "text": res_text(r),
                "gold": r["categories"],
                "pred": list(res.categories),
                "scores": {l: round(p, 2) for l, p in res.category_scores.items() if p >= 0.2 or l in r["categories"]},
            }
            for _, r, res in errors[:worst]
        ]
    for name, labels in (("sentiment", ("negative", "neutral", "positive")), ("urgency", ("low", "medium", "high", "critical"))):
        if rows and name in rows[0]:
            gold = [r[name] for r in rows]
            pred = [getattr(res, name).label if name == "sentiment" else res.urgency.level for res in results]
            rep = multiclass_report(gold, [p or "" for p in pred], labels)
            report[name] = rep
            summary[f"{name}_macro_f1"] = rep["macro_f1"]
            summary[f"{name}_accuracy"] = rep["accuracy"]
    for flag in ("threat", "safety"):
        if rows and flag in rows[0]:
            rep = binary_report([bool(r[flag]) for r in rows], [getattr(res.flags, flag) for res in results])
            report[flag] = rep
            summary[f"{flag}_f1"] = rep["f1"]
    report["summary"] = summary
    return report


def res_text(row: Mapping[str, Any], limit: int = 120) -> str:
    from .normalize import mask_pii

    text = mask_pii(str(row.get("text", "")))
    return text if len(text) <= limit else text[:limit] + "…"


def evaluate(pipeline, rows: Sequence[Mapping[str, Any]], *, worst: int = 20) -> dict[str, Any]:
    """Score ``rows`` with ``pipeline`` and compare with their labels."""
    results = pipeline.score_many([r["text"] for r in rows], on_error="mark")
    return evaluate_results(rows, results, worst=worst)


def compare(pipe_a, pipe_b, rows: Sequence[Mapping[str, Any]], *, max_disagreements: int = 50) -> dict[str, Any]:
    """Two models on the same labelled rows: both reports, and where their answers differ.

    Disagreements (categories, sentiment, urgency or flags differ) are listed with which model
    matched the gold labels, the rows where exactly one model is right first.
    """
    texts = [r["text"] for r in rows]
    ra = pipe_a.score_many(texts, on_error="mark")
    rb = pipe_b.score_many(texts, on_error="mark")
    report_a, report_b = evaluate_results(rows, ra, worst=0), evaluate_results(rows, rb, worst=0)
    disagreements = []
    for row, a, b in zip(rows, ra, rb):
        fields = []
        for name, va, vb, gold in (
            ("categories", sorted(a.categories), sorted(b.categories), sorted(row.get("categories", [])) or None),
            ("sentiment", a.sentiment.label, b.sentiment.label, row.get("sentiment")),
            ("urgency", a.urgency.level, b.urgency.level, row.get("urgency")),
            ("threat", a.flags.threat, b.flags.threat, row.get("threat")),
            ("safety", a.flags.safety, b.flags.safety, row.get("safety")),
        ):
            if va != vb:
                fields.append({"label": name, "a": va, "b": vb, "gold": gold,
                               "right": "a" if va == gold else "b" if vb == gold else None})
        if fields:
            disagreements.append({"id": row.get("id"), "text": res_text(row), "differences": fields})
    disagreements.sort(key=lambda d: -sum(f["right"] is not None for f in d["differences"]))
    return {
        "rows": len(rows),
        "a": {"model_version": pipe_a.model_version, **report_a},
        "b": {"model_version": pipe_b.model_version, **report_b},
        "disagreement_rate": round(len(disagreements) / len(rows), 4) if rows else 0.0,
        "disagreements": disagreements[:max_disagreements],
    }
