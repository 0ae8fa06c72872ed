"""What every benchmark definition shares: its protocol, its local files, and the lm-eval task dict it yields.

A :class:`Benchmark` (one file per benchmark in this package) knows its languages, splits, record fields,
lm-eval's default protocol and its prompt. :class:`TaskSpec` is one benchmark x language (x subset or
direction) with a resolved :class:`Protocol` and the local files; ``spec.lm_eval_config()`` is the task dict
lm-evaluation-harness runs (``dataset_path: json`` + ``data_files``: offline).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, Literal

from linguabridge.errors import LinguabridgeError
from linguabridge.eval.literals import uses_spaces
from linguabridge.languages import canonical

PromptStyle = Literal["lm-eval", "script-aware"]
PROMPT_STYLES = ("lm-eval", "script-aware")
# lm-eval builder name per local file extension.
FORMATS = {"jsonl": "json", "json": "json", "parquet": "parquet", "tsv": "csv"}


@dataclass(frozen=True)
class Default:
    """lm-eval's default protocol for a benchmark: what a task named alone runs with."""

    split: str
    shots: int
    metrics: tuple[str, ...]


@dataclass(frozen=True)
class HubSource:
    """Where ``linguabridge eval fetch`` downloads the official data (Hugging Face Hub)."""

    repo: str
    config: str | None = "{key}"  # dataset config per language ({key} = the dataset's language key)
    splits: dict[str, str] = field(default_factory=dict)  # our split name -> hub split name


@dataclass(frozen=True)
class Protocol:
    """How one task is scored; every field is copied into each results row."""

    split: str  # the scored split
    shots: int
    fewshot_split: str | None  # where few-shot examples come from (None when shots == 0)
    metrics: tuple[str, ...]
    prompt_style: PromptStyle
    chat: bool = False  # the model's chat template wraps each prompt


def doc_has_language(doc: dict, field_name: str, code: str) -> bool:
    return canonical(str(doc.get(field_name, ""))) == code


def doc_in_subset(doc: dict, field_name: str, subset: str) -> bool:
    return doc.get(field_name) == subset


class Benchmark:
    """Base for one benchmark. Subclasses set the class attributes and write ``prompt_fields``."""

    name: ClassVar[str]
    title: ClassVar[str]  # one line: what it is, citation, licence
    output_type: ClassVar[Literal["multiple_choice", "generate_until"]] = "multiple_choice"
    languages: ClassVar[dict[str, str]]  # canonical code -> the dataset's own language key
    splits: ClassVar[tuple[str, ...]]  # splits the official data has
    split_stems: ClassVar[dict[str, str]] = {}  # split -> upstream file stem when it differs (val, eval)
    fields: ClassVar[tuple[str, ...]]  # record fields the prompt needs
    default: ClassVar[Default]
    metrics: ClassVar[tuple[str, ...]] = ("acc", "acc_norm", "acc_bytes")  # what it can report
    fewshot_order: ClassVar[tuple[str, ...]] = ("train", "dev", "validation", "test")
    lm_eval_sampler: ClassVar[str] = "default"  # lm-eval's few-shot sampler for this benchmark
    # True when the continuation is text in the language (its delimiter depends on the script); False when
    # it is a letter after "Answer:" (always " ").
    continuation_in_language: ClassVar[bool] = False
    language_field: ClassVar[str | None] = None  # one file holds every language, told apart by this field
    subset_field: ClassVar[str | None] = None  # scored per subset (MMLU subjects), reported micro-averaged
    hub: ClassVar[HubSource | None] = None
    lm_eval_task: ClassVar[str | None] = None  # the lm-eval task this reproduces (its name pattern)
    prompt_name: ClassVar[str] = "lm-eval's prompt"  # the template's name in results rows and the report

    # ----------------------------------------------------------------------------- prompts (per file)
    def prompt_fields(self, spec: TaskSpec) -> dict[str, Any]:
        """doc_to_text / doc_to_choice / doc_to_target (and anything else prompt-related) for lm-eval."""
        raise NotImplementedError

    def prompt_template(self, spec: TaskSpec) -> str:
        """The prompt in words, recorded in every results row."""
        raise NotImplementedError

    def process_docs(self, spec: TaskSpec):
        """A function over a ``datasets.Dataset`` (or None) applied to scored and few-shot docs."""
        return None

    # ----------------------------------------------------------------------------------- protocol
    def target_delimiter(self, language: str, style: PromptStyle) -> str:
        """lm-eval always puts a space before the continuation; that is wrong before zh/ja/th text."""
        if style == "script-aware" and self.continuation_in_language and not uses_spaces(language):
            return ""
        return " "

    def fewshot_split(self, split: str, available: set[str]) -> str:
        """Few-shot examples never come from the scored split when the data has another one."""
        for candidate in self.fewshot_order:
            if candidate != split and candidate in available:
                return candidate
        return split  # a single-split benchmark: lm-eval then excludes the scored item itself

    # ------------------------------------------------------------------------------------- files
    def file_candidates(self, key: str, code: str, split: str) -> list[str]:
        stem = self.split_stems.get(split, split)
        names = [f"{key}/{stem}.{key}", f"{key}/{split}", f"{code}/{split}", f"{key}/{stem}"]
        if self.language_field:
            names = [stem, split]
        return names

    def find_file(self, root: Path, code: str, split: str) -> Path | None:
        key = self.languages.get(code, code)
        for name in dict.fromkeys(self.file_candidates(key, code, split)):
            for ext in FORMATS:
                path = root / f"{name}.{ext}"
                if path.is_file():
                    return path
        return None

    def available_languages(self, root: Path) -> list[str]:
        if self.language_field:
            files = [self.find_file(root, "", s) for s in self.splits]
            found = {canonical(str(r[self.language_field])) for f in files if f for r in read_task_file(f)}
            return [c for c in self.languages if c in found] or sorted(found)
        return [c for c in self.languages if any(self.find_file(root, c, s) for s in self.splits)]


