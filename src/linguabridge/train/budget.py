"""Budget planner: steps, tokens, FLOPs and GPU-hours of the CPT stages of a recipe, before any run.

FLOPs per token follow the PaLM formula used for MFU (train/monitor.py); GPU-hours assume the given model
FLOPs utilisation on the given GPU's dense bf16 peak. The model shape comes from ``--model`` (a Qwen2 size
from the table, or a directory with ``config.json``) or from the recipe's ``model.name_or_path``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from linguabridge.config import CPT_STAGES, CPTConfig, RunConfig
from linguabridge.errors import ConfigError, LinguabridgeError
from linguabridge.train.monitor import GPU_ALIASES, QWEN2_SHAPES, ModelShape, peak_tflops, shape_for


@dataclass
class StageBudget:
    stage: str
    budget_tokens: int  # what the recipe asks for
    trained_tokens: int  # whole steps of it
    steps: int
    seq_len: int
    global_batch_sequences: int
    tokens_per_step: int
    grad_accum: int
    flops: float
    gpu_hours: float
    wall_clock_hours: float


def resolve_shape(cfg: RunConfig, model: str | None) -> tuple[str, ModelShape]:
    """(name, shape) for ``model`` or the recipe's base model."""
    name = model or cfg.model.name_or_path
    if name == "tiny-qwen2":
        t = cfg.model.tiny
        return name, ModelShape(
            t.num_hidden_layers,
            t.hidden_size,
            t.num_attention_heads,
            t.num_key_value_heads,
            t.intermediate_size,
            151646,
            t.tie_word_embeddings,
        )
    path = Path(name) / "config.json"
    if path.is_file():
        from types import SimpleNamespace

        return name, ModelShape.from_config(SimpleNamespace(**json.loads(path.read_text())))
    shape = shape_for(name)
    if shape is None:
        raise LinguabridgeError(
            f"unknown model size {name!r}",
            f"pass --model with one of {', '.join(QWEN2_SHAPES)} or a directory holding config.json",
        )
    return name, shape


def _stage_tokens(cfg: RunConfig, tc: CPTConfig, stage: str) -> int:
    if tc.tokens is not None:
        return int(tc.tokens)
    if not tc.mixture_stage:
        raise ConfigError(f"{stage} has no token budget", f"set {stage}.tokens or {stage}.mixture_stage")
    return int(cfg.mixture.stage(tc.mixture_stage).tokens)


def plan_stage(
    cfg: RunConfig, stage: str, shape: ModelShape, peak: float, mfu: float, gpus: int
) -> StageBudget:
    tc: CPTConfig = getattr(cfg, stage)
    geo = tc.batch_geometry(gpus)
    budget = _stage_tokens(cfg, tc, stage)
    steps = max(1, budget // geo.tokens_per_step)
    trained = steps * geo.tokens_per_step
    flops = trained * shape.flops_per_token(tc.seq_len)
    gpu_hours = flops / (peak * 1e12 * mfu) / 3600
    return StageBudget(
        stage=stage,
        budget_tokens=budget,
        trained_tokens=trained,
        steps=steps,
        seq_len=tc.seq_len,
        global_batch_sequences=geo.sequences_per_step,
        tokens_per_step=geo.tokens_per_step,
        grad_accum=geo.grad_accum,
        flops=flops,
        gpu_hours=gpu_hours,
        wall_clock_hours=gpu_hours / gpus,
    )


def plan_budget(
    cfg: RunConfig,
    stages: list[str] | None = None,
    model: str | None = None,
    gpu: str = "h100",
    mfu: float = 0.4,
    gpus: int = 8,
) -> dict:
    """Budget of each CPT stage (default: both) for a model size, GPU type, MFU and GPU count."""
    if not 0 < mfu <= 1:
        raise ConfigError(f"--mfu {mfu} is not a fraction", "give the utilisation as 0 < mfu <= 1, e.g. 0.4")
    if gpus < 1:
        raise ConfigError(f"--gpus {gpus}", "use at least one GPU")
    peak = peak_tflops(gpu)
    if peak is None:
        raise ConfigError(f"unknown GPU {gpu!r}", f"use one of {', '.join(GPU_ALIASES)}")
    name, shape = resolve_shape(cfg, model)
    rows = [plan_stage(cfg, s, shape, peak, mfu, gpus) for s in (stages or list(CPT_STAGES))]
    return {
        "model": name,
        "params": shape.total_params(),
        "gpu": gpu,
        "peak_tflops": peak,
        "mfu": mfu,
        "gpus": gpus,
        "stages": [asdict(r) for r in rows],
        "total_gpu_hours": sum(r.gpu_hours for r in rows),
        "total_tokens": sum(r.trained_tokens for r in rows),
    }
