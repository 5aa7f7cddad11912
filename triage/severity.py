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
from .features import literal_pattern
from .results import Severity, _make

_NUMBER_RE = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?")
_DIGIT_RE = re.compile(r"\d")
_CURRENCY_BEFORE = ("¥", "$", "RMB", "人民币")
_CURRENCY_AFTER = ("元", "块", "圆", "人民币", "rmb", "RMB")
_MULTIPLIER = {"万": 10000.0, "w": 10000.0, "W": 10000.0, "千": 1000.0, "k": 1000.0, "K": 1000.0}
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
    return literal_pattern(words) or re.compile(r"(?!)")


def count_repeats(text: str, markers: Sequence[str]) -> int:
    """How many earlier contacts the text implies: 第三次 -> 2, 多次/一直没人处理 -> 2."""
    return _repeats(text, _alternation(tuple(markers)))


def _repeats(text: str, pattern: re.Pattern[str]) -> int:
    repeats = 0
    if "次" in text:
        for m in _NTH_TIME_RE.finditer(text):
            n = m.group(1)
            value = int(n) if n.isdigit() else _CN_DIGITS.get(n, 2)
            repeats = max(repeats, value - 1)
    if repeats == 0 and pattern.search(text):
        repeats = 2
    return min(repeats, 10)


def intensity_markers(text: str, markers: Sequence[str], exclamation_run: int) -> list[str]:
    """The intensity markers present: strong words, and runs of ! or ? of the given length."""
    return _markers(text, _alternation(tuple(markers)), _exclamations(exclamation_run), exclamation_run)


@lru_cache(maxsize=8)
def _exclamations(run: int) -> re.Pattern[str]:
    return re.compile(r"[!?！？]{%d,}" % run)


def _markers(text: str, pattern: re.Pattern[str], exclamations: re.Pattern[str], run: int) -> list[str]:
    found = list(dict.fromkeys(pattern.findall(text)))
    if exclamations.search(text):
        found.append("!" * run)
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


@dataclass(frozen=True)
class TextSignals:
    """What severity reads from the text itself (computed once per text)."""

    markers: tuple[str, ...]
    amount: float
    repeats: int
    targets: tuple[str, ...] = ()  # escalation targets named in the text (regulator, media, ...)


