"""FineWeb line rules (Penedo et al. 2024) as FineWeb-2 runs them: terminal punctuation, duplicated-line
characters, newlines per word (short-line rule off). Computed from the shared analysis (see gopher.py)."""

from __future__ import annotations

from linguabridge.data.filters.gopher import duplicate_stats
from linguabridge.data.records import Document
from linguabridge.data.text import TERMINAL_PUNCTUATION, Analysis
from linguabridge.data.thresholds import LangRules


class FineWebLines:
    name = "lines"

    def __call__(self, doc: Document, a: Analysis, rules: LangRules, scores: dict) -> str | None:
        lines = a.lines
        if not lines:
            return "empty"
        ratio = sum(1 for line in lines if line.endswith(TERMINAL_PUNCTUATION)) / len(lines)
        scores["line_punct_ratio"] = round(ratio, 4)
        if ratio < rules.line_punct_thr:
            return "line_punct_ratio"
        _, dup_chars = duplicate_stats(lines)
        ratio = dup_chars / max(len(a.text) - a.text.count("\n"), 1)
        scores["char_dup_ratio"] = round(ratio, 4)
        if ratio > rules.char_duplicates_ratio:
            return "char_dup_ratio"
        ratio = a.text.count("\n") / max(len(a.words), 1)
        scores["new_line_ratio"] = round(ratio, 4)
        if ratio > rules.new_line_ratio:
            return "list_ratio"
        return None
