"""Packing overhead per training step against a tiny-model training step, and padding.

Builds token shards from the bundled demo corpus, plans the demo recipe on them, then times

* the one-off layout of :class:`PackedDataset` (plan -> which document pieces go in which sequence),
* serving one step: ``micro_batch`` items (``__getitem__``) and the collate, averaged over a whole epoch,
* one training step of the demo's tiny Qwen2 (forward, backward, AdamW) on that same batch,

and reports padding and unlabelled (segment-start) tokens over the epoch. It also lays out a synthetic
index of ``--synthetic-docs`` documents (2B tokens, 4096-token sequences) to time the layout at scale.

    python benchmarks/bench_packing.py [--seq-len 128] [--micro-batch 4] [--steps 20] [--json out.json]
"""

from __future__ import annotations

import os

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse
import json
import tempfile
import time
from pathlib import Path


def build_shards(work: Path, tok) -> tuple[Path, dict]:
    """Curated demo documents (true languages) -> token shards; returns the dir and train tokens per source."""
    from importlib import resources

    from bench_tokenize import demo_texts

    from linguabridge.data.bitext.render import render_pairs
    from linguabridge.mixture.inventory import iter_curated, select_heldout
    from linguabridge.mixture.shard_writer import tokenize_documents

    demo = Path(str(resources.files("linguabridge").joinpath("assets/demo")))
    pairs = [json.loads(line) for line in (demo / "parallel.jsonl").read_text(encoding="utf-8").splitlines()]
    corpus = work / "kept.jsonl"
    with open(corpus, "w", encoding="utf-8") as fh:
        for i, (lang, text) in enumerate(demo_texts()):
            fh.write(json.dumps({"id": f"d{i}", "text": text, "metadata": {"language": lang}}) + "\n")
        for doc in render_pairs(pairs, seed=0):
            fh.write(json.dumps(doc.to_json()) + "\n")
    heldout = select_heldout(iter_curated([corpus]), 2, seed=0)
    summary = tokenize_documents([corpus], tok, work / "tokens", heldout)
    return work / "tokens", {k: v["tokens"] for k, v in summary["sources"].items()}


def layout_at_scale(work: Path, docs: int, tokens: float, seq_len: int) -> dict:
    """Layout time and item lookup time for a synthetic index of ``docs`` documents (no token data is
    read: the layout needs only the index) planned to ``tokens`` tokens over 20 sources."""
    import numpy as np

    from linguabridge.mixture.packing import PackedDataset
    from linguabridge.mixture.plan import SourcePlan, StagePlan
    from linguabridge.mixture.shard_reader import TokenIndex

    rng = np.random.default_rng(0)
    length = np.clip(rng.lognormal(6.0, 0.8, docs), 16, 32_000).astype(np.uint32)
    source = rng.integers(0, 20, docs).astype(np.uint16)
    out = work / "synthetic"
    out.mkdir()
    TokenIndex(
        shard=np.zeros(docs, np.uint32),
        offset=(np.cumsum(length, dtype=np.uint64) - length),
        length=length,
        language=source,
        source=source,
        heldout=np.zeros(docs, bool),
        nbytes=length.astype(np.uint64) * 4,
        languages=[f"l{i:02d}" for i in range(20)],
        sources=[f"l{i:02d}" for i in range(20)],
        eos_id=0,
    ).save(out)
    per = int(tokens) // 20
    stage = StagePlan("s", per * 20, [SourcePlan(f"l{i:02d}", per, 0.05, 0.0) for i in range(20)])
    t0 = time.perf_counter()
    ds = PackedDataset(out, stage, seq_len, seed=0)
    layout = time.perf_counter() - t0
    picks = rng.integers(0, len(ds), 2000)
    t0 = time.perf_counter()
    for i in picks:
        ds.segments(int(i))
    lookup = (time.perf_counter() - t0) / len(picks)
    return {
        "documents": docs,
        "stage_tokens": per * 20,
        "corpus_tokens": int(length.sum()),
        "pieces": int(ds.piece_doc.size),
        "sequences": len(ds),
        "layout_seconds": round(layout, 2),
        "layout_bytes_per_piece": int((ds.piece_doc.nbytes + ds.piece_end.nbytes) / ds.piece_doc.size),
        "lookup_us_per_item": round(1e6 * lookup, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--micro-batch", type=int, default=4)
    ap.add_argument("--steps", type=int, default=20, help="training steps to time")
    ap.add_argument(
        "--synthetic-docs", type=int, default=1_000_000, help="layout-at-scale index size (0: skip)"
    )
    ap.add_argument("--synthetic-tokens", type=float, default=2e9, help="layout-at-scale stage tokens")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)

    from linguabridge.config import ModelConfig
    from linguabridge.mixture.packing import PackedDataset
    from linguabridge.mixture.plan import make_plan
    from linguabridge.models import build_tiny_qwen2
    from linguabridge.recipe import load_recipe
    from linguabridge.tokenizer import load_tokenizer
    from linguabridge.train.cpt import collate_packed

    torch.manual_seed(0)
    tok = load_tokenizer("qwen2")
    work = Path(tempfile.mkdtemp(prefix="bench-packing-"))
    tokens_dir, available = build_shards(work, tok)
    recipe = Path(__file__).resolve().parents[1] / "recipes" / "demo" / "run.yaml"
    plan = make_plan(load_recipe(recipe).mixture, available)
    stage = plan.stage("stage1")

    S, B = args.seq_len, args.micro_batch
    t0 = time.perf_counter()
    ds = PackedDataset(tokens_dir, stage, S, seed=0, num_tokens=(stage.tokens // (S * B)) * S * B)
    layout_s = time.perf_counter() - t0
    steps = len(ds) // B

    t0 = time.perf_counter()
    for step in range(steps):
        batch = collate_packed([ds[step * B + j] for j in range(B)])
    serve_s = (time.perf_counter() - t0) / steps

    model = build_tiny_qwen2(ModelConfig(), vocab_size=len(tok), seed=0)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def train_step(b: dict) -> None:
        out = model(
            input_ids=b["input_ids"], position_ids=b["position_ids"], labels=b["labels"], use_cache=False
        )
        out.loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    batches = [collate_packed([ds[s * B + j] for j in range(B)]) for s in range(min(args.steps + 2, steps))]
    for b in batches[:2]:  # warm-up
        train_step(b)
    t0 = time.perf_counter()
    for b in batches[2:]:
        train_step(b)
    train_s = (time.perf_counter() - t0) / (len(batches) - 2)

    stats = ds.stats()
    results = {
        "seq_len": S,
        "micro_batch": B,
        "sequences": len(ds),
        "layout_seconds": round(layout_s, 4),
        "serve_ms_per_step": round(1e3 * serve_s, 3),
        "tiny_train_ms_per_step": round(1e3 * train_s, 1),
        "packing_overhead_fraction": float(f"{serve_s / train_s:.3g}"),
        "padding_fraction": stats["padding_fraction"],
        "unlabelled_fraction": round(stats["unlabelled_fraction"], 4),
        "last_batch_shape": list(batch["input_ids"].shape),
        "torch_threads": torch.get_num_threads(),
    }
    if args.synthetic_docs:
        results["layout_at_scale"] = layout_at_scale(work, args.synthetic_docs, args.synthetic_tokens, 4096)
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