class SeverityScorer:
    """Severity with a configuration compiled once: caps, points, regexes.

    >>> from triage.config import load_config
    >>> scorer = SeverityScorer(load_config())
    >>> sev = scorer(SeverityInputs(text="假货！骗了我2万元", categories=("counterfeit",), urgency="high",
    ...                            negative_probability=1.0, threat=True, safety=False))
    >>> sev.score == sum(sev.factors.values()), sev.level
    (True, 'major')
    """

    def __init__(self, config: Config):
        sev = config.severity
        self.caps = {name: float(getattr(sev, name)["max"]) for name in SEVERITY_FACTORS}
        self._cap_list = [self.caps[name] for name in SEVERITY_FACTORS]
        self.category_points = dict(sev.content["category_points"])
        self.safety_defect = float(sev.content["safety_defect"])
        self.urgency_points = dict(sev.content["urgency_points"])
        self.negative = float(sev.emotion["negative"])
        self.per_marker = float(sev.emotion["per_marker"])
        self.marker_words = tuple(sev.emotion["markers"])
        self.exclamation_run = int(sev.emotion["exclamation_run"])
        self._marker_pattern = _alternation(self.marker_words)
        self._exclamation_pattern = _exclamations(self.exclamation_run)
        self.threat = float(sev.escalation["threat"])
        self.safety = float(sev.escalation["safety"])
        self.targets = [
            (name, float(t["points"]), _alternation(tuple(t["words"]))) for name, t in sev.escalation["targets"].items()
        ]
        self._any_target = literal_pattern([w for t in sev.escalation["targets"].values() for w in t["words"]])
        self.brackets = [(float(a), float(p)) for a, p in sev.money["brackets"]]
        self.repeat_markers = tuple(sev.volume["repeat_markers"])
        self._repeat_pattern = _alternation(self.repeat_markers)
        self.per_repeat = float(sev.volume["per_repeat"])
        self.per_cluster_member = float(sev.volume["per_cluster_member"])
        self.tiers = {str(k).strip().lower(): float(v) for k, v in sev.source["tiers"].items()}
        self.channels = {str(k).strip().lower(): float(v) for k, v in sev.source["channels"].items()}
        self.past_respond = float(sev.timeliness["past_respond"])
        self.past_resolve = float(sev.timeliness["past_resolve"])
        self.levels = sev.levels

    def signals(self, text: str) -> TextSignals:
        """What the text itself says: intensity markers, the largest amount, implied repeats and
        the escalation targets named (same answers as the module functions, with the patterns
        compiled once and the target lists checked only when one of their words occurs)."""
        targets: tuple[str, ...] = ()
        if self._any_target is not None and self._any_target.search(text):
            targets = tuple([name for name, _, pattern in self.targets if pattern.search(text)])
        return _make(
            TextSignals,
            markers=tuple(_markers(text, self._marker_pattern, self._exclamation_pattern, self.exclamation_run)),
            amount=find_amount(text) if _DIGIT_RE.search(text) else 0.0,
            repeats=_repeats(text, self._repeat_pattern),
            targets=targets,
        )

    def factors(self, inputs: SeverityInputs, signals: TextSignals | None = None, *, with_timeliness: bool = True) -> dict[str, float]:
        """Points of every factor, each within 0..its cap, rounded to 0.1."""
        sig = signals if signals is not None else self.signals(inputs.text)
        return self.points(
            sig,
            categories=inputs.categories,
            urgency=inputs.urgency,
            negative_probability=inputs.negative_probability,
            threat=inputs.threat,
            safety=inputs.safety,
            repeat_contacts=inputs.repeat_contacts,
            cluster_size=inputs.cluster_size,
            customer_tier=inputs.customer_tier,
            channel=inputs.channel,
            hours_past_respond=inputs.hours_past_respond if with_timeliness else None,
            hours_past_resolve=inputs.hours_past_resolve if with_timeliness else None,
        )

    def points(
        self,
        sig: TextSignals,
        *,
        categories: Sequence[str],
        urgency: str | None,
        negative_probability: float,
        threat: bool,
        safety: bool,
        repeat_contacts: int = 0,
        cluster_size: int = 1,
        customer_tier: str | None = None,
        channel: str | None = None,
        hours_past_respond: float | None = None,
        hours_past_resolve: float | None = None,
    ) -> dict[str, float]:
        """:meth:`factors` from plain values."""
        return self._points(sig, categories, urgency, negative_probability, threat, safety, repeat_contacts,
                            cluster_size, customer_tier, channel, hours_past_respond, hours_past_resolve)

    def _points(self, sig: TextSignals, categories: Sequence[str], urgency: str | None, negative_probability: float,
                threat: bool, safety: bool, repeat_contacts: int, cluster_size: int, customer_tier: str | None,
                channel: str | None, hours_past_respond: float | None, hours_past_resolve: float | None) -> dict[str, float]:
        # Positional and flat: the pipeline calls this for every complaint.
        category_points = self.category_points
        category_pts = max([category_points.get(c, 0.0) for c in categories], default=0.0)
        if safety and "quality" in categories:
            category_pts = max(category_pts, self.safety_defect)
        amount = sig.amount
        money_pts = 0.0
        for threshold, points in self.brackets:
            if amount >= threshold:
                money_pts = points
        repeats = max(repeat_contacts, sig.repeats)
        timeliness_pts = 0.0
        if hours_past_resolve is not None and hours_past_resolve > 0:
            timeliness_pts = self.past_resolve
        elif hours_past_respond is not None and hours_past_respond > 0:
            timeliness_pts = self.past_respond
        source = 0.0
        if customer_tier:
            source += self.tiers.get(customer_tier.strip().lower(), 0.0)
        if channel:
            source += self.channels.get(channel.strip().lower(), 0.0)
        caps = self._cap_list
        raw = (
            category_pts + self.urgency_points.get(urgency, 0.0) if urgency else category_pts,
            self.negative * negative_probability + self.per_marker * len(sig.markers),
            (self._threat_points(threat, sig.targets) if threat else 0.0) + (self.safety if safety else 0.0),
            money_pts,
            self.per_repeat * repeats + self.per_cluster_member * max(0, cluster_size - 1),
            source,
            timeliness_pts,
        )
        return {name: round(float(v if v < cap else cap), 1) if v > 0 else 0.0 for name, v, cap in zip(SEVERITY_FACTORS, raw, caps)}

    def _threat_points(self, threat: bool, targets: Sequence[str]) -> float:
        if not threat:
            return 0.0
        return max([self.threat] + [points for name, points, _ in self.targets if name in targets])

    def severity(self, factors: Mapping[str, float]) -> Severity:
        """The score (the sum of the factors) and its level."""
        score = round(sum(factors.values()), 1)
        return _make(Severity, score=score, level=level_for(score, self.levels), factors=factors)

    def __call__(self, inputs: SeverityInputs, signals: TextSignals | None = None, *, with_timeliness: bool = True) -> Severity:
        return self.severity(self.factors(inputs, signals, with_timeliness=with_timeliness))


def factor_points(inputs: SeverityInputs, config: Config, *, with_timeliness: bool = True) -> dict[str, float]:
    """Points of every factor, each within 0..its cap (see :class:`SeverityScorer`)."""
    return SeverityScorer(config).factors(inputs, with_timeliness=with_timeliness)


def compute_severity(inputs: SeverityInputs, config: Config, *, with_timeliness: bool = True) -> Severity:
    """The severity score (sum of the factor points), its level and the factors."""
    return SeverityScorer(config)(inputs, with_timeliness=with_timeliness)
