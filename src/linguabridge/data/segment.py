"""Word segmentation per language, chosen from ``assets/data/segmenters.tsv``.

Text is first split into word-character runs and punctuation (right for scripts with spaces). Runs written in a
script without spaces (Thai, Han, kana, Khmer, Lao, Myanmar, Tibetan) go through the language's segmenter: a real
word segmenter from a package (pythainlp, jieba, fugashi + unidic-lite, khmer-nltk, laonlp) or a syllable breaker.
A missing package falls back to characters with the reason recorded, never silently.
"""

from __future__ import annotations

import importlib.util
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import regex

from linguabridge.io import read_asset_table

# Words (letters, digits and combining marks, with inner apostrophes/hyphens) or single punctuation/symbol
# characters, as datatrove's spaCy word tokenizers count them: the FineWeb-2 thresholds (alpha-word ratio, avg
# word length) assume punctuation tokens. Marks must be inside words: Python's ``\w`` splits Thai, Devanagari,
# Bengali, Khmer or Myanmar words at every vowel sign, hence the ``regex`` module and ``\p{M}``.
TOKEN = regex.compile(r"[\w\p{M}]+(?:['’\-][\w\p{M}]+)*|[^\w\p{M}\s]")
NO_SPACE = re.compile(
    r"[\u0e00-\u0e7f\u0e80-\u0eff\u0f00-\u0fff\u1000-\u109f\u1780-\u17ff\u19e0-\u19ff"
    r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002a6df]"
)
# Myanmar syllable breaking (after Ye Kyaw Thu's sylbreak): a break before each consonant that is not stacked
# (preceded by virama U+1039) and not killed (followed by asat U+103A / virama, possibly after medials).
_MY_SYLLABLE = re.compile(
    r"(?:(?<!\u1039)([\u1000-\u102a\u103f\u104a-\u104f]|[\u1040-\u1049]+|[^\u1000-\u104f]+)(?![\u103b\u103e]?[\u1037\u1039\u103a]))"
)
_TIBETAN_TSHEG = re.compile(r"[\u0f0b\u0f0d\u0f0e]+")


@dataclass(frozen=True)
class Segmenter:
    """Splits one run of an unspaced script into words. ``fallback`` says why a real one is not in use."""

    name: str
    split: Callable[[str], list[str]]
    fallback: str | None = None
    whole_text: bool = False  # segment the whole text (Korean morphemes), not only unspaced runs
    per_line: bool = False  # segment whole lines that contain unspaced script (fewer, longer calls)


def _chars(run: str) -> list[str]:
    return list(run)


def _pythainlp() -> Callable[[str], list[str]]:
    from pythainlp.tokenize import word_tokenize

    # newmm (dictionary maximal matching); nlpo3 is the same algorithm in Rust (~5x faster, same words).
    engine = "nlpo3" if importlib.util.find_spec("nlpo3") else "newmm"
    return lambda run: word_tokenize(run, engine=engine, keep_whitespace=False)


def _jieba() -> Callable[[str], list[str]]:
    if importlib.util.find_spec("rjieba"):  # jieba-rs: the same dictionary and algorithm, ~40x faster
        import rjieba

        return lambda run: rjieba.cut(run, hmm=True)
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return lambda run: jieba.lcut(run, HMM=True)


def _fugashi() -> Callable[[str], list[str]]:
    import fugashi

    tagger = fugashi.Tagger()  # unidic-lite's dictionary, found automatically when installed
    return lambda run: [w.surface for w in tagger(run)]


def _khmernltk() -> Callable[[str], list[str]]:
    logging.getLogger("khmer-nltk").setLevel(logging.WARNING)
    from khmernltk import word_tokenize

    return lambda run: [w for w in word_tokenize(run) if w.strip()]


def _laonlp() -> Callable[[str], list[str]]:
    from laonlp.tokenize import word_tokenize

    return lambda run: [w for w in word_tokenize(run) if w.strip()]


def _kiwi() -> Callable[[str], list[str]]:
    from kiwipiepy import Kiwi

    kiwi = Kiwi()
    return lambda text: [t.form for t in kiwi.tokenize(text)]


