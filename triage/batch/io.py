"""Reading exported backlogs in chunks, and writing scored ones.

Reads CSV/TSV (UTF-8, UTF-8 with BOM, GBK/GB18030 detected, or an explicit encoding), Excel
``.xlsx``, JSON Lines and Parquet, as a stream of :class:`Chunk` objects of at most ``chunksize``
rows, so memory stays bounded whatever the file size. Nothing is dropped silently:

- a CSV line with the wrong number of fields, or a broken quote, is reported with its line
  number (lines swallowed by a quote that never closes are parsed again one by one);
- bytes that do not decode are kept as escapes and the row is marked ``undecodable``;
- a JSON Lines line that is not a JSON object is reported with its line number.

Text cells written to CSV or Excel are neutralised against formula injection (a leading ``'``).
"""

from __future__ import annotations

import codecs
import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from ..errors import InputFileError

# Headers that hold the complaint text, in two tiers: the second is looked at only when no header
# of the first is present (a backlog with 投诉内容 and a 评价 rating column means 投诉内容).
TEXT_COLUMN_CANDIDATES = ("投诉内容", "内容", "问题描述", "描述", "投诉描述", "诉求内容", "text", "complaint", "content", "review")
TEXT_COLUMN_FALLBACKS = ("投诉详情", "详情", "反馈内容", "留言", "留言内容", "评论", "评价", "评价内容", "reviews", "comment",
                         "comments", "desc", "description")
FORMATS = {".csv": "csv", ".tsv": "tsv", ".txt": "tsv", ".xlsx": "xlsx", ".xls": "xls", ".jsonl": "jsonl", ".ndjson": "jsonl",
           ".parquet": "parquet"}
READ_ONLY_FORMATS = frozenset({"xls"})  # Excel 97-2003, which many complaint systems still export
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
csv.field_size_limit(64 * 1024 * 1024)


@dataclass
class Chunk:
    """Rows of a backlog read together: the frame (every column as read), the input line
    number of each row, and the lines that could not be read as rows."""

    frame: Any  # pandas.DataFrame
    lines: list[int]
    bad_lines: list[dict[str, Any]] = field(default_factory=list)  # {"line", "error", "raw"}
    undecodable: list[bool] | None = None  # per row: a cell held bytes that did not decode


def format_of(path: str | Path, explicit: str | None = None, *, write: bool = False) -> str:
    """The format of a file, from ``explicit`` or the extension. ``write``: the file is an output,
    and old Excel (.xls), which can only be read, is refused."""
    if explicit:
        if explicit not in set(FORMATS.values()):
            raise InputFileError(f"Unknown format {explicit!r}; choose one of {sorted(set(FORMATS.values()))}.")
        fmt = explicit
    else:
        suffix = Path(path).suffix.lower()
        if suffix not in FORMATS:
            raise InputFileError(
                f"Cannot tell the format of {str(path)!r} from its extension {suffix!r}. Use one of "
                f"{', '.join(sorted(FORMATS))} or pass --format."
            )
        fmt = FORMATS[suffix]
    if write and fmt in READ_ONLY_FORMATS:
        raise InputFileError(f"{str(path)!r}: old Excel files (.xls) can be read but not written. Write .xlsx instead.")
    return fmt


def _decoded(raw: bytes, encoding: str) -> str | None:
    try:
        return codecs.getincrementaldecoder(encoding)().decode(raw, final=False)
    except UnicodeDecodeError:
        return None


def _common_share(text: str) -> float:
    """The share of the Chinese characters of ``text`` that are among the 3,755 most common
    (GB2312 level 1, after conversion to simplified): high for text decoded right, low for the
    rare characters that bytes of another encoding decode into."""
    from ..normalize import to_simplified

    cjk = [c for c in text if "\u4e00" <= c <= "\u9fff"]
    if not cjk:
        return 0.0
    common = 0
    for c in to_simplified("".join(cjk)):
        try:
            b = c.encode("gb2312")
        except UnicodeEncodeError:
            continue
        common += 0xB0 <= b[0] <= 0xD7
    return common / len(cjk)


