"""Script consistency: the letters of a document must be mostly in the script of the language LID chose
(catches romanised or mixed-script pages LID labels with a language of another script)."""

from __future__ import annotations

from functools import cache

import regex

from linguabridge.data.records import Document
from linguabridge.data.text import Analysis
from linguabridge.data.thresholds import LangRules
from linguabridge.io import read_asset_table


@cache
def _script_patterns() -> dict[str, regex.Pattern]:
    return {
        r["script"]: regex.compile("[" + "".join(f"\\p{{Script={s}}}" for s in r["unicode"].split(",")) + "]")
        for r in read_asset_table("data/scripts.tsv")
    }


class ScriptConsistency:
    name = "script"

    def __init__(self, min_ratio: float = 0.5):
        self.min_ratio = min_ratio

    def __call__(self, doc: Document, a: Analysis, rules: LangRules | None, scores: dict) -> str | None:
        if not a.language:
            return None
        pattern = _script_patterns().get(a.language.split("_")[1])
        if pattern is None:
            return None  # a script we have no row for: nothing to check against
        letters = sum(map(str.isalpha, a.text))  # C-level per character, no match objects
        if not letters:
            return None
        ratio = min(1.0, len(pattern.findall(a.text)) / letters)  # marks count in-script, not as letters
        scores["script_ratio"] = round(ratio, 4)
        return "script_mismatch" if ratio < self.min_ratio else None
