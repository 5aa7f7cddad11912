"""Model bundles: a directory with the fitted model and a manifest, checked on load.

Layout of a bundle directory::

    manifest.json     format version, model version, library versions, label sets,
                      segmenter backend, metrics, training-data hash, SHA-256 of every file
    model.pkl.gz      the fitted model (:class:`~triage.classifiers.TriageModel`: features and heads)
    userdict.txt      the user dictionary the segmenter was built with (for people to read)
    keywords.toml     the keyword groups the features count (for people to read)

Loading verifies, before anything is unpickled, that every file listed in the manifest exists
and has the recorded SHA-256, that the format version is one this version of triage reads, and
that the installed scikit-learn can read the pickles; every failure says how to fix it.
A bundle contains pickles, which can run code when loaded: load only bundles you trust (the
hash check protects against corrupted or edited files, not against a forged manifest).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import pickle
import platform
from datetime import datetime, timezone
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any, Mapping

from .errors import BundleIntegrityError, ModelNotFoundError, ModelVersionError

FORMAT_VERSION = 1
SUPPORTED_FORMATS = (1,)
MANIFEST = "manifest.json"
MODEL_FILE = "model.pkl.gz"
_TRACKED_LIBRARIES = ("triage", "scikit-learn", "numpy", "scipy", "jieba", "rjieba", "opencc")
# The model holds only numpy arrays and triage's own classes; numpy pickles need the same major
# version to load (numpy 2 pickles name numpy._core, which numpy 1 does not have).
_STRICT_LIBRARIES = {"numpy": 1}


def library_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in _TRACKED_LIBRARIES:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_bundle(
    model: Any,
    directory: str | Path,
    *,
    manifest_extra: Mapping[str, Any],
    files: Mapping[str, str] | None = None,
    binary_files: Mapping[str, bytes] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``model`` and the manifest to ``directory``.

    Parameters
    ----------
    model : TriageModel
    manifest_extra : mapping
        ``model_version``, ``labels``, ``segmenter``, ``metrics``, ``training_data`` ...
    files : mapping of file name to text
        Extra text files to store (and hash) beside the model.
    """
    directory = Path(directory)
    if directory.exists() and any(directory.iterdir()) and not overwrite:
        raise FileExistsError(
            f"The model directory {str(directory)!r} is not empty. Choose a new directory or pass "
            "overwrite=True (--force on the command line)."
        )
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.iterdir():
        if stale.is_file():
            stale.unlink()
    with gzip.open(directory / MODEL_FILE, "wb", compresslevel=6) as fh:
        pickle.dump(model, fh, protocol=5)
    for name, text in (files or {}).items():
        (directory / name).write_text(text, encoding="utf-8")
    for name, data in (binary_files or {}).items():
        (directory / name).write_bytes(data)
    names = sorted(p.name for p in directory.iterdir() if p.is_file() and p.name != MANIFEST)
    manifest = {
        "format_version": FORMAT_VERSION,
        **dict(manifest_extra),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "libraries": library_versions(),
        "files": {name: sha256_file(directory / name) for name in names},
    }
    (directory / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return directory


def read_manifest(directory: str | Path) -> dict[str, Any]:
    """The manifest of a bundle, checked for format version (files are not hashed here)."""
    directory = Path(directory)
    path = directory / MANIFEST
    if not directory.is_dir():
        raise ModelNotFoundError(
            f"No model directory at {str(directory)!r}. Pass the directory written by `triage train`, "
            "or call triage.load() without a path for the shipped default model."
        )
    if not path.is_file():
        raise ModelNotFoundError(
            f"{str(directory)!r} is not a triage model: it has no {MANIFEST}. Pass the directory "
            "written by `triage train`."
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleIntegrityError(f"{path} is not valid JSON ({exc}); the bundle is damaged. Retrain or restore it.") from exc
    version = manifest.get("format_version")
    if version not in SUPPORTED_FORMATS:
        raise ModelVersionError(
            f"The model at {str(directory)!r} has bundle format version {version!r}; this triage reads "
            f"{list(SUPPORTED_FORMATS)}. Upgrade triage, or retrain the model with `triage train`."
        )
    return manifest


def verify_bundle(directory: str | Path, manifest: Mapping[str, Any]) -> None:
    """Check every file against its SHA-256 and the library versions the pickles need."""
    directory = Path(directory)
    files = manifest.get("files") or {}
    if MODEL_FILE not in files:
        raise BundleIntegrityError(f"The manifest in {str(directory)!r} does not list {MODEL_FILE}; the bundle is damaged.")
    for name, expected in files.items():
        path = directory / name
        if not path.is_file():
            raise BundleIntegrityError(
                f"The model file {name!r} listed in the manifest is missing from {str(directory)!r}. "
                "Restore the whole directory (or retrain with `triage train`)."
            )
        actual = sha256_file(path)
        if actual != expected:
            raise BundleIntegrityError(
                f"The model file {name!r} in {str(directory)!r} has SHA-256 {actual[:12]}..., but the "
                f"manifest records {expected[:12]}...: it was modified or corrupted after training. "
                "Restore the original file or retrain with `triage train`."
            )
    import numpy

    installed = {"numpy": numpy.__version__}
    for lib, parts in _STRICT_LIBRARIES.items():
        made_with = (manifest.get("libraries") or {}).get(lib)
        have = installed[lib]
        if made_with and made_with.split(".")[:parts] != have.split(".")[:parts]:
            raise ModelVersionError(
                f"The model at {str(directory)!r} was made with {lib} {made_with}, but {lib} {have} is "
                f"installed; its arrays may not load correctly. Install {lib} {'.'.join(made_with.split('.')[:parts])}.x, "
                "or retrain with `triage train`."
            )


def load_bundle(directory: str | Path) -> tuple[Any, dict[str, Any]]:
    """Verify and load a bundle: returns (model, manifest)."""
    manifest = read_manifest(directory)
    verify_bundle(directory, manifest)
    try:
        with gzip.open(Path(directory) / MODEL_FILE, "rb") as fh:
            model = pickle.load(fh)
    except (AttributeError, ImportError, ModuleNotFoundError, TypeError, pickle.UnpicklingError) as exc:
        raise ModelVersionError(
            f"The model at {str(directory)!r} was made by triage {manifest.get('triage_version', '?')} and "
            f"cannot be read by this version ({exc}). Retrain it with `triage train`, or install the "
            "triage version that made it."
        ) from exc
    return model, manifest
