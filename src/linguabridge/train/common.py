"""What every training stage shares: arguments from config, metrics JSONL, checkpoint resume, final save."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from linguabridge.config import TrainConfig
from linguabridge.data.records import write_json


def training_args_kwargs(cfg: TrainConfig, out_dir: Path, seed: int, max_steps: int) -> dict:
    """TrainingArguments fields shared by CPT, SFT and DPO (transformers 5 / TRL 1 names)."""
    o = cfg.optim
    sched, sched_kwargs = {
        "cosine": ("cosine_with_min_lr", {"min_lr_rate": o.min_lr_ratio}),
        "wsd": (
            "warmup_stable_decay",
            {"num_decay_steps": max(1, int(max_steps * o.decay_ratio)), "min_lr_ratio": o.min_lr_ratio},
        ),
        "constant": ("constant_with_warmup", {}),
    }[o.schedule]
    import torch

    return dict(
        output_dir=str(out_dir / "checkpoints"),
        max_steps=max_steps,
        per_device_train_batch_size=cfg.micro_batch_size,
        gradient_accumulation_steps=cfg.grad_accum,
        learning_rate=o.lr,
        lr_scheduler_type=sched,
        lr_scheduler_kwargs=sched_kwargs,
        warmup_steps=max(0, round(max_steps * o.warmup_ratio)),
        weight_decay=o.weight_decay,
        adam_beta1=o.adam_beta1,
        adam_beta2=o.adam_beta2,
        adam_epsilon=o.adam_epsilon,
        max_grad_norm=o.max_grad_norm,
        logging_steps=cfg.log_every,
        save_strategy="steps",
        save_steps=cfg.save_every,
        save_total_limit=cfg.keep_last,
        seed=seed,
        data_seed=seed,
        bf16=cfg.bf16 and torch.cuda.is_available(),
        gradient_checkpointing=cfg.gradient_checkpointing,
        use_cpu=not torch.cuda.is_available(),
        dataloader_num_workers=0,
        report_to=_reporters(),
        disable_tqdm=False,
        save_only_model=False,
    )


def _reporters() -> list[str]:
    """TensorBoard when installed (opt out with LINGUABRIDGE_NO_TENSORBOARD=1); W&B/MLflow only when asked."""
    import importlib.util

    out = []
    if importlib.util.find_spec("tensorboard") and not os.environ.get("LINGUABRIDGE_NO_TENSORBOARD"):
        out.append("tensorboard")
    out += [r for r in os.environ.get("LINGUABRIDGE_REPORT_TO", "").split(",") if r]
    return out


def latest_checkpoint(out_dir: Path) -> str | None:
    """Newest complete checkpoint; partial ones (killed mid-save) are removed so the previous one is used."""
    ckpt_root = out_dir / "checkpoints"
    if not ckpt_root.is_dir():
        return None
    candidates = sorted(
        (p for p in ckpt_root.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()),
        key=lambda p: int(p.name.split("-")[-1]),
    )
    for ckpt in reversed(candidates):
        if checkpoint_is_complete(ckpt):
            return str(ckpt)
        shutil.rmtree(ckpt, ignore_errors=True)
    return None


def checkpoint_is_complete(ckpt: Path) -> bool:
    needed = ["trainer_state.json", "optimizer.pt", "scheduler.pt"]
    if not all((ckpt / f).is_file() for f in needed):
        return False
    if not any(ckpt.glob("*.safetensors")):
        return False
    try:
        json.loads((ckpt / "trainer_state.json").read_text())
    except (OSError, ValueError):
        return False
    return True


class MetricsLog:
    """Append-only JSONL metrics; on resume, rows past the checkpoint's step are dropped (no duplicates)."""

    def __init__(self, path: Path, resume_step: int | None):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = []
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                except ValueError:
                    continue  # a line cut by a kill
                if resume_step is not None and row.get("step", 0) <= resume_step:
                    rows.append(row)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        os.replace(tmp, path)

    def write(self, row: dict) -> None:
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")


def step_of(checkpoint: str | None) -> int | None:
    return int(checkpoint.rsplit("-", 1)[-1]) if checkpoint else None


def make_metrics_callback(log: MetricsLog, tokens_per_step: int | None):
    from transformers import TrainerCallback

    class _JsonlMetrics(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if not logs or not state.is_world_process_zero:
                return
            row = {"step": state.global_step}
            if tokens_per_step:
                row["tokens"] = state.global_step * tokens_per_step
            row.update({k: (float(v) if isinstance(v, int | float) else v) for k, v in logs.items()})
            log.write(row)

    return _JsonlMetrics()


def save_final(trainer, tokenizer, out_dir: Path, extra: dict | None = None) -> Path:
    """Save the final model + tokenizer atomically to ``out_dir/model`` (temporary directory, then rename)."""
    final = out_dir / "model"
    tmp = out_dir / "model.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    trainer.save_model(str(tmp))
    tokenizer.save_pretrained(str(tmp))
    if extra:
        write_json(tmp / "linguabridge.json", extra)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    return final
