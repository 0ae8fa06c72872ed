"""Gopher repetition and quality rules (Rae et al. 2021) with FineWeb-2's per-language thresholds.

Same rules and reasons as datatrove's ``GopherRepetitionFilter`` / ``GopherQualityFilter`` as FineWeb-2 runs
them, but computed from the document's shared :class:`Analysis` (words segmented once, not once per filter),
and n-gram repetition from 64-bit rolling hashes in numpy instead of joined strings: that is why these are
hand-written rather than datatrove's classes.
"""

from __future__ import annotations

import re

import numpy as np

from linguabridge.data.records import Document
from linguabridge.data.text import Analysis
from linguabridge.data.thresholds import LangRules

_ALPHA = re.compile(r"[^\W\d_]")  # a letter (any script)
_P = np.uint64(0x100000001B3)  # FNV prime: multiplier of the rolling n-gram hash (wraps mod 2**64)


def duplicate_stats(items: list[str]) -> tuple[int, int]:
    """(number of repeated elements, characters in them): every occurrence after the first counts."""
    seen: set[str] = set()
    n = chars = 0
    for x in items:
        if x in seen:
            n += 1
            chars += len(x)
        else:
            seen.add(x)
    return n, chars


class _NGrams:
    """Word ids, word lengths and rolling hashes of n-grams for one document."""

    def __init__(self, words: list[str]):
        index: dict[str, int] = {}
        ids = [index.setdefault(w, len(index) + 1) for w in words]
        self.ids = np.asarray(ids, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        self.cum = np.concatenate([[0], np.cumsum([len(w) for w in words])]).astype(np.int64)
        self._hash: dict[int, np.ndarray] = {1: self.ids}

    def hashes(self, n: int) -> np.ndarray:
        if n not in self._hash:
            prev = self.hashes(n - 1)
            with np.errstate(over="ignore"):
                self._hash[n] = prev[:-1] * _P + self.ids[n - 1 :]
        return self._hash[n]

    def chars(self, start: np.ndarray | int, n: int) -> np.ndarray | int:
        return self.cum[np.asarray(start) + n] - self.cum[start]

    def top_share(self, n: int) -> int:
        """Characters of the most frequent n-gram (words joined by spaces) times its count; ties: first seen.

        An n-gram seen once is not repetition: 0 then (datatrove counts it, which rejects every short document).
        """
        h = self.hashes(n)
        _, first, counts = np.unique(h, return_index=True, return_counts=True)
        best = counts.max()
        if best < 2:
            return 0
        i = int(first[counts == best].min())
        return (int(self.chars(i, n)) + n - 1) * int(best)

    def duplicated_chars(self, n: int) -> int:
        """Characters in repeated n-grams, scanning left to right and skipping past each repeat (Gopher)."""
        h = self.hashes(n)
        if len(np.unique(h)) == len(h):
            return 0  # no n-gram repeats: nothing to scan
        lens = self.chars(np.arange(len(h)), n)
        seen: set[int] = set()
        hl = h.tolist()
        total, i, end = 0, 0, len(hl)
        while i < end:
            if hl[i] in seen:
                total += int(lens[i])
                i += n
            else:
                seen.add(hl[i])
                i += 1
        return total


class GopherRepetition:
    """Duplicated lines, most frequent 2-4-grams, duplicated 5-10-grams (paragraph rules off, as FineWeb-2)."""

    name = "repetition"

    def __call__(self, doc: Document, a: Analysis, rules: LangRules, scores: dict) -> str | None:
        text_len = max(len(a.text), 1)
        lines = a.repetition_lines
        n_dup, _ = duplicate_stats(lines)
        scores["dup_line_frac"] = round(n_dup / max(len(lines), 1), 4)
        if scores["dup_line_frac"] > rules.dup_line_frac:
            return "dup_line_frac"
        words = a.words
        grams = _NGrams(words)
        for n, thr in rules.top_n_grams:
            if len(words) < n:
                continue
            share = grams.top_share(n) / text_len
            scores[f"top_{n}_gram"] = round(share, 4)
            if share > thr:
                return f"top_{n}_gram"
        no_more = False
        for n, thr in rules.dup_n_grams:
            if len(words) < n:
                continue
            share = 0.0 if no_more else grams.duplicated_chars(n) / text_len
            no_more = share == 0.0  # no repeated n-gram means no repeated longer one
            scores[f"dup_{n}_grams"] = round(share, 4)
            if share > thr:
                return f"dup_{n}_grams"
        return None


class GopherQuality:
    """Document length, mean word length, symbols, bullets/ellipses, alphabetic words and stop words."""

    name = "quality"

    def __init__(self, min_words: int = 50, max_words: int = 100_000):
        self.min_words, self.max_words = min_words, max_words

    def __call__(self, doc: Document, a: Analysis, rules: LangRules, scores: dict) -> str | None:
        words = a.words
        content = a.non_symbol_words
        n_words = max(len(words), 1)
        scores["n_words"] = len(content)
        if len(content) < self.min_words:
            return "too_few_words"
        if len(content) > self.max_words:
            return "too_many_words"
        avg = sum(len(w) for w in content) / len(content)
        scores["avg_word_length"] = round(avg, 3)
        if avg < rules.min_avg_word_length:
            return "avg_word_length_low"
        if avg > rules.max_avg_word_length:
            return "avg_word_length_high"
        text = a.text
        if text.count("#") / n_words > rules.max_symbol_word_ratio:
            return "too_many_hashes"
        if (text.count("...") + text.count("…")) / n_words > rules.max_symbol_word_ratio:
            return "too_many_ellipsis"
        lines = text.splitlines() or [""]
        bullets = sum(s.lstrip().startswith(("•", "-")) for s in lines) / len(lines)
        if bullets > rules.max_bullet_lines_ratio:
            return "too_many_bullets"
        ellipsis = sum(s.rstrip().endswith(("...", "…")) for s in lines) / len(lines)
        if ellipsis > rules.max_ellipsis_lines_ratio:
            return "too_many_end_ellipsis"
        counts = a.word_counts  # distinct tokens are far fewer than tokens
        alpha = sum(c for w, c in counts.items() if _ALPHA.search(w)) / n_words
        scores["alpha_words_ratio"] = round(alpha, 4)
        if alpha < rules.max_non_alpha_words_ratio:
            return "alpha_words_ratio"
        if rules.min_stop_words:
            hits = sum(1 for w in rules.stop_words if w in counts)
            scores["stop_words"] = hits
            if hits < rules.min_stop_words:
                return "stop_words"
        return None
