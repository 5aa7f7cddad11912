import json

import pandas as pd
from typer.testing import CliRunner

from triage.cli import app

runner = CliRunner()


def _gbk_export(path):
    rows = [
        ("TS001", "2026-11-01 09:00", "买到假货，防伪码查不到，要求退款"),
        ("TS002", "2026-11-02 10:00", "快递员态度恶劣，包裹丢了"),
        ("TS003", "2026-11-03 11:00", ""),
        ("TS004", "2026-11-04 12:00", "=HYPERLINK 客户说链接打不开"),
    ]
    text = "工单号,受理时间,投诉内容\n" + "\n".join(",".join(r) for r in rows) + "\n"
    path.write_bytes(text.encode("gbk"))
    return path


def test_classify_prints_the_json_contract():
    result = runner.invoke(app, ["classify", "买到假货，防伪码查不到"])
    assert result.exit_code == 0, result.output
    assert "counterfeit" in json.loads(result.stdout)["categories"]


def test_score_gbk_csv_keeps_every_row_and_column(tmp_path):
    src = _gbk_export(tmp_path / "export.csv")
    out = tmp_path / "scored.csv"
    errors = tmp_path / "errors.csv"
    result = runner.invoke(app, ["score", str(src), "-o", str(out), "--errors", str(errors), "--received-col", "受理时间"])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")  # BOM for Excel
    df = pd.read_csv(out, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert list(df["工单号"]) == ["TS001", "TS002", "TS003", "TS004"]
    assert list(df.columns[:3]) == ["工单号", "受理时间", "投诉内容"]
    assert df["triage_status"].tolist() == ["ok", "ok", "missing_text", "ok"] or df["triage_status"].tolist()[2] in ("empty_text", "missing_text")
    assert df.loc[3, "投诉内容"].startswith("'=")  # formula injection neutralised
    assert "counterfeit" in df.loc[0, "triage_categories"]
    assert df.loc[0, "triage_respond_by"]
    err = pd.read_csv(errors, encoding="utf-8-sig")
    assert err["line"].tolist() == [4]


def test_score_refuses_to_overwrite(tmp_path):
    src = _gbk_export(tmp_path / "export.csv")
    out = tmp_path / "scored.csv"
    out.write_text("keep me")
    result = runner.invoke(app, ["score", str(src), "-o", str(out)])
    assert result.exit_code == 2 and "--force" in result.output
    assert out.read_text() == "keep me"


def test_score_reports_malformed_lines(tmp_path):
    src = tmp_path / "broken.csv"
    src.write_text("id,投诉内容\n1,快递丢了\n2,太贵了,多余的字段\n3,客服不理人\n", encoding="utf-8")
    out = tmp_path / "o.jsonl"
    errors = tmp_path / "e.csv"
    result = runner.invoke(app, ["score", str(src), "-o", str(out), "--errors", str(errors)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(l) for l in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["1", "3"]
    err = pd.read_csv(errors, encoding="utf-8-sig")
    assert err["line"].tolist() == [3] and err["status"].tolist() == ["malformed_line"]


def test_score_without_a_text_column_lists_the_columns(tmp_path):
    src = tmp_path / "x.csv"
    src.write_text("a,b\n1,2\n", encoding="utf-8")
    result = runner.invoke(app, ["score", str(src), "-o", str(tmp_path / "o.csv")])
    assert result.exit_code == 2 and "Available columns: a, b" in result.output


def test_info_shows_the_manifest():
    result = runner.invoke(app, ["info"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["format_version"] == 1


def test_evaluate_writes_json_and_markdown(tmp_path):
    from tests.conftest import DATA

    out = tmp_path / "report"
    result = runner.invoke(app, ["evaluate", "default", str(DATA / "corpus" / "elec.jsonl"), "--split", "test", "-o", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert {"categories", "sentiment", "urgency", "threat", "safety", "summary"} <= set(report)
    assert "| label | precision |" in (tmp_path / "report.md").read_text(encoding="utf-8")
