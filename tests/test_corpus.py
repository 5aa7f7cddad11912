"""The team's labelled corpus: valid, varied, no duplicates, coverage of LABELING.md."""

import collections

import pytest

from tests.conftest import DATA, read_jsonl
from triage.corpus import check_labels, split_of
from triage.errors import DataError


@pytest.fixture(scope="module")
def raw_rows():
    rows = []
    for path in sorted((DATA / "corpus").glob("*.jsonl")):
        rows.extend(read_jsonl(path))
    return rows


def test_every_row_follows_the_labelling_guide(raw_rows):
    check_labels(raw_rows)
    assert len({r["id"] for r in raw_rows}) == len(raw_rows)


def test_no_exact_duplicates(raw_rows):
    counts = collections.Counter(r["text"] for r in raw_rows)
    assert [t for t, n in counts.items() if n > 1] == []


def _shingles(text, n=5):
    return {text[i : i + n] for i in range(max(1, len(text) - n + 1))}



def test_near_duplicates_by_char_5gram_jaccard(raw_rows):
    shingles = [_shingles(r["text"]) for r in raw_rows]
    index = collections.defaultdict(set)
    for i, sh in enumerate(shingles):
        for g in sh:
            index[g].add(i)
    near = 0
    for i, sh in enumerate(shingles):
        candidates = collections.Counter(j for g in sh for j in index[g] if j != i)
        for j, common in candidates.items():
            if common / len(sh | shingles[j]) > 0.8:
                near += 1
                break
    assert near / len(raw_rows) < 0.03


def test_coverage_meets_the_corpus_issue(raw_rows):
    n = len(raw_rows)
    cats = collections.Counter(c for r in raw_rows for c in r["categories"])
    urg = collections.Counter(r["urgency"] for r in raw_rows)
    assert n >= 4000
    assert min(cats.values()) >= 400, cats
    assert sum(len(r["categories"]) > 1 for r in raw_rows) / n >= 0.20
    assert min(urg.values()) >= 300, urg
    assert sum(r["sentiment"] != "negative" for r in raw_rows) / n >= 0.10
    assert sum(r.get("script") == "traditional" for r in raw_rows) / n >= 0.08
    assert sum(r["threat"] for r in raw_rows) >= 300 and sum(r["safety"] for r in raw_rows) >= 300


def test_split_is_stable_and_roughly_80_10_10(raw_rows):
    assert split_of("cosm-0001") == split_of("cosm-0001")
    counts = collections.Counter(split_of(r["id"]) for r in raw_rows)
    assert 0.75 < counts["train"] / len(raw_rows) < 0.85
    assert counts["dev"] > 0.07 * len(raw_rows) and counts["test"] > 0.07 * len(raw_rows)


@pytest.mark.parametrize(
    "row, message",
    [
        ({"id": "x", "text": "", "categories": ["quality"]}, "text is missing"),
        ({"id": "x", "text": "t", "categories": ["quality", "other"]}, "'other' never stands beside"),
        ({"id": "x", "text": "t", "categories": ["qualty"]}, "unknown categories"),
        ({"id": "x", "text": "t", "categories": "quality|price", "sentiment": "angry"}, "sentiment 'angry'"),
        ({"id": "x", "text": "t", "categories": "[\"quality\""}, "not a valid JSON list"),
    ],
)
def test_bad_labels_are_named(row, message):
    with pytest.raises(DataError, match=message):
        check_labels([row], required=[k for k in ("categories", "sentiment") if k in row])


def test_labels_in_other_spellings_are_accepted():
    rows = check_labels(
        [{"id": 1, "text": "t", "categories": "quality|price", "sentiment": "negative", "urgency": "low", "threat": "是", "safety": "0"}]
    )
    assert rows[0]["categories"] == ["quality", "price"] and rows[0]["threat"] is True and rows[0]["safety"] is False
