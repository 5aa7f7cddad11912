"""Reading exported backlogs and writing scored ones.

Reads CSV/TSV (UTF-8, UTF-8 with BOM, GBK/GB18030 detected, or an explicit encoding), Excel
``.xlsx``, JSON Lines and Parquet; writes the same set. Malformed CSV lines are collected with
their line numbers instead of being dropped silently. Text cells written to CSV or Excel are
neutralised against formula injection.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from ..errors import InputFileError
from ..results import TriageResult

TEXT_COLUMN_CANDIDATES = ("投诉内容", "内容", "问题描述", "描述", "投诉描述", "诉求内容", "text", "complaint", "content", "review")
FORMATS = {".csv": "csv", ".tsv": "tsv", ".txt": "tsv", ".xlsx": "xlsx", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class Table:
    """A read backlog: the rows as a DataFrame plus what could not be read."""

    frame: Any  # pandas.DataFrame, every column as read
    encoding: str | None = None
    bad_lines: list[dict[str, Any]] = field(default_factory=list)  # {"line": n, "fields": [...], "error": ...}


def format_of(path: str | Path, explicit: str | None = None) -> str:
    if explicit:
        if explicit not in set(FORMATS.values()):
            raise InputFileError(f"Unknown format {explicit!r}; choose one of {sorted(set(FORMATS.values()))}.")
        return explicit
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise InputFileError(
            f"Cannot tell the format of {str(path)!r} from its extension {suffix!r}. Use one of "
            f"{', '.join(sorted(FORMATS))} or pass --format."
        )
    return FORMATS[suffix]


def detect_encoding(raw: bytes) -> str:
    """utf-8-sig, utf-8 or gb18030 (a superset of GBK), checked by decoding the whole sample."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    try:
        raw.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        # A sample may end mid-character: accept if only the last few bytes fail.
        if exc.start >= len(raw) - 3 and exc.reason == "unexpected end of data":
            return "utf-8"
    try:
        raw.decode("gb18030")
        return "gb18030"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(raw).best()
    if best is None:
        raise InputFileError("Cannot detect the file's text encoding. Pass it with --encoding (e.g. gb18030, utf-8).")
    return best.encoding


