"""Chat with a checkpoint: the saved chat template in, generation that stops at the end of the assistant turn.

Used by ``linguabridge chat MODEL`` for a quick look, by the chat check (does the model stop at ``<|im_end|>``
and answer in the prompt's language?) and by the preference builders to sample candidate answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from linguabridge.errors import LinguabridgeError


@dataclass
class Reply:
    text: str  # decoded answer, special tokens removed
    finished: bool  # generation ended on an end-of-turn token (not on max_new_tokens)
    new_tokens: int  # generated tokens, the end-of-turn token included


def load_chat_model(path: str | Path, trust_remote_code: bool = False):
    """A saved checkpoint and its tokenizer (with the chat template saved beside the weights)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(path)
    if not (path / "config.json").is_file():
        raise LinguabridgeError(
            f"no model at {path} (config.json missing)",
            "pass a stage's model folder, e.g. runs/demo/dpo/model",
        )
    tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    if not tokenizer.chat_template:
        raise LinguabridgeError(
            f"{path}: the tokenizer has no chat template", "use a checkpoint from sft or dpo"
        )
    model = AutoModelForCausalLM.from_pretrained(
        path, trust_remote_code=trust_remote_code, use_safetensors=True, dtype=torch.float32
    )
    if torch.cuda.is_available():
        model = model.to("cuda")
    model.eval()
    return model, tokenizer


def eos_ids(model, tokenizer) -> list[int]:
    """End-of-turn ids: the checkpoint's generation_config (``[<|im_end|>, <|endoftext|>]`` after our SFT)."""
    from linguabridge.tokenizer import chat_eos_ids

    gen = model.generation_config.eos_token_id
    ids = [gen] if isinstance(gen, int) else list(gen or [])
    return ids + [i for i in chat_eos_ids(tokenizer) if i not in ids]


def generate_replies(
    model,
    tokenizer,
    messages: list[dict],
    n: int = 1,
    max_new_tokens: int = 256,
    temperature: float = 0.0,
    top_p: float = 1.0,
    seed: int | None = None,
) -> list[Reply]:
    """``n`` answers to one conversation (greedy when ``temperature`` is 0, else sampled)."""
    import torch

    enc = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    device = next(model.parameters()).device
    input_ids = enc["input_ids"].to(device)
    stops = eos_ids(model, tokenizer)
    if seed is not None:
        torch.manual_seed(seed)
    sample = temperature > 0
    with torch.no_grad():
        out = model.generate(
            input_ids,
            attention_mask=torch.ones_like(input_ids),
            max_new_tokens=max_new_tokens,
            do_sample=sample,
            temperature=temperature if sample else None,
            top_p=top_p if sample else None,
            top_k=None,
            num_return_sequences=n,
            eos_token_id=stops,
            pad_token_id=tokenizer.pad_token_id,
            use_cache=True,
        )
    replies = []
    for row in out[:, input_ids.shape[1] :].tolist():
        ended = next((i for i, t in enumerate(row) if t in stops), None)
        kept = row if ended is None else row[: ended + 1]
        text = tokenizer.decode(kept, skip_special_tokens=True).strip()
        replies.append(Reply(text, ended is not None, len(kept)))
    return replies
