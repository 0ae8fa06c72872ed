"""The Trainer pieces of the training stages: the CPT trainer subclass and one callback per concern.

- :class:`CPTTrainer`: per-token loss (split per language), throughput in the logs, the data position in each
  checkpoint's manifest; serves the packed layout in order.
- :class:`Throughput`: tokens/s, TFLOP/s and MFU between two logs, held-out evaluation time left out.
- :class:`HeldoutMonitor`: held-out loss on the starting model and every ``eval_every`` steps; the forgetting guard.
- :class:`EmbeddingWarmup`: only the embeddings learn for the first steps (after a vocabulary extension).
- :class:`JsonlMetrics`: every log row into ``metrics.jsonl`` (CPT, SFT and DPO).
- :class:`TrainProgress` / :class:`ConsoleProgressMixin`: one progress display (step/total, ETA, loss, tokens/s)
  instead of transformers' bar and its printed log dicts (CPT, SFT and DPO).

Everything a piece needs comes through its constructor. Imports transformers at module level (the base classes);
the runners import this module when they run, so the CLI stays quick to start.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import torch
from transformers import Trainer, TrainerCallback
from transformers.trainer_callback import PrinterCallback, ProgressCallback

from linguabridge import console
from linguabridge import metric_keys as mk
from linguabridge.config import BatchGeometry
from linguabridge.io import write_json
from linguabridge.train.checkpoints import AtomicCheckpointMixin
from linguabridge.train.metrics_log import MetricsLog
from linguabridge.train.monitor import ForgettingGuard, LanguageMeter, heldout_row, mfu

log = logging.getLogger("linguabridge.cpt")


class JsonlMetrics(TrainerCallback):
    """Writes each log row of the main process, with the step (and tokens, when a step has a fixed count)."""

    def __init__(self, metrics: MetricsLog, tokens_per_step: int | None = None):
        self.metrics = metrics
        self.tokens_per_step = tokens_per_step

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or not state.is_world_process_zero:
            return
        row = {mk.STEP: state.global_step}
        if self.tokens_per_step:
            row[mk.TOKENS] = state.global_step * self.tokens_per_step
        row.update({k: (float(v) if isinstance(v, int | float) else v) for k, v in logs.items()})
        self.metrics.write(row)


class TrainProgress(TrainerCallback):
    """Step/total, elapsed, ETA and the last logged loss and tokens/s, on the main process.

    Tokens/s comes from CPT's throughput figures, or from TRL's cumulative ``num_tokens`` between two logs."""

    def __init__(self, description: str = "train"):
        self.description = description
        self._stack = ExitStack()
        self._bar: console.Bar | None = None
        self._tokens: tuple[float, float] | None = None  # (num_tokens, time) at the previous log

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            self._tokens = (0.0, time.perf_counter()) if state.global_step == 0 else None
            self._bar = self._stack.enter_context(
                console.progress(self.description, state.max_steps, state.global_step, unit="steps")
            )

    def on_step_end(self, args, state, control, **kwargs):
        if self._bar is not None:
            self._bar.update(completed=state.global_step)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self._bar is None or not logs or mk.LOSS not in logs:  # eval rows and the final summary row
            return
        figures = [f"loss {float(logs[mk.LOSS]):.4g}"]
        rate = logs.get(mk.TOKENS_PER_S)
        if rate is None and "num_tokens" in logs:
            now = (float(logs["num_tokens"]), time.perf_counter())
            if self._tokens is not None and now[1] > self._tokens[1]:
                rate = (now[0] - self._tokens[0]) / (now[1] - self._tokens[1])
            self._tokens = now
        if rate is not None:
            figures.append(f"{rate:,.0f} tokens/s")
        self._bar.update(info=" · ".join(figures))

    def on_train_end(self, args, state, control, **kwargs):
        self._stack.close()
        self._bar = None


class ConsoleProgressMixin:
    """For a Trainer class: :class:`TrainProgress` replaces transformers' ``ProgressCallback`` (a tqdm bar) and
    ``PrinterCallback`` (which prints every log dict, ~700 characters a step); ``--verbose`` keeps theirs."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if console.verbosity() != console.VERBOSE:
            self.remove_callback(ProgressCallback)
            self.remove_callback(PrinterCallback)
            self.add_callback(TrainProgress())