def detect_encoding(raw: bytes) -> str:
    """utf-8-sig, utf-8, gb18030 (a superset of GBK) or cp950 (Big5, traditional exports), checked
    by decoding a sample. Big5 bytes also decode as GB18030, into rare characters, so when both
    decode, the one giving more common characters wins; real GBK text almost never decodes as Big5."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if _decoded(raw, "utf-8") is not None:
        return "utf-8"
    gb, big5 = _decoded(raw, "gb18030"), _decoded(raw, "cp950")
    if gb is not None and big5 is not None:
        return "cp950" if _common_share(big5) > _common_share(gb) else "gb18030"
    if gb is not None:
        return "gb18030"
    if big5 is not None:
        return "cp950"
    from charset_normalizer import from_bytes

    best = from_bytes(raw).best()
    if best is None:
        raise InputFileError("Cannot detect the file's text encoding. Pass it with --encoding (e.g. gb18030, utf-8).")
    return best.encoding


def _check_encoding(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise InputFileError(f"Unknown encoding {encoding!r}. Use e.g. utf-8, utf-8-sig, gb18030 or gbk.") from None


_ESCAPE_RE = re.compile("[\udc80-\udcff]")  # bytes that did not decode, kept by surrogateescape


def _has_escape(value: Any) -> bool:
    return isinstance(value, str) and _ESCAPE_RE.search(value) is not None


class _LineTap:
    """Feeds lines to csv.reader and remembers the raw lines of the current record."""

    def __init__(self, lines: Iterator[str]):
        self._lines = lines
        self.taken: list[str] = []
        self.line_no = 0

    def __iter__(self) -> "_LineTap":
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.line_no += 1
        self.taken.append(line)
        return line

    def take(self) -> list[str]:
        taken, self.taken = self.taken, []
        return taken


def _closes_mid_line(line: str, sep: str) -> bool:
    """Whether the quote that closes a multi-line cell on ``line`` is followed by a separator
    (「…违规",3」: the row goes on with its other fields) rather than ending the line."""
    i = 0
    while True:
        i = line.find('"', i)
        if i < 0:
            return False
        if line[i + 1:i + 2] == '"':  # an escaped quote inside the cell
            i += 2
            continue
        return line[i + 1:i + 2] == sep


def _looks_broken(raw: list[str], n_fields: int, n_header: int, sep: str) -> bool:
    """Whether a record read over several lines is a quote that never closed, rather than a
    legitimate multi-line cell: wrong field count, an odd number of quotes (it ran to the end of
    the file), or lines between the opening and the closing line that are complete rows by
    themselves while the closing quote ends its line (a stray quote closed by a later row's quote).
    A cell closed mid-line and followed by the row's other fields (「…违规",3」) is legitimate
    even when its inner lines, holding a comma, would parse as rows."""
    if n_fields != n_header or "".join(raw).count('"') % 2 == 1:
        return True
    rest = [line for line in raw[1:-1] if line.strip()]
    if not rest or n_header < 2 or _closes_mid_line(raw[-1], sep):
        return False
    try:
        return all(len(next(csv.reader([line], delimiter=sep))) == n_header for line in rest)
    except (csv.Error, StopIteration):
        return False


def _iter_delimited(path: Path, sep: str, encoding: str | None, chunksize: int) -> Iterator[Chunk]:
    import pandas as pd

    with path.open("rb") as fh:
        sample = fh.read(1 << 20)
    enc = _check_encoding(encoding) if encoding else detect_encoding(sample)
    with path.open("r", encoding=enc, errors="surrogateescape", newline="") as fh:
        tap = _LineTap(iter(fh))
        reader = csv.reader(tap, delimiter=sep)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise InputFileError(f"{path} is empty: it has no header line.") from None
        tap.take()
        if len(set(header)) != len(header):
            raise InputFileError(f"{path}: the header has repeated column names: {header}. Rename them and try again.")
        rows: list[list[str]] = []
        lines: list[int] = []
        bad: list[dict[str, Any]] = []

        def emit() -> Chunk:
            # Undecodable bytes were kept as escapes: flag the row, show them as U+FFFD.
            flags = [any(_has_escape(v) for v in row) for row in rows]
            clean = [[clean_for_output(v) for v in row] if flag else row for row, flag in zip(rows, flags)]
            frame = pd.DataFrame(clean, columns=header, dtype=object)
            for b in bad:
                b["raw"] = clean_for_output(b["raw"])
            return Chunk(frame, list(lines), list(bad), flags)

        def add(fields: list[str], line: int, raw: str) -> None:
            if not fields or (fields == [""] and not raw.strip()):
                return  # a blank line is not a row; `""` (an empty value of a one-column file) is
            if len(fields) != len(header):
                bad.append({"line": line, "error": f"{len(fields)} fields, the header has {len(header)}", "raw": raw})
                return
            rows.append(fields)
            lines.append(line)

        while True:
            try:
                fields = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:  # e.g. a NUL byte
                raw = tap.take()
                bad.append({"line": tap.line_no - len(raw) + 1, "error": f"unreadable CSV: {exc}", "raw": "".join(raw)[:1000]})
                continue
            raw = tap.take()
            first = tap.line_no - len(raw) + 1
            if len(raw) > 1 and _looks_broken(raw, len(fields), len(header), sep):
                # A quote that never closed swallowed the following lines: report the first,
                # read the others again one by one so that no row is merged or lost.
                bad.append({"line": first, "error": "broken quotes (the field's quote never closes)", "raw": raw[0][:1000]})
                for offset, line_text in enumerate(raw[1:], 1):
                    try:
                        again = next(csv.reader([line_text], delimiter=sep))
                    except (csv.Error, StopIteration):
                        again = []
                    add(again, first + offset, line_text)
            else:
                add(fields, first, "".join(raw))
            if len(rows) >= chunksize:
                yield emit()
                rows, lines, bad = [], [], []
        if rows or bad:
            yield emit()


def _iter_jsonl(path: Path, encoding: str | None, chunksize: int) -> Iterator[Chunk]:
    import pandas as pd

    rows, lines, bad, flags = [], [], [], []

    def emit() -> Chunk:
        return Chunk(pd.DataFrame(rows), lines, bad, flags)

    with path.open(encoding=encoding or "utf-8", errors="surrogateescape") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
                if not isinstance(value, dict):
                    raise ValueError("not a JSON object")
                broken = any(_has_escape(v) for v in value.values())
                rows.append({k: clean_for_output(v) for k, v in value.items()} if broken else value)
                lines.append(n)
                flags.append(broken)
            except ValueError as exc:
                bad.append({"line": n, "error": f"not a JSON object ({exc})", "raw": clean_for_output(line.rstrip("\n"))[:1000]})
            if len(rows) >= chunksize:
                yield emit()
                rows, lines, bad, flags = [], [], [], []
    if rows or bad:
        yield emit()


def _iter_xlsx(path: Path, sheet: str | None, chunksize: int) -> Iterator[Chunk]:
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        if sheet is not None and sheet not in wb.sheetnames:
            raise InputFileError(f"{path} has no sheet {sheet!r}. Sheets: {', '.join(wb.sheetnames)}.")
        ws = wb[sheet] if sheet is not None else wb.worksheets[0]
        rows_iter = ws.iter_rows(values_only=True)
        try:
            header = [str(h).strip() if h is not None else f"column_{i + 1}" for i, h in enumerate(next(rows_iter))]
        except StopIteration:
            raise InputFileError(f"The sheet {ws.title!r} of {path} is empty.") from None
        yield from _sheet_chunks(header, enumerate(rows_iter, 2), chunksize)
    finally:
        wb.close()


def _sheet_chunks(header: list[str], numbered: Iterable[tuple[int, Any]], chunksize: int) -> Iterator[Chunk]:
    """Chunks of spreadsheet rows given as (row number, cell values): empty rows skipped, cells cut
    or padded to the header."""
    import pandas as pd

    rows, lines = [], []
    for n, values in numbered:
        if values is None or all(v is None or v == "" for v in values):
            continue
        rows.append(list(values)[: len(header)] + [None] * (len(header) - len(values)))
        lines.append(n)
        if len(rows) >= chunksize:
            yield Chunk(pd.DataFrame(rows, columns=header, dtype=object), lines)
            rows, lines = [], []
    if rows:
        yield Chunk(pd.DataFrame(rows, columns=header, dtype=object), lines)


def _xls_value(cell: Any, datemode: int) -> Any:
    import xlrd

    if cell.ctype == xlrd.XL_CELL_EMPTY or cell.ctype == xlrd.XL_CELL_BLANK:
        return None
    if cell.ctype == xlrd.XL_CELL_DATE:
        return xlrd.xldate_as_datetime(cell.value, datemode)
    if cell.ctype == xlrd.XL_CELL_NUMBER and float(cell.value).is_integer():
        return int(cell.value)  # .xls keeps every number as a float: a ticket number is not 20261020064.0
    if cell.ctype == xlrd.XL_CELL_BOOLEAN:
        return bool(cell.value)
    if cell.ctype == xlrd.XL_CELL_ERROR:
        return xlrd.error_text_from_code.get(cell.value, "#ERROR")
    return cell.value


def _iter_xls(path: Path, sheet: str | None, chunksize: int) -> Iterator[Chunk]:
    """Old Excel (.xls, Excel 97-2003) with xlrd; the same rows and line numbers as .xlsx."""
    try:
        import xlrd
    except ImportError:
        raise InputFileError("Reading .xls needs xlrd: pip install 'triage[batch]' (or pip install xlrd), or save the file as .xlsx.") from None
    try:
        book = xlrd.open_workbook(path, on_demand=True)
    except xlrd.XLRDError as exc:
        raise InputFileError(f"{path} cannot be read as an .xls file ({exc}). Open it in Excel and save it as .xlsx.") from None
    try:
        names = book.sheet_names()
        if sheet is not None and sheet not in names:
            raise InputFileError(f"{path} has no sheet {sheet!r}. Sheets: {', '.join(names)}.")
        ws = book.sheet_by_name(sheet) if sheet is not None else book.sheet_by_index(0)
        if ws.nrows == 0:
            raise InputFileError(f"The sheet {ws.name!r} of {path} is empty.")
        header = [str(v).strip() if v not in (None, "") else f"column_{i + 1}"
                  for i, v in enumerate(_xls_value(c, book.datemode) for c in ws.row(0))]
        numbered = ((r + 1, [_xls_value(c, book.datemode) for c in ws.row(r)]) for r in range(1, ws.nrows))
        yield from _sheet_chunks(header, numbered, chunksize)
    finally:
        book.release_resources()


def _iter_parquet(path: Path, chunksize: int) -> Iterator[Chunk]:
    import pyarrow.parquet as pq

    start = 1
    for batch in pq.ParquetFile(path).iter_batches(batch_size=chunksize):
        frame = batch.to_pandas()
        yield Chunk(frame, list(range(start, start + len(frame))))
        start += len(frame)


def iter_chunks(
    path: str | Path, *, fmt: str | None = None, encoding: str | None = None, sheet: str | None = None, chunksize: int = 10000
) -> Iterator[Chunk]:
    """The rows of a backlog file, ``chunksize`` at a time. Line numbers are 1-based input
    lines (CSV, JSON Lines), spreadsheet rows (Excel, header = 1) or row positions (Parquet)."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"Input file {str(path)!r} does not exist.")
    fmt = format_of(path, fmt)
    if chunksize < 1:
        raise InputFileError(f"--chunksize must be at least 1, got {chunksize}.")
    if fmt in ("csv", "tsv"):
        return _iter_delimited(path, "\t" if fmt == "tsv" else ",", encoding, chunksize)
    if fmt == "jsonl":
        return _iter_jsonl(path, encoding, chunksize)
    if fmt == "xlsx":
        return _iter_xlsx(path, sheet, chunksize)
    if fmt == "xls":
        return _iter_xls(path, sheet, chunksize)
    return _iter_parquet(path, chunksize)


def read_table(path: str | Path, *, fmt: str | None = None, encoding: str | None = None, sheet: str | None = None) -> Chunk:
    """A whole (small) file as one :class:`Chunk`: every row read, their input line numbers, and the
    lines that could not be read as rows. For labelling sheets; backlogs go through :func:`iter_chunks`."""
    import pandas as pd

    chunks = list(iter_chunks(path, fmt=fmt, encoding=encoding, sheet=sheet, chunksize=100_000))
    frames = [c.frame for c in chunks]
    return Chunk(
        pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(),
        [line for c in chunks for line in c.lines],
        [bad for c in chunks for bad in c.bad_lines],
    )


def detect_text_column(columns: Sequence[str], explicit: str | None = None) -> str:
    """The column holding the complaint text: ``explicit``, or the one common header present."""
    cols = [str(c) for c in columns]
    if explicit:
        if explicit not in cols:
            raise InputFileError(f"There is no column {explicit!r}. Available columns: {', '.join(cols)}.")
        return explicit
    from ..normalize import to_simplified

    keys = {c: to_simplified(c.strip().lower()) for c in cols}  # 投訴內容 is 投诉内容
    matches = [c for c in cols if keys[c] in TEXT_COLUMN_CANDIDATES]
    if not matches:
        matches = [c for c in cols if keys[c] in TEXT_COLUMN_FALLBACKS]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise InputFileError(f"Cannot find the complaint text column. Available columns: {', '.join(cols)}. Pass --text-col NAME.")
    raise InputFileError(f"Several columns could hold the complaint text ({', '.join(matches)}). Pass --text-col NAME.")


def neutralise_formula(value: Any) -> Any:
    """Prefix a quote to text that a spreadsheet would run as a formula (=, +, -, @)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _neutralise_series(values: Any) -> Any:
    """:func:`neutralise_formula` over a column, vectorized (only strings are touched)."""
    starts = values.str.match(r"[=+\-@\t\r]", na=False).astype(bool)
    if not starts.any():
        return values
    values = values.copy()
    values[starts] = "'" + values[starts].astype(str)
    return values


def clean_for_output(value: Any) -> Any:
    """Undecodable bytes kept as escapes become U+FFFD, so every output format can hold them."""
    if isinstance(value, str) and _has_escape(value):
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return value


_NUMERIC_TRIAGE = ("triage_p_", "triage_sentiment_score", "triage_severity", "triage_sla_", "triage_cluster", "triage_repeat_contacts")


def _arrow_table(frame: Any, added: Mapping[str, Sequence[Any]] | None = None):
    """An Arrow table whose column types do not depend on the chunk's values (so every chunk of
    a file has the same schema): text -> string, flags -> bool, scores and counts -> float64.
    ``added``: more columns, as lists, after the frame's own (no combined frame is built)."""
    import pyarrow as pa

    names = [str(c) for c in frame.columns]
    arrays = [_arrow_column(name, frame[col]) for name, col in zip(names, frame.columns)]
    for name, values in (added or {}).items():
        names.append(name)
        arrays.append(_arrow_column(name, values))
    return pa.Table.from_arrays(arrays, names=names)


_BOOL_TRIAGE = ("triage_threat", "triage_safety", "triage_overdue")


def _arrow_column(name: str, values: Any):
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    numeric_name = name.startswith(_NUMERIC_TRIAGE) and name not in ("triage_severity_level", "triage_severity_factors")
    if isinstance(values, list):  # a triage column: its type follows from its name
        try:
            if name in _BOOL_TRIAGE:
                return pa.array(values, type=pa.bool_())
            if numeric_name:
                return pa.array(values, type=pa.float64(), from_pandas=True)
            return pa.array(values, type=pa.string(), from_pandas=True)
        except (pa.ArrowTypeError, pa.ArrowInvalid):
            values = pd.Series(values, dtype=object)
    if name in _BOOL_TRIAGE or pd.api.types.is_bool_dtype(values):
        return pa.array(values.tolist(), type=pa.bool_())
    if numeric_name or (pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)):
        return pa.array(pd.to_numeric(values, errors="coerce").astype(np.float64), type=pa.float64())
    try:  # text with missing values: converted by pyarrow itself
        return pa.array(values, type=pa.string(), from_pandas=True)
    except (pa.ArrowTypeError, pa.ArrowInvalid):  # mixed values: each as its str()
        return pa.array([None if v is None or (isinstance(v, float) and v != v) else str(v) for v in values.tolist()], type=pa.string())


