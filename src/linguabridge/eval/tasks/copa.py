"""XCOPA and the demo's COPA-style task: choose the more plausible cause or effect of a premise.

XCOPA (Ponti et al., EMNLP 2020; CC BY 4.0): COPA (Roemmele et al., 2011) translated into 11 languages,
100 validation and 500 test items each. Upstream layout ``{lang}/{val,test}.{lang}.jsonl``.

Prompt styles:
- ``lm-eval`` reproduces lm-eval's ``xcopa_<lang>`` exactly: the premise minus its last character, a space,
  the connector, then " " + the alternative with a lower-cased first letter.
- ``script-aware`` fixes what that does wrong outside Latin text: it drops the last character only when it
  is punctuation (Thai and Tamil premises end in a letter, which lm-eval cuts off), puts no space before
  the connector or the alternative in scripts without spaces (zh, ja, th), and takes ``question`` from
  the consensus languages when the data holds them (th/tr/sw/id/it files carry wrong cause/effect values,
  see ``../shared/data/xcopa/README.md``).
"""

from __future__ import annotations

import unicodedata
from functools import partial
from typing import Any

from linguabridge.eval.literals import copa_connectors, uses_spaces
from linguabridge.eval.tasks.base import Benchmark, Default, HubSource, TaskSpec, read_task_file
from linguabridge.languages import canonical

XCOPA_KEYS = ("et", "ht", "id", "it", "qu", "sw", "ta", "th", "tr", "vi", "zh")
# Languages whose ``question`` field agrees item by item (the upstream README checked this).
CONSENSUS_KEYS = ("zh", "et", "vi")


def lm_eval_text(doc: dict, connector: dict[str, str]) -> str:
    """lm-eval's xcopa ``doc_to_text``: drop the final character, then " <connector>"."""
    return doc["premise"].strip()[:-1] + f" {connector[doc['question']]}"


def script_aware_text(doc: dict, connector: dict[str, str], spaced: bool) -> str:
    premise = doc["premise"].strip()
    if premise and unicodedata.category(premise[-1]).startswith("P"):
        premise = premise[:-1]
    return premise + (" " if spaced else "") + connector[doc["question"]]


def lower_first(choice: str) -> str:
    return choice[0].lower() + choice[1:]


def copa_choices(doc: dict) -> list[str]:
    return [lower_first(doc["choice1"]), lower_first(doc["choice2"])]


def set_question(doc: dict, questions: dict[tuple[str, str], str]) -> dict:
    return {"question": questions.get((doc["choice1"], doc["choice2"]), doc["question"])}


def _fix_questions(dataset, questions: dict[tuple[str, str], str]):
    return dataset.map(partial(set_question, questions=questions))


class COPA(Benchmark):
    """Shared prompt of every COPA-style task."""

    fields = ("premise", "choice1", "choice2", "question", "label")
    continuation_in_language = True

    def prompt_fields(self, spec: TaskSpec) -> dict[str, Any]:
        conn = copa_connectors(spec.language)
        if spec.protocol.prompt_style == "lm-eval":
            text = partial(lm_eval_text, connector=conn)
        else:
            text = partial(script_aware_text, connector=conn, spaced=uses_spaces(spec.language))
        return {"doc_to_text": text, "doc_to_choice": copa_choices, "doc_to_target": "label"}

    def prompt_template(self, spec: TaskSpec) -> str:
        conn = copa_connectors(spec.language)
        if spec.protocol.prompt_style == "lm-eval":
            premise, sep = "{premise minus its last character}", " "
        else:
            premise, sep = "{premise minus final punctuation}", " " if uses_spaces(spec.language) else ""
        return (
            f"{premise}{sep}{{{conn['cause']!r} if cause else {conn['effect']!r}}}"
            f"{spec.delimiter}{{alternative, first letter lower-cased}}"
        )


class XCOPA(COPA):
    name = "xcopa"
    title = "XCOPA: causal commonsense reasoning, 11 languages (Ponti et al., 2020), CC BY 4.0"
    languages = {canonical(k): k for k in XCOPA_KEYS}
    splits = ("validation", "test")
    split_stems = {"validation": "val"}
    default = Default(split="test", shots=0, metrics=("acc",))
    hub = HubSource("cambridgeltl/xcopa", splits={"validation": "validation", "test": "test"})
    lm_eval_task = "xcopa_{key}"

    def process_docs(self, spec: TaskSpec):
        if spec.protocol.prompt_style == "lm-eval":
            return None  # lm-eval scores the files as they are
        questions = consensus_questions(spec)
        return partial(_fix_questions, questions=questions) if questions else None


def consensus_questions(spec: TaskSpec) -> dict[tuple[str, str], str]:
    """``(choice1, choice2) -> question`` for every item of every split in use (scored and few-shot), taken
    from a consensus language's file of the same split and idx. Keyed by the item's own alternatives because
    a split's idx numbering restarts (val 0-99, test 0-499) and process_docs does not know the split."""
    bench = spec.benchmark
    root = next(iter(spec.files.values())).parent.parent
    for key in CONSENSUS_KEYS:
        others = {s: bench.find_file(root, canonical(key), s) for s in spec.files}
        if all(others.values()):
            questions = {}
            for split, path in spec.files.items():
                truth = {int(r["idx"]): r["question"] for r in read_task_file(others[split])}
                for r in read_task_file(path):
                    if int(r["idx"]) in truth:
                        questions[(r["choice1"], r["choice2"])] = truth[int(r["idx"])]
            spec.extras["question_source"] = f"{key} (same split and idx)"
            return questions
    spec.extras["question_source"] = "the file itself (no consensus language found beside it)"
    return {}


class DemoCOPA(COPA):
    """The demo's bundled COPA-style items (``assets/demo/eval_mc.jsonl``): one file, a ``language`` field."""

    name = "demo_copa"
    title = "COPA-style items bundled with the demo (written for the project)"
    languages: dict[str, str] = {}  # whatever the file holds
    splits = ("test",)
    split_stems = {"test": "eval_mc"}
    fields = COPA.fields + ("language",)
    default = Default(split="test", shots=0, metrics=("acc", "acc_norm"))
    language_field = "language"
