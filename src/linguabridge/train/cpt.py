"""Continual pretraining (stage I / stage II) on the packed, plan-exact dataset with the HF Trainer.

One runner for every stage; a stage is a :class:`CPTConfig` plus one stage of the mixture plan. On top of
the stock Trainer (which keeps optimizer, scheduler, RNG and data position exact across resumes):

- the budget is in tokens; the global batch can be fixed in sequences, gradient accumulation follows the
  number of processes, so any world size trains on the same batches;
- loss and tokens per language from the packed batches, held-out loss and bits per byte per language every
  ``eval_every`` steps, tokens/s and MFU in ``metrics.jsonl`` (train/callbacks.py, train/monitor.py);
- the forgetting guard: held-out loss of the guarded languages against the starting model's;
- checkpoints staged, sealed with a manifest (data position and layout included) and renamed;
  a corrupt newest checkpoint is set aside and the previous one used (train/checkpoints.py);
- an optional embeddings-only warm phase after a vocabulary extension (train/vocab.py).
"""

from __future__ import annotations

import dataclasses
import logging
from functools import partial
from pathlib import Path

from linguabridge import metric_keys as mk
from linguabridge.config import CPTConfig
from linguabridge.errors import ConfigError, LinguabridgeError
from linguabridge.io import write_json
from linguabridge.languages import get_language
from linguabridge.mixture.packing import PackedDataset
from linguabridge.mixture.plan import StagePlan
from linguabridge.mixture.shard_reader import heldout_documents
from linguabridge.models.heldout import heldout_losses
from linguabridge.provenance import fingerprint
from linguabridge.train.args import training_args_kwargs
from linguabridge.train.checkpoints import latest_checkpoint, read_manifest, save_final, step_of
from linguabridge.train.distributed import process_rank, world_size
from linguabridge.train.metrics_log import MetricsLog
from linguabridge.train.monitor import (
    ForgettingGuard,
    LanguageMeter,
    ModelShape,
    local_device_peak,
    tradeoff,
)

log = logging.getLogger("linguabridge.cpt")


def collate_packed(items: list[dict]) -> dict:
    """Stack packed sequences. No attention_mask on purpose: with position_ids reset per document the
    model derives a block-diagonal mask (an all-ones mask would let documents attend to each other)."""
    import torch

    return {k: torch.stack([it[k] for it in items]) for k in items[0]}


class StageSequences:
    """The first ``n`` sequences of a packed layout, each item tagged with its index (``seq_index``) so the
    data order can be traced per process."""

    def __init__(self, packed: PackedDataset, n: int):
        self.packed = packed
        self.n = n
        self.reads = 0  # items read by this process: a resumed run reads nothing before its checkpoint

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict:
        import torch

        if not 0 <= i < self.n:
            raise IndexError(i)
        self.reads += 1
        return {**self.packed[i], "seq_index": torch.tensor(i)}


def layout_fingerprint(tokens_dir: Path, stage_plan: StagePlan, data: StageSequences, seed: int) -> str:
    """Identity of the data a checkpoint's position refers to: plan, seed, shapes, shard sizes and the
    content of the first and last sequence (catches a changed packing algorithm too)."""
    files = sorted(p for p in Path(tokens_dir).iterdir() if p.suffix in (".npy", ".jsonl"))
    facts = {
        "plan": dataclasses.asdict(stage_plan),
        "seed": seed,
        "sequences": len(data),
        "seq_len": data.packed.seq_len,
        "files": {p.name: p.stat().st_size for p in files},
        "first": data[0]["input_ids"].tolist(),
        "last": data[len(data) - 1]["input_ids"].tolist(),
    }
    return fingerprint(facts)


def _guarded_languages(cfg: CPTConfig, heldout: dict) -> list[str]:
    if cfg.forgetting_languages is not None:
        from linguabridge.languages import canonical

        return [canonical(lang) for lang in cfg.forgetting_languages if canonical(lang) in heldout]
    return [lang for lang in sorted(heldout) if get_language(lang).tier == "high"]