@dataclass
class TaskSpec:
    """One benchmark x language (x subset, x direction) with its protocol and local files."""

    benchmark: Benchmark
    language: str  # canonical code (the target language for translation)
    protocol: Protocol
    files: dict[str, Path]  # split -> local file
    subset: str | None = None
    source_language: str | None = None  # translation: the source side
    extras: dict[str, Any] = field(default_factory=dict)  # per-benchmark details (notes, tokenizer...)

    @property
    def name(self) -> str:
        parts = [self.benchmark.name]
        parts.append(f"{self.source_language}-{self.language}" if self.source_language else self.language)
        if self.subset:
            parts.append(self.subset)
        return "_".join(parts)

    @property
    def delimiter(self) -> str:
        return self.benchmark.target_delimiter(self.language, self.protocol.prompt_style)

    def data_kwargs(self) -> tuple[str, dict]:
        exts = {p.suffix.lstrip(".") for p in self.files.values()}
        if len(exts) != 1:
            raise LinguabridgeError(
                f"{self.name}: splits in different formats ({', '.join(sorted(exts))})",
                "convert them to one format",
            )
        ext = exts.pop()
        kwargs: dict[str, Any] = {"data_files": {s: str(p) for s, p in self.files.items()}}
        if ext == "tsv":
            kwargs["delimiter"] = "\t"
        return FORMATS[ext], kwargs

    def lm_eval_config(self) -> dict[str, Any]:
        bench, proto = self.benchmark, self.protocol
        path, kwargs = self.data_kwargs() if self.files else (None, None)  # translation: in-memory pairs
        cfg: dict[str, Any] = {
            "task": self.name,
            "dataset_path": path,
            "dataset_name": None,
            "dataset_kwargs": kwargs,
            "test_split": proto.split,
            "fewshot_split": proto.fewshot_split,
            "num_fewshot": proto.shots,
            "output_type": bench.output_type,
            "target_delimiter": self.delimiter,
            "fewshot_config": {"sampler": bench.lm_eval_sampler},
            "metric_list": [
                {"metric": m, "aggregation": "mean", "higher_is_better": True} for m in proto.metrics
            ],
            "metadata": {"version": 1.0},
        }
        filters = []
        if bench.language_field:
            filters.append(partial(doc_has_language, field_name=bench.language_field, code=self.language))
        if self.subset is not None and bench.subset_field:
            filters.append(partial(doc_in_subset, field_name=bench.subset_field, subset=self.subset))
        own = bench.process_docs(self)
        if filters or own:
            cfg["process_docs"] = partial(_process_docs, filters=tuple(filters), then=own)
        cfg.update(bench.prompt_fields(self))
        return cfg


def _process_docs(dataset, filters, then):
    for predicate in filters:
        dataset = dataset.filter(predicate)
    return then(dataset) if then else dataset


# ------------------------------------------------------------------------------------- local records
def read_task_file(path: Path) -> list[dict]:
    """Records of a task's local data file (JSONL, JSON, Parquet or TSV); a malformed line is an error naming
    file and line."""
    ext = path.suffix.lstrip(".")
    if ext == "parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    if ext == "tsv":
        import csv

        with path.open(encoding="utf-8", newline="") as fh:
            return list(csv.DictReader(fh, delimiter="\t"))
    text = path.read_text(encoding="utf-8")
    if ext == "json" and text.lstrip().startswith("["):
        return json.loads(text)
    records = []
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise LinguabridgeError(
                f"{path}:{i}: not valid JSON ({exc.msg})", "one JSON object per line (JSONL)"
            ) from None
    return records


def check_fields(path: Path, fields: tuple[str, ...]) -> list[dict]:
    """Read ``path`` and require ``fields`` on every record (the first missing one is the error)."""
    records = read_task_file(path)
    if not records:
        raise LinguabridgeError(f"{path}: no records", "the file is empty; fetch or rebuild it")
    for i, rec in enumerate(records, 1):
        missing = [f for f in fields if f not in rec]
        if missing:
            raise LinguabridgeError(
                f"{path}:{i}: record has no field {missing[0]!r}",
                f"each record needs {', '.join(fields)} (`linguabridge eval fetch` writes this layout)",
            )
    return records
