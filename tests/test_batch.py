"""Batch scoring of real-looking exports: encodings, Excel, broken lines, resume, jobs, Dask."""

import json

import pandas as pd
import pytest

from tests.conftest import DATA
from triage.batch.io import detect_encoding, iter_chunks
from triage.batch.score import result_columns, score_file
from triage.errors import InputFileError

NOW = "2026-11-22T09:00:00+08:00"
META = {"received_at": "受理时间", "customer_tier": "客户等级", "channel": "渠道", "customer_id": "客户ID"}


def _read(path):
    if str(path).endswith(".csv"):
        return pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    if str(path).endswith(".xlsx"):
        return pd.read_excel(path, dtype=str).fillna("")
    if str(path).endswith(".parquet"):
        return pd.read_parquet(path).astype(str)
    return pd.read_json(path, lines=True, dtype=False).astype(str)


@pytest.fixture(scope="module")
def backlog(tmp_path_factory):
    """The example backlog as a GB18030/GBK CSV without BOM and with a Chinese header."""
    rows = [json.loads(l) for l in (DATA / "examples" / "backlog_source.jsonl").read_text(encoding="utf-8").splitlines()]
    path = tmp_path_factory.mktemp("in") / "export.csv"
    pd.DataFrame(rows).to_csv(path, index=False, encoding="gb18030")
    return path


def test_gbk_export_is_detected_and_every_row_kept(pipe, backlog, tmp_path):
    assert not backlog.read_bytes().startswith(b"\xef\xbb\xbf")
    assert detect_encoding(backlog.read_bytes()[:4096]) == "gb18030"
    out, errors = tmp_path / "scored.csv", tmp_path / "errors.csv"
    summary = score_file(pipe, backlog, out, metadata_cols=META, errors_path=errors, now=NOW, chunksize=37)
    src = pd.read_csv(backlog, encoding="gb18030", dtype=str, keep_default_na=False)
    got = _read(out)
    assert summary.rows == len(src) == len(got) == 120
    assert list(got.columns[: len(src.columns)]) == list(src.columns)
    assert got["工单号"].tolist() == src["工单号"].tolist()
    assert all(c.startswith("triage_") for c in got.columns[len(src.columns):])
    assert set(got["triage_status"]) <= {"ok", "empty_text", "no_chinese_text"}
    err = _read(errors)
    assert sorted(err["status"]) == ["empty_text", "empty_text", "no_chinese_text"]
    # the same-issue cluster planted in the example backlog (a face cream batch) is found
    assert int(got["triage_cluster_size"].astype(int).max()) >= 5
    assert (got.loc[got["投诉内容"].str.startswith("'="), "投诉内容"]).size == 1  # formula neutralised


def test_excel_in_and_out(pipe, backlog, tmp_path):
    src = pd.read_csv(backlog, encoding="gb18030", dtype=str, keep_default_na=False)
    xlsx = tmp_path / "export.xlsx"
    with pd.ExcelWriter(xlsx) as w:
        pd.DataFrame({"说明": ["ignore"]}).to_excel(w, sheet_name="说明", index=False)
        src.head(25).to_excel(w, sheet_name="投诉", index=False)
    with pytest.raises(InputFileError, match="Sheets: 说明, 投诉"):
        score_file(pipe, xlsx, tmp_path / "x.csv", sheet="nope")
    out = tmp_path / "scored.xlsx"
    score_file(pipe, xlsx, out, sheet="投诉", now=NOW)
    got = _read(out)
    assert got["工单号"].tolist() == src["工单号"].head(25).tolist()
    assert (got["triage_status"] == "ok").sum() >= 23


def test_control_characters_do_not_stop_an_excel_output(pipe, tmp_path):
    # Real reviews carry control characters (a backspace in waimai_10k) that a worksheet cannot hold.
    src = tmp_path / "ctrl.csv"
    src.write_text("id,内容\n1,味道一般\x08就这样\n2,快递丢了\x1b\n", encoding="utf-8")
    out = tmp_path / "scored.xlsx"
    score_file(pipe, src, out)
    got = _read(out)
    assert got["内容"].tolist() == ["味道一般就这样", "快递丢了"] and (got["triage_status"] == "ok").all()


