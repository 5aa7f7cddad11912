"""Evaluation reports as JSON and Markdown files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping


def report_markdown(report: Mapping[str, Any], title: str = "Evaluation") -> str:
    lines = [f"# {title}", ""]
    if "model_version" in report:
        lines += [f"Model `{report['model_version']}` on `{report.get('data', '?')}` ({report['rows']} rows).", ""]
    summary = report.get("summary", {})
    lines += ["| metric | value |", "|---|---|"] + [f"| {k} | {v} |" for k, v in summary.items() if k != "rows"] + [""]
    for name in ("categories", "sentiment", "urgency"):
        if name not in report:
            continue
        lines += [f"## {name}", "", "| label | precision | recall | F1 | support |", "|---|---|---|---|---|"]
        for label, m in report[name]["per_label"].items():
            lines.append(f"| {label} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {m['support']} |")
        lines.append("")
        if "confusion" in report[name]:
            labels = report[name]["confusion"]["labels"]
            lines += ["Confusion (rows: gold, columns: predicted)", "", "| | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|"]
            for label, row in zip(labels, report[name]["confusion"]["rows_gold_cols_pred"]):
                lines.append(f"| {label} | " + " | ".join(map(str, row)) + " |")
            lines.append("")
    for flag in ("threat", "safety"):
        if flag in report:
            m = report[flag]
            lines.append(f"- {flag}: precision {m['precision']:.3f}, recall {m['recall']:.3f}, F1 {m['f1']:.3f}, support {m['support']}")
    if report.get("worst_errors"):
        lines += ["", "## Worst category errors", "", "| id | text | gold | predicted |", "|---|---|---|---|"]
        for e in report["worst_errors"]:
            text = e["text"].replace("|", "/").replace("\n", " ")
            lines.append(f"| {e['id']} | {text} | {', '.join(e['gold'])} | {', '.join(e['pred'])} |")
    return "\n".join(lines) + "\n"


def write_report(report: Mapping[str, Any], output: str | Path) -> tuple[Path, Path]:
    base = Path(output)
    base = base.with_suffix("") if base.suffix in (".json", ".md") else base
    base.parent.mkdir(parents=True, exist_ok=True)
    json_path, md_path = base.with_suffix(".json"), base.with_suffix(".md")
    json_path.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    md_path.write_text(report_markdown(report), encoding="utf-8")
    return json_path, md_path


def compare_markdown(report: Mapping[str, Any]) -> str:
    a, b = report["a"], report["b"]
    lines = [f"# Comparison on {report['rows']} labelled complaints", "",
             f"A = `{a['model_version']}`, B = `{b['model_version']}`; they disagree on {report['disagreement_rate']:.1%} of the complaints.", "",
             "| metric | A | B |", "|---|---|---|"]
    for key in a["summary"]:
        if key != "rows":
            lines.append(f"| {key} | {a['summary'][key]} | {b['summary'].get(key)} |")
    if "categories" in a:
        lines += ["", "| category | F1 A | F1 B | support |", "|---|---|---|---|"]
        for label, m in a["categories"]["per_label"].items():
            mb = b["categories"]["per_label"].get(label, {})
            lines.append(f"| {label} | {m['f1']:.3f} | {mb.get('f1', float('nan')):.3f} | {m['support']} |")
    if report["disagreements"]:
        lines += ["", "## Where they disagree", "", "| id | text | label | A | B | gold |", "|---|---|---|---|---|---|"]
        for d in report["disagreements"]:
            for f in d["differences"]:
                text = d["text"].replace("|", "/")
                lines.append(f"| {d['id']} | {text} | {f['label']} | {f['a']} | {f['b']} | {f['gold']} |")
    return "\n".join(lines) + "\n"
