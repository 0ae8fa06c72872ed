"""Which process this is, from the launcher's environment (torchrun, accelerate launch, Slurm + torchrun).

These are read before any Trainer exists (batch geometry, which checkpoint to resume, who writes the logs).
accelerate's ``PartialState`` would answer the same questions, but constructing it initialises the process
group (NCCL with torch's 10-minute default timeout instead of the Trainer's ``ddp_timeout``, the CUDA device
pinned) before ``TrainingArguments`` sets it up its own way, and the pipeline keeps no process group outside
training stages. Once a Trainer exists, code asks it (``trainer.args.should_save``,
``state.is_world_process_zero``), which is accelerate's state.
"""

from __future__ import annotations

import os


def process_rank() -> int:
    """Global rank of this process (0 when not launched as several)."""
    return int(os.environ.get("RANK", "0"))


def world_size() -> int:
    """Number of processes of the launch (1 when not launched as several)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    return process_rank() == 0