def _prepared(frame: Any, neutralise: bool) -> Any:
    """A copy with text columns as Python objects, neutralised against formula injection."""
    import pandas as pd

    frame = frame.copy()
    for col in frame.columns:
        if frame[col].dtype == object or pd.api.types.is_string_dtype(frame[col]):
            frame[col] = frame[col].astype(object)
            if neutralise:
                frame[col] = _neutralise_series(frame[col])
    return frame


def encode_frame(frame: Any, fmt: str, *, neutralise: bool = True) -> str:
    """A chunk as the text of a CSV/TSV (no header) or JSON Lines file.

    Worker processes encode their own chunks, so that the parent only appends text (sending a
    string back is much cheaper than a frame of many string columns). ``neutralise`` applies to
    CSV/TSV only (JSON Lines is not opened by spreadsheets). CSV text is what
    ``DataFrame.to_csv`` writes (the same ``csv`` module underneath; a test pins the equality),
    from plain lists, which is faster than pandas' own formatting.
    """
    if fmt == "jsonl":
        if not len(frame):
            return ""
        text = _prepared(frame, False).to_json(orient="records", lines=True, force_ascii=False)
        return text if text.endswith("\n") else text + "\n"
    if fmt not in ("csv", "tsv"):
        raise ValueError(f"encode_frame writes csv, tsv or jsonl, not {fmt!r}.")
    return encode_columns(frame, {}, fmt, neutralise=neutralise)


