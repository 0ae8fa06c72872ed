"""Per-document text analysis shared by every filter and by dedup: normalisation, lines, words (segmented once)."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from functools import cached_property

import regex

from linguabridge.data.segment import Segmenter, get_segmenter, words

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\u2028\u2029\ufeff\ufffe]")
_SPACES = re.compile(r"[ \t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")
_LINE_SPLIT = re.compile(r"\n+")
_WORD_START = regex.compile(r"[\w\p{M}]")
_PARA_SPLIT = re.compile(r"\n{2,}")
# Punctuation that ends a sentence in the scripts we handle (Latin, CJK, Arabic, Devanagari, Myanmar, Khmer...).
TERMINAL_PUNCTUATION = tuple(".!?\"'”’»。！？｡।॥۔؟܀‼‽⁇⁈⁉︒﹒﹖﹗．？！：」』〉》၊။។៕።፧፨")


def normalise(text: str, fix_text: bool = False) -> str:
    """NFC, no control characters, single spaces, no trailing blanks, at most one blank line in a row.

    ``fix_text`` first repairs mojibake with ftfy (FineWeb-2 applies it too).
    """
    if fix_text:
        from linguabridge.errors import require

        text = require("ftfy", "data").fix_text(text, normalization="NFC")
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = _SPACES.sub(" ", _CONTROL.sub("", text))  # whole-text passes: cheaper than one per line
    lines = [line.strip() for line in text.split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


class Analysis:
    """Computed once per document and shared by all filters, the stop-word count and MinHash shingles."""

    def __init__(self, text: str, language: str | None = None, segmenter: Segmenter | None = None):
        self.text = text
        self.language = language
        self.segmenter = segmenter or (get_segmenter(language) if language else get_segmenter("und"))

    @cached_property
    def lines(self) -> list[str]:
        """Non-blank lines (FineWeb quality rules)."""
        return [line for line in self.text.split("\n") if line.strip()]

    @cached_property
    def repetition_lines(self) -> list[str]:
        """Lines as Gopher's repetition rule splits them."""
        return _LINE_SPLIT.split(self.text)

    @cached_property
    def paragraphs(self) -> list[str]:
        return _PARA_SPLIT.split(self.text.strip())

    @cached_property
    def words(self) -> list[str]:
        return words(self.text, self.segmenter)

    @cached_property
    def non_symbol_words(self) -> list[str]:
        # Tokens start with a word character unless they are punctuation/symbols (see segment.TOKEN).
        return [w for w in self.words if _WORD_START.match(w)]

    @cached_property
    def lower_words(self) -> list[str]:
        return [w.lower() for w in self.non_symbol_words]

    @cached_property
    def word_counts(self) -> Counter:
        return Counter(self.words)
