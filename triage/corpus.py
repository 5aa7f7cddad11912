"""Labelled data: reading it, checking it against the labelling guide, splitting it.

The columns follow ``LABELING.md``: ``id``, ``text``, ``categories`` (a list, a JSON list or
labels separated by ``|``), ``sentiment``, ``urgency``, ``threat``, ``safety``. Files are JSON
Lines, CSV or Excel, or an in-memory DataFrame.

The train/dev/test split is a function of the id alone (a hash), so it never shifts when rows
are added or reordered.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from .classifiers import CATEGORIES, OTHER, SENTIMENTS, URGENCIES
from .errors import DataError

LABEL_COLUMNS = ("categories", "sentiment", "urgency", "threat", "safety")
SPLITS = {"train": 0.8, "dev": 0.1, "test": 0.1}
_TRUE = {"true", "1", "yes", "y", "是", "t"}
_FALSE = {"false", "0", "no", "n", "否", "f", ""}


def split_of(identifier: str, *, salt: str = "triage") -> str:
    """``"train"``, ``"dev"`` or ``"test"`` from a hash of the id (80/10/10).

    >>> split_of("cosm-0001") in {"train", "dev", "test"}
    True
    """
    h = int(hashlib.sha256(f"{salt}:{identifier}".encode("utf-8")).hexdigest()[:8], 16) / 0xFFFFFFFF
    if h < SPLITS["train"]:
        return "train"
    return "dev" if h < SPLITS["train"] + SPLITS["dev"] else "test"


def read_jsonl(paths: Path | str | Iterable[Path | str]) -> list[dict]:
    """Rows of one or more JSON Lines files (a directory means every ``*.jsonl`` in it)."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    files: list[Path] = []
    for p in map(Path, paths):
        files.extend(sorted(p.glob("*.jsonl")) if p.is_dir() else [p])
    rows: list[dict] = []
    for path in files:
        with path.open(encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise DataError(f"{path}:{lineno} is not valid JSON ({exc.msg}). Fix or remove that line.") from None
    return rows


def _parse_categories(value, row_ref: str) -> list[str]:
    if isinstance(value, str):
        value = value.strip()
        if value.startswith("["):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise DataError(f"{row_ref}: categories {value!r} is not a valid JSON list.") from None
        else:
            value = [v.strip() for v in value.split("|") if v.strip()]
    if not isinstance(value, (list, tuple)) or not value:
        raise DataError(f"{row_ref}: categories must be a non-empty list (or labels separated by '|'), got {value!r}.")
    return [str(v) for v in value]


def _parse_bool(value, name: str, row_ref: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE or text == "nan":
        return False
    raise DataError(f"{row_ref}: {name} must be true or false, got {value!r}.")


def check_labels(
    rows: Sequence[Mapping],
    *,
    categories: Sequence[str] = CATEGORIES,
    required: Sequence[str] = LABEL_COLUMNS,
    where: Sequence[str] | None = None,
) -> list[dict]:
    """Validate and normalize labelled rows; raises :class:`DataError` naming the row and the fix.

    Only the label columns in ``required`` must be present (an analyst may label categories
    only). A custom category set is allowed via ``categories``. ``where`` names each row in errors
    (e.g. "line 12 of labels.csv"); by default, its position.
    """
    allowed = set(categories)
    out: list[dict] = []
    for n, row in enumerate(rows):
        ref = f"{where[n] if where else f'row {n}'} (id {row.get('id', n)!r})"
        text = row.get("text")
        if not isinstance(text, str) or not text.strip():
            raise DataError(f"{ref}: the text is missing or empty. Every labelled row needs a text: give it one, or delete the row.")
        clean: dict = {"id": str(row.get("id", n)), "text": text}
        for col in required:
            if col not in row or row[col] is None:
                raise DataError(f"{ref}: the label column {col!r} is missing. Label it, or leave the column out entirely.")
        if "categories" in required:
            cats = _parse_categories(row["categories"], ref)
            unknown = sorted(set(cats) - allowed)
            if unknown:
                raise DataError(f"{ref}: unknown categories {unknown}; allowed: {', '.join(categories)}.")
            if OTHER in cats and len(cats) > 1:
                raise DataError(f"{ref}: 'other' never stands beside another category (LABELING.md); got {cats}.")
            clean["categories"] = list(dict.fromkeys(cats))
        if "sentiment" in required:
            if row["sentiment"] not in SENTIMENTS:
                raise DataError(f"{ref}: sentiment {row['sentiment']!r} is not one of {', '.join(SENTIMENTS)}.")
            clean["sentiment"] = row["sentiment"]
        if "urgency" in required:
            if row["urgency"] not in URGENCIES:
                raise DataError(f"{ref}: urgency {row['urgency']!r} is not one of {', '.join(URGENCIES)}.")
            clean["urgency"] = row["urgency"]
        for flag in ("threat", "safety"):
            if flag in required:
                clean[flag] = _parse_bool(row[flag], flag, ref)
        out.append(clean)
    return out


def load_labelled(path: str | Path, **kwargs) -> list[dict]:
    """Read and validate a labelled file or directory of ``*.jsonl`` files."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"No labelled data at {str(p)!r}. Pass a .jsonl file or a directory of them.")
    return check_labels(read_jsonl(p), **kwargs)


def split(rows: Sequence[Mapping]) -> dict[str, list[dict]]:
    """Rows grouped by :func:`split_of` their id."""
    out: dict[str, list[dict]] = {name: [] for name in SPLITS}
    for row in rows:
        out[split_of(str(row["id"]))].append(dict(row))
    return out


def data_hash(rows: Sequence[Mapping]) -> str:
    """SHA-256 of the labelled rows (canonical JSON), recorded in the model manifest."""
    digest = hashlib.sha256()
    for row in rows:
        digest.update(json.dumps(row, ensure_ascii=False, sort_keys=True).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()