def encode_columns(frame: Any, added: Mapping[str, Sequence[Any]], fmt: str, *, neutralise: bool = True) -> str:
    """:func:`encode_frame` of ``frame`` with the columns ``added`` (lists) after its own, without
    building the combined frame (CSV/TSV)."""
    import csv
    import io

    columns = [_csv_values(frame[c], neutralise) for c in frame.columns]
    columns += [_plain_cells(values, neutralise) for values in added.values()]
    buf = io.StringIO()
    csv.writer(buf, delimiter="\t" if fmt == "tsv" else ",", lineterminator="\n").writerows(zip(*columns))
    return buf.getvalue()


def _plain_cells(values: Sequence[Any], neutralise: bool) -> list[Any]:
    """Cells of a list as to_csv writes an object column: missing values empty, formulas neutralised."""
    import pandas as pd

    out = []
    for v in values:
        if isinstance(v, str):
            if neutralise and v.startswith(_FORMULA_START):
                v = "'" + v
        elif v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and v != v):
            v = None
        out.append(v)
    return out


def _csv_values(series: Any, neutralise: bool) -> list[Any]:
    """A column's cells as to_csv writes them: missing values empty, formulas neutralised."""
    import pandas as pd

    kind = series.dtype.kind
    if kind in "iub" and not series.hasnans:
        return series.tolist()
    if kind == "f" and type(series.dtype).__module__ == "numpy":
        return [None if v != v else v for v in series.tolist()]
    if kind in "mM":
        return [None if v is pd.NaT or v is None else str(v) for v in series.astype(object).tolist()]
    return _plain_cells(series.tolist(), neutralise)


