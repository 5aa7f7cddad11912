import numpy as np
import pytest
from sklearn.base import clone

from triage.classifiers import decide_categories, explainable_names, top_terms, top_terms_chunk
from triage.estimators import CategoryHead, SentimentHead, TextFeatures, UrgencyHead, make_head_pipeline
from triage.errors import DataError
from triage.segment import Segmenter


def _head(thresholds):
    head = CategoryHead(labels=("quality", "price", "other"))
    head.thresholds_ = np.array(thresholds)
    return head


@pytest.mark.parametrize(
    "probs, expected",
    [
        ([0.9, 0.1, 0.1], [1, 0, 0]),
        ([0.9, 0.8, 0.1], [1, 1, 0]),
        ([0.2, 0.3, 0.4], [0, 0, 1]),  # nothing passes: the most probable
        ([0.6, 0.1, 0.9], [1, 0, 0]),  # 'other' never beside a specific category
        ([0.1, 0.1, 0.9], [0, 0, 1]),
    ],
)
def test_category_decision_rules(probs, expected):
    assert _head([0.5, 0.5, 0.5]).decide(np.array([probs])).astype(int).tolist() == [expected]


def _toy():
    texts = ["质量差坏了", "坏了不能用", "太贵了乱收费", "收费太贵", "很好很满意", "满意好评"] * 6
    X = TextFeatures(segmenter=Segmenter(backend="jieba"), min_df=1).fit(texts).transform(texts)
    return texts, X


def test_category_head_learns_and_calibrates():
    texts, X = _toy()
    Y = np.array([[("坏" in t), ("贵" in t), ("满意" in t)] for t in texts], dtype=int)
    head = CategoryHead(labels=("quality", "price", "other")).fit(X, Y)
    P = head.predict_proba(X)
    assert P.shape == (len(texts), 3) and ((P >= 0) & (P <= 1)).all()
    assert (head.predict(X) == Y).all()
    head.tune_thresholds(X, Y, min_support=1)
    assert ((head.thresholds_ > 0) & (head.thresholds_ < 1)).all()


def test_category_head_rejects_wrong_label_matrix():
    _, X = _toy()
    with pytest.raises(DataError, match="3 columns"):
        CategoryHead(labels=("quality", "price", "other")).fit(X, np.zeros((X.shape[0], 2)))


def test_urgency_probabilities_are_ordered_distributions():
    texts, X = _toy()
    levels = ["low", "medium", "high", "critical"]
    y = [levels[i % 4] for i in range(len(texts))]
    head = UrgencyHead().fit(X, y)
    P = head.predict_proba(X)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    assert (P >= 0).all() and set(head.predict(X)) <= set(levels)
    with pytest.raises(DataError, match="Unknown urgency"):
        UrgencyHead().fit(X, ["urgent"] * len(texts))


def test_sentiment_head_with_two_classes_only():
    texts, X = _toy()
    y = ["positive" if "满意" in t else "negative" for t in texts]
    head = SentimentHead().fit(X, y)
    assert list(head.classes_) == ["negative", "positive"]
    assert (head.predict(X) == np.array(y, dtype=object)).all()


def test_top_terms_lists_the_strongest_words():
    texts, X = _toy()
    f = TextFeatures(segmenter=Segmenter(backend="jieba"), min_df=1).fit(texts)
    Y = np.array([[("贵" in t)] for t in texts], dtype=int)
    head = CategoryHead(labels=("price",)).fit(f.transform(texts), Y)
    row = f.transform(["乱收费太贵了"])
    terms = top_terms(row, head.coef_matrix_[:, 0], f.get_feature_names_out(), k=2)
    assert terms and any("贵" in t or "收费" in t for t in terms)


def test_chunk_explanations_do_not_depend_on_the_other_rows():
    texts, _ = _toy()
    f = TextFeatures(segmenter=Segmenter(backend="jieba"), min_df=1).fit(texts)
    X = f.transform(texts)
    coef = np.random.default_rng(0).normal(size=(X.shape[1], 4)).astype(np.float32)
    shown = explainable_names(f.get_feature_names_out())
    requests = [[j % 4, (j + 1) % 4] for j in range(len(texts))]
    together = top_terms_chunk(X, coef, requests, shown, k=2)
    alone = [top_terms_chunk(X[i], coef, [requests[i]], shown, k=2)[0] for i in range(len(texts))]
    assert together == alone
    for i, per_col in enumerate(together):
        for col, terms in zip(requests[i], per_col):
            assert len(terms) <= 2
            # every term pushed the output up, and the strongest one comes first
            row = X[i]
            contrib: dict[str, float] = {}  # a word bigram and a character n-gram may show alike
            for j in row.indices:
                if shown[j]:
                    contrib[shown[j]] = max(contrib.get(shown[j], -np.inf), row[0, j] * coef[j, col])
            assert all(contrib[t] > 0 for t in terms)
            if terms:
                assert contrib[terms[0]] == pytest.approx(max(contrib.values()), rel=1e-6)