def read_table(path: str | Path, *, fmt: str | None = None, encoding: str | None = None, sheet: str | None = None) -> Table:
    """Read a whole backlog file; every value is kept as read (strings for CSV)."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"Input file {str(path)!r} does not exist.")
    fmt = format_of(path, fmt)
    if fmt in ("csv", "tsv"):
        raw = path.read_bytes()
        enc = encoding or detect_encoding(raw[: 1 << 20])
        try:
            text = raw.decode(enc)
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            raise InputFileError(
                f"{path}: line {line} cannot be decoded as {enc} ({exc.reason}). Pass the right --encoding "
                "(gb18030 for GBK exports, utf-8 otherwise)."
            ) from None
        return _read_delimited(text, "\t" if fmt == "tsv" else ",", enc)
    if fmt == "xlsx":
        frame = pd.read_excel(path, sheet_name=sheet or 0, dtype=object, engine="openpyxl")
        return Table(frame)
    if fmt == "jsonl":
        rows, bad = [], []
        with path.open(encoding=encoding or "utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                    if not isinstance(value, dict):
                        raise ValueError("not a JSON object")
                    rows.append(value)
                except ValueError as exc:
                    bad.append({"line": n, "fields": [line.rstrip("\n")], "error": f"not a JSON object: {exc}"})
        return Table(pd.DataFrame(rows), encoding or "utf-8", bad)
    return Table(pd.read_parquet(path))


def _read_delimited(text: str, sep: str, encoding: str) -> Table:
    import pandas as pd

    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    try:
        header = next(reader)
    except StopIteration:
        raise InputFileError("The file is empty: it has no header line.") from None
    header = [h.strip() for h in header]
    rows, lines, bad = [], [], []
    try:
        for fields in reader:
            line = reader.line_num
            if not fields or fields == [""]:
                continue
            if len(fields) != len(header):
                bad.append({"line": line, "fields": fields, "error": f"{len(fields)} fields, the header has {len(header)}"})
                continue
            rows.append(fields)
            lines.append(line)
    except csv.Error as exc:
        bad.append({"line": reader.line_num, "fields": [], "error": f"broken CSV quoting: {exc}"})
    frame = pd.DataFrame(rows, columns=header, dtype=object)
    frame.attrs["line_numbers"] = lines
    return Table(frame, encoding, bad)


def detect_text_column(columns: Sequence[str], explicit: str | None = None) -> str:
    """The column holding the complaint text: ``explicit``, or the one common header present."""
    cols = [str(c) for c in columns]
    if explicit:
        if explicit not in cols:
            raise InputFileError(f"There is no column {explicit!r}. Available columns: {', '.join(cols)}.")
        return explicit
    matches = [c for c in cols if c.strip().lower() in TEXT_COLUMN_CANDIDATES]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise InputFileError(
            f"Cannot find the complaint text column. Available columns: {', '.join(cols)}. Pass --text-col NAME."
        )
    raise InputFileError(f"Several columns could hold the complaint text ({', '.join(matches)}). Pass --text-col NAME.")


def neutralise_formula(value: Any) -> Any:
    """Prefix a quote to text that a spreadsheet would run as a formula (=, +, -, @)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def results_to_columns(results: Sequence[TriageResult], labels: Sequence[str]) -> dict[str, list[Any]]:
    """The ``triage_*`` columns for a list of results."""
    cols: dict[str, list[Any]] = {name: [] for name in (
        "triage_status", "triage_categories", "triage_primary_category",
        *[f"triage_p_{label}" for label in labels],
        "triage_sentiment", "triage_sentiment_score", "triage_urgency", "triage_threat", "triage_safety",
        "triage_severity", "triage_severity_level", "triage_department", "triage_co_departments",
        "triage_informed", "triage_sla_respond_hours", "triage_sla_resolve_hours", "triage_respond_by",
        "triage_resolve_by", "triage_overdue", "triage_review_tier", "triage_reasons", "triage_model_version",
    )}
    for r in results:
        cols["triage_status"].append(r.status)
        cols["triage_categories"].append("|".join(r.categories))
        cols["triage_primary_category"].append(r.primary_category)
        for label in labels:
            cols[f"triage_p_{label}"].append(r.category_scores.get(label))
        cols["triage_sentiment"].append(r.sentiment.label)
        cols["triage_sentiment_score"].append(r.sentiment.score)
        cols["triage_urgency"].append(r.urgency.level)
        cols["triage_threat"].append(r.flags.threat)
        cols["triage_safety"].append(r.flags.safety)
        cols["triage_severity"].append(r.severity.score)
        cols["triage_severity_level"].append(r.severity.level)
        cols["triage_department"].append(r.routing.department)
        cols["triage_co_departments"].append("|".join(r.routing.co_departments))
        cols["triage_informed"].append("|".join(r.routing.informed))
        cols["triage_sla_respond_hours"].append(r.routing.sla_respond_hours)
        cols["triage_sla_resolve_hours"].append(r.routing.sla_resolve_hours)
        cols["triage_respond_by"].append(r.routing.respond_by)
        cols["triage_resolve_by"].append(r.routing.resolve_by)
        cols["triage_overdue"].append(r.flags.overdue)
        cols["triage_review_tier"].append(r.routing.review_tier)
        cols["triage_reasons"].append(" | ".join(r.reasons))
        cols["triage_model_version"].append(r.model_version)
    return cols


def write_table(frame: Any, path: str | Path, *, fmt: str | None = None, bom: bool = True) -> None:
    """Write atomically: to a temporary file beside ``path``, then rename."""
    path = Path(path)
    fmt = format_of(path, fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        if fmt in ("csv", "tsv", "xlsx"):
            safe = frame.copy()
            for col in safe.columns:
                if safe[col].dtype == object:
                    safe[col] = safe[col].map(neutralise_formula)
            if fmt == "xlsx":
                safe.to_excel(tmp, index=False, engine="openpyxl")
            else:
                safe.to_csv(tmp, index=False, sep="\t" if fmt == "tsv" else ",", encoding="utf-8-sig" if bom else "utf-8")
        elif fmt == "jsonl":
            frame.to_json(tmp, orient="records", lines=True, force_ascii=False)
        else:
            frame.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