def test_cells_too_long_for_excel_are_counted(pipe, tmp_path):
    src = tmp_path / "long.csv"
    pd.DataFrame({"内容": ["快递丢了" * 10_000, "客服不理人"]}).to_csv(src, index=False)
    summary = score_file(pipe, src, tmp_path / "out.xlsx")
    assert summary.truncated_cells == 1 and summary.to_dict()["truncated_cells"] == 1
    assert score_file(pipe, src, tmp_path / "out.csv").truncated_cells == 0  # CSV keeps it whole


def test_broken_lines_and_empty_texts_are_reported_never_lost(pipe, tmp_path):
    src = tmp_path / "broken.csv"
    src.write_bytes(
        "id,投诉内容\n"
        "1,快递丢了没人管\n"
        "2,太贵了,多出来的字段\n"
        '3,"引号没有闭合，客服不理人\n'
        "4,买到假货\n"
        "5,\n"
        "6,手机屏幕坏了\n".encode("utf-8")
        + "7,".encode() + b"\xff\xfe bad bytes \xe5\x81\x87\xe8\xb4\xa7\n"
    )
    out, errors = tmp_path / "o.jsonl", tmp_path / "e.csv"
    summary = score_file(pipe, src, out, errors_path=errors, encoding="utf-8")
    rows = _read(out)
    assert rows["id"].tolist() == ["1", "4", "5", "6", "7"]
    assert rows.set_index("id").loc["5", "triage_status"] == "empty_text"
    assert rows.set_index("id").loc["7", "triage_status"] == "undecodable"
    err = _read(errors).sort_values("line")
    assert err["line"].astype(int).tolist() == [3, 4, 6, 8]
    assert err["status"].tolist() == ["malformed_line", "malformed_line", "empty_text", "undecodable"]
    assert summary.bad_lines == 2


def test_one_column_file_keeps_its_empty_rows(pipe, tmp_path):
    # pandas writes an empty value of a one-column file as `""`: a row, unlike a blank line.
    src = tmp_path / "one.csv"
    pd.DataFrame({"内容": ["快递丢了", "", "很好！", None, "客服不理人"]}).to_csv(src, index=False)
    src.write_text(src.read_text(encoding="utf-8") + "\n", encoding="utf-8")  # and a blank line at the end
    out = tmp_path / "o.csv"
    score_file(pipe, src, out)
    rows = _read(out)
    assert len(rows) == len(pd.read_csv(src)) == 5
    assert rows["triage_status"].tolist()[1] in ("empty_text", "missing_text") and rows["内容"].tolist()[2] == "很好！"


def test_multi_line_cells_and_stray_quotes(tmp_path):
    src = tmp_path / "heimao_like.csv"
    src.write_text(
        "text,label\n"
        "扣款不通知,3\n"
        '"浦发银行\n在没有通知的情况下,每月扣费20元，\n每个月都混在账单里,才发现",3\n'  # one cell over three lines
        "协商还款被拒,0\n"
        '"他说""马上处理""，\n结果没人管",4\n'
        '5,"引号没有闭合\n6,正常的一行\n7,结尾有引号"\n',  # a stray quote closed by a later row's quote
        encoding="utf-8",
    )
    chunk = next(iter(iter_chunks(src)))
    texts = chunk.frame["text"].tolist()
    assert texts[:4] == ["扣款不通知", "浦发银行\n在没有通知的情况下,每月扣费20元，\n每个月都混在账单里,才发现", "协商还款被拒",
                         '他说"马上处理"，\n结果没人管']
    assert chunk.lines[:4] == [2, 3, 6, 7]
    assert [b["line"] for b in chunk.bad_lines] == [9] and texts[4:] == ["6", "7"]  # the rows after it are kept


