"""Vocabulary extension for a language the base tokenizer splits too finely.

1. Train a tokenizer of the same kind as the base (same normaliser, pre-tokenizer and special tokens) on
   the language's text (``tokenizers`` via ``train_new_from_iterator``).
2. Append its merges that make tokens the base lacks to the base's BPE, in the trained order, until
   ``max_new`` tokens are added. Appended merges rank after every base merge, so text the base already
   covers keeps its tokenization wherever no new merge applies.
3. Grow the model's embeddings; each new row (input and, if untied, output) is the mean of the base
   embeddings of the token's sub-tokens (the base BPE of the token's own bytes).

Warm-starting only the embeddings for a few steps is a CPT option (``embeddings_warmup_steps``).
Only byte-level BPE tokenizers (Qwen2, Llama 3, GPT-2 style) are supported.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from linguabridge.errors import LinguabridgeError


def train_tokenizer(base, texts: Iterable[str], vocab_size: int):
    """A tokenizer like ``base`` (pre-tokenizer, normaliser, special tokens) with a vocabulary learnt from
    ``texts``."""
    return base.train_new_from_iterator(iter(texts), vocab_size=vocab_size)


def _bpe_state(tokenizer) -> dict:
    state = json.loads(tokenizer.backend_tokenizer.to_str())
    model = state.get("model", {})
    if model.get("type") != "BPE":
        raise LinguabridgeError(
            f"vocabulary extension needs a BPE tokenizer, {tokenizer.name_or_path!r} is {model.get('type')!r}",
            "use a byte-level BPE tokenizer (Qwen2, Llama 3, GPT-2 style)",
        )
    return state


def _pairs(merges: list) -> list[tuple[str, str]]:
    return [tuple(m) if isinstance(m, list) else tuple(m.split(" ", 1)) for m in merges]


@dataclass
class Extension:
    tokenizer: object
    added: list[str] = field(default_factory=list)  # new tokens (byte-level strings), in id order
    first_id: int = 0


def extend_tokenizer(base, trained, max_new: int) -> Extension:
    """``base`` plus up to ``max_new`` tokens (and their merges) from ``trained``; ids follow ``len(base)``."""
    from transformers import PreTrainedTokenizerFast

    state = _bpe_state(base)
    vocab: dict[str, int] = state["model"]["vocab"]
    merges = _pairs(state["model"]["merges"])
    as_lists = bool(state["model"]["merges"]) and isinstance(state["model"]["merges"][0], list)
    # The library numbers added (special) tokens after the model vocabulary when it loads; pin them into
    # the vocabulary at their ids so the new tokens can follow without shifting <|endoftext|> & co.
    for added_token in state.get("added_tokens", []):
        vocab.setdefault(added_token["content"], added_token["id"])
    if sorted(vocab.values()) != list(range(len(vocab))):
        raise LinguabridgeError(
            f"tokenizer {base.name_or_path!r} has gaps in its ids", "extend a tokenizer with contiguous ids"
        )
    next_id = len(vocab)
    first = next_id
    added: list[str] = []
    for a, b in _pairs(_bpe_state(trained)["model"]["merges"]):
        if len(added) >= max_new:
            break
        new = a + b
        if new in vocab or a not in vocab or b not in vocab:
            continue
        vocab[new] = next_id
        merges.append((a, b))
        added.append(new)
        next_id += 1
    state["model"]["merges"] = [list(m) if as_lists else f"{m[0]} {m[1]}" for m in merges]
    from tokenizers import Tokenizer

    backend = Tokenizer.from_str(json.dumps(state))
    tok = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        **{k: v for k, v in base.special_tokens_map.items() if isinstance(v, str)},
    )
    tok.chat_template = getattr(base, "chat_template", None)
    tok.model_max_length = base.model_max_length
    return Extension(tok, added, first)


def subtoken_ids(base, token: str) -> list[int]:
    """The base BPE of a new token's own bytes (no pre-tokenization): the rows its embedding averages."""
    return [t.id for t in base.backend_tokenizer.model.tokenize(token)]


def init_new_embeddings(model, base, ext: Extension) -> int:
    """Grow the embeddings to hold the new ids and set each new row to the mean of its sub-token rows.
    Returns the new embedding size (the old size is kept when its padding already has room)."""
    import torch

    emb = model.get_input_embeddings()
    need = ext.first_id + len(ext.added)
    size = max(emb.weight.shape[0], need)
    if size != emb.weight.shape[0]:
        model.resize_token_embeddings(size, mean_resizing=False)
    inp = model.get_input_embeddings().weight
    out_layer = model.get_output_embeddings()
    untied = out_layer is not None and out_layer.weight.data_ptr() != inp.data_ptr()
    with torch.no_grad():
        for k, token in enumerate(ext.added):
            rows = subtoken_ids(base, token)
            new_id = ext.first_id + k
            inp[new_id] = inp[rows].mean(0)
            if untied:
                out_layer.weight[new_id] = out_layer.weight[rows].mean(0)
    model.config.vocab_size = size
    return size


def tokens_per_byte(tokenizer, texts: list[str]) -> float:
    n_bytes = sum(len(t.encode("utf-8")) for t in texts)
    n_tok = sum(len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"])
    return n_tok / max(1, n_bytes)


def extend_vocabulary(model, base, texts: list[str], new_tokens: int, train_vocab: int | None = None) -> dict:
    """Extend ``base`` (and ``model``) with up to ``new_tokens`` tokens learnt from ``texts``.

    Returns ``{"tokenizer", "model", "added", "tokens_per_byte_before", "tokens_per_byte_after"}``."""
    if not texts:
        raise LinguabridgeError("no text to learn new tokens from", "pass a corpus of the target language")
    trained = train_tokenizer(base, texts, train_vocab or max(1024, 4 * new_tokens))
    ext = extend_tokenizer(base, trained, new_tokens)
    size = init_new_embeddings(model, base, ext)
    return {
        "tokenizer": ext.tokenizer,
        "model": model,
        "added": ext.added,
        "first_id": ext.first_id,
        "embedding_rows": size,
        "tokens_per_byte_before": tokens_per_byte(base, texts),
        "tokens_per_byte_after": tokens_per_byte(ext.tokenizer, texts),
    }
