"""Stage 6: routing: owning department, co-departments, who is informed, SLA, review tier.

- The primary category owns the complaint (one coordinator); the departments of the other
  predicted categories are co-departments.
- Escalations on top: a threat informs 法务 and 公关, a safety risk 质量安全, a crisis the
  management and 公关 (``[routing.escalation]``).
- SLA hours by severity level (``[routing.sla]``); deadlines as timestamps when a received time
  is known.
- Review tier from the calibrated probabilities (``[routing.review]``): ``auto`` routes by
  itself, ``suggest`` pre-fills for a person to confirm, ``review`` needs a person to triage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, Mapping, Sequence

import numpy as np

from .config import Config
from .features import literal_pattern
from .errors import InputTypeError
from .results import Routing, _make


@dataclass(frozen=True)
class Deadlines:
    respond_by: datetime | None
    resolve_by: datetime | None
    hours_past_respond: float | None
    hours_past_resolve: float | None


NO_DEADLINES = Deadlines(None, None, None, None)


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


@lru_cache(maxsize=4)
def _zone(name: str):
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def parse_time(value: Any, *, tz: str) -> datetime | None:
    """A timezone-aware datetime from a datetime, a pandas Timestamp or an ISO 8601 string.

    Times without a zone are taken to be in ``tz``. ``None``/NaN/empty give ``None``.
    """
    if value is None or value == "" or (isinstance(value, float) and value != value):
        return None
    if hasattr(value, "to_pydatetime"):
        if str(value) == "NaT":
            return None
        value = value.to_pydatetime()
    if isinstance(value, str):
        text = value.strip().replace("/", "-")
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise InputTypeError(
                f"Cannot read the time {value!r}. Write it as ISO 8601, e.g. '2026-11-02 14:30' "
                "or '2026-11-02T14:30:00+08:00'."
            ) from None
    if not isinstance(value, datetime):
        raise InputTypeError(f"A received time must be a datetime or an ISO 8601 string, got {type(value).__name__}.")
    if value.tzinfo is None:
        value = value.replace(tzinfo=_zone(tz))
    return value


def deadlines(received_at: datetime | None, level: str, config: Config, *, now: datetime | None) -> Deadlines:
    """Respond-by and resolve-by times of a complaint received at ``received_at``."""
    if received_at is None:
        return NO_DEADLINES
    sla = config.routing.sla[level]
    respond_by = received_at + timedelta(hours=float(sla["respond"]))
    resolve_by = received_at + timedelta(hours=float(sla["resolve"]))
    now = now or datetime.now(timezone.utc)
    return Deadlines(
        respond_by=respond_by,
        resolve_by=resolve_by,
        hours_past_respond=(now - respond_by).total_seconds() / 3600.0,
        hours_past_resolve=(now - resolve_by).total_seconds() / 3600.0,
    )


def review_tier(
    *,
    scored_normally: bool,
    category_scores: Mapping[str, float],
    thresholds: Mapping[str, float],
    primary: str | None,
    fallback_used: bool,
    flag_scores: Sequence[float],
    config: Config,
    close: Sequence[str] | None = None,
    unsure_flags: bool | None = None,
) -> tuple[str, str]:
    """The review tier and the reason for it.

    ``close`` (labels near their threshold) and ``unsure_flags`` may be passed precomputed (the
    pipeline computes them for a whole chunk at once with :func:`closeness`).
    """
    review = config.routing.review
    if not scored_normally or primary is None:
        return "review", "the text could not be scored normally"
    p_primary = category_scores[primary]
    if p_primary < review["review_below"]:
        return "review", f"the model is unsure of the category ({primary} {p_primary:.2f})"
    if fallback_used:
        return "review", "no category passed its threshold"
    margin = review["auto_margin"]
    if close is None:
        close = [label for label, p in category_scores.items() if abs(_logit(p) - _logit(thresholds[label])) < margin]
    if unsure_flags is None:
        unsure_flags = any(abs(_logit(p)) < margin for p in flag_scores)
    if p_primary >= review["auto_min"] and not close and not unsure_flags:
        return "auto", "confident on every label"
    if close:
        return "suggest", "close to the threshold: " + ", ".join(close)
    if unsure_flags:
        return "suggest", "unsure whether a threat or safety risk is present"
    return "suggest", f"category probability {p_primary:.2f} is below the auto level"


def closeness(P: np.ndarray, thresholds: np.ndarray, flags: np.ndarray, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """For a chunk: which labels are within ``margin`` log-odds of their threshold, and which rows
    have a flag probability within ``margin`` log-odds of 0.5 (vectorized :func:`review_tier`)."""

    def logit(p):
        p = np.clip(p, 1e-6, 1 - 1e-6)
        return np.log(p / (1 - p))

    close = np.abs(logit(P) - logit(np.asarray(thresholds))) < margin
    unsure = (np.abs(logit(flags)) < margin).any(axis=1) if flags.size else np.zeros(len(P), dtype=bool)
    return close, unsure


class Guidance:
    """The difficult-customer patterns of ``[routing.guidance]``, compiled once.

    A pattern matches when one of its words is in the text or its signal fires: ``repeats``
    (>= 2 earlier contacts), ``threat_media`` (threat flag with a media target), ``intensity``
    (>= 2 intensity markers).
    """

    def __init__(self, config: Config):

        self.patterns = []
        for key, pattern in config.routing.guidance.items():
            regex = literal_pattern(pattern["words"])
            self.patterns.append((key, pattern["name"], tuple(pattern["advice"]), pattern["signal"], regex))
        self._any_word = literal_pattern([w for p in config.routing.guidance.values() for w in p["words"]])

    def match(self, text: str, *, repeats: int, threat: bool, targets: Sequence[str], markers: Sequence[str]) -> list[tuple[str, str, tuple[str, ...]]]:
        """(key, name, advice) of every pattern the complaint shows, in config order."""
        fired = {"repeats": repeats >= 2, "threat_media": threat and "media" in targets, "intensity": len(markers) >= 2}
        if not (fired["repeats"] or fired["threat_media"] or fired["intensity"]) and (
            self._any_word is None or not self._any_word.search(text)
        ):
            return []  # the common case: one search instead of one per pattern
        out = []
        for key, name, advice, signal, regex in self.patterns:
            if fired.get(signal, False) or (regex is not None and regex.search(text)):
                out.append((key, name, advice))
        return out


def difficult_customer(text: str, *, repeats: int, threat: bool, targets: Sequence[str], markers: Sequence[str],
                       config: Config) -> list[tuple[str, str, tuple[str, ...]]]:
    """The difficult-customer patterns this complaint shows (see :class:`Guidance`)."""
    return Guidance(config).match(text, repeats=repeats, threat=threat, targets=targets, markers=markers)


def assignment(categories: Sequence[str], primary: str | None, level: str, threat: bool, safety: bool,
               config: Config) -> tuple[str, tuple[str, ...], tuple[str, ...], float, float]:
    """(department, co-departments, informed, SLA respond hours, SLA resolve hours): the part of
    the routing that depends only on the labels (the pipeline memoizes it)."""
    rc = config.routing
    department = rc.departments.get(primary, rc.default_department) if primary else rc.default_department
    co: list[str] = []
    for label in categories:
        dept = rc.departments.get(label, rc.default_department)
        if label != primary and dept != department and dept not in co:
            co.append(dept)
    informed: list[str] = []
    for flag, raised in (("safety", safety), ("threat", threat), ("crisis", level == "crisis")):
        if raised:
            for dept in rc.escalation[flag]:
                if dept != department and dept not in co and dept not in informed:
                    informed.append(dept)
    sla = rc.sla[level]
    return department, tuple(co), tuple(informed), float(sla["respond"]), float(sla["resolve"])


def route(
    *,
    categories: Sequence[str],
    primary: str | None,
    level: str,
    threat: bool,
    safety: bool,
    tier: str,
    deadline: Deadlines,
    config: Config,
    advice: Sequence[str] = (),
    assigned: tuple[str, tuple[str, ...], tuple[str, ...], float, float] | None = None,
) -> Routing:
    """The routing recommendation for one complaint (``assigned``: :func:`assignment`, if known)."""
    department, co, informed, respond, resolve = assigned or assignment(categories, primary, level, threat, safety, config)
    return _make(
        Routing,
        department=department,
        co_departments=co,
        informed=informed,
        sla_respond_hours=respond,
        sla_resolve_hours=resolve,
        respond_by=deadline.respond_by.isoformat() if deadline.respond_by else None,
        resolve_by=deadline.resolve_by.isoformat() if deadline.resolve_by else None,
        review_tier=tier,
        advice=tuple(advice),
    )
