"""Language identification backends returning canonical codes and a confidence in [0, 1].

Default: ``py3langid`` (offline, all 29 Marco languages). fastText ``lid.176.bin`` / GlotLID are supported as
model files the user points to (no package ships them). Every backend goes through the same resolution of
closely related languages (``assets/data/lid_confusables.tsv``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache

from linguabridge.errors import LinguabridgeError, require
from linguabridge.io import read_asset_table
from linguabridge.languages import get_language


@dataclass(frozen=True)
class LangPrediction:
    language: str | None  # canonical code, None when the label is not a known language
    score: float
    label: str  # the backend's raw label
    resolved_by: str | None = None  # "markers:<group>" when a confusable pair was resolved


class Py3LangID:
    name = "py3langid"

    def __init__(self):
        require("py3langid", "data")
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        self._model = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)

    def top(self, text: str) -> tuple[str, float]:
        return self._model.classify(text)

    def ranked(self, text: str) -> list[tuple[str, float]]:
        return [(label, float(p)) for label, p in self._model.rank(text)]


class FastTextLID:
    """fastText-format models (``lid.176.bin``, GlotLID ``model.bin``) loaded from a local file."""

    def __init__(self, model_path: str):
        fasttext = require("fasttext", "data")  # install fasttext-numpy2 (works with numpy 2)
        self.name = f"fasttext:{model_path}"
        try:
            self._model = fasttext.load_model(model_path)
        except ValueError as exc:
            raise LinguabridgeError(
                f"cannot load fastText LID model {model_path}: {exc}", "check the file path"
            ) from None

    def ranked(self, text: str, k: int = 5) -> list[tuple[str, float]]:
        labels, scores = self._model.predict(text, k=k)
        return [
            (lab.removeprefix("__label__"), float(min(s, 1.0))) for lab, s in zip(labels, scores, strict=True)
        ]

    def top(self, text: str) -> tuple[str, float]:
        return self.ranked(text, k=1)[0]


@cache
def _confusables() -> tuple[dict[str, str], dict[str, dict[str, re.Pattern]]]:
    """code -> group, and group -> {code: marker regex}."""
    member: dict[str, str] = {}
    markers: dict[str, dict[str, re.Pattern]] = {}
    for r in read_asset_table("data/lid_confusables.tsv"):
        words = [re.escape(w.strip()) for w in r["markers"].split(",") if w.strip()]
        member[r["code"]] = r["group"]
        suffixes = "|".join(re.escape(x) for x in (r.get("suffixes") or "").split(",") if x)
        markers.setdefault(r["group"], {})[r["code"]] = re.compile(
            r"(?<!\w)(?:" + "|".join(words) + r")" + (f"(?:{suffixes})?" if suffixes else "") + r"(?!\w)",
            re.IGNORECASE,
        )
    return member, markers


def confusable_languages(lang: str) -> frozenset[str]:
    """Languages LID cannot reliably tell from ``lang`` (its group in ``lid_confusables.tsv``, ``lang`` included;
    empty when it has none). Where the language is given (a bitext side, a requested synthetic output), a
    prediction inside its group agrees with it."""
    member, markers = _confusables()
    group = member.get(lang)
    return frozenset(markers[group]) if group else frozenset()


class LanguageIdentifier:
    """A backend plus canonical codes and confusable-pair resolution."""

    def __init__(self, backend):
        self.backend = backend
        self.name = backend.name

    def predict(self, text: str) -> LangPrediction:
        # NFC first (decomposed Vietnamese is mis-identified otherwise); one line, as the models were trained.
        text = unicodedata.normalize("NFC", text.replace("\n", " "))
        label, score = self.backend.top(text)
        code = _canonical_or_none(label)
        member, markers = _confusables()
        group = member.get(code or "")
        if group is None:
            return LangPrediction(code, float(score), label)
        probs: dict[str, float] = {}
        for lab, p in self.backend.ranked(text):
            c = _canonical_or_none(lab)
            if c and member.get(c) == group:
                probs[c] = probs.get(c, 0.0) + p
        hits = {c: len(pat.findall(text)) for c, pat in markers[group].items()}
        best = max(sorted(hits), key=lambda c: hits[c])
        ordered = sorted(hits.values(), reverse=True)
        if ordered[0] > (ordered[1] if len(ordered) > 1 else 0) and best != code:
            code, label = best, best
        return LangPrediction(code, min(1.0, sum(probs.values())), label, f"markers:{group}")


@cache
def _canonical_or_none(label: str) -> str | None:
    """Canonical code of a backend label (cached: a handful of labels, millions of calls)."""
    try:
        return get_language(label).code
    except LinguabridgeError:
        return None


@cache
def get_identifier(backend: str = "py3langid") -> LanguageIdentifier:
    """``py3langid`` or ``fasttext:/path/to/model.bin`` (lid.176 or GlotLID); cached per process."""
    if backend == "py3langid":
        return LanguageIdentifier(Py3LangID())
    if backend.startswith("fasttext:"):
        return LanguageIdentifier(FastTextLID(backend.split(":", 1)[1]))
    raise LinguabridgeError(
        f"unknown language-ID backend {backend!r}", "use 'py3langid' or 'fasttext:/path/model.bin'"
    )