def test_head_pipeline_clones_for_grid_search():
    pipe = make_head_pipeline(SentimentHead(), TextFeatures(segmenter=Segmenter(backend="jieba")))
    params = clone(pipe).get_params()
    assert "features__char_ngram_range" in params and "clf__C" in params


def test_decide_categories_function_matches_head():
    P = np.array([[0.6, 0.1, 0.9], [0.2, 0.3, 0.4]])
    head = _head([0.5, 0.5, 0.5])
    assert (decide_categories(P, head.thresholds_, head.labels) == head.decide(P)).all()


def test_compiled_model_equals_the_estimators(small_model_dir, corpus_rows):
    from triage.corpus import split
    from triage.training import TrainSettings, fit_heads

    parts = split(corpus_rows)
    settings = TrainSettings(backend="jieba", include_snownlp=False, feature_params={"max_char_features": 2000, "max_word_features": 1000})
    heads = fit_heads(parts["train"][:200], None, settings)
    model = heads.compile()
    texts = [r["text"] for r in parts["test"][:50]]
    X = heads.features.transform(texts)
    out = model.predict(texts)
    np.testing.assert_allclose(out["category"], heads.category.predict_proba(X), rtol=1e-6)
    np.testing.assert_allclose(out["sentiment"], heads.sentiment.predict_proba(X), rtol=1e-6)
    np.testing.assert_allclose(out["urgency"], heads.urgency.predict_proba(X), rtol=1e-6)
    np.testing.assert_allclose(out["threat"], heads.threat.predict_proba(X)[:, 1], rtol=1e-6)


def test_thresholds_can_be_tuned_on_out_of_fold_probabilities_pooled_with_dev():
    texts, X = _toy()
    Y = np.array([[("坏" in t), ("贵" in t), ("满意" in t)] for t in texts], dtype=int)
    head = CategoryHead(labels=("quality", "price", "other")).fit(X, Y)
    assert head.oof_proba_.shape == Y.shape  # calibrated, from models that did not see the row
    assert ((head.oof_proba_ >= 0) & (head.oof_proba_ <= 1)).all()
    # Dev alone has too few positives (< min_support): thresholds stay 0.5 ...
    head.tune_thresholds(X[:4], Y[:4])
    assert (head.thresholds_ == 0.5).all()
    # ... pooled with the out-of-fold probabilities there is enough to tune on.
    head.tune_thresholds(X[:4], Y[:4], pooled=(head.oof_proba_, Y))
    P = np.vstack([head.predict_proba(X[:4]), head.oof_proba_])
    Yp = np.vstack([Y[:4], Y])
    for j in range(3):
        pred = P[:, j] >= head.thresholds_[j]
        f1 = 2 * (pred & (Yp[:, j] == 1)).sum() / (pred.sum() + Yp[:, j].sum())
        assert f1 == pytest.approx(1.0)  # separable toy data: the tuned threshold separates it


def test_near_ties_in_f1_go_to_the_threshold_nearest_one_half():
    from triage.estimators import _best_threshold

    grid = np.array([0.2, 0.3, 0.4, 0.5])
    # 10 positives scored 0.35..0.95, one negative at 0.32, 89 negatives at 0.1:
    # t=0.2 or 0.3 catches all 10 positives and the negative (F1 0.952); t=0.4 loses one positive (0.947)
    p = np.concatenate([np.linspace(0.35, 0.95, 10), [0.32], np.full(89, 0.1)])
    y = np.concatenate([np.ones(10), np.zeros(90)])
    assert _best_threshold(p, y, grid) == 0.3  # exact maximum (0.2 and 0.3 tie: nearest 0.5)
    assert _best_threshold(p, y, grid, tolerance=0.01) == 0.4  # within 0.01 of the best: nearest 0.5
