import pickle

import jieba
import pytest

from tests.conftest import DATA
from triage.errors import ConfigError
from triage.segment import Segmenter, read_user_dict

USER_WORDS = read_user_dict(DATA / "userdict.txt")

GOLDEN = [
    ("我买的假货防伪码查不到", ["我", "买", "的", "假货", "防伪码", "查不到"]),
    ("4S店加价提车还强制装潢", ["4S店", "加价提车", "还", "强制", "装潢"]),
    ("打了12315和消协都没用", ["打", "了", "12315", "和", "消协", "都", "没用"]),
    ("经销商串货", ["经销商", "串货"]),
    ("快递员把包裹放在门口", ["快递员", "把", "包裹", "放在", "门口"]),
    ("他们暴力催收爆通讯录", ["他们", "暴力催收", "爆通讯录"]),
    ("客服电话打不通", ["客服", "电话", "打不通"]),
    ("顾客服务很好", ["顾客", "服务", "很", "好"]),
]


@pytest.mark.parametrize("backend", ["jieba", "rjieba"])
@pytest.mark.parametrize("text, words", GOLDEN)
def test_golden_segmentation_with_user_dictionary(backend, text, words):
    assert Segmenter(backend=backend, user_words=USER_WORDS)(text) == words


def test_whitespace_tokens_are_dropped():
    assert " " not in Segmenter(backend="jieba", user_words=USER_WORDS)("假货 防伪码")


def test_segmenter_does_not_touch_jieba_global_state():
    before = jieba.lcut("防伪码查不到，加价提车")
    seg = Segmenter(backend="jieba", user_words=USER_WORDS)
    assert seg("防伪码查不到，加价提车")[:1] == ["防伪码"]
    assert jieba.lcut("防伪码查不到，加价提车") == before
    # and a second segmenter without the dictionary is not affected by the first one
    plain = Segmenter(backend="jieba", user_words=[])
    assert plain("防伪码查不到") != seg("防伪码查不到")


@pytest.mark.parametrize("backend", ["jieba", "rjieba"])
def test_segmenter_pickles_without_its_tokenizer(backend):
    seg = Segmenter(backend=backend, user_words=USER_WORDS).warm_up()
    clone = pickle.loads(pickle.dumps(seg))
    assert clone == seg and clone._tokenizer is None
    assert clone("防伪码查不到") == seg("防伪码查不到")


def test_unknown_backend_says_what_is_allowed():
    with pytest.raises(ConfigError, match="must be one of"):
        Segmenter(backend="pkuseg")


def test_backends_agree_on_most_corpus_texts(corpus_rows):
    texts = [r["text"] for r in corpus_rows[:400]]
    a = Segmenter(backend="jieba", user_words=USER_WORDS)
    b = Segmenter(backend="rjieba", user_words=USER_WORDS)
    same = sum(a(t) == b(t) for t in texts) / len(texts)
    assert same >= 0.9


def test_bad_user_dictionary_line_names_the_line(tmp_path):
    path = tmp_path / "dict.txt"
    path.write_text("假货 lots n\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"dict.txt:1"):
        read_user_dict(path)
