"""Per-language filter thresholds kept as data (``assets/data/lang_rules.tsv``); deriving them from a sample
is ``data/calibrate.py``.

A row per language; blank cells inherit the ``*`` row. Users replace or extend the table with their own file
(``data.rules_file``, e.g. the output of ``linguabridge data thresholds``) and override single values in the
recipe (``data.thresholds: {tha_Thai: {language_score: 0.5}}``). Documents of one source (``metadata.source``)
can have their own values over those (``data.source_thresholds: {manpages: {"*": {line_punct_thr: 0}}}``):
reference text such as man pages is not web prose, and web rules would reject all of it.
"""

from __future__ import annotations

import copy
import csv
from dataclasses import dataclass, fields, replace
from functools import cache
from importlib import resources
from pathlib import Path

from linguabridge.errors import ConfigError
from linguabridge.io import read_asset_table
from linguabridge.languages import canonical

Pairs = tuple[tuple[int, float], ...]
COLUMNS = (
    "language_score",
    "min_avg_word_length",
    "max_avg_word_length",
    "max_non_alpha_words_ratio",
    "dup_line_frac",
    "top_n_grams",
    "dup_n_grams",
    "line_punct_thr",
    "new_line_ratio",
)


@dataclass(frozen=True)
class LangRules:
    """Thresholds of the FineWeb-2 filter chain for one language (names as in FineWeb-2's configs)."""

    language_score: float  # minimum LID confidence
    min_avg_word_length: float  # Gopher quality: mean length of non-symbol words
    max_avg_word_length: float
    max_non_alpha_words_ratio: (
        float  # Gopher quality: minimum share of words with a letter (name as FineWeb-2)
    )
    dup_line_frac: float  # Gopher repetition: share of duplicated lines
    top_n_grams: Pairs  # Gopher repetition: (n, max share of chars in the most frequent n-gram)
    dup_n_grams: Pairs  # Gopher repetition: (n, max share of chars in duplicated n-grams)
    line_punct_thr: float  # FineWeb: minimum share of lines ending in terminal punctuation (0 = off)
    new_line_ratio: float  # FineWeb: maximum newlines per word (list-like pages)
    source: str = ""
    stop_words: frozenset[str] = frozenset()
    min_stop_words: int = 2  # FineWeb-2 uses 2 for every language
    char_duplicates_ratio: float = 0.1  # FineWeb-2 (0.01 in FineWeb English)
    max_symbol_word_ratio: float = 0.1  # Gopher: '#' or ellipsis per word
    max_bullet_lines_ratio: float = 0.9
    max_ellipsis_lines_ratio: float = 0.3
    max_perplexity: float | None = None  # only with a KenLM model for the language


def _pairs(cell: str) -> Pairs:
    return tuple((int(n), float(v)) for n, v in (p.split(":") for p in cell.split(",") if p))


def _parse_cell(name: str, cell: str):
    if name in ("top_n_grams", "dup_n_grams"):
        return _pairs(cell)
    return float(cell)


def read_rules_table(text: str, origin: str) -> dict[str, dict]:
    """Rows of a rules TSV as ``{code: {column: value}}`` (blank cells absent)."""
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    out: dict[str, dict] = {}
    for lineno, row in enumerate(csv.DictReader(lines, delimiter="\t"), start=2):
        code = row.get("code") or ""
        try:
            key = code if code == "*" else canonical(code)
            out[key] = {k: _parse_cell(k, v) for k, v in row.items() if k in COLUMNS and v not in (None, "")}
            out[key]["source"] = row.get("source") or origin
        except (ValueError, LookupError) as exc:
            raise ConfigError(
                f"{origin}: row {lineno} ({code!r}): {exc}", "cells are numbers or n:value,n:value lists"
            ) from None
    return out


@cache
def _stop_word_table() -> dict[str, frozenset[str]]:
    out: dict[str, set[str]] = {}
    for row in read_asset_table("data/stopwords.tsv"):
        out.setdefault(row["code"], set()).add(row["word"])
    return {k: frozenset(v) for k, v in out.items()}


def stop_words(code: str) -> frozenset[str]:
    """The language's stop words (``assets/data/stopwords.tsv``; empty when it has no list)."""
    return _stop_word_table().get(code, frozenset())


@cache
def bundled_rules() -> dict[str, dict]:
    """Rows of the bundled ``lang_rules.tsv`` (read once; callers copy before changing them)."""
    text = resources.files("linguabridge").joinpath("assets/data/lang_rules.tsv").read_text("utf-8")
    return read_rules_table(text, "assets/data/lang_rules.tsv")


class RulesBook:
    """Resolves the rules of each language: bundled table, then the user's file, then recipe overrides."""

    def __init__(
        self,
        rules_file: str | None = None,
        overrides: dict[str, dict] | None = None,
        source_overrides: dict[str, dict[str, dict]] | None = None,
    ):
        self.rows = copy.deepcopy(bundled_rules())
        if rules_file:
            try:
                user = Path(rules_file).read_text("utf-8")
            except OSError as exc:
                raise ConfigError(f"rules file {rules_file}: {exc.strerror}", "fix data.rules_file") from None
            for code, row in read_rules_table(user, rules_file).items():
                self.rows.setdefault(code, {}).update(row)
        self.overrides = _by_language(overrides or {})
        self.source_overrides = {src: _by_language(table) for src, table in (source_overrides or {}).items()}
        self._cache: dict[tuple[str, str | None], LangRules] = {}

    def label(self, code: str, source: str | None = None) -> str:
        """Which rules a document is judged by: its language, plus its source when that has its own."""
        return f"{code}/{source}" if source in self.source_overrides else code

    def get(self, code: str, source: str | None = None) -> LangRules:
        """The rules of language ``code``, with those of ``source`` over them when it has its own."""
        key = (code, source if source in self.source_overrides else None)
        if key not in self._cache:
            merged = dict(self.rows["*"]) | self.rows.get(code, {})
            if code not in self.rows:
                merged["source"] = self.rows["*"]["source"]
            rules = _override(LangRules(stop_words=stop_words(code), **merged), self.overrides, code, "")
            if key[1] is not None:
                rules = _override(rules, self.source_overrides[key[1]], code, f"source_thresholds.{key[1]}.")
            if not rules.stop_words:
                rules = replace(rules, min_stop_words=0)  # no list for this language: the rule cannot apply
            self._cache[key] = rules
        return self._cache[key]


def _by_language(table: dict[str, dict]) -> dict[str, dict]:
    return {("*" if k == "*" else canonical(k)): v for k, v in table.items()}


def _override(rules: LangRules, table: dict[str, dict], code: str, where: str) -> LangRules:
    """``rules`` with the values ``table`` gives for every language (``*``) and for ``code``."""
    extra = table.get("*", {}) | table.get(code, {})
    if not extra:
        return rules
    known = {f.name for f in fields(LangRules)}
    bad = sorted(set(extra) - known)
    if bad:
        raise ConfigError(
            f"data.{where or 'thresholds.'}{code}: unknown key(s) {bad}", f"use one of {sorted(known)}"
        )
    conv = {k: (_pairs(v) if isinstance(v, str) and k.endswith("n_grams") else v) for k, v in extra.items()}
    return replace(rules, **conv)
