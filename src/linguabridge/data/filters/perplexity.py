"""Optional KenLM perplexity per language (CCNet-style: words joined by spaces, scored per line, documents
perplexity = 10 ** (-sum log10 p / tokens)). Models are user-supplied ``.arpa`` / ``.bin`` files; the score is
persisted in ``metadata.scores.perplexity`` whether or not a threshold is set."""

from __future__ import annotations

from pathlib import Path

from linguabridge.data.records import Document
from linguabridge.data.text import Analysis
from linguabridge.data.thresholds import LangRules
from linguabridge.errors import ConfigError, require


class PerplexityFilter:
    name = "perplexity"

    def __init__(self, models: dict[str, str]):
        self.paths = {k: str(v) for k, v in models.items()}
        for lang, path in self.paths.items():
            if not Path(path).is_file():
                raise ConfigError(f"KenLM model for {lang} not found: {path}", "fix data.kenlm_models")
        self._models: dict = {}

    def _model(self, lang: str):
        if lang not in self._models:
            kenlm = require("kenlm", "data")  # the `ufal.kenlm` wheel provides the `kenlm` module
            try:
                self._models[lang] = kenlm.Model(self.paths[lang])
            except OSError as exc:
                raise ConfigError(
                    f"cannot load KenLM model {self.paths[lang]}: {str(exc).splitlines()[0][:200]}",
                    "give an ARPA or KenLM binary file (order >= 2) in data.kenlm_models",
                ) from None
        return self._models[lang]

    def perplexity(self, lang: str, a: Analysis) -> float:
        from linguabridge.data.segment import words

        model = self._model(lang)
        log10, tokens = 0.0, 0
        for line in a.lines:
            toks = [w.lower() for w in words(line, a.segmenter)]
            if not toks:
                continue
            log10 += model.score(" ".join(toks), bos=True, eos=True)
            tokens += len(toks) + 1  # + </s>
        return 10.0 ** (-log10 / max(tokens, 1))

    def __call__(self, doc: Document, a: Analysis, rules: LangRules, scores: dict) -> str | None:
        lang = a.language
        if lang not in self.paths:
            return None
        ppl = self.perplexity(lang, a)
        scores["perplexity"] = round(ppl, 2)
        if rules.max_perplexity is not None and ppl > rules.max_perplexity:
            return "perplexity"
        return None
