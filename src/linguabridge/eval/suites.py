"""From ``eval.tasks`` to runnable task specs: benchmark x language (x subset, x direction) with a protocol.

A task named alone (``--tasks xcopa``) runs with lm-eval's default protocol for it (XCOPA: test split,
zero-shot, lm-eval's prompt). A suite recipe (``recipes/marco/eval_base.yaml``) lists benchmarks with their
Table 4 protocol (split, shots, metrics, languages). Languages are canonical codes from the registry; the
local files are found under ``data_dir/<task>/`` (or ``data_dir`` itself); few-shot examples come from a
split other than the scored one whenever the data has one.
"""

from __future__ import annotations

import itertools
from importlib import resources
from pathlib import Path

from linguabridge.config import EvalConfig, EvalTaskConfig
from linguabridge.errors import ConfigError, LinguabridgeError
from linguabridge.eval.metrics import SpmTokenizer, bleu_tokenizer
from linguabridge.eval.tasks import NATIVE_TASKS, Benchmark, Protocol, TaskSpec, get_benchmark
from linguabridge.eval.tasks.base import check_fields
from linguabridge.eval.tasks.flores import Translation

PIVOT = "eng_Latn"


def demo_dir() -> Path:
    return Path(str(resources.files("linguabridge").joinpath("assets/demo")))


def task_entries(cfg: EvalConfig) -> list[EvalTaskConfig]:
    """Every lm-eval-backed entry of ``cfg.tasks`` as an :class:`EvalTaskConfig`."""
    out = []
    for entry in cfg.tasks:
        te = EvalTaskConfig(task=entry) if isinstance(entry, str) else entry
        if te.task not in NATIVE_TASKS:
            get_benchmark(te.task)  # unknown names fail here, before any model is loaded
            out.append(te)
    return out


def data_root(bench: Benchmark, te: EvalTaskConfig, cfg: EvalConfig) -> Path:
    if bench.name.startswith("demo_") and not (te.data_dir or cfg.data_dir):
        return demo_dir()
    base = te.data_dir or cfg.data_dir
    if base is None:
        raise ConfigError(
            f"task {bench.name!r} needs local data and eval.data_dir is not set",
            f"pass --data-dir DIR (with DIR/{bench.name}/ or the files themselves); "
            f"`linguabridge eval fetch {bench.name} --out DIR` downloads them",
        )
    root = Path(base).expanduser()
    if not root.is_dir():
        raise ConfigError(f"data directory not found: {root}", "check --data-dir / eval.data_dir")
    return root / bench.name if (root / bench.name).is_dir() else root


def resolve_protocol(bench: Benchmark, te: EvalTaskConfig, cfg: EvalConfig, available: set[str]) -> Protocol:
    split = te.split or bench.default.split
    if split not in bench.splits:
        raise ConfigError(f"{bench.name}: no split {split!r}", f"splits: {', '.join(bench.splits)}")
    shots = te.shots if te.shots is not None else bench.default.shots
    fewshot = None
    if shots > 0:
        fewshot = te.fewshot_split or bench.fewshot_split(split, available)
        if fewshot == split and any(s != split for s in available):
            raise ConfigError(
                f"{bench.name}: few-shot examples from the scored split {split!r} while "
                f"{', '.join(sorted(available - {split}))} exists",
                "leave fewshot_split unset (another split is chosen) or name another split",
            )
    metrics = tuple(te.metrics or bench.default.metrics)
    unknown = [m for m in metrics if m not in bench.metrics]
    if unknown:
        raise ConfigError(
            f"{bench.name}: metric {unknown[0]!r} not offered", f"metrics: {', '.join(bench.metrics)}"
        )
    style = te.prompt_style or cfg.prompt_style
    return Protocol(split, shots, fewshot, metrics, style, cfg.chat_template)


def _languages(bench: Benchmark, te: EvalTaskConfig, root: Path) -> list[str]:
    available = bench.available_languages(root)
    if not te.languages:
        if not available:
            raise LinguabridgeError(
                f"no {bench.name} data found under {root}",
                f"expected e.g. {root}/{bench.file_candidates('<lang>', '<code>', bench.default.split)[0]}.jsonl; "
                f"`linguabridge eval fetch {bench.name}` writes this layout",
            )
        return available
    missing = [c for c in te.languages if c not in available]
    if missing:
        known = f" ({bench.name} has {', '.join(bench.languages)})" if bench.languages else ""
        raise LinguabridgeError(
            f"{bench.name}: no data for {missing[0]} under {root}{known}",
            f"drop it from the task's languages or fetch it: `linguabridge eval fetch {bench.name}`",
        )
    return list(te.languages)


