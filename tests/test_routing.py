from datetime import datetime, timedelta, timezone

import pytest

from triage.config import load_config
from triage.errors import InputTypeError
from triage.routing import Deadlines, deadlines, parse_time, review_tier, route

CFG = load_config()
NO_DEADLINE = Deadlines(None, None, None, None)


def _route(**kw):
    args = dict(categories=("quality",), primary="quality", level="general", threat=False, safety=False, tier="auto", deadline=NO_DEADLINE, config=CFG)
    args.update(kw)
    return route(**args)


@pytest.mark.parametrize(
    "primary, department",
    [("quality", "质量/品控"), ("service_attitude", "客服管理"), ("delivery", "物流"), ("price", "财务/价格"),
     ("counterfeit", "打假/法务"), ("agent_violation", "渠道管理"), ("other", "客服中心"), (None, "客服中心")],
)
def test_primary_category_owns(primary, department):
    assert _route(categories=(primary,) if primary else (), primary=primary).department == department


def test_co_departments_and_escalations():
    r = _route(categories=("counterfeit", "agent_violation", "price"), primary="counterfeit", threat=True, safety=True, level="crisis")
    assert r.department == "打假/法务"
    assert r.co_departments == ("渠道管理", "财务/价格")
    assert r.informed == ("质量安全", "法务", "公关", "管理层")
    assert (r.sla_respond_hours, r.sla_resolve_hours) == (1, 24)


@pytest.mark.parametrize("level, hours", [("general", (24, 168)), ("important", (24, 72)), ("major", (4, 48)), ("crisis", (1, 24))])
def test_sla_hours_by_level(level, hours):
    r = _route(level=level)
    assert (r.sla_respond_hours, r.sla_resolve_hours) == hours


def test_deadlines_and_overdue():
    received = datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)
    d = deadlines(received, "major", CFG, now=received + timedelta(hours=10))
    assert d.respond_by == received + timedelta(hours=4)
    assert d.hours_past_respond == pytest.approx(6) and d.hours_past_resolve == pytest.approx(-38)


def test_parse_time_assumes_the_configured_zone():
    t = parse_time("2026-11-01 09:00", tz="Asia/Shanghai")
    assert t.utcoffset() == timedelta(hours=8)
    assert parse_time("2026/11/01 09:00", tz="Asia/Shanghai") == t
    assert parse_time(None, tz="UTC") is None and parse_time(float("nan"), tz="UTC") is None
    with pytest.raises(InputTypeError, match="ISO 8601"):
        parse_time("last tuesday", tz="UTC")


THRESH = {"quality": 0.5, "price": 0.5}


@pytest.mark.parametrize(
    "scores, flags, fallback, normal, tier",
    [
        ({"quality": 0.97, "price": 0.01}, [0.01, 0.02], False, True, "auto"),
        ({"quality": 0.97, "price": 0.45}, [0.01, 0.02], False, True, "suggest"),  # price close to its threshold
        ({"quality": 0.97, "price": 0.01}, [0.55, 0.02], False, True, "suggest"),  # unsure threat
        ({"quality": 0.70, "price": 0.01}, [0.01, 0.01], False, True, "suggest"),
        ({"quality": 0.40, "price": 0.01}, [0.01, 0.01], True, True, "review"),
        ({"quality": 0.97, "price": 0.01}, [0.01, 0.01], False, False, "review"),
    ],
)
def test_review_tier(scores, flags, fallback, normal, tier):
    got, why = review_tier(scored_normally=normal, category_scores=scores, thresholds=THRESH, primary="quality",
                           fallback_used=fallback, flag_scores=flags, config=CFG)
    assert got == tier and why


@pytest.mark.parametrize(
    "text, kwargs, expected",
    [
        ("第三次打电话了", dict(repeats=2), {"repeat_caller"}),
        ("再不处理我就找媒体曝光", dict(threat=True, targets=("media",)), {"threatening_exposure"}),
        ("气死了！！！垃圾", dict(markers=("气死", "垃圾")), {"venting"}),
        ("你们是不是骗子，怎么保证是正品", {}, {"distrustful"}),
        ("都怪你们公司政策，没做活动，货卖不动", {}, {"blame_shifting"}),
        ("快递到了，谢谢", {}, set()),
    ],
)
def test_difficult_customer_patterns(text, kwargs, expected):
    from triage.routing import difficult_customer

    args = dict(repeats=0, threat=False, targets=(), markers=())
    args.update(kwargs)
    found = difficult_customer(text, config=CFG, **args)
    assert {key for key, _, _ in found} == expected
    for _, name, advice in found:
        assert name.endswith("型") and advice


def test_advice_reaches_the_result(pipe):
    r = pipe.score("第三次打电话了还是没人处理，再不解决我就找媒体曝光，气死了！！！", repeat_contacts=2)
    assert "repeat_caller" in r.flags.difficult_customer
    assert any(a.startswith("喋喋不休型：") for a in r.routing.advice)
