import json
import shutil

import pytest

import triage
from triage.bundle import MANIFEST, MODEL_FILE, load_bundle, read_manifest
from triage.errors import BundleIntegrityError, ModelNotFoundError, ModelVersionError

TEXTS = ["买到假货，防伪码查不到", "快递一直不到", "态度太差了", "收费太贵", "很好"]


def test_round_trip_gives_identical_predictions(small_model_dir, tmp_path):
    from triage.bundle import save_bundle

    model, manifest = load_bundle(small_model_dir)
    copy_dir = save_bundle(model, tmp_path / "copy", manifest_extra={"model_version": "copy", "labels": model.labels})
    a = triage.load(small_model_dir).score_many(TEXTS)
    b = triage.load(copy_dir).score_many(TEXTS)
    assert [r.category_scores for r in a] == [r.category_scores for r in b]
    assert [r.sentiment for r in a] == [r.sentiment for r in b]


def test_manifest_records_versions_and_hashes(small_model_dir):
    m = read_manifest(small_model_dir)
    assert m["format_version"] == 1 and m["libraries"]["numpy"]
    assert set(m["files"]) >= {MODEL_FILE} and all(len(h) == 64 for h in m["files"].values())


def test_default_model_manifest(pipe):
    m = pipe.manifest
    assert m["labels"]["categories"] == ["quality", "service_attitude", "delivery", "price", "counterfeit", "agent_violation", "other"]
    assert m["segmenter"]["backend"] == "rjieba"
    assert m["training_data"]["rows"] >= 300


@pytest.fixture
def bundle_copy(small_model_dir, tmp_path):
    return shutil.copytree(small_model_dir, tmp_path / "m")


def test_tampered_file_is_refused(bundle_copy):
    with (bundle_copy / MODEL_FILE).open("ab") as fh:
        fh.write(b"\0")
    with pytest.raises(BundleIntegrityError, match="modified or corrupted"):
        triage.load(bundle_copy)


def test_missing_file_is_refused(bundle_copy):
    (bundle_copy / MODEL_FILE).unlink()
    with pytest.raises(BundleIntegrityError, match="missing"):
        triage.load(bundle_copy)


def test_unknown_format_version_is_refused(bundle_copy):
    m = json.loads((bundle_copy / MANIFEST).read_text())
    m["format_version"] = 99
    (bundle_copy / MANIFEST).write_text(json.dumps(m))
    with pytest.raises(ModelVersionError, match="format version 99"):
        triage.load(bundle_copy)


def test_library_mismatch_is_refused(bundle_copy):
    m = json.loads((bundle_copy / MANIFEST).read_text())
    m["libraries"]["numpy"] = "1.26.4"
    (bundle_copy / MANIFEST).write_text(json.dumps(m))
    with pytest.raises(ModelVersionError, match="numpy 1.26.4"):
        triage.load(bundle_copy)


def test_not_a_model_directory(tmp_path):
    with pytest.raises(ModelNotFoundError, match="no manifest.json"):
        triage.load(tmp_path)
    with pytest.raises(ModelNotFoundError, match="No model directory"):
        triage.load(tmp_path / "absent")
    with pytest.raises(FileNotFoundError):  # callers' existing except clauses still work
        triage.load(tmp_path / "absent")


def test_scoring_does_not_import_scikit_learn():
    import subprocess
    import sys

    code = "import sys, triage; triage.load().score('快递丢了'); print(sorted(m for m in ('sklearn', 'pandas', 'snownlp', 'matplotlib', 'joblib') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
