"""Evaluation throughput (items per second) of linguabridge's lm-eval bridge, per backend.

Two workloads on the bundled demo fixtures (or XCOPA with ``--data-dir``):
  mc           demo_copa / xcopa: multiple choice scored by log-likelihood (2 requests per item)
  translation  demo_flores: greedy generation to the end of the line (``--max-new-tokens``), 14 directions

Models: the demo's tiny random Qwen2 (hidden 64, 2 layers, real 151,646-token Qwen2 vocabulary) or, with
``--shape qwen2-0.5b``, a random-init model of Qwen2-0.5B's shape (hidden 896, 24 layers, 14/2 heads,
intermediate 4864, tied embeddings). Backends: ``hf`` (lm-eval's HFLM around the model object, CPU or CUDA)
and ``vllm`` (lm-eval's VLLM wrapper, CUDA only; ``pip install 'linguabridge[gpu]'``), timed in one process.
Model loading and the first warm-up call are excluded.

  python benchmarks/bench_eval.py --out bench_eval.json                                  # CPU, tiny model
  python benchmarks/bench_eval.py --shape qwen2-0.5b --backends hf,vllm --device cuda --out gpu.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # run from a checkout without installing

from linguabridge.config import EvalConfig, EvalTaskConfig, ModelConfig, TinyModelConfig  # noqa: E402

SHAPES = {
    "tiny": TinyModelConfig(),
    "qwen2-0.5b": TinyModelConfig(
        hidden_size=896,
        num_hidden_layers=24,
        num_attention_heads=14,
        num_key_value_heads=2,
        intermediate_size=4864,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
    ),
}


def workloads(args) -> dict[str, EvalConfig]:
    mc_task = (
        EvalTaskConfig(task="xcopa", languages=["zho_Hans", "tha_Thai", "ind_Latn"])
        if args.data_dir
        else "demo_copa"
    )
    common = dict(
        batch_size=args.batch_size,
        max_new_tokens=args.max_new_tokens,
        data_dir=args.data_dir,
        limit=args.limit,
        prompt_style="script-aware",
        device=args.device,
    )
    return {
        "mc": EvalConfig(tasks=[mc_task], **common),
        "translation": EvalConfig(tasks=["demo_flores"], **(common | {"data_dir": None})),
    }


def items_of(rows: list[dict]) -> int:
    """Scored items: n of each task x language x direction, counted once (not per metric)."""
    seen = {(r["task"], r["language"], r.get("direction")): r["n"] for r in rows}
    return sum(seen.values())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", choices=sorted(SHAPES), default="tiny")
    ap.add_argument("--backends", default="hf", help="comma-separated: hf, vllm")
    ap.add_argument("--device", default=None, help="hf backend device (default: cuda when available)")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=24)
    ap.add_argument("--limit", type=int, default=None, help="items per task and language")
    ap.add_argument(
        "--data-dir", default=None, help="XCOPA data (e.g. ../shared/data/xcopa) instead of demo_copa"
    )
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    import torch

    from linguabridge.eval.runner import run_lm_eval_tasks
    from linguabridge.models import build_tiny_qwen2
    from linguabridge.tokenizer import load_tokenizer

    if args.threads:
        torch.set_num_threads(args.threads)
    tok = load_tokenizer("qwen2")
    model = build_tiny_qwen2(ModelConfig(tiny=SHAPES[args.shape]), len(tok), seed=0)
    results = {
        "shape": args.shape,
        "torch_threads": torch.get_num_threads(),
        "device": args.device,
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "runs": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        for backend in args.backends.split(","):
            for name, cfg in workloads(args).items():
                cfg.backend = backend
                warm = cfg.model_copy(update={"limit": 1})
                run_lm_eval_tasks(model, tok, warm, tmp)  # warm-up: kernels, caches, vLLM start-up
                start = time.perf_counter()
                rows = run_lm_eval_tasks(model, tok, cfg, tmp).rows
                seconds = time.perf_counter() - start
                n = items_of(rows)
                run = {
                    "backend": backend,
                    "workload": name,
                    "items": n,
                    "seconds": round(seconds, 3),
                    "items_per_s": round(n / seconds, 2),
                }
                results["runs"].append(run)
                print(json.dumps(run))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
