"""Continual pretraining (stage I / stage II) on the packed, plan-exact dataset with the HF Trainer.

Adds to the stock Trainer: per-language training loss from the packed batches (``token_lang``), held-out
loss and bits per byte per language at intervals, a forgetting guard against the starting model's held-out
loss on high-resource languages, exact resume from the newest complete checkpoint, and an atomic final save.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

from linguabridge.config import TrainConfig
from linguabridge.data.records import write_json
from linguabridge.languages import get_language
from linguabridge.mixture.plan import StagePlan
from linguabridge.mixture.tokens import PackedDataset, heldout_documents
from linguabridge.train.common import (
    MetricsLog,
    latest_checkpoint,
    make_metrics_callback,
    save_final,
    step_of,
    training_args_kwargs,
)


def collate_packed(items: list[dict]) -> dict:
    """Stack packed sequences. No attention_mask on purpose: with position_ids reset per document the
    model derives a block-diagonal mask (an all-ones mask would let documents attend to each other)."""
    import torch

    return {k: torch.stack([it[k] for it in items]) for k in items[0]}


def heldout_losses(model, heldout: dict, max_docs: int = 8) -> dict[str, dict[str, float]]:
    """Mean token loss and bits per byte per language on held-out documents."""
    import torch

    model_was_training = model.training
    model.eval()
    out = {}
    device = next(model.parameters()).device
    with torch.no_grad():
        for lang, docs in sorted(heldout.items()):
            nats, n_tok, n_bytes = 0.0, 0, 0
            for ids, nbytes in docs[:max_docs]:
                x = torch.as_tensor(ids[None, :], device=device)
                logits = model(input_ids=x, use_cache=False).logits.float()
                ce = torch.nn.functional.cross_entropy(logits[0, :-1], x[0, 1:], reduction="sum")
                nats += ce.item()
                n_tok += x.shape[1] - 1
                n_bytes += nbytes
            out[lang] = {"loss": nats / max(1, n_tok), "bpb": nats / math.log(2) / max(1, n_bytes)}
    model.train(model_was_training)
    return out


def run_cpt(
    cfg: TrainConfig,
    stage_plan: StagePlan,
    tokens_dir: Path,
    model,
    tokenizer,
    out_dir: Path,
    seed: int,
) -> dict:
    """Train one CPT stage; returns a summary (steps, tokens, final held-out losses)."""
    import torch
    from transformers import Trainer, TrainerCallback, TrainingArguments

    world = max(1, torch.distributed.get_world_size() if torch.distributed.is_initialized() else 1)
    tokens_per_step = cfg.seq_len * cfg.micro_batch_size * cfg.grad_accum * world
    budget = int(cfg.tokens if cfg.tokens is not None else stage_plan.tokens)
    max_steps = max(1, budget // tokens_per_step)
    dataset = PackedDataset(tokens_dir, stage_plan, cfg.seq_len, seed, num_tokens=max_steps * tokens_per_step)
    heldout = heldout_documents(tokens_dir)
    languages = dataset.languages
    high = [lang for lang in heldout if get_language(lang).tier == "high"]

    resume = latest_checkpoint(out_dir)
    metrics = MetricsLog(out_dir / "metrics.jsonl", step_of(resume))
    baseline_path = out_dir / "baseline_heldout.json"

    class CPTTrainer(Trainer):
        """Logs loss per language from the packed batches; the loss itself is the stock one."""

        lang_sums: dict = defaultdict(float)
        lang_counts: dict = defaultdict(int)

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            token_lang = inputs.pop("token_lang")
            outputs = model(**inputs, use_cache=False)
            logits = outputs.logits.float()
            labels = inputs["labels"]
            per_tok = torch.nn.functional.cross_entropy(
                logits[:, :-1].reshape(-1, logits.shape[-1]),
                labels[:, 1:].reshape(-1),
                ignore_index=-100,
                reduction="none",
            )
            mask = labels[:, 1:].reshape(-1) != -100
            tl = token_lang[:, 1:].reshape(-1)
            with torch.no_grad():
                for li in tl[mask].unique().tolist():
                    sel = mask & (tl == li)
                    self.lang_sums[languages[li]] += per_tok[sel].sum().item()
                    self.lang_counts[languages[li]] += int(sel.sum().item())
            denom = num_items_in_batch if num_items_in_batch is not None else mask.sum()
            loss = per_tok.sum() / denom
            return (loss, outputs) if return_outputs else loss

        def log(self, logs, *args, **kwargs):
            if "loss" in logs:
                for lang, total in self.lang_sums.items():
                    logs[f"loss/{lang}"] = total / max(1, self.lang_counts[lang])
                    logs[f"tokens/{lang}"] = self.lang_counts[lang]
                self.lang_sums.clear()
                self.lang_counts.clear()
            super().log(logs, *args, **kwargs)

    class HeldoutAndGuard(TrainerCallback):
        """Held-out loss per language every ``eval_every`` steps and at the end; forgetting warnings."""

        def __init__(self):
            self.baseline = None

        def on_train_begin(self, args, state, control, model=None, **kw):
            import json

            if baseline_path.is_file():  # resumed: the baseline is the starting model's, measured once
                self.baseline = json.loads(baseline_path.read_text())
            else:
                self.baseline = heldout_losses(model, heldout)
                write_json(baseline_path, self.baseline)
                metrics.write(
                    {
                        "step": 0,
                        "tokens": 0,
                        **{f"heldout/{k}/{m}": v for k, d in self.baseline.items() for m, v in d.items()},
                    }
                )

        def _measure(self, state, model, control):
            result = heldout_losses(model, heldout)
            row = {"step": state.global_step, "tokens": state.global_step * tokens_per_step}
            row.update({f"heldout/{k}/{m}": v for k, d in result.items() for m, v in d.items()})
            metrics.write(row)
            for lang in high:
                base = self.baseline.get(lang, {}).get("loss")
                now = result[lang]["loss"]
                if base and now > base * (1 + cfg.forgetting_margin):
                    metrics.write(
                        {
                            "step": state.global_step,
                            "event": "forgetting",
                            "language": lang,
                            "baseline_loss": base,
                            "loss": now,
                            "regression": now / base - 1,
                        }
                    )
            return result

        def on_step_end(self, args, state, control, model=None, **kw):
            if (
                cfg.eval_every
                and state.global_step % cfg.eval_every == 0
                and state.global_step < state.max_steps
            ):
                self._measure(state, model, control)

        def on_train_end(self, args, state, control, model=None, **kw):
            self.final = self._measure(state, model, control)

    args = TrainingArguments(
        **training_args_kwargs(cfg, out_dir, seed, max_steps), remove_unused_columns=False
    )
    guard = HeldoutAndGuard()
    trainer = CPTTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        data_collator=collate_packed,
        callbacks=[make_metrics_callback(metrics, tokens_per_step), guard],
    )
    # The packed layout is already a seeded shuffle: serve it in order so step N is always the same batch.
    trainer._get_train_sampler = lambda *a, **k: torch.utils.data.SequentialSampler(dataset)
    trainer.train(resume_from_checkpoint=resume)
    summary = {
        "steps": max_steps,
        "tokens": max_steps * tokens_per_step,
        "tokens_per_step": tokens_per_step,
        "sequences": len(dataset),
        "realised_tokens": dataset.realised_tokens(),
        "heldout_start": guard.baseline,
        "heldout_end": guard.final,
        "resumed_from": resume,
    }
    save_final(trainer, tokenizer, out_dir, {"stage_summary": summary})
    write_json(out_dir / "summary.json", summary)
    return summary
