"""Continual pretraining (stage I / stage II) on the packed, plan-exact dataset with the HF Trainer.

One runner for every stage; a stage is a :class:`CPTConfig` plus one stage of the mixture plan. On top of
the stock Trainer (which keeps optimizer, scheduler, RNG and data position exact across resumes):

- the budget is in tokens; the global batch can be fixed in sequences, gradient accumulation follows the
  number of processes, so any world size trains on the same batches;
- loss and tokens per language from the packed batches, held-out loss and bits per byte per language every
  ``eval_every`` steps, tokens/s and MFU (train/monitor.py) in ``metrics.jsonl``;
- the forgetting guard: held-out loss of the guarded languages against the starting model's;
- checkpoints staged, sealed with a manifest (data position and layout included) and renamed;
  a corrupt newest checkpoint is set aside and the previous one used (train/common.py);
- an optional embeddings-only warm phase after a vocabulary extension (train/vocab.py).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from pathlib import Path

from linguabridge.config import CPTConfig
from linguabridge.errors import ConfigError, LinguabridgeError
from linguabridge.io import write_json
from linguabridge.languages import get_language
from linguabridge.mixture.packing import PackedDataset
from linguabridge.mixture.plan import StagePlan
from linguabridge.mixture.shard_reader import heldout_documents
from linguabridge.provenance import fingerprint
from linguabridge.train.common import (
    AtomicCheckpointMixin,
    MetricsLog,
    is_main_process,
    latest_checkpoint,
    make_metrics_callback,
    process_rank,
    read_manifest,
    save_final,
    step_of,
    training_args_kwargs,
    world_size,
)
from linguabridge.train.monitor import (
    ForgettingGuard,
    LanguageMeter,
    ModelShape,
    heldout_losses,
    heldout_row,
    local_device_peak,
    mfu,
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


def _embedding_params(model) -> set[int]:
    ids = {id(model.get_input_embeddings().weight)}
    out = model.get_output_embeddings()
    if out is not None:
        ids.add(id(out.weight))
    return ids


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
    import torch
    from transformers import Trainer, TrainerCallback, TrainingArguments

    out_dir = Path(out_dir)
    if cfg.save_every % cfg.log_every:
        raise ConfigError(
            f"save_every={cfg.save_every} is not a multiple of log_every={cfg.log_every}",
            "make save_every a multiple of log_every, so a resumed run logs exactly like an uninterrupted one",
        )
    geo = cfg.batch_geometry(world_size())
    budget = int(cfg.tokens if cfg.tokens is not None else stage_plan.tokens)
    max_steps = max(1, budget // geo.tokens_per_step)
    n_sequences = max_steps * geo.sequences_per_step
    # The whole global layout on every process: accelerate gives each process its own batches of it, so
    # the batches of step N are the same whatever the number of processes.
    packed = PackedDataset(tokens_dir, stage_plan, cfg.seq_len, seed, num_tokens=n_sequences * cfg.seq_len)
    if len(packed) < n_sequences:
        raise LinguabridgeError(
            f"the packed layout holds {len(packed)} sequences, the stage needs {n_sequences}",
            "check the mixture plan's token counts against the token shards",
        )
    data = StageSequences(packed, n_sequences)
    layout = layout_fingerprint(tokens_dir, stage_plan, data, seed)
    data.reads = 0
    heldout = heldout_documents(tokens_dir)
    guarded = _guarded_languages(cfg, heldout)
    shape = ModelShape.from_config(model.config)
    flops_per_token = shape.flops_per_token(cfg.seq_len)
    peak = local_device_peak(cfg.peak_tflops)

    rejected: list[dict] = []
    resume = latest_checkpoint(out_dir, rejected)
    manifest = read_manifest(resume) if resume else None
    if manifest and manifest.get("data_position", {}).get("layout") not in (None, layout):
        raise LinguabridgeError(
            f"checkpoint {resume} was written for a different data layout (plan, seed, seq_len or token shards changed)",
            f"restore the original configuration, or start the stage afresh by deleting {out_dir / 'checkpoints'}",
        )
    metrics = MetricsLog(out_dir / "metrics.jsonl", step_of(resume))
    for r in rejected:
        log.warning("checkpoint %s rejected: %s", r["checkpoint"], r["reason"])
        metrics.write({"step": step_of(resume) or 0, "event": "checkpoint_rejected", **r})
    trace = (
        MetricsLog(out_dir / "data_trace" / f"rank-{process_rank()}.jsonl", step_of(resume), enabled=True)
        if cfg.trace_data
        else None
    )
    meter = LanguageMeter(packed.languages)
    if manifest:
        meter.cumulative.update(manifest.get("language_tokens", {}))
    baseline_path = out_dir / "baseline_heldout.json"

    def evaluate(m) -> dict:
        return heldout_losses(
            m, heldout, cfg.eval_docs_per_language, cfg.seq_len, cfg.micro_batch_size, bf16=cfg.bf16
        )

    class CPTTrainer(AtomicCheckpointMixin, Trainer):
        """Per-token loss (needed for the per-language split), throughput and MFU in the logs."""

        checkpoint_verify = cfg.checkpoint_verify
        keep_last = cfg.keep_last

        def _get_train_sampler(self, *args, **kwargs):
            # The packed layout is already a seeded shuffle: serve it in order so step N is always the same
            # batch (accelerate shards it across processes; resume skips indices, it never reloads data).
            return torch.utils.data.SequentialSampler(self.train_dataset)

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            token_lang = inputs.pop("token_lang")
            seq_index = inputs.pop("seq_index")
            labels = inputs.pop("labels")
            if trace is not None:
                trace.write({"step": self.state.global_step + 1, "seqs": seq_index.tolist()})
            outputs = model(**inputs, use_cache=False)
            logits = outputs.logits
            # Shift the targets, not the logits (as HF's loss does): no copy of the [B, T, vocab] tensor.
            target = torch.nn.functional.pad(labels[:, 1:], (0, 1), value=-100)
            per_tok = torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]).float(),
                target.reshape(-1),
                ignore_index=-100,
                reduction="none",
            )
            mask = target.reshape(-1) != -100
            meter.add(per_tok, torch.nn.functional.pad(token_lang[:, 1:], (0, 1), value=0), mask)
            if num_items_in_batch is None:  # a per-batch mean: the Trainer divides by accumulation steps
                loss = per_tok.sum() / mask.sum().clamp(min=1)
            else:  # normalised over the whole accumulated (and, by default, all-process) batch, as HF does
                loss = per_tok.sum() / num_items_in_batch
                if self.args.average_tokens_across_devices:
                    loss = loss * self.accelerator.num_processes
            return (loss, outputs) if return_outputs else loss

        def log(self, logs, *args, **kwargs):
            if "loss" in logs:
                logs.update(meter.collect())
                now = time.perf_counter()
                steps = self.state.global_step - self._lb_last_step
                seconds = now - self._lb_last_time - monitor_cb.eval_seconds
                if steps > 0 and seconds > 0:
                    tps = steps * geo.tokens_per_step / seconds
                    logs["throughput/tokens_per_s"] = tps
                    logs["throughput/tokens_per_s_per_device"] = tps / geo.world_size
                    logs["throughput/tflops_per_device"] = tps * flops_per_token / geo.world_size / 1e12
                    util = mfu(tps, flops_per_token, peak, geo.world_size)
                    if util is not None:
                        logs["throughput/mfu"] = util
                self._lb_last_step, self._lb_last_time = self.state.global_step, now
                monitor_cb.eval_seconds = 0.0
            super().log(logs, *args, **kwargs)

        def checkpoint_extra(self) -> dict:
            return {
                "data_position": {
                    "sequences_consumed": self.state.global_step * geo.sequences_per_step,
                    "tokens_consumed": self.state.global_step * geo.tokens_per_step,
                    "layout": layout,
                },
                "language_tokens": dict(meter.cumulative),
                "forgetting_events": len(monitor_cb.guard.events) if monitor_cb.guard else 0,
            }

    class HeldoutMonitor(TrainerCallback):
        """Baseline on the starting model, held-out evaluation every ``eval_every`` steps, the guard."""

        def __init__(self):
            self.guard: ForgettingGuard | None = None
            self.baseline: dict = {}
            self.final: dict = {}
            self.eval_seconds = 0.0
            self.stopped_at: int | None = None
            self.measured_at: int | None = None
            self.last: dict = {}

        def on_train_begin(self, args, state, control, model=None, **kw):
            trainer._lb_last_step, trainer._lb_last_time = state.global_step, time.perf_counter()
            if resume and baseline_path.is_file():
                self.baseline = json.loads(baseline_path.read_text())
            else:
                self.baseline = evaluate(model)  # the starting model (no checkpoint loaded yet)
                if is_main_process():
                    write_json(baseline_path, self.baseline)
                metrics.write({**heldout_row(0, 0, self.baseline), "event": "baseline"})
            self.guard = ForgettingGuard(self.baseline, guarded, cfg.forgetting_margin, cfg.forgetting_action)
            trainer._lb_last_time = time.perf_counter()

        def _measure(self, state, model, control) -> dict:
            t0 = time.perf_counter()
            result = evaluate(model)
            row = heldout_row(state.global_step, state.global_step * geo.tokens_per_step, result)
            metrics.write({**row, "heldout_seconds": time.perf_counter() - t0})
            events = self.guard.check(state.global_step, result)
            for ev in events:
                log.warning(
                    "forgetting: %s held-out loss %.4f is %.1f%% above its baseline %.4f (margin %.1f%%)",
                    ev["language"],
                    ev["heldout_loss"],
                    100 * ev["regression"],
                    ev["baseline_heldout_loss"],
                    100 * ev["margin"],
                )
                metrics.write(ev)
            if events and cfg.forgetting_action in ("save", "stop"):
                control.should_save = True
            if events and cfg.forgetting_action == "stop":
                control.should_training_stop = True
                self.stopped_at = state.global_step
            self.eval_seconds += time.perf_counter() - t0
            self.measured_at, self.last = state.global_step, result
            return result

        def on_step_end(self, args, state, control, model=None, **kw):
            if (
                cfg.eval_every
                and state.global_step % cfg.eval_every == 0
                and state.global_step < state.max_steps
            ):
                self._measure(state, model, control)

        def on_train_end(self, args, state, control, model=None, **kw):
            if self.measured_at == state.global_step:  # stopped right after an evaluation
                self.final = self.last
            else:
                self.final = self._measure(state, model, control)

    class EmbeddingWarmup(TrainerCallback):
        """Only the embeddings (input and output) learn for the first ``embeddings_warmup_steps`` steps."""

        def __init__(self, steps: int):
            self.steps = steps
            self.frozen: list = []

        def on_train_begin(self, args, state, control, model=None, **kw):
            if state.global_step < self.steps:
                keep = _embedding_params(model)
                self.frozen = [p for p in model.parameters() if p.requires_grad and id(p) not in keep]
                for p in self.frozen:
                    p.requires_grad_(False)

        def on_step_begin(self, args, state, control, **kw):
            if self.frozen and state.global_step >= self.steps:
                for p in self.frozen:
                    p.requires_grad_(True)
                self.frozen = []
                metrics.write({"step": state.global_step, "event": "embeddings_warmup_done"})

    geo_kwargs = training_args_kwargs(
        cfg,
        out_dir,
        seed,
        max_steps,
        grad_accum=geo.grad_accum,
        find_unused_parameters=bool(cfg.embeddings_warmup_steps),
    )
    args = TrainingArguments(**geo_kwargs, remove_unused_columns=False)
    monitor_cb = HeldoutMonitor()
    extra_callbacks = list(callbacks or [])
    callbacks = [make_metrics_callback(metrics, geo.tokens_per_step), monitor_cb, *extra_callbacks]
    if cfg.embeddings_warmup_steps:
        callbacks.append(EmbeddingWarmup(cfg.embeddings_warmup_steps))
    trainer = CPTTrainer(
        model=model,
        args=args,
        train_dataset=data,
        data_collator=collate_packed,
        processing_class=tokenizer,  # checkpoints carry the tokenizer: each is a loadable HF model
        callbacks=callbacks,
    )
    if is_main_process():
        metrics.write(
            {
                "step": step_of(resume) or 0,
                "event": "resumed" if resume else "start",
                "checkpoint": resume,
                "max_steps": max_steps,
                "tokens_per_step": geo.tokens_per_step,
                "grad_accum": geo.grad_accum,
                "world_size": geo.world_size,
                "flops_per_token": flops_per_token,
                "peak_tflops": peak,
            }
        )
    trainer.train(resume_from_checkpoint=resume)
    if monitor_cb.stopped_at is not None:
        ev = monitor_cb.guard.events[-1]
        raise LinguabridgeError(
            f"forgetting guard stopped {out_dir.name} at step {monitor_cb.stopped_at}: {ev['language']} held-out "
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
        "heldout_start": monitor_cb.baseline,
        "heldout_end": monitor_cb.final,
        "tradeoff": tradeoff(monitor_cb.baseline, monitor_cb.final, lambda lang: get_language(lang).tier),
        "forgetting_guard": {
            "languages": guarded,
            "margin": cfg.forgetting_margin,
            "action": cfg.forgetting_action,
            "events": monitor_cb.guard.events,
        },
        "flops_per_token": flops_per_token,
        "resumed_from": resume,
        "sequences_read": data.reads,  # by this process since it started (skipped batches are not read)
        "rejected_checkpoints": rejected,
    }
    save_final(trainer, tokenizer, out_dir, {"stage_summary": summary})
    if is_main_process():
        write_json(out_dir / "summary.json", summary)
    return summary
