"""Post-training on TRL: multilingual SFT (loss on assistant turns only) and DPO from the SFT checkpoint.

Qwen2 chat conventions applied here: the ChatML template with ``{% generation %}`` markers (tokenizer.py) so TRL's
``assistant_only_loss`` labels only assistant content and its ``<|im_end|>``; padding with ``<|endoftext|>``;
``generation_config.eos_token_id = [<|im_end|>, <|endoftext|>]`` (``tokenizer.chat_eos_ids``) so a chat model
stops at the end of its turn. Chat records are loaded and checked in ``chats.py``; the data builders live in
``sft_data.py`` (SFT sets) and ``preferences.py`` (DPO pairs).
"""

from __future__ import annotations

import copy
from pathlib import Path

from linguabridge import metric_keys as mk
from linguabridge.config import PostTrainConfig
from linguabridge.errors import LinguabridgeError
from linguabridge.io import write_json
from linguabridge.tokenizer import CHATML_TEMPLATE, ENDOFTEXT, IM_END, chat_eos_ids, with_generation_markers
from linguabridge.train.args import training_args_kwargs
from linguabridge.train.checkpoints import AtomicCheckpointMixin, latest_checkpoint, save_final, step_of
from linguabridge.train.metrics_log import MetricsLog


# --------------------------------------------------------------------------------------------- helpers
def prepare_chat_tokenizer(tokenizer):
    """Make a ChatML tokenizer (Qwen's, SmolLM2's) train and generate chats correctly.

    The template must carry ``{% generation %}`` markers (assistant-only loss): a ChatML template without them
    gets them added where its turns are recognised, so the model keeps its own template and system prompt,
    and is replaced by Qwen's ChatML otherwise. Padding uses ``<|endoftext|>``, never ``<|im_end|>``, so the
    end-of-turn token keeps its label. Other tokenizers keep their own template (TRL swaps in a marked
    training template for known families).
    """
    from trl.chat_template_utils import has_generation_markers

    vocab = tokenizer.get_vocab()
    if IM_END in vocab and (
        not tokenizer.chat_template or not has_generation_markers(tokenizer.chat_template)
    ):
        own = tokenizer.chat_template and with_generation_markers(tokenizer.chat_template)
        tokenizer.chat_template = own or CHATML_TEMPLATE
    if ENDOFTEXT in vocab:
        tokenizer.pad_token = ENDOFTEXT
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def set_chat_eos(model, tokenizer) -> None:
    """Chat models must stop at ``<|im_end|>`` (Qwen2's end of turn), not only at ``<|endoftext|>``."""
    gen = model.generation_config
    gen.eos_token_id = chat_eos_ids(tokenizer)
    gen.pad_token_id = tokenizer.pad_token_id


def _max_steps(cfg: PostTrainConfig, n_examples: int) -> int:
    if cfg.max_steps:
        return cfg.max_steps
    return max(1, n_examples // (cfg.micro_batch_size * cfg.grad_accum))


def _lora_config(cfg: PostTrainConfig):
    lc = cfg.post.lora
    if lc is None:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=lc.r,
        lora_alpha=lc.alpha,
        lora_dropout=lc.dropout,
        target_modules=lc.target_modules,
        task_type="CAUSAL_LM",
    )


def _atomic(trainer_cls):
    """The TRL trainer with CPT's checkpoint convention (staged, sealed with a manifest, then renamed) and our
    progress display instead of transformers' printed log dicts."""
    from linguabridge.train.callbacks import ConsoleProgressMixin

    return type(
        f"Atomic{trainer_cls.__name__}", (ConsoleProgressMixin, AtomicCheckpointMixin, trainer_cls), {}
    )


def _resume_point(out_dir: Path) -> tuple[str | None, MetricsLog]:
    """Newest sound checkpoint (unsound ones are set aside and logged) and the metrics log trimmed to it."""
    rejected: list[dict] = []
    resume = latest_checkpoint(out_dir, rejected)
    metrics = MetricsLog(out_dir / mk.METRICS_FILE, step_of(resume))
    for r in rejected:
        metrics.write({mk.STEP: step_of(resume) or 0, mk.EVENT: mk.CHECKPOINT_REJECTED, **r})
    return resume, metrics


