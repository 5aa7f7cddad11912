"""The frozen result of scoring one complaint, and its JSON contract.

``TriageResult.to_dict()`` is what intake systems code against. Its top-level keys are exactly
:data:`RESULT_KEYS`; the JSON Schema is in ``docs/result.schema.json`` and is checked by the tests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

RESULT_KEYS = (
    "status",
    "categories",
    "category_scores",
    "primary_category",
    "sentiment",
    "urgency",
    "flags",
    "severity",
    "routing",
    "reasons",
    "model_version",
)

# Status values of a result; anything but "ok" says why the text was not scored normally.
STATUS_OK = "ok"
STATUS_EMPTY = "empty_text"  # nothing left after normalization: not scored
STATUS_NO_CHINESE = "no_chinese_text"  # scored, but the model knows Chinese only: a person reviews it
STATUS_TRUNCATED = "truncated"  # longer than normalize.max_chars: scored on the beginning
STATUS_MISSING = "missing_text"  # batch only: no value in the text column
STATUS_NOT_STRING = "not_a_string"  # batch only: the value is not text
SCORED_STATUSES = (STATUS_OK, STATUS_NO_CHINESE, STATUS_TRUNCATED)


# Chinese names of the severity levels (the guides' 一般/重要/重大/危机); config.py re-exports it.
LEVEL_NAMES_ZH = {"general": "一般", "important": "重要", "major": "重大", "crisis": "危机"}


def _ro(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


def _make(cls, **fields: Any) -> Any:
    """A frozen result object built without its generated ``__init__`` (which sets every field
    through ``object.__setattr__``): the pipeline builds six of them per complaint. Callers pass
    every field."""
    obj = object.__new__(cls)
    obj.__dict__.update(fields)
    return obj


@dataclass(frozen=True)
class Sentiment:
    label: str | None
    score: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "score": self.score}


@dataclass(frozen=True)
class Urgency:
    level: str | None
    scores: Mapping[str, float] = field(default_factory=lambda: _ro({}))

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level, "scores": dict(self.scores)}


@dataclass(frozen=True)
class Flags:
    threat: bool
    safety: bool
    threat_score: float | None = None
    safety_score: float | None = None
    overdue: bool = False
    difficult_customer: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "threat": self.threat,
            "safety": self.safety,
            "threat_score": self.threat_score,
            "safety_score": self.safety_score,
            "overdue": self.overdue,
            "difficult_customer": list(self.difficult_customer),
        }


@dataclass(frozen=True)
class Severity:
    score: float
    level: str
    factors: Mapping[str, float]

    @property
    def level_zh(self) -> str:
        return LEVEL_NAMES_ZH[self.level]

    def to_dict(self) -> dict[str, Any]:
        return {"score": self.score, "level": self.level, "factors": dict(self.factors)}


@dataclass(frozen=True)
class Routing:
    department: str
    co_departments: tuple[str, ...]
    informed: tuple[str, ...]
    sla_respond_hours: float
    sla_resolve_hours: float
    respond_by: str | None
    resolve_by: str | None
    review_tier: str
    advice: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "department": self.department,
            "co_departments": list(self.co_departments),
            "informed": list(self.informed),
            "sla_respond_hours": self.sla_respond_hours,
            "sla_resolve_hours": self.sla_resolve_hours,
            "respond_by": self.respond_by,
            "resolve_by": self.resolve_by,
            "review_tier": self.review_tier,
            "advice": list(self.advice),
        }


@dataclass(frozen=True)
class TriageResult:
    """Everything triage says about one complaint. Immutable; ``to_dict()`` for JSON."""

    status: str
    categories: tuple[str, ...]
    category_scores: Mapping[str, float]
    primary_category: str | None
    sentiment: Sentiment
    urgency: Urgency
    flags: Flags
    severity: Severity
    routing: Routing
    reasons: tuple[str, ...]
    model_version: str

    @property
    def scored(self) -> bool:
        """Whether the classifiers ran on the text (``status`` may still ask for a review)."""
        return self.status in SCORED_STATUSES

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serializable dict with exactly the keys of :data:`RESULT_KEYS`."""
        return {
            "status": self.status,
            "categories": list(self.categories),
            "category_scores": dict(self.category_scores),
            "primary_category": self.primary_category,
            "sentiment": self.sentiment.to_dict(),
            "urgency": self.urgency.to_dict(),
            "flags": self.flags.to_dict(),
            "severity": self.severity.to_dict(),
            "routing": self.routing.to_dict(),
            "reasons": list(self.reasons),
            "model_version": self.model_version,
        }

    def to_json(self, **kwargs: Any) -> str:
        kwargs.setdefault("ensure_ascii", False)
        return json.dumps(self.to_dict(), **kwargs)
