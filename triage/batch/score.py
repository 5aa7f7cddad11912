"""Scoring a backlog file: every input row comes out, scored or marked with why it was not.

The file is read in chunks; each scored chunk is kept as a part file in a work directory beside
the output (``.<output name>.triage-work``); when every chunk is done the parts are assembled
into the output (written to a temporary name, then renamed: no half-written output). An
interrupted run can continue with ``resume=True`` from its last finished chunk and produces the
same output as an uninterrupted one. ``jobs=N`` scores chunks in N worker processes (the
pipeline is sent to each worker once); the output is identical to ``jobs=1``.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from ..errors import InputFileError
from ..pipeline import TriagePipeline, cycle_collector_paused
from ..results import TriageResult
from .io import Chunk, TableWriter, detect_text_column, encode_columns, encode_frame, format_of, iter_chunks

METADATA_OPTIONS = ("id", "received_at", "customer_id", "customer_tier", "channel", "repeat_contacts")
STATUS_UNDECODABLE = "undecodable"
STATUS_MALFORMED = "malformed_line"
WORK_VERSION = 1


@dataclass
class BatchSummary:
    rows: int = 0
    bad_lines: int = 0
    by_status: Counter = field(default_factory=Counter)
    by_category: Counter = field(default_factory=Counter)
    by_level: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    resumed_chunks: int = 0
    truncated_cells: int = 0  # Excel output: cells longer than a worksheet holds, cut

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "bad_lines": self.bad_lines,
            "by_status": dict(self.by_status),
            "by_category": dict(self.by_category),
            "by_severity_level": dict(self.by_level),
            "seconds": round(self.seconds, 2),
            "rows_per_second": round(self.rows_per_second, 1),
            "resumed_chunks": self.resumed_chunks,
            "truncated_cells": self.truncated_cells,
        }


_HEAD_COLUMNS = ("triage_status", "triage_categories", "triage_primary_category")
_TAIL_COLUMNS = (
    "triage_sentiment", "triage_sentiment_score", "triage_urgency", "triage_threat", "triage_safety",
    "triage_severity", "triage_severity_level", "triage_severity_factors", "triage_department",
    "triage_co_departments", "triage_informed", "triage_sla_respond_hours", "triage_sla_resolve_hours",
    "triage_respond_by", "triage_resolve_by", "triage_overdue", "triage_review_tier",
    "triage_difficult_customer", "triage_advice", "triage_reasons", "triage_model_version",
)


def _factors_json(factors: Mapping[str, float]) -> str:
    # json.dumps of a dict of ASCII names to floats, three times faster (a test pins the equality)
    return "{" + ", ".join([f'"{name}": {float(points)!r}' for name, points in factors.items()]) + "}"


def _row_values(r: TriageResult, labels: Sequence[str]) -> tuple[Any, ...]:
    scores, sev, routing, flags = r.category_scores, r.severity, r.routing, r.flags
    return (
        r.status, "|".join(r.categories), r.primary_category,
        *[scores.get(label) for label in labels],
        r.sentiment.label, r.sentiment.score, r.urgency.level, flags.threat, flags.safety,
        sev.score, sev.level, _factors_json(sev.factors), routing.department,
        "|".join(routing.co_departments), "|".join(routing.informed), routing.sla_respond_hours,
        routing.sla_resolve_hours, routing.respond_by, routing.resolve_by, flags.overdue, routing.review_tier,
        "|".join(flags.difficult_customer), " | ".join(routing.advice), " | ".join(r.reasons), r.model_version,
    )


def result_columns(results: Sequence[TriageResult], labels: Sequence[str]) -> dict[str, list[Any]]:
    """The ``triage_*`` columns for a list of results (one probability column per category)."""
    names = _HEAD_COLUMNS + tuple(f"triage_p_{label}" for label in labels) + _TAIL_COLUMNS
    if not results:
        return {name: [] for name in names}
    columns = zip(*[_row_values(r, labels) for r in results])
    return dict(zip(names, map(list, columns)))


# ---------------------------------------------------------------------------------- scoring
@dataclass(frozen=True)
class _Plan:
    """What a chunk needs to be scored (picklable, sent to workers with each chunk)."""

    text_col: str
    metadata_cols: tuple[tuple[str, str], ...]
    now: str | None
    encode: str | None = None  # csv/tsv/jsonl: workers return the chunk as text, ready to append
    neutralise: bool = True


def score_chunk(pipeline: TriagePipeline, chunk: Chunk, plan: _Plan, volume: Mapping[str, Sequence[Any]] | None) -> Any:
    """The chunk's frame with the ``triage_*`` columns added (same rows, same order)."""
    import pandas as pd

    frame, added = _triage_columns(pipeline, chunk, plan, volume)
    return pd.concat([frame, pd.DataFrame(added)], axis=1)