@pytest.mark.shared
def test_real_exports_read_exactly_as_pandas_reads_them():
    from tests.conftest import SHARED
    from triage.batch.io import read_table

    for name in ("heimao_finance/train.csv", "heimao_finance/dev.csv", "car_complaints.csv"):
        ours = read_table(SHARED / name)
        theirs = pd.read_csv(SHARED / name, dtype=str, keep_default_na=False)
        assert not ours.bad_lines, name
        assert ours.frame.astype(str).values.tolist() == theirs.values.tolist(), name


def test_resume_gives_the_same_output_as_an_uninterrupted_run(pipe, backlog, tmp_path):
    full = tmp_path / "full.csv"
    score_file(pipe, backlog, full, metadata_cols=META, now=NOW, chunksize=25)
    part = tmp_path / "resumed.csv"
    with pytest.raises(KeyboardInterrupt):
        score_file(pipe, backlog, part, metadata_cols=META, now=NOW, chunksize=25, stop_after_chunks=2)
    assert not part.exists()  # no half-written output
    with pytest.raises(FileExistsError):
        score_file(pipe, backlog, full, metadata_cols=META, now=NOW)
    summary = score_file(pipe, backlog, part, metadata_cols=META, now=NOW, chunksize=25, resume=True)
    assert summary.resumed_chunks == 2
    assert part.read_bytes() == full.read_bytes()
    with pytest.raises(InputFileError, match="no interrupted run"):
        score_file(pipe, backlog, tmp_path / "other.csv", resume=True)


def test_resume_refuses_changed_options(pipe, backlog, tmp_path):
    out = tmp_path / "o.csv"
    with pytest.raises(KeyboardInterrupt):
        score_file(pipe, backlog, out, now=NOW, chunksize=25, stop_after_chunks=1)
    with pytest.raises(InputFileError, match="differ from the interrupted run"):
        score_file(pipe, backlog, out, now=NOW, chunksize=50, resume=True)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_jobs_2_equals_jobs_1(pipe, backlog, tmp_path, monkeypatch, fmt):
    import triage.batch.score as batch_score

    monkeypatch.setattr(batch_score, "PIECE_ROWS", 7)  # chunks of 20 rows cut into pieces of 7
    one, two = tmp_path / f"one.{fmt}", tmp_path / f"two.{fmt}"
    errors_one, errors_two = tmp_path / "errors_one.csv", tmp_path / "errors_two.csv"
    s1 = score_file(pipe, backlog, one, metadata_cols=META, now=NOW, chunksize=20, jobs=1, errors_path=errors_one)
    s2 = score_file(pipe, backlog, two, metadata_cols=META, now=NOW, chunksize=20, jobs=2, errors_path=errors_two)
    if fmt == "csv":
        assert one.read_bytes() == two.read_bytes()
    else:
        pd.testing.assert_frame_equal(pd.read_parquet(one), pd.read_parquet(two))
    assert errors_one.read_bytes() == errors_two.read_bytes()
    assert (s1.rows, s1.by_status, s1.by_category, s1.by_level) == (s2.rows, s2.by_status, s2.by_category, s2.by_level)


