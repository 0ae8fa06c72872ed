"""Sentence translation: FLORES-200 (any direction between its 204 languages), WMT-16 and the demo's fixture.

One lm-eval ``generate_until`` task per direction: a prompt per direction (language names filled in), greedy
decoding that stops at the end of the line, and corpus BLEU (tokenizer chosen for the target script and
reported), chrF++ and optionally spBLEU computed by ``eval.metrics`` in lm-eval's aggregation step.

Local layouts (``linguabridge eval fetch`` writes the first):
- multi-parallel: ``{split}.jsonl``, one object per sentence with a field per language code
  (``{"id": 1, "eng_Latn": "...", "zho_Hans": "..."}``; ISO 639-1 keys are accepted);
- per language: ``{code}/{split}.jsonl`` with a ``text`` field, aligned by line;
- WMT: ``{pair}/{split}.jsonl`` with ``{"translation": {"de": ..., "en": ...}}`` (the Hub's shape).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from linguabridge.errors import LinguabridgeError
from linguabridge.eval import metrics as M
from linguabridge.eval.tasks.base import FORMATS, Benchmark, Default, HubSource, TaskSpec, read_task_file
from linguabridge.languages import canonical, get_language

# Marco's parallel-data template C (Table 13): the format the continually pretrained model has seen.
MARCO_TEMPLATE = "Translate the text from {src} to {tgt}:\n{src} text: {text}\n{tgt} text:"
# lm-eval's WMT prompt (GPT-3 style), which is also Marco's template A.
LM_EVAL_TEMPLATE = "{src} phrase: {text}\n{tgt} phrase:"


def translation_prompt(doc: dict, template: str, src: str, tgt: str) -> str:
    return template.format(src=src, tgt=tgt, text=doc["source"])


def translation_result(doc: dict, results: list[str], metrics: tuple[str, ...]) -> dict[str, tuple]:
    hyp = results[0].strip().split("\n")[0].strip()
    return {m: (hyp, doc["target"]) for m in metrics}


def _unzip(items: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
    return [h for h, _ in items], [r for _, r in items]


def agg_bleu(items: list[tuple[str, str]], tokenize: str) -> float:
    return M.corpus_bleu(*_unzip(items), tokenize=tokenize)


def agg_chrf_pp(items: list[tuple[str, str]]) -> float:
    return M.corpus_chrf_pp(*_unzip(items))


def agg_spbleu(items: list[tuple[str, str]], spm: M.SpmTokenizer) -> float:
    return M.corpus_spbleu(*_unzip(items), spm=spm)


def pairs_dataset(pairs: dict[str, list[dict]], **_ignored):
    """lm-eval ``custom_dataset``: the joined source/target pairs of each split, in memory."""
    import datasets

    return datasets.DatasetDict({split: datasets.Dataset.from_list(rows) for split, rows in pairs.items()})


class Translation(Benchmark):
    output_type = "generate_until"
    metrics = ("bleu", "chrf++", "spbleu")
    fields = ()
    template = MARCO_TEMPLATE
    prompt_name = "Marco template C"
    fewshot_order = ("dev", "validation", "train", "devtest", "test")

    def find_file(self, root: Path, code: str, split: str) -> Path | None:
        stem = self.split_stems.get(split, split)
        for name in (stem, split, f"{code}/{split}", f"{code}/{stem}"):
            for ext in FORMATS:
                if (root / f"{name}.{ext}").is_file():
                    return root / f"{name}.{ext}"
        return None

    def sentences(self, root: Path, code: str, split: str) -> list[str] | None:
        """The sentences of one language and split, in corpus order (None when absent)."""
        for stem in dict.fromkeys((self.split_stems.get(split, split), split)):
            path = next((root / f"{stem}.{e}" for e in FORMATS if (root / f"{stem}.{e}").is_file()), None)
            if path is not None:
                records = read_task_file(path)
                keyed = [
                    {canonical(k): v for k, v in r.items() if k != "id" and _is_code(k)} for r in records
                ]
                if all(code in r for r in keyed):
                    return [r[code] for r in keyed]
                if any(code in r for r in keyed):
                    line = next(i for i, r in enumerate(keyed, 1) if code not in r)
                    raise LinguabridgeError(
                        f"{path}:{line}: no {code} sentence", "every line needs every language"
                    )
        path = self.find_file(root, code, split)
        if path is not None and path.parent.name == code:
            return [str(r["text"]) for r in read_task_file(path)]
        return None

    def available_languages(self, root: Path) -> list[str]:
        found = []
        for split in self.splits:
            stem = self.split_stems.get(split, split)
            for name in dict.fromkeys((stem, split)):
                path = next((root / f"{name}.{e}" for e in FORMATS if (root / f"{name}.{e}").is_file()), None)
                if path is not None:
                    found += [canonical(k) for k in read_task_file(path)[0] if k != "id" and _is_code(k)]
            found += (
                [p.name for p in root.iterdir() if p.is_dir() and _is_code(p.name)] if root.is_dir() else []
            )
        return list(dict.fromkeys(found))

    def pairs(self, root: Path, src: str, tgt: str, split: str) -> list[dict] | None:
        source, target = self.sentences(root, src, split), self.sentences(root, tgt, split)
        if source is None or target is None:
            return None
        if len(source) != len(target):
            raise LinguabridgeError(
                f"{root}: {split} has {len(source)} {src} but {len(target)} {tgt} sentences",
                "FLORES-style files must be parallel line by line",
            )
        return [
            {"id": i, "source": s, "target": t} for i, (s, t) in enumerate(zip(source, target, strict=True))
        ]

    def prompt_fields(self, spec: TaskSpec) -> dict[str, Any]:
        metrics = spec.protocol.metrics
        src, tgt = get_language(spec.source_language or "").name, get_language(spec.language).name
        aggregations = {
            "bleu": partial(agg_bleu, tokenize=spec.extras["bleu_tokenize"]),
            "chrf++": agg_chrf_pp,
            "spbleu": partial(agg_spbleu, spm=spec.extras.get("spm")),
        }
        return {
            "custom_dataset": partial(pairs_dataset, pairs=spec.extras["pairs"]),
            "dataset_path": None,
            "dataset_kwargs": None,
            "doc_to_text": partial(translation_prompt, template=self.template, src=src, tgt=tgt),
            "doc_to_target": "target",
            "target_delimiter": " ",
            "fewshot_delimiter": "\n\n",
            "process_results": partial(translation_result, metrics=metrics),
            "generation_kwargs": {
                "until": ["\n"],
                "do_sample": False,
                "temperature": 0.0,
                "max_gen_toks": spec.extras.get("max_new_tokens", 64),
            },
            "metric_list": [
                {"metric": m, "aggregation": aggregations[m], "higher_is_better": True} for m in metrics
            ],
        }

    def prompt_template(self, spec: TaskSpec) -> str:
        src, tgt = get_language(spec.source_language or "").name, get_language(spec.language).name
        return self.template.format(src=src, tgt=tgt, text="{source}") + " {greedy output up to the newline}"


def _is_code(key: str) -> bool:
    try:
        canonical(key)
    except LinguabridgeError:
        return False
    return True


class Flores(Translation):
    name = "flores"
    title = "FLORES-200: 1012 sentences in 204 languages (NLLB Team, 2022), CC BY-SA 4.0"
    languages: dict[str, str] = {}  # any language of the registry present in the files
    splits = ("dev", "devtest")
    default = Default(split="devtest", shots=0, metrics=("bleu", "chrf++"))
    hub = HubSource(
        "openlanguagedata/flores_plus", config="{key}", splits={"dev": "dev", "devtest": "devtest"}
    )


class DemoFlores(Flores):
    name = "demo_flores"
    title = "FLORES-style sentences bundled with the demo (written for the project)"
    splits = ("devtest",)
    split_stems = {"devtest": "eval_translation"}
    hub = None


class WMT16(Translation):
    """WMT-16 news test sets, xx<->en; the pair's directory is named after the Hub config (``de-en``)."""

    name = "wmt16"
    title = "WMT-16 news translation test sets (Bojar et al., 2016)"
    languages = {canonical(k): f"{k}-en" for k in ("cs", "de", "fi", "ro", "ru", "tr")}
    splits = ("train", "validation", "test")
    default = Default(split="test", shots=0, metrics=("bleu", "chrf++"))
    template = LM_EVAL_TEMPLATE
    prompt_name = "lm-eval's WMT prompt (Marco template A)"
    hub = HubSource(
        "wmt/wmt16", config="{key}", splits={"train": "train", "validation": "validation", "test": "test"}
    )

    def available_languages(self, root: Path) -> list[str]:
        return [c for c, key in self.languages.items() if (root / key).is_dir()]

    def sentences(self, root: Path, code: str, split: str) -> list[str] | None:
        raise NotImplementedError("WMT files hold pairs, read them with pairs()")

    def pairs(self, root: Path, src: str, tgt: str, split: str) -> list[dict] | None:
        other = tgt if src == "eng_Latn" else src
        key = self.languages.get(other)
        if key is None:
            return None
        path = next(
            (root / key / f"{split}.{e}" for e in FORMATS if (root / key / f"{split}.{e}").is_file()), None
        )
        if path is None:
            return None
        s, t = get_language(src).iso639_1, get_language(tgt).iso639_1
        out = []
        for i, rec in enumerate(read_task_file(path), 1):
            tr = rec.get("translation", rec)
            if s not in tr or t not in tr:
                raise LinguabridgeError(
                    f"{path}:{i}: no {s!r}/{t!r} sides",
                    'records look like {"translation": {"de": ..., "en": ...}}',
                )
            out.append({"id": i - 1, "source": tr[s], "target": tr[t]})
        return out
