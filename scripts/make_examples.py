"""Build the example backlogs in data/examples/ from backlog_source.jsonl (written by the team).

backlog.csv   : GB18030 (GBK superset) CSV without BOM, Chinese header, as CRM exports come
backlog.xlsx  : the same rows as an Excel sheet named 投诉
backlog.xls   : the same rows as old Excel (97-2003), received times as date cells (needs xlwt,
                only to build this file: pip install xlwt)
Run: python scripts/make_examples.py
"""

import json
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent.parent / "data" / "examples"
rows = [json.loads(line) for line in (HERE / "backlog_source.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
frame = pd.DataFrame(rows)
frame.to_csv(HERE / "backlog.csv", index=False, encoding="gb18030")
frame.to_excel(HERE / "backlog.xlsx", index=False, sheet_name="投诉")

try:
    import xlwt
except ImportError:
    print("xlwt is not installed: backlog.xls not rebuilt")
else:
    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("投诉")
    when = xlwt.easyxf(num_format_str="yyyy-mm-dd hh:mm")
    for c, name in enumerate(frame.columns):
        sheet.write(0, c, name)
    for r, row in enumerate(frame.itertuples(index=False), 1):
        for c, (name, value) in enumerate(zip(frame.columns, row)):
            if name == "受理时间" and value:
                sheet.write(r, c, pd.Timestamp(value).to_pydatetime(), when)
            elif value != "":
                sheet.write(r, c, value)
    book.save(str(HERE / "backlog.xls"))
print(f"{len(frame)} rows -> backlog.csv, backlog.xlsx, backlog.xls")
