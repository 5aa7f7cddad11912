"""Check labelled corpus files against ../shared/LABELING.md and print coverage.

Usage: python scripts/check_corpus.py data/corpus/*.jsonl
Exit status 1 when a line is invalid.
"""
from __future__ import annotations

import collections
import json
import sys
from pathlib import Path

CATEGORIES = {"quality", "service_attitude", "delivery", "price", "counterfeit", "agent_violation", "other"}
SENTIMENTS = {"negative", "neutral", "positive"}
URGENCIES = {"low", "medium", "high", "critical"}
REQUIRED = ("id", "text", "categories", "sentiment", "urgency", "threat", "safety")


def check_row(row: dict) -> list[str]:
    problems = [f"missing field {k!r}" for k in REQUIRED if k not in row]
    if problems:
        return problems
    if not isinstance(row["text"], str) or not row["text"].strip():
        problems.append("empty text")
    cats = row["categories"]
    if not isinstance(cats, list) or not cats:
        problems.append("categories must be a non-empty list")
    else:
        bad = set(cats) - CATEGORIES
        if bad:
            problems.append(f"unknown categories {sorted(bad)}")
        if "other" in cats and len(cats) > 1:
            problems.append("'other' never stands beside another category")
        if len(set(cats)) != len(cats):
            problems.append("repeated category")
    if row["sentiment"] not in SENTIMENTS:
        problems.append(f"sentiment {row['sentiment']!r} not in {sorted(SENTIMENTS)}")
    if row["urgency"] not in URGENCIES:
        problems.append(f"urgency {row['urgency']!r} not in {sorted(URGENCIES)}")
    for flag in ("threat", "safety"):
        if not isinstance(row[flag], bool):
            problems.append(f"{flag} must be true or false")
    if row.get("safety") is True and row.get("urgency") in ("low", "medium"):
        problems.append("safety true needs urgency high or critical (LABELING.md: a safety risk is at least high)")
    if row.get("threat") is True and row.get("urgency") in ("low", "medium"):
        problems.append("an explicit escalation threat makes urgency at least high")
    return problems


def main(paths: list[str]) -> int:
    rows, errors, ids, texts = [], 0, set(), set()
    for path in paths:
        for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                print(f"{path}:{lineno}: not valid JSON: {exc}")
                errors += 1
                continue
            problems = check_row(row)
            if row.get("id") in ids:
                problems.append(f"duplicate id {row.get('id')!r}")
            if row.get("text") in texts:
                problems.append("exact duplicate text")
            ids.add(row.get("id"))
            texts.add(row.get("text"))
            for p in problems:
                print(f"{path}:{lineno}: {p}")
            errors += bool(problems)
            rows.append(row)
    n = len(rows) or 1
    cats = collections.Counter(c for r in rows for c in r.get("categories", []))
    print(f"rows: {len(rows)}  invalid: {errors}")
    print("categories:", dict(cats.most_common()))
    print(f"multi-label: {sum(len(r.get('categories', [])) > 1 for r in rows) / n:.1%}")
    print("sentiment:", dict(collections.Counter(r.get("sentiment") for r in rows)))
    print("urgency:", dict(collections.Counter(r.get("urgency") for r in rows)))
    print("threat:", sum(r.get("threat") is True for r in rows), " safety:", sum(r.get("safety") is True for r in rows))
    print("traditional:", sum(r.get("script") == "traditional" for r in rows))
    lengths = sorted(len(r.get("text", "")) for r in rows)
    if lengths:
        print(f"length min/median/max: {lengths[0]}/{lengths[len(lengths)//2]}/{lengths[-1]}",
              f" <30 chars: {sum(l < 30 for l in lengths)/n:.0%}  >150: {sum(l > 150 for l in lengths)/n:.0%}")
    print("channels:", dict(collections.Counter(r.get("channel") for r in rows)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
