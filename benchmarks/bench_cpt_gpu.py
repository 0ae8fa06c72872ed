"""CPT throughput and MFU: the linguabridge CPT runner (fast options off / on) against a plain Hugging Face
Trainer, on the same packed data, in one process.

Model: Qwen2-1.5B shape (random init, Qwen2's 151,936-token vocabulary), sequences of 4096 tokens packed
from documents of varied length (position ids restart per document), bf16 autocast over fp32 weights.

  configurations   hf_baseline   plain transformers.Trainer, the model computes its own loss
                   cpt           linguabridge's runner (per-language loss, monitoring, sealed checkpoints)
                   cpt_fast      the same with torch.compile and Liger kernels (CUDA; Liger if installed)

Throughput is timed between optimizer steps after ``--warmup`` steps (compilation excluded); MFU uses the
PaLM formula (6N + 12 L d T per token) over the device's dense bf16 peak (train/monitor.py).

  python benchmarks/bench_cpt_gpu.py --out bench.json            # GPU, the real size
  python benchmarks/bench_cpt_gpu.py --tiny --out bench.json     # CPU smoke run (tiny model and sequences)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # run from a checkout without installing
# the small CPT setups (toy corpus, small tokenizer, tiny model) are test scaffolding, kept in tests/
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from linguabridge.train.monitor import QWEN2_SHAPES, ModelShape, local_device_peak, mfu  # noqa: E402

LANGS = ["eng_Latn", "zho_Hans", "tha_Thai", "npi_Deva"]
TINY = ModelShape(layers=2, hidden=64, heads=4, kv_heads=2, intermediate=128, vocab=4096, tied=True)


def word_tokenizer(vocab: int):
    """A fast tokenizer whose words ``w<id>`` map to ids: lets the real token-shard writer and packed
    dataset build data for any vocabulary size without a trained tokenizer."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = {f"w{i}": i for i in range(vocab - 1)}
    words["<|endoftext|>"] = vocab - 1
    tok = Tokenizer(models.WordLevel(words, unk_token="w0"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|endoftext|>")


def build_data(work: Path, tokenizer, vocab: int, tokens: int, mean_doc: int, seed: int = 0) -> Path:
    """Token shards of random documents (log-normal lengths around ``mean_doc``) in four languages."""
    import numpy as np

    import toy_cpt as toy

    rng = np.random.default_rng(seed)
    docs: dict[str, list[str]] = {lang: [] for lang in LANGS}
    made, i = 0, 0
    while made < tokens * 1.2 or min(len(v) for v in docs.values()) < 5:
        n = int(np.clip(rng.lognormal(np.log(mean_doc), 0.8), 16, 8 * mean_doc))
        docs[LANGS[i % len(LANGS)]].append(" ".join(f"w{t}" for t in rng.integers(0, vocab - 1, n)))
        made, i = made + n, i + 1
    return toy.build_tokens(docs, tokenizer, work, heldout_per_language=1, seed=seed)


def make_model(shape: ModelShape, eos: int, attn: str):
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    cfg = Qwen2Config(
        vocab_size=shape.vocab,
        hidden_size=shape.hidden,
        intermediate_size=shape.intermediate,
        num_hidden_layers=shape.layers,
        num_attention_heads=shape.heads,
        num_key_value_heads=shape.kv_heads,
        tie_word_embeddings=shape.tied,
        max_position_embeddings=32768,
        bos_token_id=eos,
        eos_token_id=eos,
        pad_token_id=eos,
        use_cache=False,
        attn_implementation=attn,
    )
    model = Qwen2ForCausalLM(cfg)  # fp32 weights; bf16 autocast on GPU
    return model.cuda() if torch.cuda.is_available() else model


def step_timer(warmup: int):
    """Records the wall time of every optimizer step after ``warmup`` (device synchronised)."""
    import torch
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def __init__(self):
            self.times: list[float] = []
            self.last = None

        def _now(self):
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            return time.perf_counter()

        def on_step_begin(self, args, state, control, **kw):
            if self.last is None:
                self.last = self._now()

        def on_step_end(self, args, state, control, **kw):
            now = self._now()
            if state.global_step > warmup:
                self.times.append(now - self.last)
            self.last = now

    return StepTimer()


def run_baseline(a, shape, tokens_dir, plan, out: Path) -> dict:
    """A plain transformers.Trainer on the same packed sequences; the model computes the loss."""
    import torch
    from transformers import Trainer, TrainingArguments

    from linguabridge.mixture.packing import PackedDataset

    packed = PackedDataset(
        tokens_dir, plan, a.seq_len, 0, num_tokens=(a.steps + a.warmup) * a.micro_batch * a.seq_len
    )

    class Items(torch.utils.data.Dataset):
        def __len__(self):
            return len(packed)

        def __getitem__(self, i):
            item = packed[i]
            return {k: item[k] for k in ("input_ids", "position_ids", "labels")}

    def collate(items):
        return {k: torch.stack([it[k] for it in items]) for k in items[0]}

    cuda = torch.cuda.is_available()
    model = make_model(shape, shape.vocab - 1, a.attn)
    args = TrainingArguments(
        output_dir=str(out),
        max_steps=a.steps + a.warmup,
        per_device_train_batch_size=a.micro_batch,
        learning_rate=1e-5,
        bf16=cuda,
        use_cpu=not cuda,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        remove_unused_columns=False,
        dataloader_num_workers=0,
        disable_tqdm=True,
    )
    timer = step_timer(a.warmup)
    Trainer(model=model, args=args, train_dataset=Items(), data_collator=collate, callbacks=[timer]).train()
    return {"step_seconds": timer.times}


def run_linguabridge(a, shape, tokens_dir, plan, out: Path, fast: bool) -> dict:
    import torch

    from linguabridge.config import CPTConfig, OptimConfig
    from linguabridge.train.cpt import run_cpt

    cuda = torch.cuda.is_available()
    import importlib.util

    liger = fast and cuda and importlib.util.find_spec("liger_kernel") is not None
    cfg = CPTConfig(
        tokens=(a.steps + a.warmup) * a.micro_batch * a.seq_len,
        seq_len=a.seq_len,
        micro_batch_size=a.micro_batch,
        optim=OptimConfig(lr=1e-5, warmup_ratio=0.0),
        bf16=cuda,
        compile=fast and cuda,
        liger=liger,
        gradient_checkpointing=a.checkpointing,
        save_every=10**6,
        log_every=1,
        eval_every=0,
        eval_docs_per_language=1,
        checkpoint_verify="size",
        peak_tflops=a.peak_tflops,
    )
    tok = word_tokenizer(shape.vocab)
    model = make_model(shape, shape.vocab - 1, a.attn)
    timer = step_timer(a.warmup)
    run_cpt(cfg, plan, tokens_dir, model, tok, out, seed=0, callbacks=[timer])
    applied = [o for o, on in (("torch.compile", cfg.compile), ("liger", liger)) if on]
    return {"step_seconds": timer.times, "options": applied}


def summarise(name: str, res: dict, a, shape: ModelShape, peak: float | None) -> dict:
    import torch

    t = statistics.median(res["step_seconds"]) if res["step_seconds"] else float("nan")
    tokens_per_step = a.micro_batch * a.seq_len
    tps = tokens_per_step / t
    fpt = shape.flops_per_token(a.seq_len)
    row = {
        "config": name,
        "options": res.get("options", []),
        "median_step_seconds": t,
        "tokens_per_s": tps,
        "tflops_per_s": tps * fpt / 1e12,
        "mfu": mfu(tps, fpt, peak, 1),
        "timed_steps": len(res["step_seconds"]),
    }
    if torch.cuda.is_available():
        row["max_memory_gb"] = torch.cuda.max_memory_allocated() / 2**30
        torch.cuda.reset_peak_memory_stats()
    return row


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--tiny", action="store_true", help="CPU smoke size: 2 layers, vocab 4096, sequences of 256"
    )
    p.add_argument("--seq-len", type=int, default=None)
    p.add_argument("--micro-batch", type=int, default=None)
    p.add_argument("--steps", type=int, default=None, help="timed optimizer steps per configuration")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps first (compilation, allocator)")
    p.add_argument("--attn", default="sdpa", help="attention implementation for every configuration")
    p.add_argument(
        "--checkpointing", action="store_true", help="activation checkpointing in the linguabridge runs"
    )
    p.add_argument("--configs", default="hf_baseline,cpt,cpt_fast")
    p.add_argument(
        "--peak-tflops", type=float, default=None, help="device peak for MFU (default: from the GPU name)"
    )
    p.add_argument("--out", type=Path, default=Path("bench_cpt_gpu.json"))
    a = p.parse_args(argv)
    shape = TINY if a.tiny else QWEN2_SHAPES["qwen2-1.5b"]
    a.seq_len = a.seq_len or (256 if a.tiny else 4096)
    a.micro_batch = a.micro_batch or (2 if a.tiny else 4)
    a.steps = a.steps or (4 if a.tiny else 20)
    a.warmup = a.warmup if a.warmup is not None else (1 if a.tiny else 5)
    os.environ.setdefault("LINGUABRIDGE_NO_TENSORBOARD", "1")

    import torch

    import toy_cpt as toy

    peak = local_device_peak(a.peak_tflops)
    work = Path(tempfile.mkdtemp(prefix="bench_cpt_"))
    try:
        tok = word_tokenizer(shape.vocab)
        total = (a.steps + a.warmup) * a.micro_batch * a.seq_len
        tokens_dir = build_data(work / "data", tok, shape.vocab, total, mean_doc=max(16, a.seq_len // 4))
        plan = toy.stage_plan("bench", {lang: 1.0 for lang in LANGS}, total)
        rows = []
        for name in a.configs.split(","):
            out = work / name
            if name == "hf_baseline":
                res = run_baseline(a, shape, tokens_dir, plan, out)
            elif name in ("cpt", "cpt_fast"):
                res = run_linguabridge(a, shape, tokens_dir, plan, out, fast=name == "cpt_fast")
            else:
                raise SystemExit(f"unknown configuration {name!r} (hf_baseline, cpt, cpt_fast)")
            rows.append(summarise(name, res, a, shape, peak))
            shutil.rmtree(out, ignore_errors=True)
            print(json.dumps(rows[-1]), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    base = next((r for r in rows if r["config"] == "hf_baseline"), None)
    for r in rows:
        r["speedup_vs_baseline"] = r["tokens_per_s"] / base["tokens_per_s"] if base else None
    result = {
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        "peak_tflops": peak,
        "model": "tiny" if a.tiny else "qwen2-1.5b (random init)",
        "params": shape.total_params(),
        "flops_per_token": shape.flops_per_token(a.seq_len),
        "seq_len": a.seq_len,
        "micro_batch": a.micro_batch,
        "attn": a.attn,
        "torch": torch.__version__,
        "results": rows,
    }
    a.out.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
