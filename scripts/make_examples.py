"""Build the example backlogs in data/examples/ from backlog_source.jsonl (written by the team).

backlog.csv   : GB18030 (GBK superset) CSV without BOM, Chinese header, as CRM exports come
backlog.xlsx  : the same rows as an Excel sheet named 投诉
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
print(f"{len(frame)} rows -> backlog.csv, backlog.xlsx")
