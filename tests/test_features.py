import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from triage.estimators import TextFeatures
from triage.features import KeywordMatcher, NgramTable
from triage.segment import Segmenter

TEXTS = [
    "物流很快，但是东西是坏的",
    "买到假货了！！防伪码查不到",
    "客服态度差，物流也慢",
    "坏的坏的坏的",
    "假货 快递 ABC abc",
    "4S店加价提车",
    "",
] * 3 + ["独一无二的句子", "𠀀生僻字𠀀"]


def _aligned(ours, ref, texts):
    names, ref_names = list(ours.names), list(ref.get_feature_names_out())
    assert sorted(names) == sorted(ref_names)
    cols = [ref_names.index(n) for n in names]
    return ours.transform(texts).toarray(), ref.transform(texts).toarray()[:, cols]


@pytest.mark.parametrize("ngram_range", [(1, 1), (1, 2), (1, 3), (2, 3)])
def test_char_ngrams_equal_sklearn_tfidf(ngram_range):
    ours = NgramTable.fit(TEXTS, analyzer="char", ngram_range=ngram_range, min_df=2, max_features=None)
    ref = TfidfVectorizer(analyzer="char", ngram_range=ngram_range, min_df=2, sublinear_tf=True).fit(TEXTS)
    a, b = _aligned(ours, ref, TEXTS + ["未见过的文本 假货"])
    np.testing.assert_allclose(a, b, atol=1e-12)


def test_word_ngrams_equal_sklearn_tfidf():
    seg = Segmenter(backend="jieba")
    ours = NgramTable.fit(TEXTS, analyzer="word", ngram_range=(1, 2), segmenter=seg, min_df=2, max_features=None)
    ref = TfidfVectorizer(tokenizer=seg, token_pattern=None, lowercase=False, ngram_range=(1, 2), min_df=2, sublinear_tf=True).fit(TEXTS)
    names = list(ours.names)
    ref_names = list(ref.get_feature_names_out())
    assert sorted(names) == sorted(ref_names)
    cols = [ref_names.index(n) for n in names]
    np.testing.assert_allclose(ours.transform(TEXTS).toarray(), ref.transform(TEXTS).toarray()[:, cols], atol=1e-12)


def test_max_features_keeps_the_most_frequent():
    ours = NgramTable.fit(["坏坏坏", "坏了", "坏", "好"], analyzer="char", ngram_range=(1, 1), min_df=1, max_features=3)
    assert ours.n_features == 3 and "坏" in ours.names


def test_rows_are_independent_of_the_batch():
    f = TextFeatures(segmenter=Segmenter(backend="jieba"), keywords={"threat": ["12315"]}).fit(TEXTS)
    batch = f.transform(TEXTS).toarray()
    one_by_one = np.vstack([f.transform([t]).toarray() for t in TEXTS])
    assert np.array_equal(batch, one_by_one)


def test_keyword_matcher_finds_words_in_order():
    m = KeywordMatcher({"threat": ["12315", "曝光", "律师"], "safety": ["过敏"]})
    assert m.find("先找律师，再打12315") == {"threat": ["律师", "12315"]}
    assert m.counts(["12315 12315", "没有"]).toarray()[:, 0].tolist() == [pytest.approx(np.log(3)), 0.0]


def test_feature_names_line_up_with_columns():
    f = TextFeatures(segmenter=Segmenter(backend="jieba"), keywords={"threat": ["12315"]}).fit(TEXTS)
    assert len(f.get_feature_names_out()) == f.transform(["假货"]).shape[1]
    # threat words get columns of their own by default; groups missing from the lists are skipped
    assert list(f.get_feature_names_out()[-2:]) == ["<threat>", "<threat:12315>"]
    plain = TextFeatures(segmenter=Segmenter(backend="jieba"), keywords={"threat": ["12315"]}, keyword_words=()).fit(TEXTS)
    assert plain.get_feature_names_out()[-1] == "<threat>"
    assert plain.transform(["假货"]).shape[1] == f.transform(["假货"]).shape[1] - 1


def test_bad_ngram_range_is_explained():
    with pytest.raises(ValueError, match="ngram_range must lie within"):
        NgramTable.fit(TEXTS, analyzer="char", ngram_range=(1, 4))
    with pytest.raises(ValueError, match="analyzer must be"):
        NgramTable.fit(TEXTS, analyzer="bytes")


def test_keyword_groups_have_a_fixed_order():
    # longest first, then by the words themselves: bundles are byte-identical whatever the
    # interpreter's hash seed (set order)
    from triage.features import KeywordMatcher

    assert KeywordMatcher({"g": ["bb", "c", "aa", "bb", "ddd"]}).groups == {"g": ("ddd", "aa", "bb", "c")}


def test_per_word_columns_follow_the_group_columns():
    m = KeywordMatcher({"threat": ["起诉", "咨询了律师", "律师"], "counterparty": ["被起诉"], "safety": ["过敏"]}, per_word=["threat"])
    assert m.column_names == ["<threat>", "<counterparty>", "<safety>", "<threat:咨询了律师>", "<threat:律师>", "<threat:起诉>"]
    X = m.counts(["我咨询了律师，准备起诉", "被起诉了", "过敏"]).toarray()
    assert X[0].tolist() == pytest.approx([np.log(3), 0, 0, np.log(2), 0, np.log(2)])
    # the longer word shields the shorter one inside it: the lender suing is not a threat word
    assert X[1].tolist() == pytest.approx([0, np.log(2), 0, 0, 0, 0])
    assert X[2].tolist() == pytest.approx([0, 0, np.log(2), 0, 0, 0])


def test_per_word_names_unknown_groups_and_survives_pickling():
    import pickle

    with pytest.raises(ValueError, match="per_word names groups that do not exist: \\['threats'\\]"):
        KeywordMatcher({"threat": ["起诉"]}, per_word=["threats"])
    m = pickle.loads(pickle.dumps(KeywordMatcher({"threat": ["起诉"], "safety": ["过敏"]}, per_word=["safety"])))
    assert m.per_word == ("safety",) and m.column_names[-1] == "<safety:过敏>"
    old = KeywordMatcher.__new__(KeywordMatcher)
    old.__setstate__({"groups": {"threat": ("起诉",)}})  # bundles from before per-word columns
    assert old.per_word == () and old.column_names == ["<threat>"]


def test_shipped_keyword_lists_tell_whose_step_it_is():
    from triage.training import TrainSettings, read_keywords

    m = KeywordMatcher(read_keywords(TrainSettings().keywords))
    assert "threat" in m.find("我已经咨询了律师，准备起诉")
    for text in ("催收说要起诉我", "上个月被起诉了", "收到法院传票", "仪表盘故障报警", "去年315晚会点名的牌子"):
        assert "threat" not in m.find(text), text
    assert "safety" in m.find("吃完拉肚子")


def test_shipped_safety_list_tells_dangerous_controls_from_gadgets():
    from triage.training import TrainSettings, read_keywords

    m = KeywordMatcher(read_keywords(TrainSettings().keywords))
    for text in ("启动后转向系统失灵", "高速上刹车失灵", "螺丝松动导致车辆侧翻"):
        assert "safety" in m.find(text), text
    for text in ("车机蓝牙失灵", "中控屏幕失灵，按键失灵", "遥控钥匙失灵"):
        assert "safety" not in m.find(text) and "device_fault" in m.find(text), text
