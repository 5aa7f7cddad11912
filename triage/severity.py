"""Stage 5: severity, 0-100, as a sum of per-factor points.

Factors (weights and caps in ``default_config.toml`` under ``[severity]``):

content     the categories (counterfeit, agent fraud and safety defects weigh most) and urgency
emotion     negative sentiment and intensity markers (!!!, 垃圾, 骗子, ...)
escalation  the threat flag (regulator, media, lawyer, police) and the safety flag
money       the largest amount of money in the text (¥, 元, 块, 万)
volume      repeat contacts (metadata or 第三次/多次/一直没人处理 in the text) and same-issue clusters
source      customer tier and channel, when given
timeliness  how far past its SLA deadlines the complaint is, when a received time is given

Each factor is monotone in its inputs and capped; the caps add up to at most 100. So the factors
always add up to the score, and adding a threat, a safety risk, a larger amount or more repeats
never lowers it.

>>> from triage.config import load_config
>>> cfg = load_config()
>>> find_amount("被多扣了1.5万元，还有¥200手续费")
15000.0
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping, Sequence

from .config import LEVELS, SEVERITY_FACTORS, Config
from .results import Severity

_NUMBER_RE = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?")
_CURRENCY_BEFORE = ("¥", "$", "RMB", "人民币")
_CURRENCY_AFTER = ("元", "块", "圆", "人民币", "rmb", "RMB")
_MULTIPLIER = {"万": 10000.0, "w": 10000.0, "W": 10000.0, "千": 1000.0, "k": 1000.0, "K": 1000.0}
_EXCLAMATION_RE_CACHE: dict[int, re.Pattern[str]] = {}
_NTH_TIME_RE = re.compile(r"第([二三四五六七八九十两\d]+)次")
_CN_DIGITS = {"二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}


def find_amount(text: str) -> float:
    """The largest amount of money written in ``text`` with digits (0 if none).

    A number counts when a currency sign stands before it (¥, $, RMB) or a currency word or 万
    after it (元, 块, 万, 千元, 1.5w ...).
    """
    best = 0.0
    for m in _NUMBER_RE.finditer(text):
        before = text[max(0, m.start() - 3) : m.start()].rstrip()
        after = text[m.end() : m.end() + 4].lstrip()
        unit = after[:1] if after[:1] in _MULTIPLIER else ""
        rest = after[1:].lstrip() if unit else after
        if unit == "万" or before.endswith(_CURRENCY_BEFORE) or rest.startswith(_CURRENCY_AFTER):
            try:
                value = float(m.group(0).replace(",", ""))
            except ValueError:
                continue
            best = max(best, value * _MULTIPLIER.get(unit, 1.0))
    return best


@lru_cache(maxsize=32)
def _alternation(words: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(map(re.escape, sorted(words, key=len, reverse=True)))) if words else re.compile(r"(?!)")


def count_repeats(text: str, markers: Sequence[str]) -> int:
    """How many earlier contacts the text implies: 第三次 -> 2, 多次/一直没人处理 -> 2."""
    repeats = 0
    for m in _NTH_TIME_RE.finditer(text):
        n = m.group(1)
        value = int(n) if n.isdigit() else _CN_DIGITS.get(n, 2)
        repeats = max(repeats, value - 1)
    if repeats == 0 and _alternation(tuple(markers)).search(text):
        repeats = 2
    return min(repeats, 10)


def intensity_markers(text: str, markers: Sequence[str], exclamation_run: int) -> list[str]:
    """The intensity markers present: strong words, and runs of ! or ? of the given length."""
    found = list(dict.fromkeys(_alternation(tuple(markers)).findall(text)))
    pattern = _EXCLAMATION_RE_CACHE.get(exclamation_run)
    if pattern is None:
        pattern = _EXCLAMATION_RE_CACHE[exclamation_run] = re.compile(r"[!?！？]{%d,}" % exclamation_run)
    if pattern.search(text):
        found.append("!" * exclamation_run)
    return found


@dataclass(frozen=True)
class SeverityInputs:
    """What severity depends on; built by the pipeline from the heads' outputs and metadata."""

    text: str
    categories: Sequence[str]
    urgency: str | None
    negative_probability: float
    threat: bool
    safety: bool
    repeat_contacts: int = 0
    cluster_size: int = 1
    customer_tier: str | None = None
    channel: str | None = None
    hours_past_respond: float | None = None  # > 0 when the respond-by deadline has passed
    hours_past_resolve: float | None = None


def level_for(score: float, levels: Mapping[str, float]) -> str:
    """The severity level of a score, from the thresholds in ``[severity.levels]``."""
    level = LEVELS[0]
    for name in LEVELS[1:]:
        if score >= levels[name]:
            level = name
    return level


def _cap(value: float, cfg: Mapping) -> float:
    return max(0.0, min(float(cfg["max"]), value))


def factor_points(inputs: SeverityInputs, config: Config, *, with_timeliness: bool = True) -> dict[str, float]:
    """Points of every factor, each within 0..its cap."""
    sev = config.severity
    content = sev.content
    category_pts = max((content["category_points"].get(c, 0) for c in inputs.categories), default=0)
    if inputs.safety and "quality" in inputs.categories:
        category_pts = max(category_pts, content["safety_defect"])
    urgency_pts = content["urgency_points"].get(inputs.urgency, 0) if inputs.urgency else 0

    emotion = sev.emotion
    markers = intensity_markers(inputs.text, emotion["markers"], int(emotion["exclamation_run"]))
    emotion_pts = emotion["negative"] * inputs.negative_probability + emotion["per_marker"] * len(markers)

    escalation = sev.escalation
    escalation_pts = escalation["threat"] * inputs.threat + escalation["safety"] * inputs.safety

    money_pts = 0.0
    amount = find_amount(inputs.text)
    for threshold, points in sev.money["brackets"]:
        if amount >= threshold:
            money_pts = float(points)

    volume = sev.volume
    repeats = max(inputs.repeat_contacts, count_repeats(inputs.text, volume["repeat_markers"]))
    volume_pts = volume["per_repeat"] * repeats + volume["per_cluster_member"] * max(0, inputs.cluster_size - 1)

    source = sev.source
    source_pts = source["tiers"].get((inputs.customer_tier or "").strip().lower(), 0) + source["channels"].get(
        (inputs.channel or "").strip().lower(), 0
    )

    timeliness_pts = 0.0
    if with_timeliness:
        tl = sev.timeliness
        if inputs.hours_past_resolve is not None and inputs.hours_past_resolve > 0:
            timeliness_pts = tl["past_resolve"]
        elif inputs.hours_past_respond is not None and inputs.hours_past_respond > 0:
            timeliness_pts = tl["past_respond"]

    raw = {
        "content": category_pts + urgency_pts,
        "emotion": emotion_pts,
        "escalation": escalation_pts,
        "money": money_pts,
        "volume": volume_pts,
        "source": source_pts,
        "timeliness": timeliness_pts,
    }
    return {name: round(_cap(raw[name], getattr(sev, name)), 1) for name in SEVERITY_FACTORS}


def compute_severity(inputs: SeverityInputs, config: Config, *, with_timeliness: bool = True) -> Severity:
    """The severity score (sum of the factor points), its level and the factors."""
    factors = factor_points(inputs, config, with_timeliness=with_timeliness)
    score = round(sum(factors.values()), 1)
    return Severity(score=score, level=level_for(score, config.severity.levels), factors=factors)
