"""Evaluate one checkpoint: lm-eval tasks + held-out bits per byte -> ``results.json`` rows with their protocol.

``results.json`` is ``{"model", "versions", "results": [row, ...]}``, one row per task x language x metric
(x direction for translation), the language a canonical code, the value a fraction (acc, F1...) or BLEU
points, and next to it everything that makes it comparable: split, shots, few-shot split, n, prompt,
prompt style, target delimiter, harness and backend. Beside it: ``tables.md`` (per-language table grouped
by tier, translation direction matrices, deltas against ``eval.baseline``) and ``translations.jsonl``.
"""

from __future__ import annotations

import json
import platform
from collections import defaultdict
from pathlib import Path

from linguabridge.config import EvalConfig
from linguabridge.eval.tasks import TaskSpec
from linguabridge.io import write_json
from linguabridge.provenance import package_versions


def versions() -> dict:
    packages = ("linguabridge", "torch", "transformers", "lm-eval", "sacrebleu", "datasets", "vllm")
    return {"python": platform.python_version()} | package_versions(packages)


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
        if isinstance(stderr, (int, float)):
            row["stderr"] = float(stderr)
        if metric == "bleu":
            row["bleu_tokenize"] = spec.extras["bleu_tokenize"]
        if metric == "spbleu":
            row["spm_sha256"] = spec.extras["spm"].sha256
        rows.append(row)
    return rows


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
                    "hypothesis": s["filtered_resps"][0].strip().split("\n")[0].strip(),
                }
            )
    return records


def run_lm_eval_tasks(model, tokenizer, cfg: EvalConfig, model_path=None) -> tuple[list[dict], list[dict]]:
    """Rows and translation outputs of every lm-eval-backed task in ``cfg.tasks``."""
    from linguabridge.eval.lmeval_bridge import build_lm, lm_eval_version, run_specs
    from linguabridge.eval.suites import resolve_tasks

    specs = resolve_tasks(cfg)
    if not specs:
        return [], []
    with build_lm(model, tokenizer, cfg, model_path) as lm:
        out = run_specs(lm, specs, cfg)
    harness = f"lm-eval {lm_eval_version()}"
    rows = [r for spec in specs for r in spec_rows(spec, out, cfg, harness)]
    return merge_subsets(rows), translation_outputs(specs, out)


def evaluate(
    model,
    tokenizer,
    cfg: EvalConfig,
    tokens_dir: Path | None,
    out_path: Path,
    label: str,
    model_path: str | Path | None = None,
) -> dict:
    """Evaluate ``model`` on ``cfg.tasks``; write ``out_path`` (results.json) and tables beside it."""
    from linguabridge.eval.compare import load_results, render_tables

    rows: list[dict] = []
    if "heldout_bpb" in cfg.tasks and tokens_dir is not None:
        rows += eval_heldout(model, tokens_dir)
    lm_rows, outputs = run_lm_eval_tasks(model, tokenizer, cfg, model_path)
    rows += lm_rows
    for r in rows:
        r["checkpoint"] = label
    result = {"model": label, "versions": versions(), "results": rows}
    write_json(out_path, result)
    out_dir = out_path.parent
    if outputs:
        lines = "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in outputs)
        (out_dir / "translations.jsonl").write_text(lines, encoding="utf-8")
    baseline = load_results(Path(cfg.baseline)) if cfg.baseline else None
    (out_dir / "tables.md").write_text(render_tables(result, baseline), encoding="utf-8")
    return result
