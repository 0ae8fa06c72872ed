"""Pass 1 of the bitext filter: per-pair rules, cheapest first, and exact/near duplicates of both sides.

Per-language knowledge comes from tables: expected length ratios (``assets/bitext/length_factors.tsv``), the
letters and sentence-final punctuation of each script (``assets/bitext/scripts.tsv``), and the languages LID
confuses (``langid.confusable_languages``).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from functools import cache, lru_cache

from linguabridge.data.dedup import MinHasher, NearDuplicateIndex, exact_key
from linguabridge.data.langid import confusable_languages, get_identifier
from linguabridge.data.text import Analysis
from linguabridge.errors import LinguabridgeError
from linguabridge.io import read_asset_table
from linguabridge.languages import get_language

RULES = (
    "empty_side",
    "too_long",
    "copy",
    "char_length_ratio",
    "word_length_ratio",
    "wrong_script",
    "wrong_language",
    "number_mismatch",
    "url_mismatch",
    "too_much_punctuation",
    "terminal_punctuation_mismatch",
    "exact_duplicate",
    "near_duplicate",
    "low_margin",
    "low_qe",
    "over_direction_cap",
)


def language_pair(pair: dict) -> str:
    """``A-B`` with the two languages sorted: X->Y and Y->X pairs share it (spill files, margin blocks)."""
    a, b = sorted((pair["src_lang"], pair["tgt_lang"]))
    return f"{a}-{b}"


# ------------------------------------------------------------------------------------ per-language tables
@cache
def _length_factors() -> dict[str, tuple[float, float | None]]:
    return {
        r["key"]: (float(r["chars"]), float(r["words"]) if r["words"] else None)
        for r in read_asset_table("bitext/length_factors.tsv")
    }


def length_factor(lang: str) -> tuple[float, float | None]:
    """(chars, words) per English unit; words is None for scripts written without spaces (the table lists
    every such script, so anything it lacks is spaced)."""
    table = _length_factors()
    script = get_language(lang).script_code
    if lang in table:
        return table[lang]
    return table.get(script, (1.0, 1.0))


@cache
def _scripts() -> dict[str, tuple[tuple[str, ...], str]]:
    return {
        r["script"]: (tuple(p.strip() for p in r["unicode"].split(",")), r["terminal"] or "")
        for r in read_asset_table("bitext/scripts.tsv")
    }


def script_info(lang: str) -> tuple[tuple[str, ...], str]:
    """(Unicode name prefixes of the language's script, its sentence-final punctuation)."""
    language = get_language(lang)
    # Unlisted scripts: the registry's script name is the Unicode block name ("Georgian" -> "GEORGIAN").
    return _scripts().get(language.script_code, ((language.script.upper(),), ""))


@lru_cache(maxsize=65536)
def _char_name(c: str) -> str:
    return unicodedata.name(c, "")


def script_fraction(text: str, lang: str) -> float:
    """Share of the letters of ``text`` that belong to the language's script (1.0 when there are none)."""
    prefixes = script_info(lang)[0]
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 1.0
    return sum(1 for c in letters if _char_name(c).startswith(prefixes)) / len(letters)


def _lid_languages(lid) -> frozenset[str] | None:
    """Languages the LID backend can predict, when it says; claims outside it get only the script check."""
    labels = getattr(lid, "languages", None)
    if labels is None:
        model = getattr(lid, "_model", None)  # py3langid's identifier keeps its labels in nb_classes
        labels = getattr(model, "nb_classes", None)
    if labels is None:
        return None
    out = set()
    for label in labels:
        try:
            out.add(get_language(str(label)).code)
        except LinguabridgeError:
            continue
    return frozenset(out)


# ------------------------------------------------------------------------------------------ pair rules
_NUMBER = re.compile(r"\d+(?:[.,\u00a0\u202f ]\d+)*")
_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"]+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
_CLOSERS = "\"'»”’)]}」』】）›"
_COPY_NORM = re.compile(r"[\W_]+", re.UNICODE)


def numbers(text: str) -> set[str]:
    """Numbers as ASCII digit strings, separators dropped (``1,000`` == ``1 000`` == ``١٠٠٠``)."""
    out = set()
    for match in _NUMBER.finditer(text):
        digits = "".join(str(unicodedata.decimal(c)) for c in match.group() if c.isdecimal())
        out.add(digits.lstrip("0") or "0")
    return out


def urls(text: str) -> set[str]:
    return {u.rstrip(".,;:!?)]}").lower() for u in _URL.findall(text)}


def punct_ratio(text: str) -> float:
    chars = [c for c in text if not c.isspace()]
    if not chars:
        return 0.0
    return sum(1 for c in chars if unicodedata.category(c)[0] in "PS") / len(chars)


def _ends(text: str, terminal: str) -> str:
    """'terminal', 'open' (ends in a letter or digit) or 'other' (a comma, colon...)."""
    last = text.rstrip().rstrip(_CLOSERS)[-1:]
    if not last:
        return "other"
    if last in terminal:
        return "terminal"
    return "open" if unicodedata.category(last)[0] in "LNM" else "other"


@dataclass
class PairRules:
    """The per-pair rules of pass 1. ``judge`` returns the reason a pair is dropped, or None."""

    cfg: object  # BitextConfig
    lid: object | None = None
    lid_langs: frozenset[str] | None = None
    counters: Counter = field(default_factory=Counter)

    def __post_init__(self):
        if self.cfg.language_id and self.lid is None:
            self.lid = get_identifier(self.cfg.lid_backend)
            self.lid_langs = _lid_languages(self.lid)

    def judge(self, pair: dict, scores: dict) -> str | None:
        cfg = self.cfg
        src, tgt, sl, tl = pair["src"], pair["tgt"], pair["src_lang"], pair["tgt_lang"]
        if not src.strip() or not tgt.strip():
            return "empty_side"
        if max(len(src), len(tgt)) > cfg.max_chars:
            return "too_long"
        if _COPY_NORM.sub("", src.casefold()) == _COPY_NORM.sub("", tgt.casefold()):
            return "copy"
        (fc_s, fw_s), (fc_t, fw_t) = length_factor(sl), length_factor(tl)
        if _ratio(len(src) / fc_s, len(tgt) / fc_t, cfg.ratio_slack) > cfg.max_char_ratio:
            return "char_length_ratio"
        ws, wt = Analysis(src, sl).non_symbol_words, Analysis(tgt, tl).non_symbol_words
        if max(len(ws), len(wt)) > cfg.max_words:
            return "too_long"
        if fw_s and fw_t and _ratio(len(ws) / fw_s, len(wt) / fw_t, cfg.ratio_slack / 4) > cfg.max_word_ratio:
            return "word_length_ratio"
        for side, text, lang in (("src", src, sl), ("tgt", tgt, tl)):
            if script_fraction(text, lang) < cfg.min_script_fraction:
                return f"{side}_wrong_script"
        if self.lid is not None:
            for side, text, lang in (("src", src, sl), ("tgt", tgt, tl)):
                reason = self._language(side, text, lang, scores)
                if reason:
                    return reason
        if len(numbers(src) ^ numbers(tgt)) > cfg.max_number_mismatch:
            return "number_mismatch"
        if cfg.check_urls and urls(src) != urls(tgt):
            return "url_mismatch"
        if max(punct_ratio(src), punct_ratio(tgt)) > cfg.max_punct_ratio:
            return "too_much_punctuation"
        if cfg.terminal_punctuation:
            term_s, term_t = script_info(sl)[1], script_info(tl)[1]
            if term_s and term_t and {_ends(src, term_s), _ends(tgt, term_t)} == {"terminal", "open"}:
                return "terminal_punctuation_mismatch"
        return None

    def _language(self, side: str, text: str, lang: str, scores: dict) -> str | None:
        if len(text) < self.cfg.lid_min_chars:
            self.counters["lid_skipped_short"] += 1
            return None
        if self.lid_langs is not None and lang not in self.lid_langs:
            self.counters["lid_unsupported_language"] += 1
            return None
        pred = self.lid.predict(text)
        scores[f"lid_{side}"] = round(pred.score, 4)
        if pred.language is None or pred.language == lang:
            return None
        if pred.language in confusable_languages(lang):
            return None
        if pred.score < self.cfg.lid_min_score:
            self.counters["lid_low_confidence_disagreement"] += 1
            return None
        scores[f"lid_{side}_predicted"] = pred.language
        return f"{side}_wrong_language"


def _ratio(a: float, b: float, slack: float) -> float:
    a, b = a + slack, b + slack
    return max(a, b) / max(min(a, b), 1e-9)


class PairDeduplicator:
    """Exact (normalised text of both sides) and near-duplicate (MinHash over both sides) pairs.

    Shingles are tagged with their language, so X->Y and Y->X versions of one pair collide.
    """

    def __init__(self, mode: str, threshold: float, seed: int = 1):
        from datasketch.hashfunc import sha1_hash32

        self.mode = mode
        self.seen: dict[tuple, str] = {}
        self.index = NearDuplicateIndex(threshold, recall_margin=0.2) if mode == "minhash" else None
        # the curation stage's shingles
        self.hasher = MinHasher(seed=seed, n=3, hashfunc=sha1_hash32) if mode == "minhash" else None

    def check(self, pair: dict) -> tuple[str | None, str | None]:
        """(reason, id of the pair it duplicates); registers pairs that pass."""
        if self.mode == "none":
            return None, None
        sides = sorted(((pair["src_lang"], pair["src"]), (pair["tgt_lang"], pair["tgt"])))
        key = tuple((lang, exact_key(text)) for lang, text in sides)
        if key in self.seen:
            return "exact_duplicate", self.seen[key]
        sig = None
        if self.index is not None:
            grams = [
                lang.encode() + b":" + g
                for lang, text in sides
                for g in self.hasher.shingles(Analysis(text, lang))
            ]
            sig = self.hasher.signature(grams)
            hit = self.index.find(sig)
            if hit is not None:
                return "near_duplicate", hit
        self.seen[key] = pair["id"]
        if sig is not None:
            self.index.add(pair["id"], sig)
        return None, None