def _save(trainer, tokenizer, out_dir: Path, cfg: PostTrainConfig, extra: dict) -> Path:
    """Final save. LoRA: the adapter goes to ``adapter/`` and ``model/`` gets merged weights, so the next stage
    and ``AutoModelForCausalLM`` load it like any checkpoint."""
    if cfg.post.lora is not None:
        trainer.save_model(str(out_dir / "adapter"))
        merged = trainer.accelerator.unwrap_model(trainer.model).merge_and_unload()
        trainer.model = trainer.model_wrapped = merged
    set_chat_eos(trainer.model, tokenizer)
    return save_final(trainer, tokenizer, out_dir, extra)


# ------------------------------------------------------------------------------------------------- SFT
def run_sft(
    cfg: PostTrainConfig, conversations: list[dict], model, tokenizer, out_dir: Path, seed: int
) -> dict:
    """Supervised fine-tuning on chats; resumes from the newest complete checkpoint in ``out_dir``."""
    trainer, n_steps, resume = build_sft_trainer(cfg, conversations, model, tokenizer, out_dir, seed)
    result = trainer.train(resume_from_checkpoint=resume)
    post = cfg.post
    _save(trainer, tokenizer, out_dir, cfg, {"stage": "sft", "assistant_only_loss": post.assistant_only_loss})
    summary = {
        "steps": n_steps,
        "examples": len(conversations),
        # rows TRL trains on: packed rows with packing; else the chats minus those whose answer lies wholly
        # beyond seq_len (TRL drops those, they carry no loss)
        "train_rows": len(trainer.train_dataset),
        "dropped_no_answer_within_seq_len": 0
        if post.packing
        else len(conversations) - len(trainer.train_dataset),
        "packing": post.packing,
        "lora": cfg.post.lora is not None,
        "resumed_from": resume,
        "train_loss": result.training_loss,  # mean over the steps this run trained (after a resume: those)
    }
    write_json(out_dir / "summary.json", summary)
    return summary