@pytest.mark.slow
def test_dask_local_cluster_equals_local(pipe, backlog, tmp_path):
    pytest.importorskip("distributed")
    from distributed import Client, LocalCluster

    from triage.batch.dask_engine import score_file_dask

    utf8 = tmp_path / "export_utf8.csv"
    pd.read_csv(backlog, encoding="gb18030", dtype=str, keep_default_na=False).to_csv(utf8, index=False)
    local = tmp_path / "local.csv"
    meta = {"received_at": "受理时间", "customer_tier": "客户等级", "channel": "渠道"}
    score_file(pipe, utf8, local, metadata_cols=meta, now=NOW, clusters=False)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, Client(cluster) as client:
        out = tmp_path / "dask.csv"
        summary = score_file_dask(pipe, utf8, out, metadata_cols=meta, now=NOW, scheduler=client, clusters=False, blocksize="8KB")
        parts = tmp_path / "dask_parts"
        score_file_dask(pipe, utf8, parts, metadata_cols=meta, now=NOW, scheduler=client, clusters=False, blocksize="8KB")
    assert summary.rows == 120
    a, b = _read(local), _read(out)
    pd.testing.assert_frame_equal(a, b)
    parquet = pd.read_parquet(parts)
    assert len(parquet) == 120 and list(parquet.columns) == list(a.columns)
    for col in ("triage_status", "triage_categories", "triage_department", "triage_reasons"):  # text: CSV neutralises formulas
        assert parquet[col].fillna("").tolist() == a[col].tolist()
    assert parquet["triage_severity"].tolist() == a["triage_severity"].astype(float).tolist()
    assert parquet["triage_threat"].dtype == bool and parquet["triage_p_quality"].dtype == float


def test_chunks_are_bounded(backlog):
    sizes = [len(c.frame) for c in iter_chunks(backlog, chunksize=50)]
    assert sizes == [50, 50, 20]


def test_unknown_encoding_and_missing_column(pipe, backlog, tmp_path):
    with pytest.raises(InputFileError, match="Unknown encoding 'latin-9x'"):
        score_file(pipe, backlog, tmp_path / "o.csv", encoding="latin-9x")
    with pytest.raises(InputFileError, match="There is no column '受理日期'"):
        score_file(pipe, backlog, tmp_path / "o.csv", metadata_cols={"received_at": "受理日期"})


def test_result_columns_match_the_result_objects(pipe):
    texts = ["快递三天没到，客服不理人，我要打12315", "", "质量很好，下次还来"]
    results = pipe.score_many(texts, metadata=[{"received_at": "2026-11-02 09:00"}, {}, {}])
    cols = result_columns(results, pipe.model.labels["categories"])
    assert {len(v) for v in cols.values()} == {3}
    for i, r in enumerate(results):
        assert cols["triage_status"][i] == r.status
        assert cols["triage_categories"][i] == "|".join(r.categories)
        assert cols["triage_severity_factors"][i] == json.dumps(dict(r.severity.factors))
        assert cols["triage_reasons"][i] == " | ".join(r.reasons)
        assert cols["triage_respond_by"][i] == r.routing.respond_by
        for label in pipe.model.labels["categories"]:
            assert cols[f"triage_p_{label}"][i] == r.category_scores.get(label)
    assert result_columns([], ["quality"])["triage_p_quality"] == []


def test_csv_encoding_equals_pandas_to_csv():
    from triage.batch.io import _prepared, encode_frame

    frame = pd.DataFrame({
        "text": ["=1+1", "好，「引号」", None, 'a "quoted", value', "-3", "line\nbreak"],
        "n": [1, 2, 3, 4, 5, 6],
        "x": [0.1, float("nan"), 5.0, 1e-05, -2.5, 3.0],
        "flag": [True, False, True, False, True, False],
        "mixed": [1, "a", None, float("nan"), 2.5, True],
        "nullable": pd.array([1, None, 3, 4, None, 6], dtype="Int64"),
        "when": pd.to_datetime(["2026-11-02 09:00", None, "2026-11-03 00:00", "2026-11-04 10:30", None, "2026-11-05 00:00"]),
    })
    for fmt, sep in (("csv", ","), ("tsv", "\t")):
        for neutralise in (True, False):
            expected = _prepared(frame, neutralise).to_csv(index=False, header=False, sep=sep)
            assert encode_frame(frame, fmt, neutralise=neutralise) == expected


