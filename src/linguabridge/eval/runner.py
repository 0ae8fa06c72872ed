"""Evaluate one checkpoint: lm-eval tasks + held-out bits per byte -> ``results.json`` rows with their protocol.

``results.json`` (``eval/results.py``) holds one row per task x language x metric (x direction for
translation), the language a canonical code, the value a fraction (acc, F1...) or BLEU points with its
standard error where one is known, and next to it everything that makes it comparable: split, shots,
few-shot split, n, prompt, prompt style, target delimiter, harness and backend. Beside it:
``results_lm_eval.json`` (the same numbers in lm-eval's own format), ``tables.md`` (per-language table
grouped by tier, translation direction matrices, deltas against ``eval.baseline``) and ``translations.jsonl``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from linguabridge.config import EvalConfig
from linguabridge.console import LOG_FILE, stage_output
from linguabridge.eval.tasks import TaskSpec
from linguabridge.io import write_json


def eval_heldout(model, tokens_dir: Path) -> list[dict]:
    from linguabridge.mixture.shard_reader import heldout_documents
    from linguabridge.models.heldout import heldout_losses

    heldout = heldout_documents(tokens_dir)
    rows = []
    for lang, res in heldout_losses(model, heldout).items():
        for metric in ("loss", "bpb"):
            rows.append(
                {
                    "task": "heldout",
                    "language": lang,
                    "metric": metric,
                    "value": res[metric],
                    "split": "heldout",
                    "shots": 0,
                    "n": len(heldout[lang]),
                    "prompt": None,
                    "harness": "linguabridge",
                }
            )
    return rows


def _first_context(samples: list[dict]) -> str | None:
    """The exact text lm-eval scored for the first item (context + first continuation for MC)."""
    if not samples:
        return None
    args = samples[0]["arguments"]
    first = args[0] if isinstance(args, (list, tuple)) and isinstance(args[0], (list, tuple)) else args
    return first[0] + (first[1] if isinstance(first[1], str) else "")


def spec_rows(spec: TaskSpec, out: dict, cfg: EvalConfig, harness: str) -> list[dict]:
    """lm-eval's numbers for one spec as results rows (one per metric)."""
    res = out["results"][spec.name]
    samples = out["samples"].get(spec.name, [])
    proto, bench = spec.protocol, spec.benchmark
    base = {
        "task": bench.name,
        "language": spec.language,
        "split": proto.split,
        "shots": proto.shots,
        "fewshot_split": proto.fewshot_split,
        "n": int(out["n-samples"][spec.name]["effective"]),
        "prompt": bench.prompt_template(spec),
        "prompt_name": bench.prompt_name,
        "prompt_style": proto.prompt_style,
        "target_delimiter": spec.delimiter,
        "chat_template": proto.chat,
        "harness": harness,
        "backend": cfg.backend,
        "example": _first_context(samples),
    }
    if cfg.limit:
        base["limit"] = cfg.limit
    if spec.source_language:
        base |= {
            "direction": f"{spec.source_language}-{spec.language}",
            "source_language": spec.source_language,
        }
    if spec.subset:
        base["subset"] = spec.subset
    if "question_source" in spec.extras:
        base["question_source"] = spec.extras["question_source"]
    rows = []
    for metric in proto.metrics:
        row = {**base, "metric": metric, "value": float(res[f"{metric},none"])}
        stderr = res.get(f"{metric}_stderr,none")
        if not isinstance(stderr, (int, float)) and spec.source_language:  # lm-eval: "N/A" for corpus scores
            stderr = _translation_stderr(spec, samples, metric)
        if isinstance(stderr, (int, float)):
            row["stderr"] = float(stderr)
        if metric == "bleu":
            row["bleu_tokenize"] = spec.extras["bleu_tokenize"]
        if metric == "spbleu":
            row["spm_sha256"] = spec.extras["spm"].sha256
        rows.append(row)
    return rows


def _hypothesis(sample: dict) -> str:
    """The first line of the generation, as the translation tasks score it."""
    return sample["filtered_resps"][0].strip().split("\n")[0].strip()


def _translation_stderr(spec: TaskSpec, samples: list[dict], metric: str) -> float | None:
    from linguabridge.eval.metrics import corpus_stderr

    hyps = [_hypothesis(s) for s in samples]
    refs = [s["doc"]["target"] for s in samples]
    return corpus_stderr(metric, hyps, refs, spec.extras.get("bleu_tokenize", "13a"), spec.extras.get("spm"))


