"""TrainingArguments from a stage's config: the fields CPT, SFT and DPO share (transformers 5 / TRL 1 names).

Optimizer and schedule, batch shape, checkpoint cadence, precision and speed options (CUDA only), sharding
(FSDP2 or DeepSpeed ZeRO-3 under torchrun) and the experiment trackers. Checkpoint retention is not here:
:class:`~linguabridge.train.checkpoints.AtomicCheckpointMixin` does it after each sealed save.
"""

from __future__ import annotations

import os
from pathlib import Path

from linguabridge.config import TrainStageConfig
from linguabridge.errors import MissingDependencyError


def training_args_kwargs(
    cfg: TrainStageConfig,
    out_dir: Path,
    seed: int,
    max_steps: int,
    grad_accum: int | None = None,
    find_unused_parameters: bool = False,
) -> dict:
    """TrainingArguments fields shared by CPT, SFT and DPO (transformers 5 / TRL 1 names).

    ``grad_accum`` overrides ``cfg.grad_accum`` (CPT derives it from ``global_batch_sequences``).
    ``find_unused_parameters``: DDP searches for parameters without a gradient (CPT's embeddings-only phase).
    bf16, ``compile`` and ``liger`` apply on CUDA only; ``sharding`` picks FSDP2 or DeepSpeed ZeRO-3
    when launched with torchrun (an ``accelerate launch`` config sets the same through the environment).
    """
    import torch

    o = cfg.optim
    sched, sched_kwargs = {
        "cosine": ("cosine_with_min_lr", {"min_lr_rate": o.min_lr_ratio}),
        "wsd": (
            "warmup_stable_decay",
            {"num_decay_steps": max(1, int(max_steps * o.decay_ratio)), "min_lr_ratio": o.min_lr_ratio},
        ),
        "constant": ("constant_with_warmup", {}),
    }[o.schedule]
    cuda = torch.cuda.is_available()
    kwargs = dict(
        output_dir=str(out_dir / "checkpoints"),
        max_steps=max_steps,
        per_device_train_batch_size=cfg.micro_batch_size,
        gradient_accumulation_steps=grad_accum or cfg.grad_accum,
        learning_rate=o.lr,
        lr_scheduler_type=sched,
        lr_scheduler_kwargs=sched_kwargs,
        warmup_steps=max(0, round(max_steps * o.warmup_ratio)),
        weight_decay=o.weight_decay,
        adam_beta1=o.adam_beta1,
        adam_beta2=o.adam_beta2,
        adam_epsilon=o.adam_epsilon,
        max_grad_norm=o.max_grad_norm,
        optim="adamw_torch_fused" if cuda else "adamw_torch",
        logging_steps=cfg.log_every,
        save_strategy="steps",
        save_steps=cfg.save_every,
        seed=seed,
        data_seed=seed,
        bf16=cfg.bf16 and cuda,
        use_cpu=not cuda,
        dataloader_num_workers=0,
        report_to=_reporters(),
        disable_tqdm=False,
        save_only_model=False,
    )
    # transformers >= 5.2x renamed gradient_checkpointing to activation_checkpointing (old name deprecated)
    ac = "activation_checkpointing" if _has_arg("activation_checkpointing") else "gradient_checkpointing"
    kwargs[ac] = cfg.gradient_checkpointing
    # non-reentrant checkpointing works with frozen parameters and FSDP2
    kwargs[f"{ac}_kwargs"] = {"use_reentrant": False} if cfg.gradient_checkpointing else None
    # Every trainable weight gets a gradient, so DDP can skip the unused-parameter search the Trainer turns on
    # by default (an extra autograd traversal per step) -- except in the embeddings-only warm phase.
    kwargs["ddp_find_unused_parameters"] = find_unused_parameters
    if cuda and cfg.compile:
        kwargs["torch_compile"] = True
    if cuda and cfg.liger:
        import importlib.util

        if importlib.util.find_spec("liger_kernel") is None:
            raise MissingDependencyError("liger: true needs liger-kernel", "pip install 'linguabridge[gpu]'")
        kwargs["use_liger_kernel"] = True
    if cfg.sharding == "fsdp2":
        if cfg.gradient_checkpointing:  # FSDP applies it per wrapped block; the Trainer refuses both
            kwargs[ac] = False
            kwargs[f"{ac}_kwargs"] = None
        kwargs["fsdp"] = True
        kwargs["fsdp_config"] = {
            "version": 2,
            "auto_wrap_policy": "TRANSFORMER_BASED_WRAP",  # the model's decoder layer (_no_split_modules)
            "reshard_after_forward": True,
            "state_dict_type": "FULL_STATE_DICT",  # checkpoints stay loadable Hugging Face weights
            "activation_checkpointing": cfg.gradient_checkpointing,
            "cpu_ram_efficient_loading": False,
        }
    elif cfg.sharding == "zero3":
        import importlib.util

        if importlib.util.find_spec("deepspeed") is None:
            raise MissingDependencyError("sharding: zero3 needs DeepSpeed", "pip install deepspeed")
        kwargs["deepspeed"] = deepspeed_zero3_config()
    return kwargs


def _has_arg(name: str) -> bool:
    from transformers import TrainingArguments

    return name in TrainingArguments.__dataclass_fields__


def deepspeed_zero3_config() -> dict:
    """ZeRO-3 with the Trainer filling batch sizes, clipping and precision ("auto"); 16-bit weights are
    gathered on save so checkpoints hold ordinary safetensors. Same content as recipes/launch/ds_zero3.json."""
    return {
        "bf16": {"enabled": "auto"},
        "zero_optimization": {
            "stage": 3,
            "overlap_comm": True,
            "contiguous_gradients": True,
            "reduce_bucket_size": "auto",
            "stage3_prefetch_bucket_size": "auto",
            "stage3_param_persistence_threshold": "auto",
            "stage3_gather_16bit_weights_on_model_save": True,
        },
        "gradient_accumulation_steps": "auto",
        "gradient_clipping": "auto",
        "train_micro_batch_size_per_gpu": "auto",
        "train_batch_size": "auto",
    }


def _reporters() -> list[str]:
    """TensorBoard when installed (opt out with LINGUABRIDGE_NO_TENSORBOARD=1); W&B/MLflow only when asked
    with LINGUABRIDGE_REPORT_TO=wandb,mlflow (their credentials stay in their own environment variables)."""
    import importlib.util

    out = []
    if importlib.util.find_spec("tensorboard") and not os.environ.get("LINGUABRIDGE_NO_TENSORBOARD"):
        out.append("tensorboard")
    out += [r for r in os.environ.get("LINGUABRIDGE_REPORT_TO", "").split(",") if r]
    return out
