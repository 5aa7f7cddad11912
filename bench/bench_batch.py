"""Benchmark of `triage score` on files (issue: batch scoring of exported backlogs).

Prints, on the same data in one run:
- rows/s for --jobs 1 and --jobs 2 (goal: jobs 2 >= 1.7x jobs 1 on 2 cores);
- Dask on a 2-worker LocalCluster (goal: >= 0.85x of --jobs 2);
- end-to-end rows/s from file to file against pure-Python `jieba.lcut` on the same texts
  (goal >= 1.2x);
- peak memory of `triage score` on a 1,000,000-row CSV (goal < 1.5 GiB), and on 2,000,000 rows
  (goal: the same), each in a fresh process.

Run: python bench/bench_batch.py [--rows 40000] [--memory-rows 1000000 2000000] [--skip-memory]
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import real_texts

MEMORY = """
def peak_mib():
    # VmHWM: this process image's own peak. ru_maxrss is not used: Linux carries it over exec
    # from the forked copy of the parent, so it reported the bench process's size.
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
import resource, sys
from triage.batch.score import score_file
import triage
pipe = triage.load()
score_file(pipe, sys.argv[1], sys.argv[2], chunksize=10000, force=True, clusters={clusters})
print(peak_mib())
"""


def make_csv(path: Path, texts: list[str], rows: int) -> None:
    import pandas as pd

    reps = rows // len(texts) + 1
    frame = pd.DataFrame({"工单号": [f"T{i:08d}" for i in range(rows)], "投诉内容": (texts * reps)[:rows]})
    frame.to_csv(path, index=False, encoding="gb18030")


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=40000)
    ap.add_argument("--memory-rows", type=int, nargs="*", default=[1_000_000, 2_000_000])
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--skip-dask", action="store_true")
    args = ap.parse_args()

    import jieba

    import triage
    from triage.batch.score import score_file

    jieba.setLogLevel(logging.WARNING)
    texts, source = real_texts(20000)
    tmp = Path(tempfile.mkdtemp(prefix="triage-bench-"))
    src = tmp / "backlog.csv"
    make_csv(src, texts, args.rows)
    print(f"{args.rows} rows of real texts from {source}, GB18030 CSV ({src.stat().st_size / 1e6:.1f} MB)")
    pipe = triage.load()

    def run(jobs: int) -> float:
        out = tmp / f"out{jobs}.csv"
        return args.rows / timed(lambda: score_file(pipe, src, out, force=True, jobs=jobs, chunksize=5000, clusters=False))

    # alternate jobs 1 / jobs 2 / jieba to share the machine's drifts
    j1, j2 = [], []
    for r in range(2):
        order = (1, 2) if r % 2 == 0 else (2, 1)
        for jobs in order:
            (j1 if jobs == 1 else j2).append(run(jobs))
    import pandas as pd

    col = pd.read_csv(src, encoding="gb18030", dtype=str, keep_default_na=False)["投诉内容"].tolist()
    jieba_rate = len(col) / timed(lambda: [jieba.lcut(t) for t in col])
    best1, best2 = max(j1), max(j2)
    print(f"\n--jobs 1: {best1:,.0f} rows/s; --jobs 2: {best2:,.0f} rows/s; ratio {best2 / best1:.2f} (goal >= 1.7) "
          f"{'OK' if best2 / best1 >= 1.7 else 'SHORT'}")
    print(f"end to end (file to file, --jobs 1) against jieba.lcut on the same texts ({jieba_rate:,.0f} texts/s): "
          f"{best1 / jieba_rate:.2f} (goal >= 1.2) {'OK' if best1 / jieba_rate >= 1.2 else 'SHORT'}; with --jobs 2: {best2 / jieba_rate:.2f}")

    if not args.skip_dask:
        from distributed import Client, LocalCluster

        from triage.batch.dask_engine import score_file_dask

        utf8 = tmp / "backlog_utf8.csv"
        pd.read_csv(src, encoding="gb18030", dtype=str, keep_default_na=False).to_csv(utf8, index=False)
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, Client(cluster) as client:
            client.run(lambda: None)
            rates = []
            for _ in range(2):
                out = tmp / "dask_out"
                rates.append(args.rows / timed(lambda: score_file_dask(pipe, utf8, out, force=True, scheduler=client, clusters=False)))
        d = max(rates)
        print(f"dask, 2-worker LocalCluster, partitioned Parquet output: {d:,.0f} rows/s; ratio to --jobs 2 {d / best2:.2f} "
              f"(goal >= 0.85) {'OK' if d / best2 >= 0.85 else 'SHORT'}")

    if not args.skip_memory:
        for rows in args.memory_rows:
            big = tmp / f"big{rows}.csv"
            make_csv(big, texts, rows)
            for clusters in (False, True):
                start = time.perf_counter()
                out = subprocess.run([sys.executable, "-c", MEMORY.format(clusters=clusters), str(big), str(tmp / "big_out.csv")],
                                     capture_output=True, text=True)
                if out.returncode:
                    print(out.stderr[-2000:])
                    continue
                peak = float(out.stdout.strip().splitlines()[-1])
                print(f"peak memory, {rows:,} rows ({big.stat().st_size / 1e6:.0f} MB), clusters={'on' if clusters else 'off'}: "
                      f"{peak:,.0f} MiB in {time.perf_counter() - start:.0f} s (goal < 1536 MiB) {'OK' if peak < 1536 else 'SHORT'}")
            big.unlink()
    for p in tmp.glob("*"):
        if p.is_file():
            p.unlink()


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(__file__))
    main()
