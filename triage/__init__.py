"""triage: triage Chinese-language customer complaints.

>>> import triage
>>> pipe = triage.load()                      # the shipped default model
>>> result = pipe.score("快递三天了还没到，客服也不回消息")
>>> result.primary_category in result.categories
True
"""

__version__ = "0.1.0"

from .errors import TriageError  # noqa: E402
from .pipeline import TriagePipeline, load  # noqa: E402
from .results import TriageResult  # noqa: E402


def train(data, **kwargs):
    """Train a model on labelled complaints (see :func:`triage.training.train`)."""
    from .training import train as _train

    return _train(data, **kwargs)


__all__ = ["load", "train", "TriagePipeline", "TriageResult", "TriageError", "__version__"]
