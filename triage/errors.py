"""Exceptions raised by triage.

Every error says what is wrong and how to fix it. Each subclasses a built-in exception as well,
so that callers' existing ``except ValueError`` / ``except TypeError`` keep working.
"""

from __future__ import annotations


class TriageError(Exception):
    """Base class of every error raised by triage."""


class InputTypeError(TriageError, TypeError):
    """A complaint text that is not a string (None, bytes, a number, ...)."""


class ConfigError(TriageError, ValueError):
    """An invalid configuration value: names the key, the bad value and what is allowed."""


class ModelNotFoundError(TriageError, FileNotFoundError):
    """The model directory does not exist or is not a triage model bundle."""


class BundleIntegrityError(TriageError, ValueError):
    """A model bundle file is missing, or differs from the SHA-256 its manifest records."""


class ModelVersionError(TriageError, ValueError):
    """A model bundle was made by an incompatible format or library version."""


class DataError(TriageError, ValueError):
    """Labelled data (training or evaluation) that does not follow the labelling guide."""


class InputFileError(TriageError, ValueError):
    """An input file for batch scoring that cannot be read as asked (format, encoding, column)."""
