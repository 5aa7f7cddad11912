"""The pipeline: normalize -> segment/features -> heads -> severity -> routing -> result.

:class:`TriagePipeline` scores one complaint (:meth:`~TriagePipeline.score`) or many
(:meth:`~TriagePipeline.score_many`) with exactly the same answers: every computation is done
per row, in chunks, and results come back in input order.

Examples
--------
>>> import triage
>>> pipe = triage.load()
>>> r = pipe.score("买到假货，防伪码查不到，我要打12315投诉！")
>>> "counterfeit" in r.categories, r.flags.threat
(True, True)
"""

from __future__ import annotations

import gc
import logging
import math
import re
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np

from .bundle import load_bundle
from .classifiers import TriageModel, decide_categories, explainable_names, top_terms_chunk
from .config import Config, ConfigSource, load_config
from .errors import InputTypeError
from .normalize import normalized_parts
from .results import (
    STATUS_EMPTY,
    STATUS_MISSING,
    STATUS_NO_CHINESE,
    STATUS_NOT_STRING,
    STATUS_OK,
    STATUS_TRUNCATED,
    LEVEL_NAMES_ZH,
    Flags,
    Sentiment,
    TriageResult,
    Urgency,
    _make,
)
from .routing import Guidance, assignment, closeness, deadlines, parse_time, review_tier, route
from .severity import SeverityScorer

logger = logging.getLogger(__name__)

METADATA_FIELDS = ("received_at", "customer_tier", "channel", "repeat_contacts", "cluster_size", "customer_id")
_METADATA_SET = frozenset(METADATA_FIELDS)
_CJK_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_URGENCY_FLOOR = "high"  # a threat or a safety risk makes a complaint at least this urgent
_NO_SENTIMENT = Sentiment(None, None)
_NO_URGENCY = Urgency(None)


@contextmanager
def cycle_collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector for a block that builds many objects but no reference cycles.

    Scoring builds about 30 small objects per complaint; the collector would keep walking them
    and find nothing (about 9% of scoring time). The state is restored whatever happens, and a
    collector the caller disabled stays disabled.
    """
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def default_model_path() -> Path:
    """Where the shipped default model lives.

    ``$TRIAGE_MODEL_DIR`` if set; else the copy installed inside the package
    (``triage/default_model`` in a wheel); else ``models/default`` of a source checkout
    (an editable install).
    """
    import os

    env = os.environ.get("TRIAGE_MODEL_DIR")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent
    for candidate in (here / "default_model", here.parent / "models" / "default"):
        if (candidate / "manifest.json").is_file():
            return candidate
    return here.parent / "models" / "default"


@dataclass(slots=True)
class _Row:
    """One scored text's head outputs, already decided, explained and rounded (internal)."""

    terms: list[list[str]]  # explanation terms, in the order of the explained outputs
    chosen: list[int]
    category_scores: dict[str, float]
    fallback: bool
    close: list[str]
    unsure_flags: bool
    sentiment: int
    sentiment_scores: list[float]
    negative: float
    urgency: int
    urgency_scores: list[float]
    threat: bool
    safety: bool
    p_threat: float
    p_safety: float


@dataclass(slots=True)
class _Prepared:
    status: str
    text: str  # normalized, masked
    notes: tuple[str, ...]