EXCEL_CELL_LIMIT = 32767  # characters; openpyxl cuts longer text


def _excel_cell(value: Any, illegal: re.Pattern[str]) -> Any:
    """A value as an Excel cell takes it: NaN empty, and the control characters a worksheet cannot
    hold (``illegal``: U+0000-U+001F but tab, newline and carriage return; real reviews have them)
    removed, where openpyxl would refuse the whole file."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, str):
        return illegal.sub("", value)
    return value


class TableWriter:
    """Append chunks to one output file of any supported format (CSV/TSV, JSON Lines, Parquet,
    Excel), in a temporary location; :meth:`close` finishes the file."""

    def __init__(self, path: Path, fmt: str, *, bom: bool = True, neutralise: bool = True, append: bool = False):
        """``append``: continue a CSV/TSV/JSON Lines file whose header (and BOM) is already written."""
        if append and fmt not in ("csv", "tsv", "jsonl"):
            raise ValueError(f"Only CSV, TSV and JSON Lines files can be appended to, not {fmt}.")
        self.append = append
        self.path = Path(path)
        self.fmt = fmt
        self.bom = bom
        self.neutralise = neutralise and fmt in ("csv", "tsv", "xlsx")
        self._fh: Any = None
        self._parquet: Any = None
        self._book: Any = None
        self._sheet: Any = None
        self._columns: list[str] | None = None
        self.truncated_cells = 0  # Excel cells cut to EXCEL_CELL_LIMIT characters

    def write(self, frame: Any) -> None:
        if self._columns is None:
            self._columns = [str(c) for c in frame.columns]
        if self.fmt in ("csv", "tsv", "jsonl"):
            self.write_encoded(encode_frame(frame, self.fmt, neutralise=self.neutralise), self._columns)
            return
        frame = _prepared(frame, self.neutralise)
        if self.fmt == "parquet":
            import pyarrow.parquet as pq

            table = _arrow_table(frame)
            if self._parquet is None:
                self._schema = table.schema
                self._parquet = pq.ParquetWriter(self.path, self._schema)
            self._parquet.write_table(table.cast(self._schema))
        else:  # xlsx
            if self._book is None:
                import openpyxl

                self._book = openpyxl.Workbook(write_only=True)
                self._sheet = self._book.create_sheet("triage")
                self._sheet.append(self._columns)
            from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

            for row in frame.itertuples(index=False, name=None):
                cells = [_excel_cell(v, ILLEGAL_CHARACTERS_RE) for v in row]
                self.truncated_cells += sum(isinstance(v, str) and len(v) > EXCEL_CELL_LIMIT for v in cells)
                self._sheet.append(cells)

    def write_encoded(self, text: str, columns: Sequence[str]) -> None:
        """Append a chunk already encoded by :func:`encode_frame` (CSV/TSV/JSON Lines), e.g. by a
        worker process; the header is written before the first chunk of a new file."""
        if self._fh is None:
            new = not self.append
            encoding = "utf-8-sig" if (self.bom and new and self.fmt != "jsonl") else "utf-8"
            self._fh = self.path.open("w" if new else "a", encoding=encoding, newline="")
            if new and self.fmt in ("csv", "tsv"):
                import pandas as pd

                self._fh.write(pd.DataFrame(columns=list(columns)).to_csv(index=False, sep="\t" if self.fmt == "tsv" else ","))
        self._fh.write(text)

    def flush(self) -> None:
        if self._fh is not None:
            self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
        if self._parquet is not None:
            self._parquet.close()
        if self._book is not None:
            self._book.save(self.path)
        if self._fh is None and self._parquet is None and self._book is None:
            self.path.touch()
