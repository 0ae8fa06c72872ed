"""What every training stage shares: arguments from config, metrics JSONL, checkpoints, final save.

Checkpoints: :class:`AtomicCheckpointMixin` makes a Trainer write each checkpoint into ``checkpoints/.staging``,
seal it with a manifest (every file's size, optionally its sha256, plus caller facts such as the data
position), and only then rename it to ``checkpoints/checkpoint-N``. :func:`latest_checkpoint` resumes from
the newest checkpoint whose files still match its manifest; a corrupt one is moved to
``checkpoints/rejected/`` (kept for inspection, never resumed from) and the previous one is used.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path

from linguabridge.config import TrainStageConfig
from linguabridge.errors import MissingDependencyError
from linguabridge.io import write_json

MANIFEST = "linguabridge_checkpoint.json"
STAGING = ".staging"
REJECTED = "rejected"


# ------------------------------------------------------------------------------------------- processes
def process_rank() -> int:
    """Global rank from the launcher's environment (torchrun, accelerate launch, Slurm + torchrun)."""
    return int(os.environ.get("RANK", "0"))


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    return process_rank() == 0


# ----------------------------------------------------------------------------------- training arguments
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
        save_total_limit=cfg.keep_last,
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


# ------------------------------------------------------------------------------------------ checkpoints
def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def write_manifest(ckpt: Path, verify: str = "sha256", extra: dict | None = None) -> dict:
    """Seal a finished checkpoint directory: size (and sha256) of every file, written last."""
    files = {}
    for path in sorted(p for p in ckpt.rglob("*") if p.is_file() and p.name != MANIFEST):
        entry: dict = {"bytes": path.stat().st_size}
        if verify == "sha256":
            entry["sha256"] = _sha256(path)
        files[str(path.relative_to(ckpt))] = entry
    manifest = {"verify": verify, "files": files, "written_at": time.time(), **(extra or {})}
    write_json(ckpt / MANIFEST, manifest)
    return manifest


