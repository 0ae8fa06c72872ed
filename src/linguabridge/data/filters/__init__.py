"""Document filters, one file per family. A filter answers ``reason`` (reject) or ``None`` (keep) and writes the
scores it computed into the ``scores`` dict, which the chain keeps in ``metadata.scores`` so thresholds can be
re-tuned from the outputs without re-running."""

from linguabridge.data.filters.base import Filter
from linguabridge.data.filters.fineweb import FineWebLines
from linguabridge.data.filters.gopher import GopherQuality, GopherRepetition
from linguabridge.data.filters.perplexity import PerplexityFilter
from linguabridge.data.filters.script import ScriptConsistency
from linguabridge.data.filters.url import UrlFilter

__all__ = [
    "Filter",
    "FineWebLines",
    "GopherQuality",
    "GopherRepetition",
    "PerplexityFilter",
    "ScriptConsistency",
    "UrlFilter",
]