def merge_subsets(rows: list[dict]) -> list[dict]:
    """Subject-level rows (MMLU, C-Eval, AGIEval) -> one micro-averaged row per task x language x metric."""
    plain = [r for r in rows if "subset" not in r]
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        if "subset" in r:
            groups[(r["task"], r["language"], r["metric"])].append(r)
    for group in groups.values():
        n = sum(r["n"] for r in group)
        merged = {k: v for k, v in group[0].items() if k not in ("subset", "stderr", "example")}
        merged |= {
            "value": sum(r["value"] * r["n"] for r in group) / n,
            "n": n,
            "subsets": len(group),
            "aggregation": "micro-average over subsets (lm-eval's weight_by_size)",
        }
        plain.append(merged)
    return plain


def translation_outputs(specs: list[TaskSpec], out: dict) -> list[dict]:
    records = []
    for spec in specs:
        if not spec.source_language:
            continue
        for s in out["samples"].get(spec.name, []):
            records.append(
                {
                    "task": spec.benchmark.name,
                    "direction": f"{spec.source_language}-{spec.language}",
                    "id": s["doc"]["id"],
                    "source": s["doc"]["source"],
                    "reference": s["doc"]["target"],
                    "hypothesis": _hypothesis(s),
                }
            )
    return records


@dataclass
class LmEvalRun:
    """What the lm-eval-backed tasks of one checkpoint gave."""

    rows: list[dict] = field(default_factory=list)  # our results rows (subjects micro-averaged)
    translations: list[dict] = field(default_factory=list)  # translations.jsonl records
    output: dict | None = None  # lm-eval's own output dict (None when no lm-eval task ran)
    groups: dict[str, list[str]] = field(default_factory=dict)  # subject groups -> their lm-eval tasks


def run_lm_eval_tasks(model, tokenizer, cfg: EvalConfig, model_path=None) -> LmEvalRun:
    """Rows, translation outputs and lm-eval's output of every lm-eval-backed task in ``cfg.tasks``."""
    from linguabridge.eval.lmeval_bridge import build_lm, lm_eval_version, run_specs
    from linguabridge.eval.suites import resolve_tasks

    specs = resolve_tasks(cfg)
    if not specs:
        return LmEvalRun()
    with build_lm(model, tokenizer, cfg, model_path) as lm:
        out = run_specs(lm, specs, cfg)
    harness = f"lm-eval {lm_eval_version()}"
    rows = [r for spec in specs for r in spec_rows(spec, out, cfg, harness)]
    groups = defaultdict(list)
    for spec in specs:
        if spec.subset:
            groups[f"{spec.benchmark.name}_{spec.language}"].append(spec.name)
    return LmEvalRun(merge_subsets(rows), translation_outputs(specs, out), out, dict(groups))


def evaluate(
    model,
    tokenizer,
    cfg: EvalConfig,
    tokens_dir: Path | None,
    out_path: Path,
    label: str,
    model_path: str | Path | None = None,
    model_name: str | None = None,
) -> dict:
    """Evaluate ``model`` on ``cfg.tasks``; write ``out_path`` (results.json) and the other files beside it.

    ``label`` names the checkpoint in every row (``base``, ``dpo``...); ``model_name`` what was evaluated
    (a path or hub name; default ``model_path``, else ``label``).
    """
    from linguabridge.eval.compare import render_tables
    from linguabridge.eval.lmeval_results import LM_EVAL_FILE, lm_eval_doc
    from linguabridge.eval.results import load_results, results_doc

    rows: list[dict] = []
    with stage_output(out_path.parent / LOG_FILE):  # lm-eval's warnings, bars and git call: kept, not shown
        if "heldout_bpb" in cfg.tasks and tokens_dir is not None:
            rows += eval_heldout(model, tokens_dir)
        lm = run_lm_eval_tasks(model, tokenizer, cfg, model_path)
    rows += lm.rows
    for r in rows:
        r["checkpoint"] = label
    name = model_name or (str(model_path) if model_path is not None else label)
    result = results_doc(name, rows, checkpoint=label)
    write_json(out_path, result)
    out_dir = out_path.parent
    write_json(out_dir / LM_EVAL_FILE, lm_eval_doc(lm.output, rows, lm.groups, name, label))
    if lm.translations:
        lines = "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in lm.translations)
        (out_dir / "translations.jsonl").write_text(lines, encoding="utf-8")
    baseline = load_results(Path(cfg.baseline)) if cfg.baseline else None
    (out_dir / "tables.md").write_text(render_tables(result, baseline), encoding="utf-8")
    return result
