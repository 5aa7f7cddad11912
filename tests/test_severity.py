import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from triage.config import SEVERITY_FACTORS, load_config
from triage.severity import SeverityInputs, compute_severity, count_repeats, find_amount, level_for

CFG = load_config()


def _inputs(**kw):
    base = dict(text="", categories=("quality",), urgency="medium", negative_probability=0.5, threat=False, safety=False)
    base.update(kw)
    return SeverityInputs(**base)


@pytest.mark.parametrize(
    "text, amount",
    [
        ("被多扣了1.5万元，还有¥200手续费", 15000),
        ("花了2000块", 2000),
        ("RMB1,299", 1299),
        ("2万", 20000),
        ("订单号123456789", 0),
        ("第3次投诉", 0),
        ("3千元", 3000),
    ],
)
def test_find_amount(text, amount):
    assert find_amount(text) == amount


@pytest.mark.parametrize(
    "text, repeats",
    [("第三次打电话了", 2), ("第5次", 4), ("多次反映一直没人处理", 2), ("第一次买", 0), ("很好", 0)],
)
def test_count_repeats(text, repeats):
    assert count_repeats(text, CFG.severity.volume["repeat_markers"]) == repeats


def test_factors_add_up_and_each_factor_is_capped():
    sev = compute_severity(
        _inputs(text="垃圾骗子！！！第五次了，骗了我5万元", categories=("counterfeit", "agent_violation"), urgency="critical",
                negative_probability=1.0, threat=True, safety=True, repeat_contacts=9, cluster_size=40,
                customer_tier="VIP", channel="media"),
        CFG,
    )
    assert sev.score == pytest.approx(sum(sev.factors.values()))
    assert set(sev.factors) == set(SEVERITY_FACTORS)
    for name in SEVERITY_FACTORS:
        assert sev.factors[name] <= getattr(CFG.severity, name)["max"]
    assert sev.level == "crisis"


@pytest.mark.parametrize(
    "kwargs, factor, points",
    [
        (dict(threat=True), "escalation", 10),
        (dict(threat=True, text="已经打了12315"), "escalation", 14),
        (dict(safety=True), "escalation", 15),
        (dict(categories=("counterfeit",), urgency="low"), "content", 16),
        (dict(categories=("quality",), safety=True, urgency="high"), "content", 25),
        (dict(text="损失2万元"), "money", 7),
        (dict(customer_tier="vip"), "source", 5),
        (dict(repeat_contacts=2), "volume", 5),
        (dict(text="垃圾！！！"), "emotion", 7.5),
    ],
)
def test_golden_factor_points(kwargs, factor, points):
    assert compute_severity(_inputs(**kwargs), CFG).factors[factor] == pytest.approx(points)


def test_levels_follow_thresholds():
    levels = CFG.severity.levels
    assert level_for(0, levels) == "general"
    assert level_for(levels["important"], levels) == "important"
    assert level_for(levels["crisis"] - 0.1, levels) == "major"
    assert level_for(100, levels) == "crisis"


texts = st.text(alphabet="投诉垃圾骗子假货退款！?12345元万第三次多 ", max_size=40)
inputs = st.builds(
    _inputs,
    text=texts,
    categories=st.sampled_from([("quality",), ("price",), ("counterfeit", "price"), ("other",), ()]),
    urgency=st.sampled_from(["low", "medium", "high", "critical", None]),
    negative_probability=st.floats(0, 1),
    threat=st.booleans(),
    safety=st.booleans(),
    repeat_contacts=st.integers(0, 20),
    customer_tier=st.sampled_from([None, "vip", "normal"]),
)


@settings(max_examples=200, deadline=None)
@given(inputs, st.integers(0, 10**7), st.integers(1, 10))
def test_monotone_in_threat_safety_amount_and_repeats(base, extra_amount, extra_repeats):
    score = compute_severity(base, CFG).score
    for more in (
        _inputs(**{**base.__dict__, "threat": True}),
        _inputs(**{**base.__dict__, "safety": True}),
        _inputs(**{**base.__dict__, "text": base.text + f"，损失{extra_amount}元"}),
        _inputs(**{**base.__dict__, "repeat_contacts": base.repeat_contacts + extra_repeats}),
    ):
        assert compute_severity(more, CFG).score >= score
    assert 0 <= score <= 100


def test_escalation_target_weighs_more_than_a_bare_threat():
    bare = compute_severity(_inputs(text="我要投诉", threat=True), CFG).factors["escalation"]
    media = compute_severity(_inputs(text="我要找媒体曝光", threat=True), CFG).factors["escalation"]
    assert media > bare == CFG.severity.escalation["threat"]
    assert compute_severity(_inputs(text="我要找媒体曝光", threat=False), CFG).factors["escalation"] == 0


@pytest.mark.parametrize(
    "past_respond, past_resolve, points",
    [(None, None, 0), (-1.0, -50.0, 0), (2.0, -20.0, 2), (30.0, 5.0, 5)],
)
def test_golden_timeliness(past_respond, past_resolve, points):
    sev = compute_severity(_inputs(hours_past_respond=past_respond, hours_past_resolve=past_resolve), CFG)
    assert sev.factors["timeliness"] == points


def test_overdue_complaints_rise_in_the_pipeline(pipe):
    from datetime import datetime, timezone

    text = "冰箱坏了一周还没人上门维修，要求换新"
    now = datetime(2026, 11, 22, 12, tzinfo=timezone.utc)
    fresh = pipe.score(text, received_at="2026-11-22 19:00", now=now)
    late = pipe.score(text, received_at="2026-11-01 09:00", now=now)
    assert late.severity.factors["timeliness"] > fresh.severity.factors["timeliness"] == 0
    assert late.severity.score > fresh.severity.score and late.flags.overdue and not fresh.flags.overdue
    assert fresh.routing.respond_by.startswith("2026-11-2")
