"""Configuration: the TOML defaults shipped with the package, user overrides, validation.

The defaults live in ``default_config.toml`` next to this module (defaults are data, not code).
A user file only needs the keys it changes. Everything is validated here, in one place, and an
invalid value fails at load time with a message naming the key, the bad value and what is
allowed.

Examples
--------
>>> cfg = load_config({"severity": {"levels": {"crisis": 70}}})
>>> cfg.severity.levels["crisis"]
70
>>> cfg.routing.departments["quality"]
'质量/品控'
"""

from __future__ import annotations

import copy
import sys
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping, Union

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from .errors import ConfigError
from .results import LEVEL_NAMES_ZH  # noqa: F401  (re-exported)

DEFAULT_CONFIG_PATH = Path(__file__).with_name("default_config.toml")

LEVELS = ("general", "important", "major", "crisis")
SEVERITY_FACTORS = ("content", "emotion", "escalation", "money", "volume", "source", "timeliness")
REVIEW_TIERS = ("auto", "suggest", "review")

# Tables whose keys are open (label names, tiers, channels chosen by the user); every other
# table only accepts the keys the defaults have.
_OPEN_TABLES = {
    "severity.content.category_points",
    "severity.content.urgency_points",
    "severity.source.tiers",
    "severity.source.channels",
    "routing.departments",
    "severity.escalation.targets",
    "routing.guidance",
}
GUIDANCE_SIGNALS = ("none", "repeats", "threat_media", "intensity")

ConfigSource = Union[None, str, Path, Mapping[str, Any]]


@dataclass(frozen=True)
class NormalizeConfig:
    opencc: str
    max_chars: int
    mask_pii: bool


@dataclass(frozen=True)
class ClassifyConfig:
    top_terms: int


@dataclass(frozen=True)
class SeverityConfig:
    content: Mapping[str, Any]
    emotion: Mapping[str, Any]
    escalation: Mapping[str, Any]
    money: Mapping[str, Any]
    volume: Mapping[str, Any]
    source: Mapping[str, Any]
    timeliness: Mapping[str, Any]
    levels: Mapping[str, float]


@dataclass(frozen=True)
class RoutingConfig:
    default_department: str
    timezone: str
    departments: Mapping[str, str]
    escalation: Mapping[str, tuple[str, ...]]
    sla: Mapping[str, Mapping[str, float]]
    review: Mapping[str, float]
    guidance: Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True)
