"""Evaluation throughput (items per second) per backend, one process, one checkpoint, the same data.

Workloads (each through ``run_lm_eval_tasks``: lm-eval's prompts, filters and metrics for every backend):
  xcopa        XCOPA, 11 languages (``--xcopa-dir``, default ../shared/data/xcopa): 2 choices per item
  choice5      a Belebele-style 4-choice task with a 5-shot prefix (items generated into a temp data dir,
               the same for every backend): 4 single-letter continuations behind a long shared context
  translation  demo_flores: greedy generation to the end of the line (``--max-new-tokens``), 14 directions

Models: ``random`` (a random-init Qwen2 with the real 151,646-token vocabulary; ``--shape tiny`` is the demo's
hidden 64 x 2 layers, ``--shape qwen2-0.5b`` Qwen2-0.5B's shape) and ``smollm2`` (SmolLM2-135M-Instruct
converted from its GGUF by ``linguabridge.models.gguf``; used only when the conversion is already in
``--smollm2-cache``). Backends: ``linguabridge`` (ours), ``hf`` (lm-eval's HFLM, timed at every batch size of
``--hf-batch-sizes`` and reported at its best) and ``vllm`` (CUDA only). Each run records its scores, so the
report says whether every backend gave the same accuracy per language. Model loading and a warm-up call
are excluded. ``items_per_s`` is end to end (lm-eval's task building, prompts and metrics included, the same
for every backend); ``model_items_per_s`` counts only the seconds spent in the model's request methods.

  python benchmarks/bench_eval.py --limit 50 --out bench_eval.json                         # CPU
  python benchmarks/bench_eval.py --shape qwen2-0.5b --backends linguabridge,hf,vllm --device cuda \\
      --hf-batch-sizes 1,8,16,32,auto --out gpu.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # run from a checkout without installing

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
CHOICE_LANGUAGES = ("eng_Latn", "zho_Hans")
SENTENCES = {
    "eng_Latn": [
        "The cat sleeps on the warm mat.",
        "We walked to the old market.",
        "The river is wide today.",
    ],
    "zho_Hans": ["猫在温暖的垫子上睡觉。", "我们走到了老市场。", "今天河面宽阔而平静。"],
}


def write_choice_data(root: Path, items: int) -> Path:
    """Belebele's layout (``belebele/<code>/test.jsonl``): passages of ~8 sentences, 4 answers each."""
    for code in CHOICE_LANGUAGES:
        said = SENTENCES[code]
        rows = [
            {
                "flores_passage": " ".join(said[(i + k) % 3] for k in range(8)),
                "question": f"Question {i}: which sentence comes first?",
                "mc_answer1": said[i % 3],
                "mc_answer2": said[(i + 1) % 3],
                "mc_answer3": said[(i + 2) % 3],
                "mc_answer4": f"none of them ({i})",
                "correct_answer_num": str(1 + i % 4),
            }
            for i in range(items)
        ]
        path = root / "belebele" / code / "test.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return root


def workloads(args, choice_dir: Path) -> dict[str, EvalConfig]:
    common = dict(max_new_tokens=args.max_new_tokens, limit=args.limit, device=args.device)
    choice = EvalTaskConfig(
        task="belebele", languages=list(CHOICE_LANGUAGES), shots=5, data_dir=str(choice_dir)
    )
    out = {
        "xcopa": EvalConfig(tasks=["xcopa"], data_dir=str(args.xcopa_dir), **common),
        "choice5": EvalConfig(tasks=[choice], **common),
        "translation": EvalConfig(tasks=["demo_flores"], **common),
    }
    return {name: out[name] for name in args.workloads.split(",")}


def items_of(rows: list[dict]) -> int:
    """Scored items: n of each task x language x direction, counted once (not per metric)."""
    seen = {(r["task"], r["language"], r.get("direction")): r["n"] for r in rows}
    return sum(seen.values())


def scores_of(rows: list[dict]) -> dict[str, float]:
    return {f"{r['task']}/{r.get('direction') or r['language']}/{r['metric']}": r["value"] for r in rows}


def models(args):
    """(name, model, tokenizer, directory) for each model asked for that is available."""
    from linguabridge.models import build_tiny_qwen2
    from linguabridge.tokenizer import load_tokenizer

    for name in args.models.split(","):
        if name == "random":
            tok = load_tokenizer("qwen2")
            yield (
                f"random-{args.shape}",
                build_tiny_qwen2(ModelConfig(tiny=SHAPES[args.shape]), len(tok), 0),
                tok,
            )
        elif name == "smollm2":
            found = sorted(Path(args.smollm2_cache).glob("hf/SmolLM2-*/linguabridge_gguf.json"))
            if not found:
                print(
                    json.dumps(
                        {"model": "smollm2", "skipped": f"no conversion under {args.smollm2_cache}/hf"}
                    )
                )
                continue
            from transformers import AutoModelForCausalLM, AutoTokenizer

            folder = found[-1].parent
            yield (
                "smollm2-135m",
                AutoModelForCausalLM.from_pretrained(folder),
                AutoTokenizer.from_pretrained(folder),
            )


MODEL_SECONDS = [0.0]  # time inside the LM's request methods, summed by the wrappers below


