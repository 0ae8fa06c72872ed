"""Base models: a tiny random-init Qwen2 built from config (the embedded default) or any HF causal LM."""

from __future__ import annotations

from pathlib import Path

from linguabridge.config import ModelConfig
from linguabridge.errors import LinguabridgeError

TINY = "tiny-qwen2"


def build_tiny_qwen2(cfg: ModelConfig, vocab_size: int, seed: int, eos_token_id: int | None = None):
    """A Qwen2-architecture model with random weights; deterministic for a given seed."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    t = cfg.tiny
    if eos_token_id is None:  # Qwen2's <|endoftext|> when the vocabulary has it, else the last id
        eos_token_id = 151643 if vocab_size > 151643 else vocab_size - 1
    eos = eos_token_id
    config = Qwen2Config(
        vocab_size=vocab_size,
        hidden_size=t.hidden_size,
        intermediate_size=t.intermediate_size,
        num_hidden_layers=t.num_hidden_layers,
        num_attention_heads=t.num_attention_heads,
        num_key_value_heads=t.num_key_value_heads,
        max_position_embeddings=t.max_position_embeddings,
        tie_word_embeddings=t.tie_word_embeddings,
        bos_token_id=eos,
        eos_token_id=eos,
        pad_token_id=eos,
        use_cache=False,
        attn_implementation=cfg.attn_implementation,
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    return model


def load_model(
    cfg: ModelConfig,
    path: str | Path | None = None,
    vocab_size: int | None = None,
    seed: int = 0,
    eos_token_id: int | None = None,
):
    """Load ``path`` (a previous stage's checkpoint) or the configured base model.

    Weights load from safetensors only; remote code runs only when ``trust_remote_code`` is set.
    """
    import torch
    from transformers import AutoModelForCausalLM

    source = str(path) if path is not None else cfg.name_or_path
    if source == TINY:
        if vocab_size is None:
            raise LinguabridgeError(
                "building tiny-qwen2 needs the tokenizer's vocabulary size", "pass vocab_size"
            )
        return build_tiny_qwen2(cfg, vocab_size, seed, eos_token_id)
    dtype = "auto" if cfg.dtype == "auto" else getattr(torch, cfg.dtype)
    try:
        model = AutoModelForCausalLM.from_pretrained(
            source,
            dtype=dtype,
            attn_implementation=cfg.attn_implementation,
            trust_remote_code=cfg.trust_remote_code,
            use_safetensors=True,
        )
    except OSError as exc:
        raise LinguabridgeError(
            f"cannot load model {source!r}: {str(exc).splitlines()[0]}",
            "give a local directory with config.json + *.safetensors, or 'tiny-qwen2'",
        ) from None
    model.config.use_cache = False  # packed training relies on no KV cache (see ARCHITECTURE.md)
    return model
