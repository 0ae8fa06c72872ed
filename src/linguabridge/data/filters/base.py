"""The filter protocol (datatrove's shape: a filter only answers keep or a reason)."""

from __future__ import annotations

from typing import Protocol

from linguabridge.data.records import Document
from linguabridge.data.text import Analysis
from linguabridge.data.thresholds import LangRules


class Filter(Protocol):
    name: str  # the step name in stats.json

    def __call__(self, doc: Document, a: Analysis, rules: LangRules, scores: dict) -> str | None:
        """The reject reason, or None to keep. Computed values go into ``scores``."""