def _triage_columns(pipeline: TriagePipeline, chunk: Chunk, plan: _Plan,
                    volume: Mapping[str, Sequence[Any]] | None) -> tuple[Any, dict[str, list[Any]]]:
    """The chunk's input frame and the ``triage_*`` columns to add, as lists."""
    from datetime import datetime

    frame = chunk.frame.reset_index(drop=True)
    keys = [k for k, _ in plan.metadata_cols if k != "id"]
    cols = [c for k, c in plan.metadata_cols if k != "id"]
    metas = [dict(zip(keys, values)) for values in frame[cols].itertuples(index=False, name=None)] if cols else [{} for _ in range(len(frame))]
    extra: dict[str, list[Any]] = {}
    if volume:
        for key in ("cluster_size", "repeat_contacts"):
            if key in volume:
                for meta, value in zip(metas, volume[key]):
                    given = meta.get(key)
                    try:
                        given = int(float(given)) if given not in (None, "") and given == given else 0
                    except (TypeError, ValueError):
                        given = 0
                    meta[key] = max(given, int(value))
        extra = {f"triage_{k}": list(v) for k, v in volume.items() if k in ("cluster", "cluster_size", "repeat_contacts")}
    texts = [None if (isinstance(v, float) and v != v) else v for v in frame[plan.text_col].tolist()]
    now = datetime.fromisoformat(plan.now) if plan.now else None
    results = pipeline.score_many(texts, metadata=metas, on_error="mark", now=now)
    cols_out = result_columns(results, pipeline.model.labels["categories"])
    if chunk.undecodable:
        for i, bad in enumerate(chunk.undecodable):
            if bad:
                cols_out["triage_status"][i] = STATUS_UNDECODABLE
                cols_out["triage_review_tier"][i] = "review"
    return frame, {**cols_out, **extra}


_WORKER_PIPELINE: TriagePipeline | None = None


def _init_worker(pipeline_bytes: bytes) -> None:
    global _WORKER_PIPELINE
    _WORKER_PIPELINE = pickle.loads(pipeline_bytes)
    _WORKER_PIPELINE.model.segmenter.warm_up()


def _score_in_worker(args: tuple[Chunk, _Plan, Mapping[str, Sequence[Any]] | None]) -> Any:
    chunk, plan, volume = args
    assert _WORKER_PIPELINE is not None
    return _score_and_encode(_WORKER_PIPELINE, chunk, plan, volume)


_SUMMARY_COLUMNS = ("triage_status", "triage_categories", "triage_severity_level")


def chunk_summary(statuses: Sequence[str], levels: Sequence[str], categories: Sequence[str], texts: Sequence[Any]) -> dict[str, Any]:
    """Counts of a scored chunk and its rows that were not scored normally, as (position, status,
    text): computed where the chunk was scored, so that only this travels back."""
    by_category: Counter = Counter()
    for cats in categories:
        if cats:
            by_category.update(str(cats).split("|"))
    by_category.pop("", None)
    return {
        "rows": len(statuses),
        "by_status": Counter(statuses),
        "by_level": Counter(levels),
        "by_category": by_category,
        "failed": [(i, status, _text_or_none(texts[i])) for i, status in enumerate(statuses) if status != "ok"],
    }


def _frame_summary(frame: Any, text_col: str) -> dict[str, Any]:
    texts = frame[text_col].tolist() if text_col in frame else [None] * len(frame)
    return chunk_summary(frame["triage_status"].tolist(), frame["triage_severity_level"].tolist(),
                         frame["triage_categories"].tolist(), texts)