def run_cpt(
    cfg: CPTConfig,
    stage_plan: StagePlan,
    tokens_dir: Path,
    model,
    tokenizer,
    out_dir: Path,
    seed: int,
    callbacks: list | None = None,
) -> dict:
    """Train one CPT stage into ``out_dir``; returns a summary (steps, tokens, held-out before/after).

    ``callbacks``: extra ``TrainerCallback`` objects (e.g. a benchmark's step timer)."""
    from transformers import TrainingArguments

    from linguabridge.train.callbacks import (
        CPTTrainer,
        EmbeddingWarmup,
        HeldoutMonitor,
        JsonlMetrics,
        Throughput,
    )

    out_dir = Path(out_dir)
    if cfg.save_every % cfg.log_every:
        raise ConfigError(
            f"save_every={cfg.save_every} is not a multiple of log_every={cfg.log_every}",
            "make save_every a multiple of log_every, so a resumed run logs exactly like an uninterrupted one",
        )

    # The budget in whole optimizer steps, and the first sequences of the packed layout that fill them. The whole
    # global layout is on every process: accelerate gives each process its own batches of it, so the batches of
    # step N are the same whatever the number of processes.
    geo = cfg.batch_geometry(world_size())
    budget = int(cfg.tokens if cfg.tokens is not None else stage_plan.tokens)
    max_steps = max(1, budget // geo.tokens_per_step)
    n_sequences = max_steps * geo.sequences_per_step
    packed = PackedDataset(tokens_dir, stage_plan, cfg.seq_len, seed, num_tokens=n_sequences * cfg.seq_len)
    if len(packed) < n_sequences:
        raise LinguabridgeError(
            f"the packed layout holds {len(packed)} sequences, the stage needs {n_sequences}",
            "check the mixture plan's token counts against the token shards",
        )
    data = StageSequences(packed, n_sequences)
    layout = layout_fingerprint(tokens_dir, stage_plan, data, seed)
    data.reads = 0

    # Resume from the newest sound checkpoint, which must have been written for this very layout.
    rejected: list[dict] = []
    resume = latest_checkpoint(out_dir, rejected)
    manifest = read_manifest(resume) if resume else None
    if manifest and manifest.get("data_position", {}).get("layout") not in (None, layout):
        raise LinguabridgeError(
            f"checkpoint {resume} was written for a different data layout (plan, seed, seq_len or token shards changed)",
            f"restore the original configuration, or start the stage afresh by deleting {out_dir / 'checkpoints'}",
        )
    metrics = MetricsLog(out_dir / mk.METRICS_FILE, step_of(resume))
    for r in rejected:
        log.warning("checkpoint %s rejected: %s", r["checkpoint"], r["reason"])
        metrics.write({mk.STEP: step_of(resume) or 0, mk.EVENT: mk.CHECKPOINT_REJECTED, **r})
    trace = (
        MetricsLog(out_dir / "data_trace" / f"rank-{process_rank()}.jsonl", step_of(resume), enabled=True)
        if cfg.trace_data
        else None
    )

    # What the stage watches: loss and tokens per language, throughput and MFU, held-out loss and the guard.
    meter = LanguageMeter(packed.languages)
    if manifest:
        meter.cumulative.update(manifest.get("language_tokens", {}))
    flops_per_token = ModelShape.from_config(model.config).flops_per_token(cfg.seq_len)
    peak = local_device_peak(cfg.peak_tflops)
    throughput = Throughput(geo, flops_per_token, peak)
    heldout = heldout_documents(tokens_dir)
    guarded = _guarded_languages(cfg, heldout)
    guard = ForgettingGuard(
        {}, guarded, cfg.forgetting_margin, cfg.forgetting_action
    )  # baseline: at train begin
    evaluate = partial(
        heldout_losses,
        heldout=heldout,
        max_docs=cfg.eval_docs_per_language,
        seq_len=cfg.seq_len,
        batch_size=cfg.micro_batch_size,
        bf16=cfg.bf16,
    )
    monitor = HeldoutMonitor(
        evaluate,
        metrics,
        guard,
        throughput,
        baseline_path=out_dir / "baseline_heldout.json",
        resumed=resume is not None,
        eval_every=cfg.eval_every,
        tokens_per_step=geo.tokens_per_step,
    )
    stage_callbacks = [JsonlMetrics(metrics, geo.tokens_per_step), monitor, *(callbacks or [])]
    if cfg.embeddings_warmup_steps:
        stage_callbacks.append(EmbeddingWarmup(cfg.embeddings_warmup_steps, metrics))

    args = TrainingArguments(
        **training_args_kwargs(
            cfg,
            out_dir,
            seed,
            max_steps,
            grad_accum=geo.grad_accum,
            find_unused_parameters=bool(cfg.embeddings_warmup_steps),
        ),
        remove_unused_columns=False,
    )
    trainer = CPTTrainer(
        model=model,
        args=args,
        train_dataset=data,
        data_collator=collate_packed,
        processing_class=tokenizer,  # checkpoints carry the tokenizer: each is a loadable HF model
        callbacks=stage_callbacks,
        meter=meter,
        throughput=throughput,
        guard=guard,
        geo=geo,
        layout=layout,
        trace=trace,
        checkpoint_verify=cfg.checkpoint_verify,
        keep_last=cfg.keep_last,
    )
    metrics.write(
        {
            mk.STEP: step_of(resume) or 0,
            mk.EVENT: mk.RESUMED if resume else mk.START,
            "checkpoint": resume,
            "max_steps": max_steps,
            "tokens_per_step": geo.tokens_per_step,
            "grad_accum": geo.grad_accum,
            "world_size": geo.world_size,
            "flops_per_token": flops_per_token,
            mk.PEAK_TFLOPS: peak,
        }
    )
    trainer.train(resume_from_checkpoint=resume)
    if monitor.stopped_at is not None:
        ev = guard.events[-1]
        raise LinguabridgeError(
            f"forgetting guard stopped {out_dir.name} at step {monitor.stopped_at}: {ev['language']} held-out "
            f"loss is {100 * ev['regression']:.1f}% above the starting model's (margin {100 * ev['margin']:.0f}%)",
            "raise the replay share or lower the LR and restart the stage (delete its checkpoints/), "
            "or set forgetting_action=warn to continue from the saved checkpoint",
        )

    summary = {
        "steps": max_steps,
        "tokens": max_steps * geo.tokens_per_step,
        "budget_tokens": budget,
        "tokens_per_step": geo.tokens_per_step,
        "grad_accum": geo.grad_accum,
        "world_size": geo.world_size,
        "sequences": n_sequences,
        "realised_tokens": packed.realised_tokens(),
        "language_tokens": dict(meter.cumulative),
        "heldout_start": monitor.baseline,
        "heldout_end": monitor.final,
        "tradeoff": tradeoff(monitor.baseline, monitor.final, lambda lang: get_language(lang).tier),
        "forgetting_guard": {
            "languages": guarded,
            "margin": cfg.forgetting_margin,
            "action": cfg.forgetting_action,
            "events": guard.events,
        },
        "flops_per_token": flops_per_token,
        "resumed_from": resume,
        "sequences_read": data.reads,  # by this process since it started (skipped batches are not read)
        "rejected_checkpoints": rejected,
    }
    save_final(trainer, tokenizer, out_dir, {"stage_summary": summary})
    if trainer.is_world_process_zero():
        write_json(out_dir / "summary.json", summary)
    return summary
