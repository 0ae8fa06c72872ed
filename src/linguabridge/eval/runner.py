"""Run evaluation tasks on a checkpoint and write ``results.json`` rows with their protocol."""

from __future__ import annotations

import contextlib
import json
import platform
from importlib import resources
from pathlib import Path

from linguabridge.config import EvalConfig
from linguabridge.data.records import write_json


def _versions() -> dict:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("linguabridge", "torch", "transformers", "lm_eval", "sacrebleu"):
        with contextlib.suppress(md.PackageNotFoundError):
            out[pkg] = md.version(pkg.replace("_", "-"))
    return out


def demo_file(name: str) -> Path:
    return Path(str(resources.files("linguabridge").joinpath(f"assets/demo/{name}")))


def eval_heldout(model, tokens_dir: Path) -> list[dict]:
    from linguabridge.mixture.tokens import heldout_documents
    from linguabridge.train.cpt import heldout_losses

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


def eval_flores(
    model, tokenizer, cfg: EvalConfig, path: Path | None = None, pivot: str = "eng_Latn"
) -> list[dict]:
    from linguabridge.eval.translation import score_translations, translate

    if path is None:
        path = (
            Path(cfg.data_dir) / "eval_translation.jsonl"
            if cfg.data_dir
            else demo_file("eval_translation.jsonl")
        )
    items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if cfg.limit:
        items = items[: cfg.limit]
    langs = [k for k in items[0] if k != "id" and k != pivot]
    rows = []
    for tgt in langs:
        for src, dst in ((pivot, tgt), (tgt, pivot)):
            hyps, prompt = translate(
                model, tokenizer, [it[src] for it in items], src, dst, cfg.max_new_tokens
            )
            scores = score_translations(hyps, [it[dst] for it in items], dst)
            for metric in ("bleu", "chrf++"):
                rows.append(
                    {
                        "task": "demo_flores",
                        "language": dst,
                        "direction": f"{src}-{dst}",
                        "metric": metric,
                        "value": scores[metric],
                        "split": "devtest",
                        "shots": 0,
                        "n": len(items),
                        "prompt": prompt,
                        "harness": "linguabridge+sacrebleu",
                        "bleu_tokenize": scores["bleu_tokenize"],
                    }
                )
    return rows


def evaluate(model, tokenizer, cfg: EvalConfig, tokens_dir: Path | None, out_path: Path, label: str) -> dict:
    rows: list[dict] = []
    for task in cfg.tasks:
        if task == "heldout_bpb" and tokens_dir is not None:
            rows += eval_heldout(model, tokens_dir)
        elif task == "demo_flores":
            rows += eval_flores(model, tokenizer, cfg)
        elif task == "demo_copa":
            from linguabridge.eval.multiple_choice import eval_demo_copa

            rows += eval_demo_copa(model, tokenizer, cfg)
    for r in rows:
        r["checkpoint"] = label
    result = {"model": label, "versions": _versions(), "results": rows}
    write_json(out_path, result)
    return result