def _score_and_encode(pipeline: TriagePipeline, chunk: Chunk, plan: _Plan, volume: Mapping[str, Sequence[Any]] | None) -> tuple[Any, str | None, list[str]]:
    """(frame, None, columns), or with ``plan.encode`` (chunk summary, the text to append, columns)."""
    with cycle_collector_paused():
        if plan.encode not in ("csv", "tsv"):
            frame = score_chunk(pipeline, chunk, plan, volume)
            columns = [str(c) for c in frame.columns]
            if plan.encode is None:
                return frame, None, columns
            text = encode_frame(frame, plan.encode, neutralise=plan.neutralise)
            return _frame_summary(frame, plan.text_col), text, columns
        # CSV/TSV straight from the lists: no frame of 40 columns built only to be written.
        frame, added = _triage_columns(pipeline, chunk, plan, volume)
        text = encode_columns(frame, added, plan.encode, neutralise=plan.neutralise)
        part = chunk_summary(added["triage_status"], added["triage_severity_level"], added["triage_categories"],
                             frame[plan.text_col].tolist())
        return part, text, [str(c) for c in frame.columns] + list(added)


# --------------------------------------------------------------------------------- volume
COMMON_WORD_SHARE = 0.0003  # a word in this share of training documents is complaint vocabulary, not an issue term


def cluster_batch(pipeline: TriagePipeline, texts: Sequence[Any], customers: Sequence[Any] | None, *, offset: int = 0) -> tuple[list[Any], list[int]]:
    """Same-issue clusters of a batch of raw texts: the cluster id of each row (None when alone,
    ids shifted by ``offset``) and its size (distinct customers when ``customers`` is given)."""
    from ..volume import cluster_sizes, find_clusters

    words = pipeline.model.features.words
    normalized = [pipeline.normalize(t) if isinstance(t, str) else None for t in texts]
    ids = find_clusters(normalized, pipeline.model.segmenter, is_common=lambda w: words.document_frequency(w) >= COMMON_WORD_SHARE)
    members = cluster_sizes(ids)
    return [offset + i if n > 1 else None for i, n in zip(ids, members)], cluster_sizes(ids, customers)


def compute_volume(
    pipeline: TriagePipeline, chunks: Iterator[Chunk], plan: _Plan, *, clusters: bool, window: int = 50_000
) -> dict[str, list[Any]]:
    """Cluster ids/sizes and repeat contacts for every row of the file (a first pass).

    Clusters are found within windows of ``window`` rows, which bounds memory on very large
    files (same-issue complaints far apart in a huge file are not grouped).
    """
    from ..volume import repeat_contacts

    meta = dict(plan.metadata_cols)
    texts: list[Any] = []
    customers: list[Any] = []
    received: list[Any] = []
    out: dict[str, list[Any]] = {"cluster": [], "cluster_size": []} if clusters else {}

    def flush() -> None:
        if not clusters or not texts:
            return
        offset = len(out["cluster"])
        ids, sizes = cluster_batch(pipeline, texts, customers[offset:] if "customer_id" in meta else None, offset=offset)
        out["cluster"].extend(ids)
        out["cluster_size"].extend(sizes)
        texts.clear()

    for chunk in chunks:
        frame = chunk.frame
        texts.extend(frame[plan.text_col].tolist())
        if "customer_id" in meta:
            customers.extend(frame[meta["customer_id"]].tolist())
            received.extend(frame[meta["received_at"]].tolist() if "received_at" in meta else [None] * len(frame))
        if len(texts) >= window:
            flush()
    flush()
    if "customer_id" in meta:
        out["repeat_contacts"] = repeat_contacts(customers, received if "received_at" in meta else None)
    return out


# ------------------------------------------------------------------------------ the file job
def _input_fingerprint(path: Path) -> dict[str, Any]:
    st = path.stat()
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        digest.update(fh.read(1 << 20))
    return {"path": str(path.resolve()), "size": st.st_size, "mtime": st.st_mtime, "head_sha256": digest.hexdigest()}


