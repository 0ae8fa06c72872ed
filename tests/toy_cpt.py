"""Small, self-contained CPT setups on real text, for the tests, the forgetting science check and the CPU
run of the benchmark: documents per language -> curated JSONL -> a small BPE tokenizer of Qwen2's kind ->
token shards (the mixture stage's own writer) -> stage plans -> a tiny random-init Qwen2.

A small vocabulary (hundreds to a few thousand tokens) keeps CPU runs fast: with Qwen2's 151k vocabulary
the LM head would dominate every step. The tokenizer keeps Qwen2's pre-tokenizer and special tokens.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from linguabridge.errors import LinguabridgeError
from linguabridge.mixture.plan import SourcePlan, StagePlan


def demo_corpus(languages: list[str] | None = None) -> dict[str, list[str]]:
    """Clean web documents per language from the bundled demo corpus (its truth file marks them)."""
    root = Path(str(resources.files("linguabridge").joinpath("assets/demo")))
    web, truth_path = root / "web.jsonl", root / "web_truth.jsonl"
    if not (web.is_file() and truth_path.is_file()):
        raise LinguabridgeError(f"demo corpus missing in {root}", "reinstall linguabridge")
    truth = {}
    for line in truth_path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        truth[row["id"]] = row
    out: dict[str, list[str]] = {}
    for line in web.read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        t = truth.get(rec["id"], {})
        clean = t.get("expected") == "keep" and t.get("kind", "clean") == "clean" and t.get("language")
        if clean and (languages is None or t["language"] in languages):
            out.setdefault(t["language"], []).append(rec["text"])
    return out


def jsonl_corpus(path: str | Path, languages: list[str] | None = None) -> dict[str, list[str]]:
    """Documents per language from JSONL with ``text`` and ``language``/``lang`` (e.g. the UDHR fixture)."""
    out: dict[str, list[str]] = {}
    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        rec = json.loads(line)
        lang = rec.get("language") or rec.get("lang") or rec.get("metadata", {}).get("language")
        if not lang or "text" not in rec:
            raise LinguabridgeError(f"{path}:{lineno}: needs 'text' and 'language'", "fix the record")
        if languages is None or lang in languages:
            out.setdefault(lang, []).append(rec["text"])
    return out


def write_curated(docs: dict[str, list[str]], path: Path) -> Path:
    """Curated-document JSONL (what the data stage writes) for the token-shard writer."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for lang in sorted(docs):
            for i, text in enumerate(docs[lang]):
                rec = {"id": f"{lang}-{i:04d}", "text": text, "metadata": {"language": lang, "source": "web"}}
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return path


def small_tokenizer(texts: list[str], vocab_size: int = 1024):
    """Qwen2's tokenizer kind (pre-tokenizer, special tokens) with a vocabulary learnt from ``texts``."""
    from linguabridge.tokenizer import load_tokenizer
    from linguabridge.train.vocab import train_tokenizer

    return train_tokenizer(load_tokenizer("qwen2"), texts, vocab_size)


def build_tokens(
    docs: dict[str, list[str]], tokenizer, work: Path, heldout_per_language: int = 2, seed: int = 0
) -> Path:
    """Curated JSONL + held-out choice + token shards under ``work``; returns the tokens directory."""
    from linguabridge.mixture.inventory import iter_curated, select_heldout
    from linguabridge.mixture.shard_writer import tokenize_documents

    curated = write_curated(docs, work / "curated" / "docs.jsonl")
    heldout = select_heldout(list(iter_curated([curated])), heldout_per_language, seed)
    tokenize_documents([curated], tokenizer, work / "tokens", heldout)
    return work / "tokens"


def stage_plan(name: str, shares: dict[str, float], tokens: int) -> StagePlan:
    """A one-stage plan: ``shares`` over sources (languages), scaled to ``tokens``."""
    total = sum(shares.values())
    return StagePlan(
        name,
        int(tokens),
        [SourcePlan(src, int(round(tokens * s / total)), s / total, 0.0) for src, s in shares.items()],
    )


def tiny_qwen2(
    vocab_size: int,
    eos_id: int,
    hidden: int = 64,
    layers: int = 2,
    heads: int = 4,
    kv_heads: int = 2,
    intermediate: int = 128,
    seed: int = 0,
    attn_implementation: str = "sdpa",
):
    """A random-init Qwen2-architecture model of any vocabulary size (deterministic for a seed)."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(
        vocab_size=vocab_size,
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        bos_token_id=eos_id,
        eos_token_id=eos_id,
        pad_token_id=eos_id,
        use_cache=False,
        attn_implementation=attn_implementation,
    )
    torch.manual_seed(seed)
    return Qwen2ForCausalLM(config)
