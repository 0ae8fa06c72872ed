"""Per-language knowledge evaluation needs, read from tables in ``assets/eval/`` (never if-chains in code).

- ``scripts.tsv``: does a script put spaces between words (decides the target delimiter of a multiple-choice
  continuation), and which sacrebleu tokenizer BLEU needs for it.
- ``copa_connectors.tsv``: the cause/effect words that turn a COPA premise into a prompt, per language.
- ``qa_literals.tsv``: the Context/Question/Answer labels of extractive-QA prompts, per language.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from linguabridge.errors import LinguabridgeError
from linguabridge.io import read_asset_table
from linguabridge.languages import get_language


@dataclass(frozen=True)
class ScriptFacts:
    spaces: bool  # words separated by spaces
    bleu_tokenize: str  # sacrebleu tokenizer name


@cache
def _scripts() -> dict[str, ScriptFacts]:
    return {
        row["script_code"]: ScriptFacts(row["spaces"] == "yes", row["bleu_tokenize"])
        for row in read_asset_table("eval/scripts.tsv")
    }


def script_facts(lang: str) -> ScriptFacts:
    return _scripts().get(get_language(lang).script_code, ScriptFacts(True, "13a"))


def uses_spaces(lang: str) -> bool:
    """Whether words of ``lang`` are separated by spaces (zh/ja/th are not)."""
    return script_facts(lang).spaces


@cache
def _connectors() -> dict[str, tuple[str, str]]:
    return {
        row["language"]: (row["cause"], row["effect"]) for row in read_asset_table("eval/copa_connectors.tsv")
    }


def copa_connectors(lang: str) -> dict[str, str]:
    """``{"cause": ..., "effect": ...}`` for ``lang``; a language without literals fails loudly."""
    code = get_language(lang).code
    if code not in _connectors():
        raise LinguabridgeError(
            f"no COPA connector words for {code}",
            "add a row (language, cause, effect) to src/linguabridge/assets/eval/copa_connectors.tsv",
        )
    cause, effect = _connectors()[code]
    return {"cause": cause, "effect": effect}


@cache
def _qa_labels() -> dict[str, dict[str, str]]:
    return {
        row["language"]: {k: row[k] for k in ("context", "question", "answer")}
        for row in read_asset_table("eval/qa_literals.tsv")
    }


def qa_labels(lang: str) -> dict[str, str]:
    """``{"context", "question", "answer"}`` labels of an extractive-QA prompt in ``lang``."""
    code = get_language(lang).code
    if code not in _qa_labels():
        raise LinguabridgeError(
            f"no QA prompt labels for {code}",
            "add a row (language, context, question, answer) to src/linguabridge/assets/eval/qa_literals.tsv",
        )
    return _qa_labels()[code]