def score_file(
    pipeline: TriagePipeline,
    input_path: str | Path,
    output_path: str | Path,
    *,
    text_col: str | None = None,
    metadata_cols: Mapping[str, str] | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
    input_format: str | None = None,
    output_format: str | None = None,
    errors_path: str | Path | None = None,
    force: bool = False,
    resume: bool = False,
    bom: bool = True,
    chunksize: int = 10_000,
    jobs: int = 1,
    clusters: bool = True,
    now: str | None = None,
    progress: Callable[[int], None] | None = None,
    stop_after_chunks: int | None = None,
) -> BatchSummary:
    """Score every row of ``input_path`` and write it, with ``triage_*`` columns, to ``output_path``.

    Rows that cannot be scored normally keep their place with a ``triage_status`` saying why;
    they (every status but "ok": empty, missing, not a string, undecodable, truncated, no Chinese)
    and malformed lines of a CSV are also written to ``errors_path`` with their line numbers.
    ``now`` (ISO 8601) fixes the time SLA deadlines are checked against (default: the start of
    the run, kept across a resume). ``stop_after_chunks`` stops early as an interruption would
    (for tests).
    """
    start = time.perf_counter()
    input_path, output_path = Path(input_path), Path(output_path)
    in_fmt = format_of(input_path, input_format)
    out_fmt = format_of(output_path, output_format, write=True)
    if errors_path is not None:
        format_of(errors_path, write=True)  # before any work
    if jobs < 1:
        raise InputFileError(f"--jobs must be at least 1, got {jobs}.")
    work = output_path.parent / f".{output_path.name}.triage-work"
    if output_path.exists() and not (force or resume):
        raise FileExistsError(f"{str(output_path)!r} already exists. Choose another output or pass --force to overwrite it.")
    if resume and not (work / "state.json").is_file():  # noqa: SIM102
        raise InputFileError(
            f"There is no interrupted run to resume for {str(output_path)!r} (no {work.name}/state.json). "
            "Run again without --resume."
        )

    def chunks() -> Iterator[Chunk]:
        return iter_chunks(input_path, fmt=in_fmt, encoding=encoding, sheet=sheet, chunksize=chunksize)

    first = next(chunks(), None)
    columns = list(first.frame.columns) if first is not None else []
    col = detect_text_column(columns, text_col)
    metadata_cols = dict(metadata_cols or {})
    for key, name in metadata_cols.items():
        if key not in METADATA_OPTIONS:
            raise InputFileError(f"Unknown metadata field {key!r}; allowed: {', '.join(METADATA_OPTIONS)}.")
        if name not in columns:
            raise InputFileError(f"There is no column {name!r} for {key}. Available columns: {', '.join(map(str, columns))}.")
    from datetime import datetime, timezone

    state = {
        "version": WORK_VERSION,
        "input": _input_fingerprint(input_path),
        "options": {"text_col": col, "metadata_cols": metadata_cols, "encoding": encoding, "sheet": sheet,
                    "input_format": in_fmt, "chunksize": chunksize, "clusters": clusters,
                    "model_version": pipeline.model_version},
        "now": now or datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if resume:
        saved = json.loads((work / "state.json").read_text(encoding="utf-8"))
        if {k: saved.get(k) for k in ("version", "input", "options")} != {k: state[k] for k in ("version", "input", "options")}:
            raise InputFileError(
                "The input file or the options differ from the interrupted run, so it cannot be resumed. "
                "Run again without --resume (add --force to replace the output)."
            )
        state["now"] = saved["now"]
    else:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        (work / "state.json").write_text(json.dumps(state, ensure_ascii=False, indent=2), encoding="utf-8")
    plan = _Plan(col, tuple(metadata_cols.items()), state["now"], encode=out_fmt if out_fmt in ("csv", "tsv", "jsonl") else None)

    # First pass: batch-wide volume signals (kept in the work directory for a resume).
    volume_file = work / "volume.pickle"
    needs_volume = clusters or "customer_id" in metadata_cols
    if needs_volume and volume_file.is_file():
        volume = pickle.loads(volume_file.read_bytes())
    elif needs_volume:
        volume = compute_volume(pipeline, chunks(), plan, clusters=clusters)
        _atomic_bytes(volume_file, pickle.dumps(volume))
    else:
        volume = {}

    # Main pass. CSV, TSV and JSON Lines outputs grow chunk by chunk in the work directory (a
    # resume truncates them to the last finished chunk); Parquet and Excel keep one part per
    # chunk and are assembled at the end. Rows that were not scored go to errors.jsonl.
    append = out_fmt in ("csv", "tsv", "jsonl")
    partial = work / f"output.{out_fmt}"
    failed_log = work / "errors.jsonl"
    progress_file = work / "progress.json"
    summary = BatchSummary()
    done = -1
    if resume and progress_file.is_file():
        saved = json.loads(progress_file.read_text(encoding="utf-8"))
        done = saved["done"]
        summary = _summary_from(saved["summary"])
        for path, size in ((partial, saved["out_bytes"]), (failed_log, saved["err_bytes"])):
            if path.exists():
                with path.open("r+b") as fh:
                    fh.truncate(size)
    else:
        for path in (partial, failed_log):
            path.unlink(missing_ok=True)
        for part in work.glob("part-*.pickle"):
            part.unlink()
    writer = TableWriter(partial, out_fmt, bom=bom, append=partial.exists() and partial.stat().st_size > 0) if append else None

    def handle(index: int, chunk: Chunk, scored: tuple[Any, str | None, list[str]]) -> None:
        frame, text, columns = scored
        if text is not None:
            part = frame  # already summarised by the worker
            writer.write_encoded(text, columns)
            writer.flush()
        else:
            part = _frame_summary(frame, col)
            if writer is not None:
                writer.write(frame)
                writer.flush()
            else:
                _atomic_bytes(work / f"part-{index:06d}.pickle", pickle.dumps(frame, protocol=5))
        with failed_log.open("a", encoding="utf-8") as fh:
            for i, status, value in part["failed"]:
                fh.write(json.dumps({"line": chunk.lines[i], "status": status, "text": value}, ensure_ascii=False) + "\n")
            for b in chunk.bad_lines:
                fh.write(json.dumps({"line": b["line"], "status": STATUS_MALFORMED, "text": f"{b['error']}: {b['raw']}"}, ensure_ascii=False) + "\n")
        _count(summary, part, len(chunk.bad_lines))
        state_now = {
            "done": index,
            "out_bytes": partial.stat().st_size if partial.exists() else 0,
            "err_bytes": failed_log.stat().st_size,
            "summary": _summary_to(summary),
        }
        _atomic_bytes(progress_file, json.dumps(state_now).encode("utf-8"))
        if progress:
            progress(len(chunk.frame))

    def tasks() -> Iterator[tuple[int, Chunk, dict | None]]:
        offset = 0
        started = 0
        for index, chunk in enumerate(chunks()):
            n = len(chunk.frame)
            vol = {k: v[offset : offset + n] for k, v in volume.items()} if volume else None
            offset += n
            if index <= done:
                summary.resumed_chunks += 1
                if progress:
                    progress(n)
                continue
            if stop_after_chunks is not None and started >= stop_after_chunks:
                raise KeyboardInterrupt(f"stopped after {started} new chunks (stop_after_chunks)")
            started += 1
            yield index, chunk, vol

    try:
        _run(pipeline, tasks(), plan, jobs, handle)
    finally:
        if writer is not None:
            writer.close()

    # Finish: the output and the errors file appear at once (rename), the work directory goes.
    if writer is None:
        tmp_out = work / f"assembled.{out_fmt}"
        assembled = TableWriter(tmp_out, out_fmt, bom=bom)
        for part in sorted(work.glob("part-*.pickle")):
            assembled.write(pickle.loads(part.read_bytes()))
        assembled.close()
        summary.truncated_cells = assembled.truncated_cells
        partial = tmp_out
    elif not partial.exists():
        partial.touch()
    if errors_path is not None:
        import pandas as pd

        rows = [json.loads(line) for line in failed_log.read_text(encoding="utf-8").splitlines() if line.strip()] if failed_log.exists() else []
        err_frame = pd.DataFrame(sorted(rows, key=lambda f: f["line"]), columns=["line", "status", "text"])
        tmp_err = work / f"errors.{format_of(errors_path, write=True)}"
        err_writer = TableWriter(tmp_err, format_of(errors_path), bom=bom)
        err_writer.write(err_frame)
        err_writer.close()
        os.replace(tmp_err, errors_path)
    os.replace(partial, output_path)
    shutil.rmtree(work, ignore_errors=True)
    summary.seconds = time.perf_counter() - start
    return summary


def _text_or_none(value: Any) -> Any:
    return None if value is None or (isinstance(value, float) and value != value) else str(value)


def _count(summary: BatchSummary, part: Mapping[str, Any], bad_lines: int) -> None:
    summary.rows += part["rows"]
    summary.bad_lines += bad_lines
    if bad_lines:
        summary.by_status[STATUS_MALFORMED] += bad_lines
    summary.by_status.update(part["by_status"])
    summary.by_level.update(part["by_level"])
    summary.by_category.update(part["by_category"])


def _summary_to(summary: BatchSummary) -> dict[str, Any]:
    return {"rows": summary.rows, "bad_lines": summary.bad_lines, "by_status": dict(summary.by_status),
            "by_category": dict(summary.by_category), "by_level": dict(summary.by_level)}


def _summary_from(data: Mapping[str, Any]) -> BatchSummary:
    return BatchSummary(rows=data["rows"], bad_lines=data["bad_lines"], by_status=Counter(data["by_status"]),
                        by_category=Counter(data["by_category"]), by_level=Counter(data["by_level"]))


def _atomic_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _run(pipeline: TriagePipeline, tasks: Iterator[tuple[int, Chunk, dict | None]], plan: _Plan, jobs: int,
         handle: Callable[[int, Chunk, Any], None]) -> None:
    """Score the chunks and hand each scored frame to ``handle`` in input order."""
    if jobs == 1:
        for index, chunk, vol in tasks:
            handle(index, chunk, _score_and_encode(pipeline, chunk, plan, vol))
        return
    import multiprocessing

    global _WORKER_PIPELINE
    if multiprocessing.get_start_method() == "fork":
        # Forked workers inherit the loaded pipeline (tokenizer built, caches warm): nothing to
        # send or rebuild, which saves a fifth of a second per run.
        _WORKER_PIPELINE = pipeline
        pool_args: dict[str, Any] = {}
    else:  # spawn (macOS, Windows): ship the pipeline once, pickled
        pool_args = {"initializer": _init_worker, "initargs": (pickle.dumps(pipeline),)}
    try:
        with ProcessPoolExecutor(max_workers=jobs, **pool_args) as pool:
            pending: list[tuple[int, Chunk, list[Any]]] = []
            for index, chunk, vol in tasks:
                # Pieces of a chunk go to whichever worker is free, so that no worker idles
                # at the end while another finishes a slow chunk; they are put back in order.
                futures = [pool.submit(_score_in_worker, (piece, plan, piece_vol)) for piece, piece_vol in _pieces(chunk, vol)]
                pending.append((index, chunk, futures))
                if len(pending) >= 2 * jobs:  # bounded memory: at most 2 chunks per worker in flight
                    index0, chunk0, futs = pending.pop(0)
                    handle(index0, chunk0, _joined([f.result() for f in futs]))
            for index0, chunk0, futs in pending:
                handle(index0, chunk0, _joined([f.result() for f in futs]))
    finally:
        _WORKER_PIPELINE = None


PIECE_ROWS = 1000  # rows per task with --jobs N


def _pieces(chunk: Chunk, vol: Mapping[str, Sequence[Any]] | None) -> Iterator[tuple[Chunk, dict | None]]:
    """A chunk cut into tasks of PIECE_ROWS rows (malformed-line reports stay with the chunk)."""
    n = len(chunk.frame)
    for start in range(0, max(n, 1), PIECE_ROWS):
        stop = min(n, start + PIECE_ROWS)
        piece = Chunk(chunk.frame.iloc[start:stop], chunk.lines[start:stop], [],
                      chunk.undecodable[start:stop] if chunk.undecodable else None)
        yield piece, ({k: v[start:stop] for k, v in vol.items()} if vol else None)


def _joined(results: Sequence[tuple[Any, str | None, list[str]]]) -> tuple[Any, str | None, list[str]]:
    """The pieces of one chunk put back together, in order."""
    if len(results) == 1:
        return results[0]
    columns = results[0][2]
    if results[0][1] is None:  # frames
        import pandas as pd

        return pd.concat([r[0] for r in results], ignore_index=True), None, columns
    part: dict[str, Any] = {"rows": 0, "by_status": Counter(), "by_level": Counter(), "by_category": Counter(), "failed": []}
    for summary, _, _ in results:
        part["failed"] += [(part["rows"] + i, status, text) for i, status, text in summary["failed"]]
        part["rows"] += summary["rows"]
        for key in ("by_status", "by_level", "by_category"):
            part[key].update(summary[key])
    return part, "".join(r[1] for r in results), columns


__all__ = ["BatchSummary", "score_file", "score_chunk", "result_columns", "compute_volume"]
