import dataclasses
import json
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pytest

import triage
from triage.errors import InputTypeError
from triage.results import RESULT_KEYS

SCHEMA = json.loads((Path(__file__).resolve().parent.parent / "docs" / "result.schema.json").read_text(encoding="utf-8"))

SAMPLES = [
    "买到假货，防伪码查不到，我要打12315投诉！",
    "快递三天了还没到，客服也不回消息",
    "孩子吃了你们的饼干上吐下泻，现在在医院",
    "4S店加价3万才给提车，还强制买装潢",
    "这个价格有点小贵，不过东西还行",
    "物流很快，包装也好，好评",
    "信用卡莫名其妙扣了年费，打客服电话一直打不通",
]


def test_score_returns_a_frozen_result(pipe):
    r = pipe.score(SAMPLES[0])
    assert isinstance(r, triage.TriageResult)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.status = "x"
    assert r.status == "ok" and r.primary_category == r.categories[0]
    assert r.model_version == pipe.model_version


def test_to_dict_has_exactly_the_contract_keys_and_is_valid_json(pipe):
    jsonschema = pytest.importorskip("jsonschema")
    for text in SAMPLES + ["", "🙂🙂", "hello"]:
        d = pipe.score(text).to_dict()
        assert tuple(d) == RESULT_KEYS
        jsonschema.validate(json.loads(json.dumps(d)), SCHEMA)


def test_obvious_complaints_get_their_labels(pipe):
    r = pipe.score(SAMPLES[0])
    assert "counterfeit" in r.categories and r.flags.threat and r.urgency.level in ("high", "critical")
    assert any("12315" in reason for reason in r.reasons)
    r = pipe.score(SAMPLES[2])
    assert r.flags.safety and r.urgency.level in ("high", "critical") and "quality" in r.categories
    assert r.routing.informed and "质量安全" in r.routing.informed
    assert "delivery" in pipe.score(SAMPLES[1]).categories
    assert "agent_violation" in pipe.score(SAMPLES[3]).categories
    assert pipe.score(SAMPLES[5]).sentiment.label == "positive"


def test_reasons_explain_every_decision(pipe):
    r = pipe.score(SAMPLES[3])
    text = " ".join(r.reasons)
    for word in ("category", "sentiment", "urgency", "severity", "routing"):
        assert word in text
    assert r.severity.score == pytest.approx(sum(r.severity.factors.values()))


def test_score_many_equals_score_one_by_one(pipe, corpus_rows):
    texts = SAMPLES + [r["text"] for r in corpus_rows[::40]] + ["", "   ", "😡😡😡"]
    many = pipe.score_many(texts, batch_size=7)
    assert [r.to_dict() for r in many] == [pipe.score(t).to_dict() for t in texts]


def test_score_many_accepts_a_dataframe_with_metadata(pipe):
    now = datetime(2026, 11, 20, tzinfo=timezone.utc)
    df = pd.DataFrame({
        "text": SAMPLES[:3],
        "received_at": ["2026-11-01 09:00", None, "2026-11-19T23:00:00+08:00"],
        "customer_tier": ["VIP", None, "normal"],
        "repeat_contacts": [3, None, 0],
    })
    results = pipe.score_many(df, now=now)
    assert len(results) == 3
    assert results[0].routing.respond_by and results[0].flags.overdue
    assert results[0].severity.factors["source"] > 0 and results[0].severity.factors["volume"] > 0
    assert results[1].routing.respond_by is None
    one = pipe.score(SAMPLES[0], received_at="2026-11-01 09:00", customer_tier="VIP", repeat_contacts=3, now=now)
    assert one.to_dict() == results[0].to_dict()


def test_traditional_gets_the_same_labels_as_simplified(pipe, corpus_rows):
    from triage.normalize import _converter

    s2t = _converter("s2t")
    for row in corpus_rows[::60]:
        simp, trad = pipe.score(row["text"]), pipe.score(s2t.convert(row["text"]))
        assert simp.categories == trad.categories
        assert (simp.sentiment.label, simp.urgency.level, simp.flags.threat, simp.flags.safety) == (
            trad.sentiment.label, trad.urgency.level, trad.flags.threat, trad.flags.safety)


@pytest.mark.parametrize(
    "text, status",
    [
        ("", "empty_text"),
        ("   \n\t ", "empty_text"),
        ("\x00\x01\x02", "empty_text"),
        ("😡😡😡🙄", "no_chinese_text"),
        ("the parcel never arrived, refund please", "no_chinese_text"),
        ("投诉\ud800快递丢件", "ok"),
        ("投诉" * 50_000, "truncated"),
        ("投诉\x00快递\x1b丢件\u200b", "ok"),
        ("\ud800\udfff", "empty_text"),
    ],
)
def test_bad_strings_never_crash(pipe, text, status):
    r = pipe.score(text)
    assert r.status == status
    json.dumps(r.to_dict())
    if status != "ok":
        assert r.routing.review_tier == "review"
    if status == "empty_text":
        assert r.categories == () and r.sentiment.label is None


@pytest.mark.parametrize("value", [None, b"\xe6\x8a\x95\xe8\xaf\x89", 42, ["投诉"]])
def test_non_strings_raise_a_type_error(pipe, value):
    with pytest.raises(TypeError, match="needs the complaint as a str"):
        pipe.score(value)
    with pytest.raises(InputTypeError, match="Item 1"):
        pipe.score_many(["投诉", value])


def test_score_many_can_mark_instead_of_raising(pipe):
    out = pipe.score_many(["快递丢了", None, 3.5, float("nan")], on_error="mark")
    assert [r.status for r in out] == ["ok", "missing_text", "not_a_string", "missing_text"]


def test_unknown_metadata_is_rejected(pipe):
    with pytest.raises(InputTypeError, match="Unknown metadata"):
        pipe.score("快递丢了", vip=True)


def test_pipe_is_lazy_and_ordered(pipe):
    out = list(pipe.pipe(iter(SAMPLES), batch_size=2))
    assert [r.to_dict() for r in out] == [r.to_dict() for r in pipe.score_many(SAMPLES)]


def test_config_override_changes_routing(pipe):
    custom = triage.load(config={"routing": {"departments": {"counterfeit": "品牌保护部"}}})
    assert custom.score(SAMPLES[0]).routing.department == "品牌保护部"


def test_scoring_restores_the_cycle_collector_state(pipe):
    import gc

    assert gc.isenabled()
    pipe.score_many(["快递太慢了", "假货"])
    assert gc.isenabled()
    gc.disable()
    try:
        pipe.score("质量很差")
        assert not gc.isenabled()  # a caller's choice is kept
    finally:
        gc.enable()
    with pytest.raises(InputTypeError):
        pipe.score_many(["快递太慢了", "假货"], metadata=[{}, {"received_at": "not a time"}])
    assert gc.isenabled()  # also after an error
