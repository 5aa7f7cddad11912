"""Helpers shared by the benchmarks: where the texts come from, timing in alternating rounds."""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Callable, Sequence

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "datasets"


def real_texts(n: int, *, max_len: int | None = None) -> tuple[list[str], str]:
    """Real review/complaint texts from ../shared/datasets when present, else the team corpus."""
    texts: list[str] = []
    source = ""
    if SHARED.is_dir():
        import pandas as pd

        frames = [
            pd.read_csv(SHARED / "online_shopping_10_cats.csv")["review"],
            pd.read_csv(SHARED / "waimai_10k.csv")["review"],
            pd.read_csv(SHARED / "heimao_finance" / "train.csv")["text"],
        ]
        for col in frames:
            texts.extend(str(t) for t in col.dropna().tolist())
        source = "../shared/datasets (online_shopping_10_cats, waimai_10k, heimao_finance)"
    else:
        for path in sorted((ROOT / "data" / "corpus").glob("*.jsonl")):
            texts.extend(json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
        source = "data/corpus (../shared/datasets is absent)"
    if max_len:
        texts = [t for t in texts if len(t) <= max_len]
    # A fixed, well-mixed sample.
    step = max(1, len(texts) // n)
    sample = texts[::step][:n]
    while len(sample) < n:
        sample += sample[: n - len(sample)]
    return sample, source


def throughput(fn: Callable[[Sequence[str]], object], texts: Sequence[str]) -> float:
    start = time.perf_counter()
    fn(texts)
    return len(texts) / (time.perf_counter() - start)


def alternate(a: Callable[[], float], b: Callable[[], float], rounds: int) -> tuple[list[float], list[float]]:
    """Run a and b in alternating rounds (a, b, b, a, a, b ...) so drifts hit both alike."""
    xs, ys = [], []
    for r in range(rounds):
        if r % 2 == 0:
            xs.append(a())
            ys.append(b())
        else:
            ys.append(b())
            xs.append(a())
    return xs, ys


def median_ratio(xs: Sequence[float], ys: Sequence[float]) -> float:
    return statistics.median(x / y for x, y in zip(xs, ys))
