"""Volume signals of a batch: same-issue clusters and repeat contacts by the same customer.

Severity's ``volume`` factor reads two numbers per complaint, ``cluster_size`` and
``repeat_contacts``. They depend on the other complaints of a batch, so they are computed here,
over the whole batch, and passed to scoring as metadata (scoring one complaint stays
independent of its neighbours, which keeps ``score_many`` equal to ``score`` one by one).

- :func:`find_clusters`: near-duplicate / same-issue groups by MinHash over the segmented text
  (its words plus character bigrams), with locality-sensitive hashing (datasketch), so a batch
  of 100k complaints is grouped without comparing every pair. It finds complaints that share
  much of their wording (the same incident retold, copies, small edits); paraphrases with little
  wording in common are not caught.
- :func:`repeat_contacts`: for each complaint, how many earlier complaints came from the same
  customer id (earlier by received time when given, else by position).
"""

from __future__ import annotations

import itertools
import re
from typing import Any, Callable, Sequence


_NON_WORD = re.compile(r"[^\w]+")


def _shingles(text: str, words: Sequence[str]) -> set[str]:
    """Words of the segmented text plus character bigrams (punctuation dropped): paraphrases of
    the same complaint share many of both."""
    grams = {w for w in words if _NON_WORD.sub("", w)}
    flat = _NON_WORD.sub("", text.lower())
    grams.update(flat[i : i + 2] for i in range(len(flat) - 1))
    return grams


def find_clusters(
    texts: Sequence[str],
    tokenize: Callable[[str], list[str]],
    *,
    threshold: float = 0.5,
    num_perm: int = 64,
    min_shingles: int = 6,
    is_common: Callable[[str], bool] | None = None,
    shared_terms: int = 2,
    max_terms: int = 8,
) -> list[int]:
    """Cluster id of every text (texts alone in their cluster keep their own index as id).

    Two texts join a cluster when either
    - the estimated Jaccard similarity of their shingles (words + character bigrams) is at least
      ``threshold`` (near-duplicates, copies, small edits), found with MinHash LSH; or
    - they share at least ``shared_terms`` *issue terms*: words of two or more characters that
      recur in the batch (2 <= document frequency <= max(20, 2% of the batch)) but are not common
      complaint vocabulary (``is_common``, e.g. frequent in the training corpus). Product names,
      batch numbers and places are such terms, so the same incident retold in different words is
      grouped.
    Clusters are the connected components. Texts with fewer than ``min_shingles`` shingles are
    only grouped through issue terms; of a text's issue terms the ``max_terms`` rarest count.
    Exact duplicates are grouped before hashing, and memory stays linear in the batch size.
    """
    from datasketch import LeanMinHash, MinHash, MinHashLSH  # imported here: it is slow to import

    parent = list(range(len(texts)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def join(i: int, j: int) -> None:
        parent[root(i)] = root(j)

    # Shingles are hashed in small batches and dropped: only the MinHash signatures and each
    # text's candidate issue terms are kept (memory linear in the batch, about 1 KB a text).
    terms: list[set[str]] = []
    signatures: dict[int, Any] = {}
    first_of: dict[str, int] = {}
    for start in range(0, len(texts), 2000):
        batch = range(start, min(start + 2000, len(texts)))
        pending = []
        for i in batch:
            text = texts[i]
            if not isinstance(text, str) or not text.strip():  # an empty text is the same issue as nothing
                terms.append(set())
                continue
            words = tokenize(text)
            terms.append({w for w in words if len(w) >= 2 and _NON_WORD.sub("", w) == w})
            if text in first_of:  # exact duplicates (after normalization) need no hashing
                join(i, first_of[text])
                continue
            first_of[text] = i
            sh = _shingles(text, words)
            if len(sh) >= min_shingles:
                pending.append((i, [g.encode("utf-8") for g in sh]))
        if pending:
            for (i, _), m in zip(pending, MinHash.bulk([b for _, b in pending], num_perm=num_perm, seed=1)):
                signatures[i] = LeanMinHash(m)
    del first_of

    if signatures:
        lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        for i, m in signatures.items():
            for j in lsh.query(m):
                if root(j) != root(i) and m.jaccard(signatures[j]) >= threshold:
                    join(i, j)
            lsh.insert(i, m)
        del lsh, signatures

    # Issue terms: recurring in this batch, uncommon in complaints in general. Two texts that
    # share a *pair* of issue terms are joined; pairs are keyed, so the work is linear in the
    # number of texts (no text-by-text pair counting).
    df: dict[str, int] = {}
    for ts in terms:
        for w in ts:
            df[w] = df.get(w, 0) + 1
    cap = max(20, int(0.02 * len(texts)))
    issue = {w for w, n in df.items() if 2 <= n <= cap and not (is_common and is_common(w))}
    owner: dict[tuple[str, ...], int] = {}
    for i, ts in enumerate(terms):
        mine = sorted(ts & issue, key=lambda w: (df[w], w))[:max_terms]
        for key in itertools.combinations(mine, shared_terms):
            if key in owner:
                join(i, owner[key])
            else:
                owner[key] = i
    return [root(i) for i in range(len(texts))]


def cluster_sizes(cluster_ids: Sequence[int], customer_ids: Sequence[Any] | None = None) -> list[int]:
    """Size of each text's cluster: its number of texts, or of distinct customers when
    ``customer_ids`` is given (a customer writing three times about one issue is one voice;
    texts without an id count one each)."""
    members: dict[int, set] = {}
    for n, c in enumerate(cluster_ids):
        cid = customer_ids[n] if customer_ids is not None else None
        key = ("row", n) if _missing(cid) else ("id", str(cid).strip())
        members.setdefault(c, set()).add(key)
    return [len(members[c]) for c in cluster_ids]


def _missing(v: Any) -> bool:
    return v is None or v == "" or (isinstance(v, float) and v != v)


def repeat_contacts(customer_ids: Sequence[Any], received_at: Sequence[Any] | None = None) -> list[int]:
    """How many earlier complaints each complaint's customer made in the batch.

    Missing ids (None, NaN, "") count as distinct customers. "Earlier" is by ``received_at``
    (any comparable values; missing ones sort last) when given, else by position.
    """
    missing = _missing
    n = len(customer_ids)
    order = list(range(n))
    if received_at is not None:
        keys = [(1, 0) if missing(t) else (0, str(t)) for t in received_at]
        order.sort(key=lambda i: (keys[i], i))
    seen: dict[Any, int] = {}
    out = [0] * n
    for i in order:
        cid = customer_ids[i]
        if missing(cid):
            continue
        key = str(cid).strip()
        out[i] = seen.get(key, 0)
        seen[key] = out[i] + 1
    return out
