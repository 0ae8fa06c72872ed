"""Language identification backends returning canonical codes and a confidence in [0, 1].

Default: ``py3langid`` (offline, all 29 Marco languages). fastText ``lid.176.bin`` / GlotLID are supported as
model files the user points to (no package ships them).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache

from linguabridge.errors import LinguabridgeError, require
from linguabridge.languages import get_language


@dataclass(frozen=True)
class LangPrediction:
    language: str | None  # canonical code, None when the label is not a known language
    score: float
    label: str  # the backend's raw label


class Py3LangID:
    name = "py3langid"

    def __init__(self):
        require("py3langid", "data")
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        self._model = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)

    def predict(self, text: str) -> LangPrediction:
        # NFC first: decomposed Vietnamese is mis-identified otherwise.
        label, score = self._model.classify(unicodedata.normalize("NFC", text.replace("\n", " ")))
        return LangPrediction(_canonical_or_none(label), float(score), label)


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

    def predict(self, text: str) -> LangPrediction:
        labels, scores = self._model.predict(unicodedata.normalize("NFC", text.replace("\n", " ")), k=1)
        label = labels[0].removeprefix("__label__")
        return LangPrediction(_canonical_or_none(label), float(min(scores[0], 1.0)), label)


def _canonical_or_none(label: str) -> str | None:
    try:
        return get_language(label).code
    except LinguabridgeError:
        return None


@cache
def get_identifier(backend: str = "py3langid"):
    """``py3langid`` or ``fasttext:/path/to/model.bin``; cached per process."""
    if backend == "py3langid":
        return Py3LangID()
    if backend.startswith("fasttext:"):
        return FastTextLID(backend.split(":", 1)[1])
    raise LinguabridgeError(
        f"unknown language-ID backend {backend!r}", "use 'py3langid' or 'fasttext:/path/model.bin'"
    )