def read_manifest(ckpt: str | Path) -> dict | None:
    try:
        return json.loads((Path(ckpt) / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def checkpoint_problem(ckpt: Path) -> str | None:
    """Why ``ckpt`` cannot be resumed from, or None when it is sound."""
    manifest_path = ckpt / MANIFEST
    if manifest_path.exists():
        manifest = read_manifest(ckpt)
        if manifest is None:
            return f"{MANIFEST} is unreadable"
        for rel, entry in manifest["files"].items():
            path = ckpt / rel
            if not path.is_file():
                return f"{rel} is missing"
            if path.stat().st_size != entry["bytes"]:
                return f"{rel} has {path.stat().st_size} bytes, the manifest says {entry['bytes']}"
            if "sha256" in entry and _sha256(path) != entry["sha256"]:
                return f"{rel} does not match its sha256"
        return None
    # Checkpoints written by a stock Trainer (no manifest): the files a resume needs must be there.
    for name in ("trainer_state.json", "optimizer.pt", "scheduler.pt"):
        if not (ckpt / name).is_file():
            return f"{name} is missing (no {MANIFEST} either)"
    if not any(ckpt.glob("*.safetensors")):
        return "no *.safetensors weights"
    try:
        json.loads((ckpt / "trainer_state.json").read_text())
    except (OSError, ValueError):
        return "trainer_state.json is unreadable"
    return None


def _step_dirs(root: Path) -> list[Path]:
    return sorted(
        (p for p in root.glob("checkpoint-*") if p.is_dir() and p.name.split("-")[-1].isdigit()),
        key=lambda p: int(p.name.split("-")[-1]),
    )


def latest_checkpoint(out_dir: Path, rejected: list[dict] | None = None) -> str | None:
    """Newest sound checkpoint under ``out_dir/checkpoints``; unsound ones are moved to ``rejected/`` (by
    the main process) and the previous one is used. ``rejected`` collects ``{checkpoint, reason}``."""
    ckpt_root = Path(out_dir) / "checkpoints"
    if not ckpt_root.is_dir():
        return None
    if is_main_process():
        shutil.rmtree(ckpt_root / STAGING, ignore_errors=True)  # a save that never finished
    for ckpt in reversed(_step_dirs(ckpt_root)):
        problem = checkpoint_problem(ckpt)
        if problem is None:
            return str(ckpt)
        if rejected is not None:
            rejected.append({"checkpoint": ckpt.name, "reason": problem})
        if is_main_process():
            target = ckpt_root / REJECTED / ckpt.name
            shutil.rmtree(target, ignore_errors=True)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(ckpt, target)
            (target / "REJECTED.txt").write_text(problem + "\n", encoding="utf-8")
    return None


def rotate(ckpt_root: Path, keep_last: int) -> None:
    """Delete all but the newest ``keep_last`` checkpoints (by step number, not mtime)."""
    if keep_last <= 0:
        return
    for old in _step_dirs(ckpt_root)[:-keep_last]:
        shutil.rmtree(old, ignore_errors=True)


class AtomicCheckpointMixin:
    """Mix into a ``transformers.Trainer``: checkpoints are staged, sealed with a manifest, then renamed.

    A kill at any moment leaves either the previous checkpoints or a complete new one; a half-written
    one stays in ``.staging`` and is discarded on resume. Subclasses may override
    :meth:`checkpoint_extra` to record facts (e.g. the data position) in the manifest.
    """

    checkpoint_verify: str = "sha256"
    keep_last: int = 2
    _staging_root: str | None = None

    def checkpoint_extra(self) -> dict:
        return {}

    def _get_output_dir(self, trial):
        if self._staging_root is not None:
            return self._staging_root
        return super()._get_output_dir(trial)

    def _save_checkpoint(self, model, trial):
        final_root = Path(super()._get_output_dir(trial))
        staging_root = final_root / STAGING
        name = f"checkpoint-{self.state.global_step}"
        if self.args.should_save:
            shutil.rmtree(staging_root, ignore_errors=True)
            staging_root.mkdir(parents=True, exist_ok=True)
        self.accelerator.wait_for_everyone()
        self._staging_root = str(staging_root)
        try:
            super()._save_checkpoint(model, trial)
        finally:
            self._staging_root = None
        extra = self.checkpoint_extra()  # may be collective: every process calls it
        self.accelerator.wait_for_everyone()
        if self.args.should_save:
            staged = staging_root / name
            write_manifest(staged, self.checkpoint_verify, {"step": self.state.global_step, **extra})
            target = final_root / name
            if target.exists():  # the same step saved again (a resumed run re-reaching it)
                shutil.rmtree(target)
            os.replace(staged, target)
            shutil.rmtree(staging_root, ignore_errors=True)
            rotate(final_root, self.keep_last)
        self.accelerator.wait_for_everyone()


# --------------------------------------------------------------------------------------------- metrics
class MetricsLog:
    """Append-only JSONL metrics; on resume, rows past the checkpoint's step are dropped (no duplicates).

    Only the main process writes (``enabled`` defaults to rank 0 from the launcher's environment).
    """

    def __init__(self, path: Path, resume_step: int | None, enabled: bool | None = None):
        self.path = path
        self.enabled = is_main_process() if enabled is None else enabled
        if not self.enabled:
            return
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
        if not self.enabled:
            return
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")

    def rows(self) -> list[dict]:
        if not self.path.is_file():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line]


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


# ------------------------------------------------------------------------------------------ final save
def save_final(trainer, tokenizer, out_dir: Path, extra: dict | None = None) -> Path:
    """Save the final model + tokenizer atomically to ``out_dir/model`` (temporary directory, then rename).

    Every process takes part (sharded weights are gathered); only the main one writes and renames.
    """
    final = out_dir / "model"
    tmp = out_dir / "model.tmp"
    old = out_dir / "model.old"
    main = trainer.args.should_save
    if main:
        shutil.rmtree(tmp, ignore_errors=True)
    trainer.accelerator.wait_for_everyone()
    trainer.save_model(str(tmp))
    if main:
        tokenizer.save_pretrained(str(tmp))
        if extra:
            write_json(tmp / "linguabridge.json", extra)
        shutil.rmtree(old, ignore_errors=True)
        if final.exists():
            os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    trainer.accelerator.wait_for_everyone()
    return final
