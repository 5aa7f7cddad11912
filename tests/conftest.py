"""Shared fixtures. Tests that need ../shared/datasets are marked `shared` and skip without it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
SHARED = ROOT.parent / "shared" / "datasets"


def pytest_collection_modifyitems(config, items):
    if SHARED.is_dir():
        return
    skip = pytest.mark.skip(reason=f"{SHARED} is absent (a fresh clone without ../shared)")
    for item in items:
        if "shared" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def pipe():
    """The shipped default model."""
    import triage

    return triage.load()


@pytest.fixture(scope="session")
def corpus_rows():
    from triage.corpus import load_labelled

    return load_labelled(DATA / "corpus")


@pytest.fixture(scope="session")
def small_model_dir(tmp_path_factory, corpus_rows):
    """A small model trained in a few seconds on part of the corpus (pure jieba backend)."""
    from triage.bundle import save_bundle
    from triage.corpus import split
    from triage.training import TrainSettings, fit_heads

    parts = split(corpus_rows)
    settings = TrainSettings(backend="jieba", include_snownlp=False, feature_params={"max_char_features": 5000, "max_word_features": 3000})
    model = fit_heads(parts["train"][:600], parts["dev"][:150], settings).compile()
    out = tmp_path_factory.mktemp("small_model")
    save_bundle(model, out, manifest_extra={"model_version": "small-test", "labels": model.labels}, overwrite=True)
    return out


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
