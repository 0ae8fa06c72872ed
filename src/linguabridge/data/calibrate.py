"""Threshold calibration: measure every rule of the curation chain on a sample of (mostly clean) text, and set
each threshold at the sample's percentile, so a new language starts with sensible values without tuning
(``linguabridge data thresholds``; the table it writes is a ``data.rules_file``).

Measuring runs the curation chain's own language ID, rules book and quality filters (``clean.Chain``) with
permissive rules, on every document in a target language: unlike curation it applies no URL block-list,
script check, decontamination or PII step, and no filter's verdict stops the others from measuring.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import numpy as np

from linguabridge.config import DataConfig
from linguabridge.data.thresholds import COLUMNS, LangRules, Pairs, bundled_rules


def _format_pairs(pairs: Pairs) -> str:
    return ",".join(f"{n}:{v:g}" for n, v in pairs)


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
        base = bundled_rules()["*"]

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
    from linguabridge.data.clean import Chain
    from linguabridge.data.readers import read_inputs
    from linguabridge.data.records import Document
    from linguabridge.data.segment import get_segmenter
    from linguabridge.data.text import Analysis, normalise

    # No word-count bounds, and none of the chain's steps that measure nothing (dedup, decontamination).
    cfg = DataConfig(
        lid_backend=lid_backend, min_words=0, max_words=10**9, dedup="none", decontaminate="none"
    )
    chain = Chain(cfg, languages)
    out: dict[str, list[dict]] = {}
    for n, doc in enumerate(read_inputs(inputs)):
        if limit is not None and n >= limit:
            break
        if not isinstance(doc, Document):
            continue
        text = normalise(doc.text, cfg.fix_text)
        if not text:
            continue
        pred = chain.lid.predict(text)
        if pred.language not in chain.targets:
            continue
        a = Analysis(text, pred.language, get_segmenter(pred.language))
        scores = {"language_score": pred.score}
        rules = permissive(chain.rules.get(pred.language))
        for f in chain.filters:
            f(doc, a, rules, scores)
        out.setdefault(pred.language, []).append(scores)
    return out