class TriagePipeline:
    """Scores complaints with a loaded model and a configuration.

    Use :func:`triage.load` to make one. The pipeline is thread-safe for scoring and picklable
    (workers of a process pool or a Dask cluster receive it once).
    """

    def __init__(self, model: TriageModel, manifest: Mapping[str, Any], config: Config):
        self.model = model
        self.manifest = dict(manifest)
        self.config = config
        self.model_version = str(self.manifest.get("model_version", "unknown"))
        heads = model.heads
        self._labels = list(heads["category"].labels)
        self._thresholds = dict(zip(self._labels, map(float, heads["category"].thresholds)))
        self._levels = list(heads["urgency"].labels)
        self._sentiments = list(heads["sentiment"].labels)
        self._names = model.features.names
        self._shown = explainable_names(self._names)
        self._shown_mask = self._shown != ""
        self._severity_scorer = SeverityScorer(config)
        self._guidance = Guidance(config)
        self._tz = config.raw["routing"]["timezone"]
        self._urgency_floor = self._levels.index(_URGENCY_FLOOR) if _URGENCY_FLOOR in self._levels else None
        self._assignments: dict[tuple, tuple] = {}  # routing by labels, memoized (a pure function of the config)

    # ------------------------------------------------------------------ public API
    def score(self, text: str, *, now: datetime | None = None, **metadata: Any) -> TriageResult:
        """Score one complaint.

        Parameters
        ----------
        text : str
            The complaint, simplified or traditional Chinese, any length.
        now : datetime, optional
            The time SLA deadlines are checked against (default: the current time).
        **metadata
            Optional: ``received_at`` (datetime or ISO 8601), ``customer_tier`` (vip, gold, ...),
            ``channel`` (hotline, media, regulator, social, ...), ``repeat_contacts`` (int),
            ``cluster_size`` (complaints on the same issue in the batch), ``customer_id``.

        Raises
        ------
        InputTypeError
            ``text`` is not a string, or a metadata key is unknown.
        """
        if not isinstance(text, str):
            raise InputTypeError(
                f"score() needs the complaint as a str, got {type(text).__name__}. "
                "Decode bytes first (e.g. data.decode('utf-8')) and skip missing values."
            )
        return self._score_chunk([text], [metadata], now=now)[0]

    def score_many(
        self,
        texts: Iterable[Any] | Any,
        *,
        metadata: Sequence[Mapping[str, Any]] | None = None,
        text_col: str | None = None,
        now: datetime | None = None,
        on_error: str = "raise",
        batch_size: int = 1000,
    ) -> list[TriageResult]:
        """Score many complaints; results in input order, identical to scoring one by one.

        Parameters
        ----------
        texts : iterable of str, or a pandas DataFrame
            With a DataFrame, the text is read from ``text_col`` (default ``"text"``) and the
            metadata from columns named like the metadata fields of :meth:`score`.
        metadata : sequence of mappings, optional
            Per-text metadata (with an iterable of texts).
        on_error : {"raise", "mark"}
            What to do with an item that is not a string: raise :class:`InputTypeError`, or
            return a result whose ``status`` is ``missing_text`` / ``not_a_string``.
        """
        if on_error not in ("raise", "mark"):
            raise ValueError(f"on_error must be 'raise' or 'mark', got {on_error!r}.")
        items, metas = _split_input(texts, metadata, text_col)
        results: list[TriageResult] = []
        for start in range(0, len(items), batch_size):
            chunk = items[start : start + batch_size]
            chunk_meta = metas[start : start + batch_size]
            if on_error == "raise":
                for offset, value in enumerate(chunk):
                    if not isinstance(value, str):
                        raise InputTypeError(
                            f"Item {start + offset} is a {type(value).__name__}, not a str. Pass "
                            "on_error='mark' to keep such items with a status instead of raising."
                        )
            results.extend(self._score_chunk(chunk, chunk_meta, now=now))
        return results

    def pipe(self, texts: Iterable[Any], *, batch_size: int = 1000, **kwargs: Any) -> Iterator[TriageResult]:
        """Like :meth:`score_many`, but lazily: yields results while reading ``texts``."""
        buffer: list[Any] = []
        for text in texts:
            buffer.append(text)
            if len(buffer) >= batch_size:
                yield from self.score_many(buffer, batch_size=batch_size, **kwargs)
                buffer = []
        if buffer:
            yield from self.score_many(buffer, batch_size=batch_size, **kwargs)

    def __reduce__(self):
        # The configuration is read-only (mapping proxies); it travels as plain data and is
        # validated again on arrival (a worker process or a Dask worker).
        return (_restore_pipeline, (self.model, self.manifest, self.config.to_dict()))

    def normalize(self, text: str) -> str:
        """The text as the classifiers see it: normalized, traditional -> simplified, PII masked."""
        return self._prepare(text).text

    def probabilities(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Raw probabilities of every head (before decisions and rules), for analysts.

        Returns ``{"category": (n, n_labels), "sentiment": (n, 3), "urgency": (n, 4),
        "threat": (n,), "safety": (n,)}``; columns follow ``model.labels``. Texts are
        normalized as in :meth:`score` (an empty one scores as an empty string).
        """
        prepared = [self._prepare(t).text for t in texts]
        out = self.model.predict(prepared)
        out.pop("X")
        return out

    def __repr__(self) -> str:
        return f"TriagePipeline(model_version={self.model_version!r}, backend={self.model.segmenter.backend!r})"

    # ------------------------------------------------------------------ internals
    def _prepare(self, value: Any) -> _Prepared:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return _Prepared(STATUS_MISSING, "", ("no text in this row",))
        if not isinstance(value, str):
            return _Prepared(STATUS_NOT_STRING, "", (f"the text is a {type(value).__name__}, not a string",))
        nc = self.config.normalize
        text, truncated, invalid = normalized_parts(value, nc.opencc, nc.mask_pii, nc.max_chars)
        notes: tuple[str, ...] = ()
        if invalid:
            notes = (f"removed {invalid} invalid characters (lone surrogates)",)
        if not text:
            return _Prepared(STATUS_EMPTY, "", notes + ("the text is empty after normalization",))
        if truncated:
            return _Prepared(STATUS_TRUNCATED, text, notes + (f"the text is longer than {nc.max_chars} characters; scored on its beginning",))
        if not _CJK_RE.search(text):
            return _Prepared(STATUS_NO_CHINESE, text, notes + ("the text has no Chinese characters; a person should check it",))
        return _Prepared(STATUS_OK, text, notes)

    def _score_chunk(
        self, values: Sequence[Any], metas: Sequence[Mapping[str, Any]], *, now: datetime | None
    ) -> list[TriageResult]:
        for meta in metas:
            if meta and not set(meta) <= _METADATA_SET:
                raise InputTypeError(
                    f"Unknown metadata {sorted(set(meta) - _METADATA_SET)}; allowed: {', '.join(METADATA_FIELDS)}."
                )
        with cycle_collector_paused():
            prepared = [self._prepare(v) for v in values]
            scored = [i for i, p in enumerate(prepared) if p.text]
            rows: dict[int, _Row] = {}
            if scored:
                rows = dict(zip(scored, self._predict([prepared[i].text for i in scored])))
            return [self._result(prepared[i], rows.get(i), metas[i], now) for i in range(len(prepared))]

    def _predict(self, texts: Sequence[str]) -> list["_Row"]:
        """Every head on a chunk of normalized texts, decided, explained and rounded for the whole
        chunk (per-row work is left to :meth:`_result`)."""
        heads = self.model.heads
        out = self.model.predict(texts)
        P_cat, P_sent, P_urg = out["category"], out["sentiment"], out["urgency"]
        p_threat, p_safety = out["threat"], out["safety"]
        cat = heads["category"]
        chosen = decide_categories(P_cat, cat.thresholds, self._labels)
        fallback = ~(P_cat >= cat.thresholds).any(axis=1)
        # chosen labels ordered by probability, most probable first
        order = np.argsort(-P_cat, axis=1, kind="stable")
        review = self.config.routing.review
        close, unsure = closeness(P_cat, cat.thresholds, np.column_stack([p_threat, p_safety]), review["auto_margin"])
        threat = (p_threat >= heads["threat"].thresholds[0]).tolist()
        safety = (p_safety >= heads["safety"].thresholds[0]).tolist()
        sent = np.argmax(P_sent, axis=1).tolist()
        urg = np.argmax(P_urg, axis=1).tolist()
        neg = self._sentiments.index("negative") if "negative" in self._sentiments else None
        negative = P_sent[:, neg].tolist() if neg is not None else [0.0] * len(texts)
        cat_r, sent_r, urg_r = np.round(P_cat, 4).tolist(), np.round(P_sent, 4).tolist(), np.round(P_urg, 4).tolist()
        thr_r, saf_r = np.round(p_threat, 4).tolist(), np.round(p_safety, 4).tolist()
        chosen_l = [[j for j in o if c[j]] for o, c in zip(order.tolist(), chosen.tolist())]
        labels = self._labels
        close_l = [[label for label, c in zip(labels, row) if c] for row in close.tolist()]
        # Explain only what is shown: chosen categories, sentiment, the model's urgency level
        # (above low), and the flags that are raised.
        c0, s0, u0 = heads["category"].start, heads["sentiment"].start, heads["urgency"].start
        t0, f0 = heads["threat"].start, heads["safety"].start
        requests = []
        for r in range(len(texts)):
            cols = [c0 + j for j in chosen_l[r]]
            cols.append(s0 + sent[r])
            if urg[r] > 0:
                cols.append(u0 + urg[r] - 1)
            if threat[r]:
                cols.append(t0)
            if safety[r]:
                cols.append(f0)
            requests.append(cols)
        terms = top_terms_chunk(out["X"], heads.coef, requests, self._shown, self.config.classify.top_terms, self._shown_mask)
        return [
            _Row(terms[r], chosen_l[r], dict(zip(labels, cat_r[r])), fallback_l, close_l[r], unsure_l, sent[r], sent_r[r],
                 negative[r], urg[r], urg_r[r], threat[r], safety[r], thr_r[r], saf_r[r])
            for r, fallback_l, unsure_l in zip(range(len(texts)), fallback.tolist(), unsure.tolist())
        ]

    def _result(self, prep: _Prepared, row: "_Row | None", meta: Mapping[str, Any], now: datetime | None) -> TriageResult:
        """Everything per row after the heads: reasons, severity, guidance, review tier, routing."""
        cfg = self.config
        text = prep.text
        reasons: list[str] = list(prep.notes)
        if row is None:
            categories: tuple[str, ...] = ()
            category_scores: dict[str, float] = {}
            primary = None
            sentiment, urgency = _NO_SENTIMENT, _NO_URGENCY
            threat = safety = fallback = unsure_flags = False
            p_threat = p_safety = None
            negative = 0.0
            close: list[str] = []
        else:
            categories, primary, sentiment, urgency = self._explain(text, row, reasons)
            category_scores, fallback, close, unsure_flags = row.category_scores, row.fallback, row.close, row.unsure_flags
            threat, safety, p_threat, p_safety, negative = row.threat, row.safety, row.p_threat, row.p_safety, row.negative

        # Severity: the level before timeliness sets the deadlines; lateness can only raise it.
        scorer = self._severity_scorer
        signals = scorer.signals(text)
        if meta:
            repeat_contacts = _as_count(meta.get("repeat_contacts"), "repeat_contacts")
            cluster_size = max(1, _as_count(meta.get("cluster_size"), "cluster_size"))
            tier_name, channel = _as_text(meta.get("customer_tier")), _as_text(meta.get("channel"))
            received = parse_time(meta.get("received_at"), tz=self._tz)
        else:
            repeat_contacts, cluster_size, tier_name, channel, received = 0, 1, None, None, None
        level_in = urgency.level
        severity = scorer.severity(scorer._points(signals, categories, level_in, negative, threat, safety, repeat_contacts,
                                                  cluster_size, tier_name, channel, None, None))
        deadline = deadlines(received, severity.level, cfg, now=now)
        if received is not None:
            severity = scorer.severity(scorer._points(
                signals, categories, level_in, negative, threat, safety, repeat_contacts, cluster_size, tier_name, channel,
                deadline.hours_past_respond, deadline.hours_past_resolve))
            deadline = deadlines(received, severity.level, cfg, now=now)
        repeats = max(repeat_contacts, signals.repeats)
        reasons.append(
            f"severity {severity.score:g} ({LEVEL_NAMES_ZH[severity.level]}): "
            + ", ".join([f"{name} {pts:g}" for name, pts in severity.factors.items() if pts])
            + (f"; escalation to {', '.join(signals.targets)}" if threat and signals.targets else "")
            + (f"; {repeats} earlier contacts" if repeats else "")
        )
        patterns = self._guidance.match(text, repeats=repeats, threat=threat, targets=signals.targets,
                                        markers=signals.markers) if row is not None else []
        if patterns:
            reasons.append("difficult customer: " + ", ".join([name for _, name, _ in patterns]))
        tier, why = review_tier(
            scored_normally=prep.status == STATUS_OK,
            category_scores=category_scores,
            thresholds=self._thresholds,
            primary=primary,
            fallback_used=fallback,
            flag_scores=(),
            config=cfg,
            close=close,
            unsure_flags=unsure_flags,
        )
        key = (categories, primary, severity.level, threat, safety)
        assigned = self._assignments.get(key)
        if assigned is None:
            if len(self._assignments) > 10_000:
                self._assignments.clear()
            assigned = self._assignments[key] = assignment(categories, primary, severity.level, threat, safety, cfg)
        routing = route(
            categories=categories, primary=primary, level=severity.level, threat=threat, safety=safety,
            tier=tier, deadline=deadline, config=cfg, assigned=assigned,
            advice=[f"{name}：{a}" for _, name, advice in patterns for a in advice],
        )
        reasons.append(f"routing {assigned[0]}" + (f" (primary category {primary})" if primary else "") + f"; review tier {tier}: {why}")
        overdue = deadline.hours_past_respond is not None and deadline.hours_past_respond > 0
        return _make(
            TriageResult,
            status=prep.status,
            categories=categories,
            category_scores=category_scores,
            primary_category=primary,
            sentiment=sentiment,
            urgency=urgency,
            flags=_make(Flags, threat=threat, safety=safety, threat_score=p_threat, safety_score=p_safety, overdue=overdue,
                        difficult_customer=tuple([key for key, _, _ in patterns])),
            severity=severity,
            routing=routing,
            reasons=tuple(reasons),
            model_version=self.model_version,
        )

    def _explain(self, text: str, row: "_Row", reasons: list[str]):
        """Labels of a scored row, and the reasons naming the terms and rules behind each."""
        labels, levels = self._labels, self._levels
        idx = row.chosen
        scores = row.category_scores
        categories = tuple([labels[j] for j in idx])
        primary = categories[0]
        s, u = row.sentiment, row.urgency
        terms = row.terms
        for n, label in enumerate(categories):
            reasons.append(f"category {label} ({scores[label]:.2f}): " + (", ".join(terms[n]) or "overall wording"))
        if row.fallback:
            reasons.append(f"no category passed its threshold; took the most probable ({primary})")
        n = len(categories)
        sent_label = self._sentiments[s]
        sentiment = _make(Sentiment, label=sent_label, score=row.sentiment_scores[s])
        reasons.append(f"sentiment {sent_label} ({sentiment.score:.2f}): " + (", ".join(terms[n]) or "overall wording"))
        n += 1
        urg_terms = terms[n] if u > 0 else []
        n += u > 0
        if row.threat or row.safety:
            found = self.model.features.keywords.find(text)
            for name, raised, p in (("threat", row.threat, row.p_threat), ("safety", row.safety, row.p_safety)):
                if raised:
                    reasons.append(f"{name} ({p:.2f}): " + (", ".join(found.get(name) or terms[n]) or "overall wording"))
                    n += 1
        floor = self._urgency_floor
        if (row.threat or row.safety) and floor is not None and u < floor:
            reasons.append(
                f"urgency raised from {levels[u]} to {_URGENCY_FLOOR}: a "
                + ("threat" if row.threat else "safety risk") + " is at least high (labelling guide)"
            )
            u = floor
        else:
            reasons.append(f"urgency {levels[u]} ({row.urgency_scores[u]:.2f})" + (": " + ", ".join(urg_terms) if u > 0 and urg_terms else ""))
        urgency = _make(Urgency, level=levels[u], scores=dict(zip(levels, row.urgency_scores)))
        return categories, primary, sentiment, urgency


def _restore_pipeline(model: TriageModel, manifest: Mapping[str, Any], config: Mapping[str, Any]) -> "TriagePipeline":
    return TriagePipeline(model, manifest, load_config(config))


def _as_count(value: Any, name: str) -> int:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
        return 0
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        raise InputTypeError(f"Metadata {name!r} must be a whole number, got {value!r}.") from None


def _as_text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def _split_input(
    texts: Any, metadata: Sequence[Mapping[str, Any]] | None, text_col: str | None
) -> tuple[list[Any], list[Mapping[str, Any]]]:
    if hasattr(texts, "columns") and hasattr(texts, "to_dict"):  # a pandas DataFrame
        col = text_col or "text"
        if col not in texts.columns:
            raise InputTypeError(
                f"The DataFrame has no column {col!r}. Pass text_col= one of: {', '.join(map(str, texts.columns))}."
            )
        items = texts[col].tolist()
        meta_cols = [c for c in METADATA_FIELDS if c in texts.columns]
        metas = [dict(zip(meta_cols, row)) for row in texts[meta_cols].itertuples(index=False)] if meta_cols else [{}] * len(items)
        return items, metas
    if isinstance(texts, str):
        raise InputTypeError("score_many() needs an iterable of texts, got one str. Use score() for a single text.")
    items = list(texts)
    if metadata is None:
        return items, [{}] * len(items)
    metas = list(metadata)
    if len(metas) != len(items):
        raise ValueError(f"metadata has {len(metas)} entries for {len(items)} texts; give one mapping per text.")
    return items, metas


def load(path: str | Path | None = None, *, config: ConfigSource = None, warm_up: bool = True) -> TriagePipeline:
    """Load a model bundle and return a :class:`TriagePipeline`.

    Parameters
    ----------
    path : str or Path, optional
        A model directory written by ``triage train``; by default the model shipped with triage.
    config : path, mapping or None
        Overrides of the default configuration (a TOML file or a dict); see ``default_config.toml``.
    warm_up : bool
        Build the segmenter's dictionary now, so the first ``score`` is fast.
    """
    cfg = load_config(config)
    model, manifest = load_bundle(default_model_path() if path is None else path)
    pipe = TriagePipeline(model, manifest, cfg)
    if warm_up:
        model.segmenter.warm_up()
        pipe.score("预热")  # first call builds caches (OpenCC, coefficients in float64)
    return pipe