def resolve_tasks(cfg: EvalConfig) -> list[TaskSpec]:
    """Every task spec of ``cfg``; missing data, bad splits and unknown metrics fail before any model work."""
    specs: list[TaskSpec] = []
    spm = SpmTokenizer(cfg.spm_model, cfg.spm_sha256) if cfg.spm_model else None
    for te in task_entries(cfg):
        bench = get_benchmark(te.task)
        root = data_root(bench, te, cfg)
        langs = _languages(bench, te, root)
        if isinstance(bench, Translation):
            specs += _translation_specs(bench, te, cfg, root, langs, spm)
            continue
        for lang in langs:
            files = {s: p for s in bench.splits if (p := bench.find_file(root, lang, s)) is not None}
            proto = resolve_protocol(bench, te, cfg, set(files))
            needed = dict.fromkeys(s for s in (proto.split, proto.fewshot_split) if s)
            for s in needed:
                if s not in files:
                    raise LinguabridgeError(
                        f"{bench.name} {lang}: no {s!r} file under {root}",
                        f"expected {root}/{bench.file_candidates(bench.languages.get(lang, lang), lang, s)[0]}.jsonl",
                    )
            records = [check_fields(files[s], bench.fields) for s in needed]
            base = TaskSpec(bench, lang, proto, {s: files[s] for s in needed})
            base.extras["max_new_tokens"] = cfg.max_new_tokens
            if bench.subset_field:
                subsets = sorted({r[bench.subset_field] for r in records[0]})
                specs += [_with_subset(base, s) for s in subsets]
            else:
                specs.append(base)
    return specs


def _with_subset(base: TaskSpec, subset: str) -> TaskSpec:
    return TaskSpec(
        base.benchmark, base.language, base.protocol, base.files, subset, extras=dict(base.extras)
    )


def directions(spec: list[str], languages: list[str]) -> list[tuple[str, str]]:
    """``english-centric`` (en<->x), ``any-to-any`` (every ordered pair) or explicit ``src-tgt`` pairs."""
    from linguabridge.languages import canonical

    out: list[tuple[str, str]] = []
    for item in spec:
        if item == "english-centric":
            out += [d for x in languages if x != PIVOT for d in ((PIVOT, x), (x, PIVOT))]
        elif item == "any-to-any":
            out += [(a, b) for a, b in itertools.permutations(languages, 2)]
        else:
            src, sep, tgt = item.partition("-")  # codes never contain "-": eng_Latn-zho_Hans, en-zh
            if not sep:
                raise ConfigError(
                    f"translation direction {item!r} is not src-tgt",
                    "write english-centric, any-to-any or pairs like eng_Latn-zho_Hans",
                )
            out.append((canonical(src), canonical(tgt)))
    return list(dict.fromkeys(out))


def _translation_specs(bench, te, cfg, root, langs, spm) -> list[TaskSpec]:
    pool = list(dict.fromkeys(([PIVOT] if "english-centric" in te.directions else []) + langs))
    pairs = directions(te.directions, pool)
    specs = []
    for src, tgt in pairs:
        present = {s for s in bench.splits if bench.pairs(root, src, tgt, s)}
        proto = resolve_protocol(bench, te, cfg, present)
        loaded = {}
        for s in dict.fromkeys(x for x in (proto.split, proto.fewshot_split) if x):
            rows = bench.pairs(root, src, tgt, s)
            if not rows:
                raise LinguabridgeError(
                    f"{bench.name}: no {s} sentences for {src}->{tgt} under {root}",
                    "drop the direction or fetch the data (`linguabridge eval fetch`)",
                )
            loaded[s] = rows
        if "spbleu" in proto.metrics and spm is None:
            raise ConfigError(
                "spbleu needs the FLORES-200 SentencePiece model", "set eval.spm_model and eval.spm_sha256"
            )
        spec = TaskSpec(bench, tgt, proto, {}, source_language=src)
        spec.extras.update(
            pairs=loaded, bleu_tokenize=bleu_tokenizer(tgt), spm=spm, max_new_tokens=cfg.max_new_tokens
        )
        specs.append(spec)
    return specs


__all__ = ["demo_dir", "directions", "resolve_tasks", "task_entries"]
