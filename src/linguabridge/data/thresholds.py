"""Per-language filter thresholds kept as data (``assets/data/lang_rules.tsv``) and their derivation.

A row per language; blank cells inherit the ``*`` row. Users replace or extend the table with their own file
(``data.rules_file``, e.g. the output of ``linguabridge data thresholds``) and override single values in the
recipe (``data.thresholds: {tha_Thai: {language_score: 0.5}}``).
"""

from __future__ import annotations

import copy
import csv
import math
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np

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


def _format_pairs(pairs: Pairs) -> str:
    return ",".join(f"{n}:{v:g}" for n, v in pairs)


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
def _bundled_rules() -> dict[str, dict]:
    text = resources.files("linguabridge").joinpath("assets/data/lang_rules.tsv").read_text("utf-8")
    return read_rules_table(text, "assets/data/lang_rules.tsv")


class RulesBook:
    """Resolves the rules of each language: bundled table, then the user's file, then recipe overrides."""

    def __init__(self, rules_file: str | None = None, overrides: dict[str, dict] | None = None):
        self.rows = copy.deepcopy(_bundled_rules())
        if rules_file:
            try:
                user = Path(rules_file).read_text("utf-8")
            except OSError as exc:
                raise ConfigError(f"rules file {rules_file}: {exc.strerror}", "fix data.rules_file") from None
            for code, row in read_rules_table(user, rules_file).items():
                self.rows.setdefault(code, {}).update(row)
        self.overrides = {("*" if k == "*" else canonical(k)): v for k, v in (overrides or {}).items()}
        self._cache: dict[str, LangRules] = {}

    def get(self, code: str) -> LangRules:
        if code not in self._cache:
            merged = dict(self.rows["*"]) | self.rows.get(code, {})
            if code not in self.rows:
                merged["source"] = self.rows["*"]["source"]
            rules = LangRules(stop_words=stop_words(code), **merged)
            extra = self.overrides.get("*", {}) | self.overrides.get(code, {})
            if extra:
                known = {f.name for f in fields(LangRules)}
                bad = sorted(set(extra) - known)
                if bad:
                    raise ConfigError(
                        f"data.thresholds.{code}: unknown key(s) {bad}", f"use one of {sorted(known)}"
                    )
                conv = {
                    k: (_pairs(v) if isinstance(v, str) and k.endswith("n_grams") else v)
                    for k, v in extra.items()
                }
                rules = replace(rules, **conv)
            if not rules.stop_words:
                rules = replace(rules, min_stop_words=0)  # no list for this language: the rule cannot apply
            self._cache[code] = rules
        return self._cache[code]


# ----------------------------------------------------------------------------------------- derivation
def derive_rules(samples: dict[str, Iterable[dict]], quantile: float = 0.05) -> dict[str, dict]:
    """Thresholds per language from per-document statistics of a sample believed mostly clean.

    ``samples[lang]`` yields the ``scores`` dicts the chain stores in metadata. Each "maximum" threshold is set
    at the ``1 - quantile`` percentile of the sample and each "minimum" at the ``quantile`` percentile, so a
    new language starts by rejecting only its ``quantile`` tail on every rule (FineWeb-2 tuned from similar
    per-language distributions).
    """
    out: dict[str, dict] = {}
    hi, lo = 100 * (1 - quantile), 100 * quantile
    for lang, rows in samples.items():
        cols: dict[str, list[float]] = {}
        for r in rows:
            for k, v in r.items():
                if isinstance(v, (int, float)):
                    cols.setdefault(k, []).append(float(v))
        if not cols:
            continue

        def pct(key: str, q: float, default: float, cols=cols) -> float:
            """Percentile rounded outwards to 3 decimals: a lower bound down, an upper bound up."""
            v = cols.get(key)
            if not v:
                return default
            x = float(np.percentile(v, q)) * 1000
            return (math.floor(x) if q < 50 else math.ceil(x)) / 1000

        # Repetition rules measure the same thing in every language: clean text repeats little, so a sample
        # percentile would be far stricter than Gopher's values; take whichever is looser.
        base = _bundled_rules()["*"]

        def looser(key: str, q: float, default: float) -> float:
            return max(pct(key, q, default), default)

        row = {
            "language_score": pct("language_score", lo, 0.5),
            "min_avg_word_length": pct("avg_word_length", lo, 1.0),
            "max_avg_word_length": pct("avg_word_length", hi, 20.0),
            "max_non_alpha_words_ratio": pct("alpha_words_ratio", lo, 0.5),
            "dup_line_frac": looser("dup_line_frac", hi, base["dup_line_frac"]),
            "top_n_grams": tuple((n, looser(f"top_{n}_gram", hi, v)) for n, v in base["top_n_grams"]),
            "dup_n_grams": tuple((n, looser(f"dup_{n}_grams", hi, v)) for n, v in base["dup_n_grams"]),
            "line_punct_thr": pct("line_punct_ratio", lo, 0.0),
            "new_line_ratio": pct("new_line_ratio", hi, 0.3),
            "source": f"derived: {len(cols.get('avg_word_length', []))} docs, q={quantile}",
        }
        out[lang] = row
    return out


