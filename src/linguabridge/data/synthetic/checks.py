"""Step 3 of synthetic text: accept or reject each output with a reason (refusals, format, length, language,
exact and near duplicates)."""

from __future__ import annotations

import re
from functools import cache

from linguabridge.data.generation import Request
from linguabridge.data.langid import confusable_languages, get_identifier
from linguabridge.data.synthetic.prompts import asset_text, parse_sample
from linguabridge.data.text import Analysis

_MENTIONS_SAMPLE = re.compile(r"\b(given|created|generated|new) sample\b", re.IGNORECASE)


@cache
def refusal_patterns() -> re.Pattern:
    lines = [line.strip() for line in asset_text("refusals.txt").splitlines()]
    return re.compile("|".join(f"(?:{p})" for p in lines if p and not p.startswith("#")), re.IGNORECASE)


class OutputChecker:
    """Accept/reject generated text; remembers accepted outputs for exact and near-duplicate checks."""

    def __init__(self, cfg, lid=None):
        from datasketch.hashfunc import sha1_hash32

        from linguabridge.data.dedup import MinHasher, NearDuplicateIndex, exact_key

        self.cfg = cfg
        self.lid = lid or get_identifier("py3langid")
        self._exact_key = exact_key
        self.seen: set = set()
        self.hasher = MinHasher(n=3, hashfunc=sha1_hash32)
        self.index = NearDuplicateIndex(cfg.near_dup_threshold, recall_margin=0.2)

    def check(self, request: Request, text: str) -> tuple[str | None, dict]:
        lang = request.meta["language"]
        info: dict = {}
        if not text.strip():
            return "empty", info
        if refusal_patterns().search(text):
            return "refusal", info
        if request.meta["family"] == "fewshot":
            if _MENTIONS_SAMPLE.search(text):
                return "mentions_sample", info
            messages = parse_sample(text)
            if messages is None:
                return "bad_format", info
            info["messages"] = messages
        analysis = Analysis(text, lang)
        if len(analysis.non_symbol_words) < self.cfg.min_words:
            return "too_short", info
        pred = self.lid.predict(text)
        info["language_score"] = round(pred.score, 4)
        if pred.language != lang and pred.language not in confusable_languages(lang):
            info["predicted_language"] = pred.language
            return "wrong_language", info
        if pred.score < self.cfg.min_language_score:
            return "low_language_score", info
        key = (lang, self._exact_key(text))
        if key in self.seen:
            return "exact_duplicate", info
        sig = self.hasher(analysis)
        if self.index.find(sig) is not None:
            return "near_duplicate", info
        self.seen.add(key)
        self.index.add(request.key, sig)
        return None, info