class Throughput:
    """Tokens/s, TFLOP/s per device and MFU over the steps since the last measurement.

    Held-out evaluations run inside training steps; :meth:`exclude` takes their time out, so the figures are
    training speed only."""

    def __init__(self, geo: BatchGeometry, flops_per_token: float, peak_tflops: float | None):
        self.geo = geo
        self.flops_per_token = flops_per_token
        self.peak_tflops = peak_tflops
        self.restart(0)

    def restart(self, step: int) -> None:
        self.last_step, self.last_time, self.excluded = step, time.perf_counter(), 0.0

    def exclude(self, seconds: float) -> None:
        self.excluded += seconds

    def measure(self, step: int) -> dict:
        """The figures since the last measurement (none when no step or no time passed); restarts the window."""
        now = time.perf_counter()
        steps, seconds = step - self.last_step, now - self.last_time - self.excluded
        out = {}
        if steps > 0 and seconds > 0:
            tps = steps * self.geo.tokens_per_step / seconds
            devices = self.geo.world_size
            out[mk.TOKENS_PER_S] = tps
            out[mk.TOKENS_PER_S_PER_DEVICE] = tps / devices
            out[mk.TFLOPS_PER_DEVICE] = tps * self.flops_per_token / devices / 1e12
            util = mfu(tps, self.flops_per_token, self.peak_tflops, devices)
            if util is not None:
                out[mk.MFU] = util
        self.last_step, self.last_time, self.excluded = step, now, 0.0
        return out


class HeldoutMonitor(TrainerCallback):
    """Held-out loss and bits per byte: on the starting model (the baseline), every ``eval_every`` steps and at
    the end; each measurement goes through the forgetting guard, which may save a checkpoint or stop training.

    ``evaluate(model)`` measures; on a resumed run the saved baseline (``baseline_path``) is reused. Afterwards
    ``baseline``, ``final`` and ``stopped_at`` (the step the guard stopped at, or None) hold the results.
    """

    def __init__(
        self,
        evaluate: Callable,
        metrics: MetricsLog,
        guard: ForgettingGuard,
        throughput: Throughput,
        baseline_path: Path,
        resumed: bool,
        eval_every: int,
        tokens_per_step: int,
    ):
        self.evaluate = evaluate
        self.metrics = metrics
        self.guard = guard
        self.throughput = throughput
        self.baseline_path = baseline_path
        self.resumed = resumed
        self.eval_every = eval_every
        self.tokens_per_step = tokens_per_step
        self.baseline: dict = {}
        self.final: dict = {}
        self.stopped_at: int | None = None
        self.measured_at: int | None = None
        self.last: dict = {}

    def on_train_begin(self, args, state, control, model=None, **kw):
        if self.resumed and self.baseline_path.is_file():
            self.baseline = json.loads(self.baseline_path.read_text())
        else:
            self.baseline = self.evaluate(model)  # the starting model (no checkpoint loaded yet)
            if state.is_world_process_zero:
                write_json(self.baseline_path, self.baseline)
            self.metrics.write({**heldout_row(0, 0, self.baseline), mk.EVENT: mk.BASELINE})
        self.guard.baseline = self.baseline
        self.throughput.restart(state.global_step)  # the baseline is not training time

    def _measure(self, state, model, control) -> dict:
        t0 = time.perf_counter()
        result = self.evaluate(model)
        row = heldout_row(state.global_step, state.global_step * self.tokens_per_step, result)
        self.metrics.write({**row, mk.HELDOUT_SECONDS: time.perf_counter() - t0})
        events = self.guard.check(state.global_step, result)
        for ev in events:
            log.warning(
                "forgetting: %s held-out loss %.4f is %.1f%% above its baseline %.4f (margin %.1f%%)",
                ev[mk.LANGUAGE],
                ev[mk.HELDOUT_LOSS],
                100 * ev[mk.REGRESSION],
                ev[mk.BASELINE_HELDOUT_LOSS],
                100 * ev[mk.MARGIN],
            )
            self.metrics.write(ev)
        if events and self.guard.action in ("save", "stop"):
            control.should_save = True
        if events and self.guard.action == "stop":
            control.should_training_stop = True
            self.stopped_at = state.global_step
        self.throughput.exclude(time.perf_counter() - t0)
        self.measured_at, self.last = state.global_step, result
        return result

    def on_step_end(self, args, state, control, model=None, **kw):
        if (
            self.eval_every
            and state.global_step % self.eval_every == 0
            and state.global_step < state.max_steps
        ):
            self._measure(state, model, control)

    def on_train_end(self, args, state, control, model=None, **kw):
        if self.measured_at == state.global_step:  # stopped right after an evaluation
            self.final = self.last
        else:
            self.final = self._measure(state, model, control)