def write_rules_table(rows: dict[str, dict], path: str | Path) -> None:
    """Write rows in the ``lang_rules.tsv`` format (loadable with ``data.rules_file``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = ["code", *COLUMNS, "source"]
    lines = ["\t".join(header)]
    for code, row in sorted(rows.items()):
        cells = [code]
        for col in COLUMNS:
            v = row.get(col, "")
            cells.append(_format_pairs(v) if isinstance(v, tuple) else (f"{v:g}" if v != "" else ""))
        cells.append(str(row.get("source", "")))
        lines.append("\t".join(cells))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def permissive(rules: LangRules) -> LangRules:
    """Rules that reject nothing but still compute every score (for measuring a sample)."""
    inf = float("inf")
    return replace(
        rules,
        language_score=0.0,
        min_avg_word_length=0.0,
        max_avg_word_length=inf,
        max_non_alpha_words_ratio=0.0,
        dup_line_frac=inf,
        top_n_grams=tuple((n, inf) for n in (2, 3, 4)),
        dup_n_grams=tuple((n, inf) for n in range(5, 11)),
        line_punct_thr=0.0,
        new_line_ratio=inf,
        min_stop_words=0,
        char_duplicates_ratio=inf,
        max_symbol_word_ratio=inf,
        max_bullet_lines_ratio=inf,
        max_ellipsis_lines_ratio=inf,
    )


def measure(inputs: list, languages: list[str], lid_backend: str = "py3langid", limit: int | None = None):
    """Per-language score dicts of the documents of ``inputs`` (a sample): every rule measured, none applied."""
    from linguabridge.data.filters import FineWebLines, GopherQuality, GopherRepetition
    from linguabridge.data.langid import get_identifier
    from linguabridge.data.readers import read_inputs
    from linguabridge.data.records import Document
    from linguabridge.data.segment import get_segmenter
    from linguabridge.data.text import Analysis, normalise

    lid = get_identifier(lid_backend)
    book = RulesBook()
    filters = [GopherRepetition(), FineWebLines(), GopherQuality(0, 10**9)]
    targets = set(languages)
    out: dict[str, list[dict]] = {}
    for n, doc in enumerate(read_inputs(inputs)):
        if limit is not None and n >= limit:
            break
        if not isinstance(doc, Document):
            continue
        text = normalise(doc.text)
        if not text:
            continue
        pred = lid.predict(text)
        if pred.language not in targets:
            continue
        a = Analysis(text, pred.language, get_segmenter(pred.language))
        scores = {"language_score": pred.score}
        rules = permissive(book.get(pred.language))
        for f in filters:
            f(doc, a, rules, scores)
        out.setdefault(pred.language, []).append(scores)
    return out