class Config:
    """The validated, read-only configuration of a pipeline."""

    normalize: NormalizeConfig
    classify: ClassifyConfig
    severity: SeverityConfig
    routing: RoutingConfig
    raw: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The configuration as plain nested dicts (what ``load_config`` would accept)."""
        return _thaw(self.raw)


def read_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file, turning its errors into a ConfigError that names the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"Config file {str(path)!r} does not exist. Pass the path of a TOML file.")
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Config file {str(path)!r} is not valid TOML: {exc}.") from exc


def load_config(source: ConfigSource = None) -> Config:
    """Load the defaults, apply the overrides in ``source`` and validate the result.

    Parameters
    ----------
    source : None, path or mapping
        ``None`` for the defaults; a path to a TOML file; or a mapping with the same structure.
        Only the keys to change are needed.
    """
    merged = read_toml(DEFAULT_CONFIG_PATH)
    if source is not None:
        overrides = dict(source) if isinstance(source, Mapping) else read_toml(source)
        _merge(merged, overrides, prefix="")
    _validate(merged)
    return _build(merged)


def _merge(base: dict, overrides: Mapping, *, prefix: str) -> None:
    for key, value in overrides.items():
        dotted = f"{prefix}{key}"
        if key not in base:
            if prefix.rstrip(".") in _OPEN_TABLES:
                base[key] = copy.deepcopy(value)
                continue
            allowed = ", ".join(sorted(base)) or "(none)"
            raise ConfigError(f"Unknown config key {dotted!r}. Allowed keys here: {allowed}.")
        if isinstance(base[key], dict):
            if not isinstance(value, Mapping):
                raise ConfigError(f"Config key {dotted!r} must be a table, got {value!r}.")
            _merge(base[key], value, prefix=dotted + ".")
        else:
            base[key] = copy.deepcopy(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_types(value: Any, default: Any, dotted: str) -> None:
    """Check that ``value`` has the type of the shipped default at the same key."""
    if isinstance(default, dict):
        for key, sub in value.items():
            template = default.get(key)
            if template is None:  # an open table: same type as its first default entry
                template = next(iter(default.values())) if default else sub
            _check_types(sub, template, f"{dotted}.{key}" if dotted else key)
    elif isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"Config key {dotted!r} must be true or false, got {value!r}.")
    elif _is_number(default):
        if not _is_number(value) or value < 0:
            raise ConfigError(f"Config key {dotted!r} must be a number >= 0, got {value!r}.")
    elif isinstance(default, str):
        if not isinstance(value, str) or not value:
            raise ConfigError(f"Config key {dotted!r} must be a non-empty string, got {value!r}.")
    elif isinstance(default, list):
        if not isinstance(value, list):
            raise ConfigError(f"Config key {dotted!r} must be a list, got {value!r}.")
        if default:
            for i, item in enumerate(value):
                _check_types(item, default[0], f"{dotted}[{i}]")


def _validate(cfg: dict) -> None:
    _check_types(cfg, read_toml(DEFAULT_CONFIG_PATH), "")
    norm = cfg["normalize"]
    if norm["opencc"] not in {"t2s", "tw2s", "tw2sp", "hk2s"}:
        raise ConfigError(
            f"Config key 'normalize.opencc' must be one of 't2s', 'tw2s', 'tw2sp', 'hk2s', "
            f"got {norm['opencc']!r}."
        )
    if int(norm["max_chars"]) < 10:
        raise ConfigError(f"Config key 'normalize.max_chars' must be at least 10, got {norm['max_chars']!r}.")
    sev = cfg["severity"]
    total = sum(sev[f]["max"] for f in SEVERITY_FACTORS)
    if total > 100:
        raise ConfigError(
            f"The severity factor caps (severity.<factor>.max) add up to {total}; they must add up "
            "to at most 100 so that the score stays within 0..100. Lower some caps."
        )
    levels = sev["levels"]
    if not 0 < levels["important"] < levels["major"] < levels["crisis"] <= 100:
        raise ConfigError(
            "Config keys 'severity.levels' must rise strictly within 0..100 "
            f"(0 < important < major < crisis <= 100), got {levels!r}."
        )
    for i, bracket in enumerate(sev["money"]["brackets"]):
        if not (isinstance(bracket, list) and len(bracket) == 2 and all(map(_is_number, bracket))):
            raise ConfigError(
                f"Config key 'severity.money.brackets[{i}]' must be [amount, points], got {bracket!r}."
            )
    amounts = [b[0] for b in sev["money"]["brackets"]]
    points = [b[1] for b in sev["money"]["brackets"]]
    if amounts != sorted(amounts) or points != sorted(points):
        raise ConfigError(
            "Config key 'severity.money.brackets' must list [amount, points] with both amounts "
            f"and points rising, got {sev['money']['brackets']!r}."
        )
    routing = cfg["routing"]
    for level in LEVELS:
        sla = routing["sla"].get(level)
        if sla is None:
            raise ConfigError(f"Config key 'routing.sla.{level}' is missing; every level needs an SLA.")
        if sla["respond"] > sla["resolve"]:
            raise ConfigError(
                f"Config key 'routing.sla.{level}': respond ({sla['respond']} h) must not be later "
                f"than resolve ({sla['resolve']} h)."
            )
    for name, pattern in routing["guidance"].items():
        for key in ("name", "signal", "words", "advice"):
            if key not in pattern:
                raise ConfigError(f"Config key 'routing.guidance.{name}.{key}' is missing; each pattern needs name, signal, words and advice.")
        if pattern["signal"] not in GUIDANCE_SIGNALS:
            raise ConfigError(
                f"Config key 'routing.guidance.{name}.signal' must be one of {', '.join(map(repr, GUIDANCE_SIGNALS))}, "
                f"got {pattern['signal']!r}."
            )
    for name, target in sev["escalation"]["targets"].items():
        if set(target) != {"points", "words"}:
            raise ConfigError(f"Config key 'severity.escalation.targets.{name}' must have exactly 'points' and 'words', got {sorted(target)}.")
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(routing["timezone"])
    except Exception:
        raise ConfigError(f"Config key 'routing.timezone' must be an IANA time zone such as 'Asia/Shanghai', got {routing['timezone']!r}.") from None
    review = routing["review"]
    if review["auto_margin"] <= 0:
        raise ConfigError(f"Config key 'routing.review.auto_margin' must be > 0 (log-odds), got {review['auto_margin']!r}.")
    for key in ("auto_min", "review_below"):
        if not 0 <= review[key] <= 1:
            raise ConfigError(f"Config key 'routing.review.{key}' must be within 0..1, got {review[key]!r}.")
    if review["review_below"] > review["auto_min"]:
        raise ConfigError(
            "Config key 'routing.review.review_below' must not exceed 'routing.review.auto_min' "
            f"(got {review['review_below']} > {review['auto_min']})."
        )


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value


def _build(cfg: dict) -> Config:
    frozen = _freeze(cfg)
    return Config(
        normalize=NormalizeConfig(**cfg["normalize"]),
        classify=ClassifyConfig(**cfg["classify"]),
        severity=SeverityConfig(**{k: frozen["severity"][k] for k in (*SEVERITY_FACTORS, "levels")}),
        routing=RoutingConfig(**{k: frozen["routing"][k] for k in RoutingConfig.__dataclass_fields__}),
        raw=frozen,
    )