def _embedding_params(model) -> set[int]:
    ids = {id(model.get_input_embeddings().weight)}
    out = model.get_output_embeddings()
    if out is not None:
        ids.add(id(out.weight))
    return ids


class EmbeddingWarmup(TrainerCallback):
    """Only the embeddings (input and output) learn for the first ``steps`` steps."""

    def __init__(self, steps: int, metrics: MetricsLog):
        self.steps = steps
        self.metrics = metrics
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
            self.metrics.write({mk.STEP: state.global_step, mk.EVENT: mk.EMBEDDINGS_WARMUP_DONE})


class CPTTrainer(ConsoleProgressMixin, AtomicCheckpointMixin, Trainer):
    """The HF Trainer for CPT: per-token loss (split per language by ``meter``), throughput in the logs, the data
    position (``layout`` fingerprint, sequences and tokens consumed) in each checkpoint's manifest.

    ``trace``: when given, each process logs the sequence indices of its batches."""

    def __init__(
        self,
        *args,
        meter: LanguageMeter,
        throughput: Throughput,
        guard: ForgettingGuard,
        geo: BatchGeometry,
        layout: str,
        trace: MetricsLog | None = None,
        **kwargs,
    ):
        self.meter = meter
        self.throughput = throughput
        self.guard = guard
        self.geo = geo
        self.layout = layout
        self.trace = trace
        super().__init__(*args, **kwargs)

    def _get_train_sampler(self, *args, **kwargs):
        # The packed layout is already a seeded shuffle: serve it in order so step N is always the same batch
        # (accelerate shards it across processes; resume skips indices, it never reloads data).
        return torch.utils.data.SequentialSampler(self.train_dataset)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        token_lang = inputs.pop("token_lang")
        seq_index = inputs.pop("seq_index")
        labels = inputs.pop("labels")
        if self.trace is not None:
            self.trace.write({mk.STEP: self.state.global_step + 1, "seqs": seq_index.tolist()})
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
        self.meter.add(per_tok, torch.nn.functional.pad(token_lang[:, 1:], (0, 1), value=0), mask)
        if num_items_in_batch is None:  # a per-batch mean: the Trainer divides by accumulation steps
            loss = per_tok.sum() / mask.sum().clamp(min=1)
        else:  # normalised over the whole accumulated (and, by default, all-process) batch, as HF does
            loss = per_tok.sum() / num_items_in_batch
            if self.args.average_tokens_across_devices:
                loss = loss * self.accelerator.num_processes
        return (loss, outputs) if return_outputs else loss

    def log(self, logs, *args, **kwargs):
        if mk.LOSS in logs:  # a training log (not the final summary row)
            logs.update(self.meter.collect())
            logs.update(self.throughput.measure(self.state.global_step))
        super().log(logs, *args, **kwargs)

    def checkpoint_extra(self) -> dict:
        step = self.state.global_step
        return {
            "data_position": {
                "sequences_consumed": step * self.geo.sequences_per_step,
                "tokens_consumed": step * self.geo.tokens_per_step,
                "layout": self.layout,
            },
            "language_tokens": dict(self.meter.cumulative),
            "forgetting_events": len(self.guard.events),
        }
