"""Per-document text analysis shared by every filter: normalisation, script-aware words, lines."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property

# Scripts written without spaces between words: counted per character until a real segmenter is plugged in.
NO_SPACE_SCRIPTS = {"Hans", "Hant", "Jpan", "Thai", "Khmr", "Laoo", "Mymr", "Tibt"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\ufeff]")
_SPACES = re.compile(r"[ \t\u00a0\u3000]+")
_WORD = re.compile(r"\w+", re.UNICODE)
_NO_SPACE_CHAR = re.compile(
    r"[\u0e00-\u0e7f\u0e80-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"
)


def normalise(text: str) -> str:
    """NFC, no control characters, single spaces, no trailing blanks, at most one blank line in a row."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


@dataclass
class Analysis:
    """Computed once per document and shared by all filters and dedup (words, lines, ratios)."""

    text: str
    script: str | None = None
    extras: dict = field(default_factory=dict)

    @cached_property
    def lines(self) -> list[str]:
        return [line for line in self.text.split("\n") if line.strip()]

    @cached_property
    def words(self) -> list[str]:
        if self.script in NO_SPACE_SCRIPTS:
            # Character units for unsegmented scripts, word units for any embedded spaced text.
            out: list[str] = []
            for token in _WORD.findall(self.text):
                out.extend(_NO_SPACE_CHAR.findall(token) or [token])
            return out
        return _WORD.findall(self.text)

    @cached_property
    def symbol_ratio(self) -> float:
        """Share of non-space characters that are neither letters, marks nor digits."""
        chars = [c for c in self.text if not c.isspace()]
        if not chars:
            return 1.0
        bad = sum(1 for c in chars if unicodedata.category(c)[0] not in "LMN")
        return bad / len(chars)

    @cached_property
    def duplicate_line_fraction(self) -> float:
        if not self.lines:
            return 0.0
        return 1 - len(set(self.lines)) / len(self.lines)
