"""Multiple-choice reading and knowledge benchmarks, each with lm-eval's own prompt.

- Belebele (Bandarkar et al., 2023; CC BY-SA 4.0): FLORES passages with 4-way questions, 122 languages,
  one 900-item ``test`` split (few-shot examples then come from it, the scored item excluded).
- XStoryCloze (Lin et al., 2022; CC BY-SA 4.0): choose the right ending of a 4-sentence story, 11 languages,
  ``train`` (360) and ``eval`` (1511) splits.
- MMMLU (OpenAI, 2024; MIT): MMLU's test set professionally translated into 14 languages (only ``test``).
- MMLU (Hendrycks et al., 2021; MIT), ARC-Challenge (Clark et al., 2018; CC BY-SA 4.0), C-Eval (Huang et
  al., 2023; CC BY-NC-SA 4.0) and AGIEval (Zhong et al., 2023; MIT): the monolingual rows of Marco's Table 4.
  MMLU, C-Eval and AGIEval are scored per subject (``subject`` field) and reported micro-averaged, as
  lm-eval's groups do (weighted by size).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from linguabridge.eval.tasks.base import Benchmark, Default, HubSource, TaskSpec
from linguabridge.languages import canonical

LETTERS = ["A", "B", "C", "D"]


class LetterChoice(Benchmark):
    """Question and options in the prompt, then " A" / " B" / ... scored after "Answer:"."""

    text: str  # lm-eval's Jinja doc_to_text
    target: str | Any  # lm-eval's doc_to_target
    description: str = ""

    def prompt_fields(self, spec: TaskSpec) -> dict[str, Any]:
        fields = {"doc_to_text": self.text, "doc_to_choice": LETTERS, "doc_to_target": self.target}
        if self.description and spec.subset:
            fields["description"] = self.description.format(subject=spec.subset.replace("_", " "))
        return fields

    def prompt_template(self, spec: TaskSpec) -> str:
        return self.prompt_fields(spec)["doc_to_text"] + " {A|B|C|D}"


class Belebele(LetterChoice):
    name = "belebele"
    title = "Belebele: reading comprehension on FLORES passages, 122 languages (Meta, 2023), CC BY-SA 4.0"
    # Marco's 29 languages (the dataset's keys are FLORES-200 codes already); add more by extending this.
    languages = {
        c: c
        for c in [
            "eng_Latn",
            "zho_Hans",
            "arb_Arab",
            "deu_Latn",
            "spa_Latn",
            "fra_Latn",
            "kor_Hang",
            "jpn_Jpan",
            "por_Latn",
            "tur_Latn",
            "ben_Beng",
            "heb_Hebr",
            "ind_Latn",
            "ita_Latn",
            "zsm_Latn",
            "nld_Latn",
            "pol_Latn",
            "rus_Cyrl",
            "tha_Thai",
            "ukr_Cyrl",
            "urd_Arab",
            "vie_Latn",
            "ces_Latn",
            "ell_Grek",
            "hun_Latn",
            "kaz_Cyrl",
            "ron_Latn",
            "azj_Latn",
            "npi_Deva",
        ]
    }
    splits = ("test",)
    fields = ("flores_passage", "question", "mc_answer1", "mc_answer2", "mc_answer3", "mc_answer4")
    fields += ("correct_answer_num",)
    default = Default(split="test", shots=0, metrics=("acc", "acc_norm"))
    lm_eval_sampler = "first_n"
    hub = HubSource("facebook/belebele", splits={"test": "test"})
    lm_eval_task = "belebele_{key}"
    text = (
        "P: {{flores_passage}}\nQ: {{question.strip()}}\nA: {{mc_answer1}}\nB: {{mc_answer2}}\n"
        "C: {{mc_answer3}}\nD: {{mc_answer4}}\nAnswer:"
    )
    target = "{{['1', '2', '3', '4'].index(correct_answer_num|string)}}"


class XStoryCloze(Benchmark):
    name = "xstorycloze"
    title = "XStoryCloze: story endings, 11 languages (Lin et al., 2022), CC BY-SA 4.0"
    languages = {canonical(k): k for k in ("en", "ru", "zh", "es", "ar", "hi", "id", "te", "sw", "eu", "my")}
    splits = ("train", "validation")
    split_stems = {"validation": "eval"}
    fields = ("input_sentence_1", "input_sentence_2", "input_sentence_3", "input_sentence_4")
    fields += ("sentence_quiz1", "sentence_quiz2", "answer_right_ending")
    default = Default(split="validation", shots=0, metrics=("acc",))
    continuation_in_language = True
    hub = HubSource("juletxara/xstory_cloze", splits={"train": "train", "validation": "eval"})
    lm_eval_task = "xstorycloze_{key}"

    def prompt_fields(self, spec: TaskSpec) -> dict[str, Any]:
        sep = " " if spec.delimiter else ""  # sentences of a story are joined like its words
        return {
            "doc_to_text": partial(story_text, sep=sep),
            "doc_to_choice": "{{[sentence_quiz1, sentence_quiz2]}}",
            "doc_to_target": "{{answer_right_ending-1}}",
        }

    def prompt_template(self, spec: TaskSpec) -> str:
        sep = " " if spec.delimiter else ""
        return f"{{sentence 1..4 joined by {sep!r}}}{spec.delimiter}{{ending}}"


def story_text(doc: dict, sep: str) -> str:
    return sep.join(doc[f"input_sentence_{i}"] for i in range(1, 5))


class MMMLU(LetterChoice):
    name = "mmmlu"
    title = "MMMLU: MMLU test set translated into 14 languages (OpenAI, 2024), MIT"
    languages = {
        canonical(k.split("_")[0].lower()): k
        for k in (
            [
                "AR_XY",
                "BN_BD",
                "DE_DE",
                "ES_LA",
                "FR_FR",
                "HI_IN",
                "ID_ID",
                "IT_IT",
                "JA_JP",
                "KO_KR",
                "PT_BR",
                "SW_KE",
                "YO_NG",
                "ZH_CN",
            ]
        )
    }
    splits = (
        "dev",
        "test",
    )  # no dev upstream; a dev file beside test (e.g. MMLU dev, translated) feeds the shots
    fields = ("Question", "A", "B", "C", "D", "Answer")
    default = Default(split="test", shots=0, metrics=("acc", "acc_norm"))
    lm_eval_sampler = "first_n"
    hub = HubSource("openai/MMMLU", splits={"test": "test"})
    lm_eval_task = "mmmlu_{key}"
    text = "{{Question.strip()}}\nA. {{A}}\nB. {{B}}\nC. {{C}}\nD. {{D}}\nAnswer:"
    target = "Answer"


class MMLU(LetterChoice):
    name = "mmlu"
    title = "MMLU: 57 subjects of knowledge questions (Hendrycks et al., 2021), MIT"
    languages = {"eng_Latn": "en"}
    splits = ("dev", "validation", "test")
    fields = ("question", "choices", "answer", "subject")
    default = Default(split="test", shots=0, metrics=("acc",))
    fewshot_order = ("dev", "validation", "test")
    lm_eval_sampler = "first_n"
    subset_field = "subject"
    hub = HubSource(
        "cais/mmlu", config="all", splits={"dev": "dev", "validation": "validation", "test": "test"}
    )
    lm_eval_task = "mmlu_{subject}"
    text = "{{question.strip()}}\nA. {{choices[0]}}\nB. {{choices[1]}}\nC. {{choices[2]}}\nD. {{choices[3]}}\nAnswer:"
    target = "answer"
    description = "The following are multiple choice questions (with answers) about {subject}.\n\n"


class CEval(LetterChoice):
    name = "ceval"
    title = "C-Eval: 52 subjects of Chinese exam questions (Huang et al., 2023), CC BY-NC-SA 4.0"
    languages = {"zho_Hans": "zh"}
    splits = ("dev", "validation", "test")
    split_stems = {"validation": "val"}
    fields = ("question", "A", "B", "C", "D", "answer", "subject")
    default = Default(split="validation", shots=0, metrics=("acc", "acc_norm"))
    fewshot_order = ("dev", "validation")
    lm_eval_sampler = "first_n"
    subset_field = "subject"
    hub = HubSource(
        "ceval/ceval-exam", config="*", splits={"dev": "dev", "validation": "val", "test": "test"}
    )
    lm_eval_task = "ceval-valid_{subject}"
    text = "{{question.strip()}}\nA. {{A}}\nB. {{B}}\nC. {{C}}\nD. {{D}}\n答案："
    target = "{{['A', 'B', 'C', 'D'].index(answer)}}"


class ARC(Benchmark):
    name = "arc"
    title = "ARC-Challenge: grade-school science questions (Clark et al., 2018), CC BY-SA 4.0"
    languages = {"eng_Latn": "en"}
    splits = ("train", "validation", "test")
    fields = ("question", "choices", "answerKey")
    default = Default(split="test", shots=0, metrics=("acc", "acc_norm"))
    hub = HubSource(
        "allenai/ai2_arc", config="ARC-Challenge", splits={s: s for s in ("train", "validation", "test")}
    )
    lm_eval_task = "arc_challenge"

    def prompt_fields(self, spec: TaskSpec) -> dict[str, Any]:
        return {
            "doc_to_text": "Question: {{question}}\nAnswer:",
            "doc_to_choice": "{{choices.text}}",
            "doc_to_target": "{{choices.label.index(answerKey)}}",
        }

    def prompt_template(self, spec: TaskSpec) -> str:
        return "Question: {question}\nAnswer: {choice text}"


# AGIEval's multiple-choice subsets (``math`` is open-ended and left out, as in lm-eval's MC group).
AGIEVAL_EN = [
    "aqua-rat",
    "logiqa-en",
    "lsat-ar",
    "lsat-lr",
    "lsat-rc",
    "sat-en",
    "sat-en-without-passage",
    "sat-math",
]
AGIEVAL_ZH = [
    "gaokao-biology",
    "gaokao-chemistry",
    "gaokao-chinese",
    "gaokao-english",
    "gaokao-geography",
    "gaokao-history",
    "gaokao-mathqa",
    "gaokao-physics",
    "logiqa-zh",
    "jec-qa-kd",
    "jec-qa-ca",
]


class AGIEval(Benchmark):
    """Reported per language of its subsets (English and Chinese), each micro-averaged over subsets."""

    name = "agieval"
    title = "AGIEval: admission and qualification exams (Zhong et al., 2023), MIT"
    languages = {"eng_Latn": "en", "zho_Hans": "zh"}
    splits = ("test",)
    fields = ("query", "choices", "gold", "subject")
    default = Default(split="test", shots=0, metrics=("acc", "acc_norm"))
    subset_field = "subject"
    hub = HubSource("hails/agieval-{subject}", config=None, splits={"test": "test"})
    lm_eval_task = "agieval_{subject}"

    def prompt_fields(self, spec: TaskSpec) -> dict[str, Any]:
        return {"doc_to_text": "{{query}}", "doc_to_choice": "{{choices}}", "doc_to_target": "{{gold[0]}}"}

    def prompt_template(self, spec: TaskSpec) -> str:
        return "{query} {choice}"
