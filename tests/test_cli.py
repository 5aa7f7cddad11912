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


def _backlog(path, n=40):
    """A GBK export of n team-corpus complaints, one blank and one malformed line among them."""
    from triage.corpus import load_labelled

    from .conftest import DATA

    # Prefixed, so that they are not the texts the shipped model was trained on (suggest skips those).
    texts = ["客户反映：" + r["text"].replace(",", "，").replace("\n", " ").replace('"', "“") for r in load_labelled(DATA / "corpus")[:n]]
    lines = ["工单号,投诉内容"] + [f"W{i:03d},{t}" for i, t in enumerate(texts)]
    lines.insert(6, "W900,")  # no text
    lines.insert(9, "W901,太贵了,多余的字段")  # one field too many
    path.write_bytes(("\n".join(lines) + "\n").encode("gbk", errors="replace"))
    return path, texts


def test_suggest_writes_a_sheet_that_train_reads_back(tmp_path):
    from triage.pipeline import default_model_path
    from triage.training import base_training_rows, read_labelled

    src, texts = _backlog(tmp_path / "backlog.csv")
    known = next(r["text"] for r in base_training_rows(default_model_path())
                 if not any(c in r["text"] for c in ',"\n\r') and r["text"].encode("gbk", "replace").decode("gbk") == r["text"])
    with src.open("ab") as fh:  # a text the shipped model was trained on: already labelled
        fh.write(f"W902,{known}\n".encode("gbk"))
    out = tmp_path / "to_label.csv"
    result = runner.invoke(app, ["suggest", str(src), "-o", str(out), "-n", "8", "--id-col", "工单号"])
    assert result.exit_code == 0, result.output
    sheet = pd.read_csv(out, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert list(sheet.columns) == ["line", "id", "text", "categories", "sentiment", "urgency", "threat", "safety"]
    assert len(sheet) == 8 and sheet["text"].is_unique and all(sheet["text"].str.strip())
    assert set(sheet["threat"]) <= {"true", "false"} and all(sheet["categories"])
    raw = src.read_bytes().decode("gbk").splitlines()
    for line, ident, text in zip(sheet["line"], sheet["id"], sheet["text"]):
        assert raw[int(line) - 1] == f"{ident},{text}"  # `line` is the row's line in the input
    rows, cats = read_labelled(out)  # the pre-filled sheet is valid training data as it is
    rows_text = {r["text"] for r in rows}
    assert len(rows) == 8 and set(rows[0]) >= {"categories", "sentiment", "urgency", "threat", "safety"}
    blank = tmp_path / "blank.xlsx"
    result = runner.invoke(app, ["suggest", str(src), "-o", str(blank), "-n", "3", "--heads", "category", "--blank"])
    assert result.exit_code == 0, result.output
    sheet = pd.read_excel(blank, dtype=str)
    assert list(sheet.columns) == ["line", "text", "categories"] and sheet["categories"].isna().all()
    again = tmp_path / "round2.csv"  # the next round: nothing labelled before comes back
    result = runner.invoke(app, ["suggest", str(src), "-o", str(again), "-n", "8", "--exclude", str(out), "--exclude", str(blank)])
    assert result.exit_code == 0, result.output
    second = pd.read_csv(again, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    everything = tmp_path / "all.csv"
    result = runner.invoke(app, ["suggest", str(src), "-o", str(everything), "-n", "1000"])
    assert result.exit_code == 0, result.output
    pool = pd.read_csv(everything, encoding="utf-8-sig", dtype=str, keep_default_na=False)["text"]
    assert len(pool) == len(set(texts)) and known not in set(pool)  # not blank, not malformed, not trained on
    assert len(second) == 8 and not set(second["text"]) & (set(sheet["text"]) | set(rows_text))
    result = runner.invoke(app, ["suggest", str(src), "-o", str(tmp_path / "x.csv"), "--heads", "catgory"])
    assert result.exit_code == 2 and "choose from category" in result.output


def test_draft_gives_every_row_a_draft_or_a_reason(tmp_path):
    src, texts = _backlog(tmp_path / "backlog.csv", n=20)
    out = tmp_path / "drafts.csv"
    result = runner.invoke(app, ["draft", str(src), "-o", str(out)])
    assert result.exit_code == 0, result.output
    sheet = pd.read_csv(out, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert len(sheet) == 22  # 20 complaints, the blank row and the malformed line
    assert sheet["line"].astype(int).tolist() == list(range(2, 24))
    errors = dict(zip(sheet["line"].astype(int), sheet["error"]))
    assert errors[7] == "no text" and errors[10].startswith("unreadable line")
    good = sheet[sheet["error"] == ""]
    assert len(good) == 20 and all(good["categories"]) and set(good["sentiment"]) <= {"negative", "neutral", "positive"}
    assert sheet.loc[sheet["line"] == "10", "text"].item() == "W901,太贵了,多余的字段"
    result = runner.invoke(app, ["draft", str(src), "-o", str(out)])
    assert result.exit_code == 2 and "--force" in result.output
    result = runner.invoke(app, ["draft", str(src), "-o", str(tmp_path / "drafts.doc")])
    assert result.exit_code == 2 and ".xlsx" in result.output  # the formats it can write


def test_check_labels_finds_planted_mislabels(tmp_path):
    rows = [
        {"text": "买到假货，防伪码查不到，要求退一赔三", "categories": "counterfeit", "sentiment": "negative"},
        {"text": "快递三天没动静，客服也不回消息，太气人了", "categories": "delivery|service_attitude", "sentiment": "positive"},
        {"text": "衣服洗一次就掉色起球，质量太差了", "categories": "delivery", "sentiment": "negative"},
    ]
    data = tmp_path / "labels.xlsx"
    pd.DataFrame(rows).rename(columns={"text": "内容", "categories": "类别"}).to_excel(data, index=False)
    out = tmp_path / "issues.csv"
    result = runner.invoke(app, ["check-labels", str(data), "-o", str(out), "--text-col", "内容", "--categories-col", "类别"])
    assert result.exit_code == 0, result.output
    found = pd.read_csv(out, encoding="utf-8-sig", dtype=str)
    assert set(zip(found["id"], found["label"])) >= {("1", "sentiment"), ("2", "categories")}
    assert "0" not in set(found["id"])
    assert "2 of 3 rows" in result.output


def test_labelled_file_with_a_malformed_line_is_refused_with_its_line(tmp_path):
    data = tmp_path / "labels.csv"
    data.write_text("text,sentiment\n快递丢了,negative\n太贵了,negative,多余\n客服不理人,negative\n", encoding="utf-8")
    result = runner.invoke(app, ["evaluate", "default", str(data)])
    assert result.exit_code == 2 and "line 3" in result.output
    data.write_text("text,sentiment\n快递丢了,negative\n ,negative\n", encoding="utf-8")
    result = runner.invoke(app, ["evaluate", "default", str(data)])
    assert result.exit_code == 2 and "line 3 of labels.csv" in result.output and "delete the row" in result.output
