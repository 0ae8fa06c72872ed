"""Two-process DDP over gloo on CPU (torchrun): each process trains on its own slice of every global batch,
the slices together are exactly the single-process batch, and the losses match a single-process run with
the same global batch (gradient accumulation instead of a second process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve()
STEPS, GLOBAL, MBS = 6, 4, 2


def cfg():
    from test_cpt_runner import tiny_cfg

    return tiny_cfg(
        micro_batch_size=MBS, global_batch_sequences=GLOBAL, save_every=3, eval_every=3, trace_data=True
    )


def child(work: Path, out: Path) -> None:
    """One torchrun process (``torchrun --nproc_per_node 2 tests/test_cpt_ddp.py WORK OUT``)."""
    from transformers import AutoTokenizer

    from linguabridge.train.cpt import run_cpt
    from test_cpt_runner import SEQ, model_for, plan

    tok = AutoTokenizer.from_pretrained(str(work / "tokenizer"))
    run_cpt(cfg(), plan(STEPS, per_step=GLOBAL * SEQ), work / "tokens", model_for(tok), tok, out, seed=0)


def _rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x]


@pytest.mark.slow
def test_two_process_gloo_ddp_splits_batches_and_matches_one_process(tmp_path, qwen_tokenizer):
    from transformers import AutoTokenizer

    from linguabridge.train.cpt import run_cpt
    from test_cpt_runner import SEQ, make_setup, model_for, plan

    work = tmp_path / "work"
    make_setup(work, qwen_tokenizer)
    env = {
        **os.environ,
        "LINGUABRIDGE_NO_TENSORBOARD": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "OMP_NUM_THREADS": "1",
    }
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(var, None)
    ddp = tmp_path / "ddp"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            str(HERE),
            str(work),
            str(ddp),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]

    traces = [_rows(ddp / "data_trace" / f"rank-{r}.jsonl") for r in (0, 1)]
    for step in range(1, STEPS + 1):
        mine = [set(s for row in t if row["step"] == step for s in row["seqs"]) for t in traces]
        assert mine[0] and mine[1] and not mine[0] & mine[1]  # different data on each process
        assert mine[0] | mine[1] == set(range((step - 1) * GLOBAL, step * GLOBAL))  # = the global batch

    metrics = _rows(ddp / "metrics.jsonl")
    ddp_loss = {r["step"]: r["loss"] for r in metrics if "loss" in r and "event" not in r}
    assert sorted(ddp_loss) == list(range(1, STEPS + 1))  # one writer: no duplicated rows
    assert {"rng_state_0.pth", "rng_state_1.pth"} <= {
        p.name for p in (ddp / "checkpoints" / "checkpoint-6").iterdir()
    }
    assert (ddp / "model" / "model.safetensors").is_file()

    tok = AutoTokenizer.from_pretrained(str(work / "tokenizer"))
    one = tmp_path / "one"
    summary = run_cpt(
        cfg(), plan(STEPS, per_step=GLOBAL * SEQ), work / "tokens", model_for(tok), tok, one, seed=0
    )
    assert summary["grad_accum"] == 2  # same global batch, accumulated instead of split over processes
    one_loss = {
        r["step"]: r["loss"] for r in _rows(one / "metrics.jsonl") if "loss" in r and "event" not in r
    }
    assert ddp_loss == pytest.approx(one_loss, rel=1e-4)


if __name__ == "__main__":
    child(Path(sys.argv[1]), Path(sys.argv[2]))