def test_csv_written_from_lists_equals_the_frame_written(pipe, backlog):
    import pandas as pd

    from triage.batch.io import encode_columns, encode_frame, iter_chunks
    from triage.batch.score import _Plan, _triage_columns

    chunk = next(iter(iter_chunks(backlog, chunksize=50)))
    plan = _Plan("投诉内容", (("received_at", "受理时间"), ("customer_tier", "客户等级")), NOW)
    volume = {"cluster": list(range(len(chunk.frame))), "cluster_size": [1] * len(chunk.frame), "repeat_contacts": [0] * len(chunk.frame)}
    frame, added = _triage_columns(pipe, chunk, plan, volume)
    whole = pd.concat([frame, pd.DataFrame(added)], axis=1)
    for fmt in ("csv", "tsv"):
        assert encode_columns(frame, added, fmt) == encode_frame(whole, fmt)


def test_text_column_detection_prefers_complaint_headers():
    from triage.batch.io import detect_text_column

    assert detect_text_column(["id", "brand", "desc", "problem"]) == "desc"
    assert detect_text_column(["id", "Reviews"]) == "Reviews"
    assert detect_text_column(["工单号", "投诉内容", "评价"]) == "投诉内容"  # 评价 is only a fallback
    with pytest.raises(InputFileError, match="Several columns"):
        detect_text_column(["内容", "投诉内容"])
    with pytest.raises(InputFileError, match="Pass --text-col"):
        detect_text_column(["id", "金额"])


def test_big5_traditional_export_is_read_right(pipe, backlog, tmp_path):
    # Big5 bytes also decode as GB18030 (into rare characters): a Taiwan or Hong Kong export must
    # not be scored as mojibake. Headers in traditional characters are found too.
    simplified = pd.read_csv(backlog, encoding="gb18030", dtype=str, keep_default_na=False)
    import opencc

    s2t = opencc.OpenCC("s2t").convert
    traditional = simplified.map(s2t).rename(columns=s2t)
    src = tmp_path / "big5.csv"
    traditional.to_csv(src, index=False, encoding="cp950", errors="replace")
    assert detect_encoding(src.read_bytes()[:4096]) == "cp950"
    assert detect_encoding(backlog.read_bytes()) == "gb18030"  # and GBK stays GBK
    out = tmp_path / "scored.csv"
    score_file(pipe, src, out, now=NOW)
    got = _read(out)
    assert "投訴內容" in got.columns and len(got) == len(simplified)
    written = [t.encode("cp950", errors="replace").decode("cp950") for t in traditional["投訴內容"]]
    assert got["投訴內容"].str.lstrip("'").tolist() == [t.lstrip("'") for t in written]
    score_file(pipe, backlog, tmp_path / "simplified.csv", now=NOW)
    same = (got["triage_categories"] == _read(tmp_path / "simplified.csv")["triage_categories"]).mean()
    assert same >= 0.95  # scored as the same complaints (mojibake would agree on almost none)


def test_old_excel_xls_is_read_like_the_csv(pipe, tmp_path):
    # Many complaint systems still export Excel 97-2003 (.xls): read with xlrd, date cells as times.
    xls, csv_ = DATA / "examples" / "backlog.xls", DATA / "examples" / "backlog.csv"
    score_file(pipe, xls, tmp_path / "from_xls.csv", metadata_cols={"received_at": "受理时间"}, now=NOW)
    score_file(pipe, csv_, tmp_path / "from_csv.csv", metadata_cols={"received_at": "受理时间"}, now=NOW)
    a, b = _read(tmp_path / "from_xls.csv"), _read(tmp_path / "from_csv.csv")
    assert a["工单号"].tolist() == b["工单号"].tolist() and len(a) == 120
    assert a["受理时间"][0] == b["受理时间"][0] + ":00"  # a date cell, not a serial number
    scored = a["triage_status"] == "ok"
    for col in ("triage_categories", "triage_severity", "triage_respond_by", "triage_department"):
        assert a.loc[scored, col].tolist() == b.loc[scored, col].tolist(), col
    with pytest.raises(InputFileError, match="can be read but not written"):
        score_file(pipe, csv_, tmp_path / "out.xls")