def time_requests(cls) -> None:
    """Wrap ``cls``'s lm-eval request methods so their seconds add up in ``MODEL_SECONDS``."""
    for name in ("loglikelihood", "loglikelihood_rolling", "generate_until"):

        def wrapped(self, *args, _orig=getattr(cls, name), **kwargs):
            start = time.perf_counter()
            try:
                return _orig(self, *args, **kwargs)
            finally:
                MODEL_SECONDS[0] += time.perf_counter() - start

        setattr(cls, name, wrapped)


def timed(model, tok, cfg: EvalConfig, tmp: str) -> tuple[float, float, list[dict]]:
    """(seconds end to end, seconds in the model, rows) of one run after a warm-up run."""
    from linguabridge.eval.runner import run_lm_eval_tasks

    run_lm_eval_tasks(model, tok, cfg.model_copy(update={"limit": 1}), tmp)  # warm-up: kernels, vLLM start-up
    MODEL_SECONDS[0] = 0.0
    start = time.perf_counter()
    rows = run_lm_eval_tasks(model, tok, cfg, tmp).rows
    return time.perf_counter() - start, MODEL_SECONDS[0], rows


def bench_model(name, model, tok, args, choice_dir: Path) -> list[dict]:
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        for workload, cfg in workloads(args, choice_dir).items():
            found = {}
            for backend in args.backends.split(","):
                sizes = args.hf_batch_sizes.split(",") if backend == "hf" else ["-"]
                for size in sizes:
                    batch = {} if size == "-" else {"batch_size": size if size == "auto" else int(size)}
                    run_cfg = cfg.model_copy(update={"backend": backend, **batch})
                    seconds, in_model, rows = timed(model, tok, run_cfg, tmp)
                    n = items_of(rows)
                    run = {"model": name, "workload": workload, "backend": backend, "batch_size": size}
                    run |= {"items": n, "seconds": round(seconds, 3), "items_per_s": round(n / seconds, 2)}
                    run |= {"model_seconds": round(in_model, 3), "model_items_per_s": round(n / in_model, 2)}
                    runs.append(run)
                    found.setdefault(backend, []).append((run, scores_of(rows)))
                    print(json.dumps(run), flush=True)
            runs.append(summary(name, workload, found))
            print(json.dumps(runs[-1]), flush=True)
    return runs


def summary(name: str, workload: str, found: dict) -> dict:
    """Ours against HFLM at its best batch size; whether every backend scored the same."""
    best = {b: max(rs, key=lambda r: r[0]["items_per_s"]) for b, rs in found.items()}
    out = {"model": name, "workload": workload, "summary": True}
    out |= {f"{b}_items_per_s": r[0]["items_per_s"] for b, r in best.items()}
    out |= {f"{b}_model_items_per_s": r[0]["model_items_per_s"] for b, r in best.items()}
    if "hf" in best:
        out["hf_best_batch_size"] = best["hf"][0]["batch_size"]
        reference = best["hf"][1]
        for b, (run, scores) in best.items():
            if b != "hf":
                out[f"{b}_vs_hf"] = round(run["items_per_s"] / best["hf"][0]["items_per_s"], 2)
                out[f"{b}_vs_hf_in_model"] = round(
                    run["model_items_per_s"] / best["hf"][0]["model_items_per_s"], 2
                )
                diff = max((abs(scores[k] - reference[k]) for k in reference), default=0.0)
                out[f"{b}_max_score_diff_vs_hf"] = diff
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="random,smollm2", help="comma-separated: random, smollm2")
    ap.add_argument("--shape", choices=sorted(SHAPES), default="tiny", help="the random model's shape")
    ap.add_argument("--smollm2-cache", default=str(Path.home() / ".cache/linguabridge/smollm2"))
    ap.add_argument("--workloads", default="xcopa,choice5,translation")
    ap.add_argument("--backends", default="linguabridge,hf", help="comma-separated: linguabridge, hf, vllm")
    ap.add_argument(
        "--hf-batch-sizes", default="1,8,16,32", help="HFLM's batch sizes to try ('auto' probes memory: GPU)"
    )
    ap.add_argument("--device", default=None, help="default: cuda when available")
    ap.add_argument("--max-new-tokens", type=int, default=24)
    ap.add_argument("--limit", type=int, default=None, help="items per task and language")
    ap.add_argument("--choice-items", type=int, default=60, help="items per language of the 4-choice task")
    ap.add_argument("--xcopa-dir", type=Path, default=ROOT.parent / "shared" / "data" / "xcopa")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    import torch
    from lm_eval.models.huggingface import HFLM

    from linguabridge.eval.lm_backend import LinguabridgeLM

    for cls in (HFLM, LinguabridgeLM):
        time_requests(cls)
    if args.threads:
        torch.set_num_threads(args.threads)
    results = {
        "torch_threads": torch.get_num_threads(),
        "device": args.device,
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "runs": [],
    }
    with tempfile.TemporaryDirectory() as choice_tmp:
        choice_dir = write_choice_data(Path(choice_tmp), args.choice_items)
        for name, model, tok in models(args):
            results["runs"] += bench_model(name, model, tok, args, choice_dir)
            if args.out:  # after each model: a cut-off run keeps what it measured
                args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
