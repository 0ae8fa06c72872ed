"""Post-training on TRL: multilingual SFT (loss on assistant turns only) and DPO, plus the data builders."""

from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path

from linguabridge.config import TrainConfig
from linguabridge.data.records import read_documents, write_json
from linguabridge.train.common import (
    MetricsLog,
    latest_checkpoint,
    make_metrics_callback,
    save_final,
    step_of,
    training_args_kwargs,
)


def load_conversations(paths: list[str | Path]) -> list[dict]:
    """``{"id", "language", "messages"}`` records from JSONL (``text`` is not needed for chats)."""
    from linguabridge.data.records import Quarantined, expand_inputs, iter_jsonl
    from linguabridge.errors import LinguabridgeError

    out = []
    for path in expand_inputs(paths):
        for lineno, obj in iter_jsonl(path):
            if isinstance(obj, Quarantined) or not isinstance(obj.get("messages"), list):
                raise LinguabridgeError(
                    f"{path}:{lineno}: not a chat record",
                    'each line needs "messages": [{"role", "content"}, ...]',
                )
            out.append(obj)
    return out


def build_language_consistency_pairs(conversations: list[dict], seed: int) -> list[dict]:
    """Preference pairs: the answer in the prompt's language (chosen) vs an answer in another language
    (rejected, an off-target reply). Conversational format TRL's DPOTrainer reads."""
    rng = random.Random(seed)
    by_lang: dict[str, list[dict]] = defaultdict(list)
    for conv in conversations:
        by_lang[conv["language"]].append(conv)
    langs = sorted(by_lang)
    pairs = []
    for conv in conversations:
        msgs = conv["messages"]
        if msgs[-1]["role"] != "assistant" or len(langs) < 2:
            continue
        other_lang = rng.choice([lang for lang in langs if lang != conv["language"]])
        other = rng.choice(by_lang[other_lang])
        pairs.append(
            {
                "id": f"{conv['id']}-vs-{other['id']}",
                "language": conv["language"],
                "rejected_language": other_lang,
                "prompt": msgs[:-1],
                "chosen": [msgs[-1]],
                "rejected": [other["messages"][-1]],
            }
        )
    return pairs


def _max_steps(cfg: TrainConfig, n_examples: int) -> int:
    if cfg.max_steps:
        return cfg.max_steps
    return max(1, n_examples // (cfg.micro_batch_size * cfg.grad_accum))


def run_sft(cfg: TrainConfig, conversations: list[dict], model, tokenizer, out_dir: Path, seed: int) -> dict:
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    ds = Dataset.from_list([{"messages": c["messages"]} for c in conversations])
    max_steps = _max_steps(cfg, len(ds))
    resume = latest_checkpoint(out_dir)
    metrics = MetricsLog(out_dir / "metrics.jsonl", step_of(resume))
    args = SFTConfig(
        **training_args_kwargs(cfg, out_dir, seed, max_steps),
        max_length=cfg.seq_len,
        assistant_only_loss=True,  # needs the {% generation %} markers in our ChatML template
        packing=False,
    )
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=ds,
        processing_class=tokenizer,
        callbacks=[make_metrics_callback(metrics, None)],
    )
    trainer.train(resume_from_checkpoint=resume)
    _set_chat_eos(trainer.model, tokenizer)
    save_final(trainer, tokenizer, out_dir)
    summary = {"steps": max_steps, "examples": len(ds), "resumed_from": resume}
    write_json(out_dir / "summary.json", summary)
    return summary


def run_dpo(cfg: TrainConfig, pairs: list[dict], model, tokenizer, out_dir: Path, seed: int) -> dict:
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    ds = Dataset.from_list([{k: p[k] for k in ("prompt", "chosen", "rejected")} for p in pairs])
    max_steps = _max_steps(cfg, len(ds))
    resume = latest_checkpoint(out_dir)
    metrics = MetricsLog(out_dir / "metrics.jsonl", step_of(resume))
    write_json(out_dir / "pairs_summary.json", {"pairs": len(pairs)})
    args = DPOConfig(
        **training_args_kwargs(cfg, out_dir, seed, max_steps),
        max_length=cfg.seq_len,
        beta=cfg.beta,
        loss_type=list(cfg.loss_type),
    )
    # ref_model=None: TRL keeps a frozen copy of the starting (SFT) weights as the reference.
    trainer = DPOTrainer(
        model=model,
        ref_model=None,
        args=args,
        train_dataset=ds,
        processing_class=tokenizer,
        callbacks=[make_metrics_callback(metrics, None)],
    )
    trainer.train(resume_from_checkpoint=resume)
    _set_chat_eos(trainer.model, tokenizer)
    save_final(trainer, tokenizer, out_dir)
    summary = {"steps": max_steps, "pairs": len(ds), "resumed_from": resume}
    write_json(out_dir / "summary.json", summary)
    return summary


def _set_chat_eos(model, tokenizer) -> None:
    """Chat models must stop at <|im_end|> (Qwen2's chat EOS), not only at <|endoftext|>."""
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    gen = model.generation_config
    gen.eos_token_id = [im_end, tokenizer.eos_token_id]
    gen.pad_token_id = tokenizer.pad_token_id


__all__ = ["build_language_consistency_pairs", "load_conversations", "read_documents", "run_dpo", "run_sft"]
