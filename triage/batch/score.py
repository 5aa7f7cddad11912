"""Scoring a backlog file: every input row comes out, scored or marked with why it was not."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from ..errors import InputFileError
from ..pipeline import TriagePipeline
from .io import detect_text_column, read_table, results_to_columns, write_table

METADATA_OPTIONS = ("id", "received_at", "customer_id", "customer_tier", "channel", "repeat_contacts")


@dataclass
class BatchSummary:
    rows: int = 0
    bad_lines: int = 0
    by_status: Counter = field(default_factory=Counter)
    by_category: Counter = field(default_factory=Counter)
    by_level: Counter = field(default_factory=Counter)
    seconds: float = 0.0

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
        }


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
    bom: bool = True,
    progress: Callable[[int], None] | None = None,
    batch_size: int = 1000,
    clusters: bool = True,
) -> BatchSummary:
    """Score every row of ``input_path`` and write it, with ``triage_*`` columns, to ``output_path``.

    Rows that cannot be scored keep their place with a ``triage_status`` saying why; they, and
    malformed lines of a CSV, are also written to ``errors_path`` (CSV) with their line numbers.
    With ``clusters``, complaints sharing most of their wording are grouped across the file and
    each one's cluster size feeds severity's volume factor; a customer id column gives repeat
    contacts (see :mod:`triage.volume`).
    """
    import pandas as pd

    output_path = Path(output_path)
    if output_path.exists() and not force:
        raise FileExistsError(f"{str(output_path)!r} already exists. Choose another output or pass --force to overwrite it.")
    start = time.perf_counter()
    table = read_table(input_path, fmt=input_format, encoding=encoding, sheet=sheet)
    frame = table.frame
    col = detect_text_column(list(frame.columns), text_col)
    metadata_cols = dict(metadata_cols or {})
    for key, name in metadata_cols.items():
        if key not in METADATA_OPTIONS:
            raise InputFileError(f"Unknown metadata field {key!r}; allowed: {', '.join(METADATA_OPTIONS)}.")
        if name not in frame.columns:
            raise InputFileError(f"There is no column {name!r} for {key}. Available columns: {', '.join(map(str, frame.columns))}.")
    meta_frame = frame[[v for k, v in metadata_cols.items() if k != "id"]]
    metas = [
        dict(zip([k for k in metadata_cols if k != "id"], values)) for values in meta_frame.itertuples(index=False, name=None)
    ]
    texts = [None if (isinstance(v, float) and v != v) else v for v in frame[col].tolist()]
    volume_cols = _volume(pipeline, texts, frame, metadata_cols, metas, clusters)
    results = []
    for s in range(0, len(texts), batch_size):
        chunk = pipeline.score_many(texts[s : s + batch_size], metadata=metas[s : s + batch_size], on_error="mark")
        results.extend(chunk)
        if progress:
            progress(len(chunk))
    labels = list(pipeline.model.labels["categories"])
    out = pd.concat([frame.reset_index(drop=True), pd.DataFrame({**results_to_columns(results, labels), **volume_cols})], axis=1)
    write_table(out, output_path, fmt=output_format, bom=bom)

    summary = BatchSummary(rows=len(results), bad_lines=len(table.bad_lines))
    line_numbers = frame.attrs.get("line_numbers") or [i + 2 for i in range(len(frame))]
    failed = []
    for i, r in enumerate(results):
        summary.by_status[r.status] += 1
        summary.by_level[r.severity.level] += 1
        for c in r.categories:
            summary.by_category[c] += 1
        if not r.scored:
            failed.append({"line": line_numbers[i], "status": r.status, "text": texts[i]})
    for bad in table.bad_lines:
        failed.append({"line": bad["line"], "status": "malformed_line", "text": bad["error"] + ": " + "|".join(bad["fields"])[:500]})
    if errors_path is not None and failed:
        write_table(pd.DataFrame(sorted(failed, key=lambda f: f["line"])), errors_path, fmt="csv", bom=bom)
    summary.seconds = time.perf_counter() - start
    return summary


def _volume(pipeline: TriagePipeline, texts: list, frame, metadata_cols: Mapping[str, str], metas: list[dict], clusters: bool) -> dict[str, list]:
    """Cluster sizes and repeat contacts across the whole batch, added to each row's metadata."""
    from ..volume import cluster_sizes, find_clusters, repeat_contacts

    cols: dict[str, list] = {}
    if clusters:
        normalized = [pipeline.normalize(t) if isinstance(t, str) else None for t in texts]
        words = pipeline.model.features.words
        ids = find_clusters(normalized, pipeline.model.segmenter, is_common=lambda w: words.document_frequency(w) >= 0.0003)
        customers = frame[metadata_cols["customer_id"]].tolist() if "customer_id" in metadata_cols else None
        sizes = cluster_sizes(ids, customers)
        for meta, size in zip(metas, sizes):
            meta["cluster_size"] = size
        members = cluster_sizes(ids)
        cols["triage_cluster"] = [i if n > 1 else None for i, n in zip(ids, members)]
        cols["triage_cluster_size"] = sizes
    if "customer_id" in metadata_cols:
        received = frame[metadata_cols["received_at"]].tolist() if "received_at" in metadata_cols else None
        repeats = repeat_contacts(frame[metadata_cols["customer_id"]].tolist(), received)
        for meta, n in zip(metas, repeats):
            given = meta.get("repeat_contacts")
            try:
                given = int(given) if given is not None and given == given and given != "" else 0
            except (TypeError, ValueError):
                given = 0
            meta["repeat_contacts"] = max(given, n)
        cols["triage_repeat_contacts"] = [m["repeat_contacts"] for m in metas]
    return cols