def _burmese_syllables() -> Callable[[str], list[str]]:
    def split(run: str) -> list[str]:
        return [s for s in _MY_SYLLABLE.sub("\x00\\1", run).split("\x00") if s]

    return split


def _tibetan_syllables() -> Callable[[str], list[str]]:
    return lambda run: [s for s in _TIBETAN_TSHEG.split(run) if s]


_FACTORIES: dict[str, Callable[[], Callable[[str], list[str]]]] = {
    "pythainlp": _pythainlp,
    "jieba": _jieba,
    "fugashi": _fugashi,
    "khmernltk": _khmernltk,
    "laonlp": _laonlp,
    "kiwi": _kiwi,
    "burmese_syllables": _burmese_syllables,
    "tibetan_syllables": _tibetan_syllables,
}
_MODULES = {
    "pythainlp": "pythainlp",
    "jieba": "jieba",
    "fugashi": "fugashi",
    "khmer-nltk": "khmernltk",
    "laonlp": "laonlp",
    "unidic-lite": "unidic_lite",
    "kiwipiepy": "kiwipiepy",
    "rjieba": "rjieba",
}  # pip name -> import name


@cache
def segmenter_table() -> dict[str, dict[str, str]]:
    return {r["code"]: r for r in read_asset_table("data/segmenters.tsv")}


@cache
def get_segmenter(code: str, disabled: tuple[str, ...] = ()) -> Segmenter:
    """The segmenter for a canonical language code; ``chars`` for unspaced runs of languages not in the table.

    ``disabled`` names segmenters to skip (tests and benchmarks exercise the fallback with it).
    """
    row = segmenter_table().get(code)
    if row is None:  # a spaced script: regex words; a stray unspaced run (a Chinese name) goes by characters
        return Segmenter("regex", _chars)
    name = row["segmenter"]
    # "a,b": both needed; "a|b": either will do
    missing = [
        p
        for p in row["package"].split(",")
        if p and not any(importlib.util.find_spec(_MODULES.get(alt, alt)) for alt in p.split("|"))
    ]
    fallback = row.get("fallback") or "chars"
    if name in disabled:
        return Segmenter(fallback, _chars, f"{name} disabled by configuration")
    if missing:
        return Segmenter(fallback, _chars, f"{name} unavailable: pip install {' '.join(missing)}")
    try:
        scope = row.get("scope")
        return Segmenter(name, _FACTORIES[name](), whole_text=scope == "text", per_line=scope == "lines")
    except Exception as exc:  # a broken install must not stop curation: fall back, say why
        return Segmenter(fallback, _chars, f"{name} failed to load: {type(exc).__name__}: {exc}")


def rules_off(segmenter: Segmenter) -> tuple[str, ...]:
    """Rules that cannot judge a language whose segmenter fell back: stop words (never matched) and, for
    character units, mean word length."""
    if segmenter.fallback is None:
        return ()
    return ("stop_words", "avg_word_length") if segmenter.name == "chars" else ("stop_words",)


def words(text: str, segmenter: Segmenter) -> list[str]:
    """Word tokens of ``text``: regex tokens, with unspaced-script runs split by ``segmenter``."""
    if segmenter.whole_text:
        return [w for w in segmenter.split(text) if w and not w.isspace()]
    if NO_SPACE.search(text) is None:  # the common case: one regex pass, no per-token checks
        return TOKEN.findall(text)
    if segmenter.per_line:  # one call per line: segmenters are fast on long input, slow per call
        out: list[str] = []
        for line in text.split("\n"):
            if NO_SPACE.search(line) is None:
                out.extend(TOKEN.findall(line))
            else:
                out.extend(w.strip() for w in segmenter.split(line) if w and not w.isspace())
        return out
    out = []
    for tok in TOKEN.findall(text):
        if NO_SPACE.search(tok) is None:
            out.append(tok)
        else:
            out.extend(w for w in segmenter.split(tok) if w and not w.isspace())
    return out
