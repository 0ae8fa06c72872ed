"""TyDiQA-GoldP (Clark et al., TACL 2020; Apache-2.0): extractive QA on the gold passage, 9 languages.

Prompt as lm-eval's ``tydiqa_goldp_<lang>`` (labels in the language, ``assets/eval/qa_literals.tsv``), greedy
answer to the end of the line, F1 and exact match against every gold answer (``eval.metrics``). Records:
``context``, ``question``, ``answers`` (a list of strings, or the Hub's ``{"text": [...]}``).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from linguabridge.eval.literals import qa_labels
from linguabridge.eval.metrics import qa_scores
from linguabridge.eval.tasks.base import Benchmark, Default, HubSource, TaskSpec
from linguabridge.languages import canonical

TYDIQA_KEYS = {
    "ar": "arabic",
    "bn": "bengali",
    "en": "english",
    "fi": "finnish",
    "id": "indonesian",
    "ko": "korean",
    "ru": "russian",
    "sw": "swahili",
    "te": "telugu",
}


def answers_of(doc: dict) -> list[str]:
    answers = doc["answers"]
    return list(answers["text"]) if isinstance(answers, dict) else list(answers)


def first_answer(doc: dict) -> str:
    return answers_of(doc)[0]


def qa_prompt(doc: dict, labels: dict[str, str]) -> str:
    return f"{labels['context']}: {doc['context']}\n\n{labels['question']}: {doc['question']}\n\n{labels['answer']}:"


def qa_results(doc: dict, results: list[str], lang: str) -> dict[str, float]:
    return qa_scores(results[0], answers_of(doc), lang)


class TyDiQA(Benchmark):
    name = "tydiqa"
    title = "TyDiQA-GoldP: extractive QA, 9 languages (Clark et al., 2020), Apache-2.0"
    output_type = "generate_until"
    languages = {canonical(k): k for k in TYDIQA_KEYS}
    splits = ("train", "validation")
    fields = ("context", "question", "answers")
    metrics = ("f1", "exact_match")
    default = Default(split="validation", shots=0, metrics=("exact_match", "f1"))
    hub = HubSource(
        "google-research-datasets/tydiqa",
        config="secondary_task",
        splits={"train": "train", "validation": "validation"},
    )
    lm_eval_task = "tydiqa_goldp_{key}"

    def prompt_fields(self, spec: TaskSpec) -> dict[str, Any]:
        return {
            "doc_to_text": partial(qa_prompt, labels=qa_labels(spec.language)),
            "doc_to_target": first_answer,
            "process_results": partial(qa_results, lang=spec.language),
            "generation_kwargs": {
                "until": ["\n"],
                "do_sample": False,
                "temperature": 0.0,
                "max_gen_toks": spec.extras.get("max_new_tokens", 32),
            },
        }

    def prompt_template(self, spec: TaskSpec) -> str:
        labels = qa_labels(spec.language)
        return f"{labels['context']}: {{context}}\n\n{labels['question']}: {{question}}\n\n{labels['answer']}: {{answer up to the newline}}"
