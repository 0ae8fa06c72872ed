"""Base models: a tiny random-init Qwen2 or Llama built from config, or any HF causal LM (GGUF files included).

``tiny-qwen2`` is the embedded default; ``tiny-llama`` has SmolLM2's architecture, to run a real model's
tokenizer (``tokenizer: smollm2-135m``) through every stage in seconds.
"""

from __future__ import annotations

from pathlib import Path

from linguabridge.config import ModelConfig
from linguabridge.errors import LinguabridgeError

TINY = "tiny-qwen2"
TINY_LLAMA = "tiny-llama"


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


def build_tiny_llama(cfg: ModelConfig, vocab_size: int, seed: int, tokenizer=None):
    """A Llama-architecture model (SmolLM2's) with random weights and the tokenizer's BOS/EOS/pad ids."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    t = cfg.tiny
    ids = {f"{kind}_token_id": getattr(tokenizer, f"{kind}_token_id", None) for kind in ("bos", "eos", "pad")}
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=t.hidden_size,
        intermediate_size=t.intermediate_size,
        num_hidden_layers=t.num_hidden_layers,
        num_attention_heads=t.num_attention_heads,
        num_key_value_heads=t.num_key_value_heads,
        max_position_embeddings=t.max_position_embeddings,
        tie_word_embeddings=t.tie_word_embeddings,
        use_cache=False,
        attn_implementation=cfg.attn_implementation,
        **ids,
    )
    torch.manual_seed(seed)
    return LlamaForCausalLM(config)


def load_model(
    cfg: ModelConfig,
    path: str | Path | None = None,
    vocab_size: int | None = None,
    seed: int = 0,
    eos_token_id: int | None = None,
    tokenizer=None,
):
    """Load ``path`` (a previous stage's checkpoint) or the configured base model.

    Weights load from safetensors only; remote code runs only when ``trust_remote_code`` is set. A ``.gguf``
    file or ``smollm2-135m`` loads from its cached conversion (models/sources.py).
    """
    import torch
    from transformers import AutoModelForCausalLM

    from linguabridge.models.sources import resolve_source

    source = str(path) if path is not None else cfg.name_or_path
    if source in (TINY, TINY_LLAMA):
        if vocab_size is None:
            raise LinguabridgeError(
                f"building {source} needs the tokenizer's vocabulary size", "pass vocab_size"
            )
        if source == TINY_LLAMA:
            return build_tiny_llama(cfg, vocab_size, seed, tokenizer)
        return build_tiny_qwen2(cfg, vocab_size, seed, eos_token_id)
    source = resolve_source(source)[0]
    dtype = "auto" if cfg.dtype == "auto" else getattr(torch, cfg.dtype)
    _refuse_pickle_only(Path(source))
    try:
        model = AutoModelForCausalLM.from_pretrained(
            source,
            dtype=dtype,
            attn_implementation=cfg.attn_implementation,
            trust_remote_code=cfg.trust_remote_code,
            use_safetensors=True,
        )
    except (OSError, ValueError) as exc:  # transformers raises ValueError for remote code and unknown types
        raise LinguabridgeError(
            f"cannot load model {source!r}: {str(exc).strip().splitlines()[0]}", load_hint(str(exc), source)
        ) from None
    model.config.use_cache = False  # packed training relies on no KV cache (see ARCHITECTURE.md)
    return model


def load_hint(message: str, source: str = "") -> str:
    """The fix for a failed ``from_pretrained``: remote code is opt-in, anything else needs local files."""
    config = Path(source) / "config.json"
    ships_code = config.is_file() and '"auto_map"' in config.read_text(encoding="utf-8", errors="replace")
    if "trust_remote_code" in message or ships_code:
        return "this model ships its own Python code: only if you trust it, set model.trust_remote_code: true"
    return "give a local directory with config.json + *.safetensors, a .gguf file, 'smollm2-135m' or 'tiny-qwen2'"


def _refuse_pickle_only(folder: Path) -> None:
    """A folder with only pickled ``.bin``/``.pt`` weights: loading them can run code, so say how to convert."""
    if not folder.is_dir() or any(folder.glob("*.safetensors")):
        return
    pickled = sorted(p.name for p in (*folder.glob("*.bin"), *folder.glob("*.pt")))
    if pickled:
        raise LinguabridgeError(
            f"{folder}: only pickled weights ({', '.join(pickled[:3])}), which can run code when loaded",
            "convert them once where you trust the file: AutoModelForCausalLM.from_pretrained(DIR, "
            "use_safetensors=False).save_pretrained(DIR) writes model.safetensors",
        )
