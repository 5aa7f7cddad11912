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

import logging
import math
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np

from .bundle import load_bundle
from .classifiers import TriageHeads, explainable_names, top_terms_many
from .config import Config, ConfigSource, load_config
from .errors import InputTypeError
from .normalize import normalize_text
from .results import (
    STATUS_EMPTY,
    STATUS_MISSING,
    STATUS_NO_CHINESE,
    STATUS_NOT_STRING,
    STATUS_OK,
    STATUS_TRUNCATED,
    Flags,
    Routing,
    Sentiment,
    Severity,
    TriageResult,
    Urgency,
)
from .routing import deadlines, parse_time, review_tier, route
from .severity import SeverityInputs, compute_severity, level_for

logger = logging.getLogger(__name__)

METADATA_FIELDS = ("received_at", "customer_tier", "channel", "repeat_contacts", "cluster_size", "customer_id")
_CJK_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_URGENCY_FLOOR = "high"  # a threat or a safety risk makes a complaint at least this urgent


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


@dataclass(frozen=True)
class _Prepared:
    status: str
    text: str  # normalized, masked
    notes: tuple[str, ...]


class TriagePipeline:
    """Scores complaints with a loaded model and a configuration.

    Use :func:`triage.load` to make one. The pipeline is thread-safe for scoring and picklable
    (workers of a process pool or a Dask cluster receive it once).
    """

    def __init__(self, heads: TriageHeads, manifest: Mapping[str, Any], config: Config):
        self.heads = heads
        self.manifest = dict(manifest)
        self.config = config
        self.model_version = str(self.manifest.get("model_version", "unknown"))
        self._names = heads.features.get_feature_names_out()
        self._labels = [str(c) for c in heads.category.classes_]
        self._thresholds = dict(zip(self._labels, map(float, heads.category.thresholds_)))
        # Every head's coefficients side by side, to explain all outputs of a row in one pass.
        blocks = [heads.category.coef_matrix_, heads.sentiment.coef_matrix_, heads.urgency.coef_matrix_,
                  heads.threat.coef_matrix_, heads.safety.coef_matrix_]
        self._coef = np.ascontiguousarray(np.hstack(blocks))
        starts = np.cumsum([0] + [b.shape[1] for b in blocks])
        self._col = {"category": int(starts[0]), "sentiment": int(starts[1]), "urgency": int(starts[2]),
                     "threat": int(starts[3]), "safety": int(starts[4])}
        self._shown = explainable_names(self._names)
        self._shown_mask = self._shown != ""

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

    def __repr__(self) -> str:
        return f"TriagePipeline(model_version={self.model_version!r}, backend={self.heads.features.segmenter_.backend!r})"

    # ------------------------------------------------------------------ internals
    def _prepare(self, value: Any) -> _Prepared:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return _Prepared(STATUS_MISSING, "", ("no text in this row",))
        if not isinstance(value, str):
            return _Prepared(STATUS_NOT_STRING, "", (f"the text is a {type(value).__name__}, not a string",))
        nc = self.config.normalize
        norm = normalize_text(value, opencc=nc.opencc, mask=nc.mask_pii, max_chars=nc.max_chars)
        notes: list[str] = []
        if norm.invalid_characters:
            notes.append(f"removed {norm.invalid_characters} invalid characters (lone surrogates)")
        if not norm.text:
            return _Prepared(STATUS_EMPTY, "", tuple(notes) + ("the text is empty after normalization",))
        if norm.truncated:
            notes.append(f"the text is longer than {nc.max_chars} characters; scored on its beginning")
            return _Prepared(STATUS_TRUNCATED, norm.text, tuple(notes))
        if not _CJK_RE.search(norm.text):
            notes.append("the text has no Chinese characters; a person should check it")
            return _Prepared(STATUS_NO_CHINESE, norm.text, tuple(notes))
        return _Prepared(STATUS_OK, norm.text, tuple(notes))

    def _score_chunk(
        self, values: Sequence[Any], metas: Sequence[Mapping[str, Any]], *, now: datetime | None
    ) -> list[TriageResult]:
        for meta in metas:
            unknown = set(meta) - set(METADATA_FIELDS)
            if unknown:
                raise InputTypeError(
                    f"Unknown metadata {sorted(unknown)}; allowed: {', '.join(METADATA_FIELDS)}."
                )
        prepared = [self._prepare(v) for v in values]
        scored = [i for i, p in enumerate(prepared) if p.text]
        outputs: dict[int, dict[str, Any]] = {}
        if scored:
            h = self.heads
            X = h.features.transform([prepared[i].text for i in scored])
            P_cat = h.category.predict_proba(X)
            chosen = h.category.decide(P_cat)
            fallback = ~(P_cat >= h.category.thresholds_).any(axis=1)
            P_sent = h.sentiment.predict_proba(X)
            P_urg = h.urgency.predict_proba(X)
            p_threat = h.threat.predict_proba(X)[:, 1]
            p_safety = h.safety.predict_proba(X)[:, 1]
            for row, i in enumerate(scored):
                lo, hi = X.indptr[row], X.indptr[row + 1]
                outputs[i] = {
                    "x": (X.indices[lo:hi], X.data[lo:hi]),
                    "p_cat": P_cat[row],
                    "chosen": chosen[row],
                    "fallback": bool(fallback[row]),
                    "p_sent": P_sent[row],
                    "p_urg": P_urg[row],
                    "p_threat": float(p_threat[row]),
                    "p_safety": float(p_safety[row]),
                }
        return [self._result(prepared[i], outputs.get(i), metas[i], now) for i in range(len(prepared))]

    def _result(
        self, prep: _Prepared, out: Mapping[str, Any] | None, meta: Mapping[str, Any], now: datetime | None
    ) -> TriageResult:
        h = self.heads
        cfg = self.config
        k = cfg.classify.top_terms
        reasons: list[str] = list(prep.notes)
        if out is None:
            categories: tuple[str, ...] = ()
            category_scores: dict[str, float] = {}
            primary = None
            sentiment = Sentiment(None, None)
            urgency = Urgency(None, {})
            threat = safety = False
            p_threat = p_safety = None
            negative = 0.0
            fallback = False
        else:
            p_cat = out["p_cat"]
            category_scores = dict(zip(self._labels, np.round(p_cat, 4).tolist()))
            idx = [int(j) for j in np.argsort(-p_cat) if out["chosen"][j]]
            categories = tuple(self._labels[j] for j in idx)
            primary = categories[0]
            fallback = out["fallback"]
            s = int(np.argmax(out["p_sent"]))
            levels = [str(c) for c in h.urgency.classes_]
            p_urg = out["p_urg"]
            u = int(np.argmax(p_urg))
            p_threat, p_safety = round(out["p_threat"], 4), round(out["p_safety"], 4)
            threat = out["p_threat"] >= h.threat.threshold
            safety = out["p_safety"] >= h.safety.threshold
            col = self._col
            # Explain only what is shown: chosen categories, sentiment, the model's urgency level
            # (above low), and the flags that are raised.
            wanted = [col["category"] + j for j in idx] + [col["sentiment"] + s]
            extra = [("urgency", col["urgency"] + u - 1, u > 0), ("threat", col["threat"], threat), ("safety", col["safety"], safety)]
            wanted += [c for _, c, on in extra if on]
            terms = top_terms_many(*out["x"], self._coef, wanted, self._shown, k, self._shown_mask)
            cat_terms, sent_terms = terms[: len(idx)], terms[len(idx)]
            rest = iter(terms[len(idx) + 1 :])
            urg_terms, threat_terms, safety_terms = (next(rest) if on else [] for _, _, on in extra)

            for j, words in zip(idx, cat_terms):
                reasons.append(f"category {self._labels[j]} ({p_cat[j]:.2f}): " + (", ".join(words) or "overall wording"))
            if fallback:
                reasons.append(f"no category passed its threshold; took the most probable ({primary})")
            sent_label = str(h.sentiment.classes_[s])
            sentiment = Sentiment(sent_label, round(float(out["p_sent"][s]), 4))
            reasons.append(f"sentiment {sent_label} ({sentiment.score:.2f}): " + (", ".join(sent_terms) or "overall wording"))
            labels_sent = [str(c) for c in h.sentiment.classes_]
            negative = float(out["p_sent"][labels_sent.index("negative")]) if "negative" in labels_sent else 0.0

            if threat or safety:
                found = h.features.keyword_matcher_.find(prep.text)
                for name, raised, p, words in (("threat", threat, p_threat, threat_terms), ("safety", safety, p_safety, safety_terms)):
                    if raised:
                        shown = found.get(name) or words
                        reasons.append(f"{name} ({p:.2f}): " + (", ".join(shown) or "overall wording"))

            if (threat or safety) and _URGENCY_FLOOR in levels and u < levels.index(_URGENCY_FLOOR):
                reasons.append(
                    f"urgency raised from {levels[u]} to {_URGENCY_FLOOR}: a "
                    + ("threat" if threat else "safety risk")
                    + " is at least high (labelling guide)"
                )
                u = levels.index(_URGENCY_FLOOR)
            else:
                reasons.append(f"urgency {levels[u]} ({p_urg[u]:.2f})" + (": " + ", ".join(urg_terms) if u > 0 and urg_terms else ""))
            urgency = Urgency(levels[u], dict(zip(levels, np.round(p_urg, 4).tolist())))

        severity, deadline = self._severity(prep.text, categories, urgency.level, negative, threat, safety, meta, now)
        reasons.append(
            f"severity {severity.score:g} ({severity.level_zh}): "
            + ", ".join(f"{name} {pts:g}" for name, pts in severity.factors.items() if pts)
        )
        tier, why = review_tier(
            scored_normally=prep.status == STATUS_OK,
            category_scores=category_scores,
            thresholds=self._thresholds,
            primary=primary,
            fallback_used=fallback,
            flag_scores=[p for p in (p_threat, p_safety) if p is not None],
            config=cfg,
        )
        routing = route(
            categories=categories,
            primary=primary,
            level=severity.level,
            threat=threat,
            safety=safety,
            tier=tier,
            deadline=deadline,
            config=cfg,
        )
        reasons.append(f"routing {routing.department}" + (f" (primary category {primary})" if primary else "") + f"; review tier {tier}: {why}")
        overdue = bool(deadline.hours_past_respond is not None and deadline.hours_past_respond > 0)
        return TriageResult(
            status=prep.status,
            categories=categories,
            category_scores=category_scores,
            primary_category=primary,
            sentiment=sentiment,
            urgency=urgency,
            flags=Flags(threat=bool(threat), safety=bool(safety), threat_score=p_threat, safety_score=p_safety, overdue=overdue),
            severity=severity,
            routing=routing,
            reasons=tuple(reasons),
            model_version=self.model_version,
        )

    def _severity(
        self,
        text: str,
        categories: Sequence[str],
        urgency: str | None,
        negative: float,
        threat: bool,
        safety: bool,
        meta: Mapping[str, Any],
        now: datetime | None,
    ):
        cfg = self.config
        received = parse_time(meta.get("received_at"), tz=cfg.raw["routing"]["timezone"])
        inputs = SeverityInputs(
            text=text,
            categories=categories,
            urgency=urgency,
            negative_probability=negative,
            threat=bool(threat),
            safety=bool(safety),
            repeat_contacts=_as_count(meta.get("repeat_contacts"), "repeat_contacts"),
            cluster_size=max(1, _as_count(meta.get("cluster_size"), "cluster_size")),
            customer_tier=_as_text(meta.get("customer_tier")),
            channel=_as_text(meta.get("channel")),
        )
        base = compute_severity(inputs, cfg, with_timeliness=False)
        # Deadlines follow the level before timeliness; lateness can only raise the score.
        first = deadlines(received, base.level, cfg, now=now)
        if received is None:
            return base, first
        final = compute_severity(
            SeverityInputs(**{**inputs.__dict__, "hours_past_respond": first.hours_past_respond, "hours_past_resolve": first.hours_past_resolve}),
            cfg,
        )
        return final, deadlines(received, final.level, cfg, now=now)


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
    heads, manifest = load_bundle(default_model_path() if path is None else path)
    pipe = TriagePipeline(heads, manifest, cfg)
    if warm_up:
        heads.features.segmenter_.warm_up()
    return pipe