def build_sft_trainer(
    cfg: PostTrainConfig, conversations: list[dict], model, tokenizer, out_dir: Path, seed: int
):
    """The configured ``SFTTrainer`` (also used by tests to inspect the exact batches it trains on)."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from linguabridge.train.callbacks import JsonlMetrics

    if not conversations:
        raise LinguabridgeError("SFT has no conversations", "check conversations and the SFT data builders")
    post = cfg.post
    tokenizer = prepare_chat_tokenizer(tokenizer)
    set_chat_eos(model, tokenizer)  # checkpoints saved during training stop at <|im_end|> too
    ds = Dataset.from_list([{"messages": c["messages"]} for c in conversations])
    n_steps = _max_steps(cfg, len(ds))
    resume, metrics = _resume_point(out_dir)
    args = SFTConfig(
        **training_args_kwargs(cfg, out_dir, seed, n_steps),
        max_length=cfg.seq_len,
        assistant_only_loss=post.assistant_only_loss,
        packing=post.packing,
        # Packing is padding-free in TRL (position_ids restart per example, no attention mask); without packing
        # padding-free needs flash-attention varlen kernels, so it is only passed when asked for.
        padding_free=post.padding_free and not post.packing,
        shuffle_dataset=True,
    )
    trainer = _atomic(SFTTrainer)(
        model=model,
        args=args,
        train_dataset=ds,
        processing_class=tokenizer,
        peft_config=_lora_config(cfg),
        callbacks=[JsonlMetrics(metrics)],
        checkpoint_verify=cfg.checkpoint_verify,
        keep_last=cfg.keep_last,
    )
    return trainer, n_steps, resume


# ------------------------------------------------------------------------------------------------- DPO
def run_dpo(cfg: PostTrainConfig, pairs: list[dict], model, tokenizer, out_dir: Path, seed: int) -> dict:
    """DPO (or any TRL preference loss in ``loss_type``) from the SFT checkpoint.

    The reference model is the starting weights, frozen: an explicit copy (full fine-tuning), the base under the
    adapter (LoRA), or log-probs computed once before training (``post.precompute_ref_log_probs``). The implicit
    reward margin ``beta * (log-ratio chosen - log-ratio rejected)`` is measured on up to ``post.margin_pairs``
    training pairs before and after training and written to ``summary.json``.
    """
    trainer, n_steps, resume = build_dpo_trainer(cfg, pairs, model, tokenizer, out_dir, seed)
    before = _margin_metrics(trainer.evaluate(metric_key_prefix="before"), "before")
    trainer.train(resume_from_checkpoint=resume)
    after = _margin_metrics(trainer.evaluate(metric_key_prefix="after"), "after")
    _save(trainer, tokenizer, out_dir, cfg, {"stage": "dpo", "loss_type": list(cfg.loss_type)})
    summary = {
        "steps": n_steps,
        "pairs": len(pairs),
        "loss_type": list(cfg.loss_type),
        "beta": cfg.beta,
        "reference": _reference_kind(cfg),
        "margin_pairs": len(trainer.eval_dataset),
        "before": before,
        "after": after,
        "resumed_from": resume,
    }
    write_json(out_dir / "summary.json", summary)
    return summary


def build_dpo_trainer(cfg: PostTrainConfig, pairs: list[dict], model, tokenizer, out_dir: Path, seed: int):
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    from linguabridge.train.callbacks import JsonlMetrics

    if not pairs:
        raise LinguabridgeError(
            "DPO has no preference pairs", "check dpo.post.preferences.builders and the data"
        )
    post = cfg.post
    if post.loss_weights is not None and len(post.loss_weights) != len(cfg.loss_type):
        raise LinguabridgeError(
            f"post.loss_weights has {len(post.loss_weights)} values for {len(cfg.loss_type)} loss types",
            "give one weight per loss_type entry",
        )
    tokenizer = prepare_chat_tokenizer(tokenizer)
    set_chat_eos(model, tokenizer)
    ds = Dataset.from_list([{k: p[k] for k in ("prompt", "chosen", "rejected")} for p in pairs])
    n_steps = _max_steps(cfg, len(ds))
    resume, metrics = _resume_point(out_dir)
    kind = _reference_kind(cfg)
    # TRL would otherwise reload the reference from model.config's path, which a model built in memory (the tiny
    # model, or weights changed since loading) does not have: a frozen copy of what we start from is exact.
    ref_model = _frozen_copy(model) if kind == "frozen copy" else None
    args = DPOConfig(
        **training_args_kwargs(cfg, out_dir, seed, n_steps),
        max_length=cfg.seq_len,
        beta=cfg.beta,
        loss_type=list(cfg.loss_type),
        loss_weights=post.loss_weights,
        precompute_ref_log_probs=post.precompute_ref_log_probs,
        per_device_eval_batch_size=cfg.micro_batch_size,
    )
    margin_set = ds.select(range(min(post.margin_pairs, len(ds))))
    trainer = _atomic(DPOTrainer)(
        model=model,
        ref_model=ref_model,
        args=args,
        train_dataset=ds,
        eval_dataset=margin_set,  # prepared (and reference log-probs precomputed) with the training data
        processing_class=tokenizer,
        peft_config=_lora_config(cfg),
        callbacks=[JsonlMetrics(metrics)],
        checkpoint_verify=cfg.checkpoint_verify,
        keep_last=cfg.keep_last,
    )
    return trainer, n_steps, resume


def _reference_kind(cfg: PostTrainConfig) -> str:
    if cfg.post.lora is not None:
        return "adapter disabled"
    if cfg.post.precompute_ref_log_probs:
        return "precomputed log-probs"
    return "frozen copy"


def _frozen_copy(model):
    ref = copy.deepcopy(model)
    ref.eval()
    for p in ref.parameters():
        p.requires_grad_(False)
    return ref


def _margin_metrics(metrics: dict, prefix: str) -> dict:
    """The reward figures of one ``evaluate`` pass (TRL names its own metrics ``eval_*`` whatever the prefix)."""
    keys = (
        "rewards/margins",
        "rewards/accuracies",
        "rewards/chosen",
        "rewards/rejected",
        "logps/chosen",
        "logps/rejected",
    )
    out = {k: metrics[f"eval_{k}"] for k in keys if f"eval_{k}" in metrics}
    out["loss"] = metrics.get(f"{prefix}_loss")
    return out
