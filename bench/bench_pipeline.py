"""Benchmark of the library path (issue: the triage package).

Prints, on the same texts, as ratios measured in alternating rounds of one run:
- full ``score_many`` throughput / pure-Python ``jieba.lcut`` throughput   (goal >= 1.5)
- single-call latency p50 and p99 of ``score`` against ``jieba.lcut``       (goal p50 <= 5x)
- cold start ``import triage; triage.load(); first score`` against
  ``import jieba; jieba.initialize()``                                        (goal <= 2.5x)
- peak memory of a process scoring the texts.

Run: python bench/bench_pipeline.py [--n 5000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import subprocess
import sys
import time

import numpy as np

from common import alternate, median_ratio, real_texts, throughput

COLD_TRIAGE = """
import time, sys, resource
t = time.perf_counter()
import triage
p = triage.load()
p.score("快递三天了还没到，客服也不回消息")
dt = time.perf_counter() - t
heavy = [m for m in ("snownlp", "matplotlib", "jieba") if m in sys.modules]
print(dt, ",".join(heavy))
"""
COLD_JIEBA = """
import time, logging
t = time.perf_counter()
import jieba
jieba.setLogLevel(logging.WARNING)
jieba.initialize()
print(time.perf_counter() - t, "")
"""
PEAK = """
def peak_mib():
    # VmHWM: this process image's own peak. ru_maxrss is not used: Linux carries it over exec
    # from the forked copy of the parent, so it reported the bench process's size.
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
import resource, sys, json
import triage
texts = json.load(open(sys.argv[1], encoding="utf-8"))
triage.load().score_many(texts)
print(peak_mib())
"""


def cold(code: str) -> tuple[float, str]:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), (out[1] if len(out) > 1 else "")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--latency-n", type=int, default=1000)
    args = ap.parse_args()

    import jieba

    import triage

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    texts, source = real_texts(args.n)
    pipe = triage.load()
    pipe.score_many(texts[:200])  # warm caches
    print(f"texts: {len(texts)} from {source}; mean length {np.mean([len(t) for t in texts]):.0f} characters")
    print(f"model: {pipe.model_version}, segmenter backend: {pipe.model.segmenter.backend}")

    ours, ref = alternate(
        lambda: throughput(pipe.score_many, texts),
        lambda: throughput(lambda ts: [jieba.lcut(t) for t in ts], texts),
        args.rounds,
    )
    ratio = median_ratio(ours, ref)
    print(f"\nthroughput: score_many {statistics.median(ours):,.0f} docs/s, jieba.lcut {statistics.median(ref):,.0f} docs/s")
    print(f"  ratio score_many / jieba.lcut = {ratio:.2f}   (goal >= 1.5) {'OK' if ratio >= 1.5 else 'SHORT'}")

    lat_ours, lat_ref = [], []
    for t in texts[: args.latency_n]:
        s = time.perf_counter()
        pipe.score(t)
        lat_ours.append(time.perf_counter() - s)
        s = time.perf_counter()
        jieba.lcut(t)
        lat_ref.append(time.perf_counter() - s)
    p50 = np.percentile(lat_ours, 50) / np.percentile(lat_ref, 50)
    p99 = np.percentile(lat_ours, 99) / np.percentile(lat_ref, 99)
    print(f"\nlatency of one score(): p50 {np.percentile(lat_ours, 50) * 1e3:.2f} ms, p99 {np.percentile(lat_ours, 99) * 1e3:.2f} ms; "
          f"jieba.lcut p50 {np.percentile(lat_ref, 50) * 1e3:.2f} ms, p99 {np.percentile(lat_ref, 99) * 1e3:.2f} ms")
    print(f"  ratio p50 = {p50:.2f} (goal <= 5) {'OK' if p50 <= 5 else 'SHORT'}, ratio p99 = {p99:.2f}")

    colds, jiebas = alternate(lambda: cold(COLD_TRIAGE)[0], lambda: cold(COLD_JIEBA)[0], 3)
    modules = cold(COLD_TRIAGE)[1]
    cr = median_ratio(colds, jiebas)
    print(f"\ncold start: import triage + load + first score {statistics.median(colds):.2f} s; import jieba + initialize {statistics.median(jiebas):.2f} s")
    print(f"  ratio = {cr:.2f} (goal <= 2.5) {'OK' if cr <= 2.5 else 'SHORT'}; heavy modules imported: {modules or 'none'}")

    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as fh:
        json.dump(texts, fh, ensure_ascii=False)
    peak = float(subprocess.run([sys.executable, "-c", PEAK, fh.name], capture_output=True, text=True, check=True).stdout)
    print(f"\npeak memory scoring {len(texts)} texts with score_many in a fresh process: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
