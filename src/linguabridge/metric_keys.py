"""The names in ``<stage>/metrics.jsonl``: written by train/ (CPT runner, monitor, callbacks), read by the report.

Both sides import them from here, so a renamed metric cannot leave the report looking for a key nobody writes.
Rows are training logs (``step`` + values), held-out measurements or events (``event`` + fields).
"""

from __future__ import annotations

METRICS_FILE = "metrics.jsonl"

# Every row
STEP = "step"
TOKENS = "tokens"  # tokens trained on since the stage began (CPT; TRL logs NUM_TOKENS instead)
EVENT = "event"

# Training rows: the Trainer's own keys
LOSS = "loss"
LEARNING_RATE = "learning_rate"
# and TRL's
NUM_TOKENS = "num_tokens"

# Training rows: CPT, per language (LanguageMeter) and throughput (train/callbacks.Throughput)
LANGUAGE_LOSS = "loss/"  # + language: mean token loss over the logging window
LANGUAGE_TOKENS = "tokens/"  # + language: tokens trained on since the stage began (a running total)
TOKENS_PER_S = "throughput/tokens_per_s"  # all processes together
TOKENS_PER_S_PER_DEVICE = "throughput/tokens_per_s_per_device"
TFLOPS_PER_DEVICE = "throughput/tflops_per_device"
MFU = "throughput/mfu"  # a fraction (0-1) of the devices' dense bf16 peak; only where the peak is known

# The Trainer's final row
TRAIN_RUNTIME = "train_runtime"
TOTAL_FLOS = "total_flos"
TRAIN_SAMPLES_PER_SECOND = "train_samples_per_second"

# Held-out rows: HELDOUT + language + "/" + HELDOUT_METRICS entry
HELDOUT = "heldout/"
HELDOUT_METRICS = ("loss", "bpb")
HELDOUT_SECONDS = "heldout_seconds"

# Events (the EVENT value) and their fields
START, RESUMED = "start", "resumed"  # the stage's facts: steps, batch geometry, FLOPs per token...
PEAK_TFLOPS = "peak_tflops"  # ...and the device peak MFU is measured against (None: unknown)
BASELINE = "baseline"  # a held-out row measured on the starting model
FORGETTING = "forgetting"  # fields below
LANGUAGE = "language"
BASELINE_HELDOUT_LOSS = "baseline_heldout_loss"
HELDOUT_LOSS = "heldout_loss"
REGRESSION = "regression"  # relative rise of the held-out loss over the baseline
MARGIN = "margin"
ACTION = "action"
CHECKPOINT_REJECTED = "checkpoint_rejected"
EMBEDDINGS_WARMUP_DONE = "embeddings_warmup_done"


def language_loss(language: str) -> str:
    return LANGUAGE_LOSS + language


def language_tokens(language: str) -> str:
    return LANGUAGE_TOKENS + language


def heldout(language: str, metric: str) -> str:
    return f"{HELDOUT}{language}/{metric}"
