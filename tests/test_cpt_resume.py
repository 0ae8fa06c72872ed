"""Exact resume: a CPT stage killed with SIGKILL mid-stage and restarted ends exactly like an uninterrupted
run (same loss, per-language loss, grad norm and LR at every step; same held-out numbers; same weights),
reading no batch twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve()
STEPS = 16


def child(work: Path, out: Path) -> None:
    """The stage, as a separate process (``python tests/test_cpt_resume.py WORK OUT``)."""
    from transformers import AutoTokenizer

    from linguabridge.train.cpt import run_cpt
    from test_cpt_runner import model_for, plan, tiny_cfg

    tok = AutoTokenizer.from_pretrained(str(work / "tokenizer"))
    cfg = tiny_cfg(save_every=4, eval_every=4, keep_last=2, trace_data=True)
    summary = run_cpt(cfg, plan(STEPS), work / "tokens", model_for(tok), tok, out, seed=0)
    (out / "child_summary.json").write_text(
        json.dumps({k: summary[k] for k in ("resumed_from", "sequences_read")})
    )


def _launch(work: Path, out: Path) -> subprocess.Popen:
    env = {**os.environ, "LINGUABRIDGE_NO_TENSORBOARD": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.Popen(
        [sys.executable, str(HERE), str(work), str(out)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(p: subprocess.Popen) -> None:
    _, err = p.communicate(timeout=600)
    assert p.returncode == 0, err[-3000:]


def _train_rows(out: Path) -> dict[int, dict]:
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines() if x]
    keep = ("loss", "grad_norm", "learning_rate", "tokens")
    return {
        r["step"]: {k: v for k, v in r.items() if k in keep or k.startswith(("loss/", "tokens/"))}
        for r in rows
        if "loss" in r and "event" not in r
    }


def _heldout_rows(out: Path) -> list[dict]:
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines() if x]
    held = [r for r in rows if any(k.startswith("heldout/") for k in r)]
    return [{k: v for k, v in r.items() if k != "heldout_seconds"} for r in held]  # timing may differ


@pytest.mark.slow
def test_sigkill_mid_stage_then_resume_reproduces_the_uninterrupted_run(tmp_path, qwen_tokenizer):
    from safetensors.torch import load_file

    from test_cpt_runner import make_setup

    work = tmp_path / "work"
    make_setup(work, qwen_tokenizer)
    ref, killed = tmp_path / "ref", tmp_path / "killed"

    _finish(_launch(work, ref))

    p = _launch(work, killed)
    deadline = time.time() + 300
    while time.time() < deadline and p.poll() is None:
        if (killed / "metrics.jsonl").is_file() and any(s >= 6 for s in _train_rows(killed)):
            break
        time.sleep(0.02)
    assert p.poll() is None, "the stage ended before it could be killed"
    os.kill(p.pid, signal.SIGKILL)  # no cleanup, no atexit: like a node failure
    p.wait()
    assert not (killed / "model").exists()

    _finish(_launch(work, killed))

    resumed = json.loads((killed / "child_summary.json").read_text())
    assert resumed["resumed_from"] is not None
    done = int(resumed["resumed_from"].rsplit("-", 1)[1])
    assert done >= 4
    assert resumed["sequences_read"] == (STEPS - done) * 4  # nothing before the checkpoint is read again

    a, b = _train_rows(ref), _train_rows(killed)
    assert sorted(a) == list(range(1, STEPS + 1)) and a == b  # exact, not approximate
    assert _heldout_rows(ref) == _heldout_rows(killed)
    wa, wb = (
        load_file(str(ref / "model" / "model.safetensors")),
        load_file(str(killed / "model" / "model.safetensors")),
    )
    assert wa.keys() == wb.keys() and all((wa[k] == wb[k]).all() for k in wa)
    trace = [json.loads(x) for x in (killed / "data_trace" / "rank-0.jsonl").read_text().splitlines()]
    ref_trace = [json.loads(x) for x in (ref / "data_trace" / "rank-0.jsonl").read_text().splitlines()]
    assert trace == ref_trace and [t["step"] for t in trace] == list(range(1, STEPS + 1))


if __name__ == "__main__":
    child(Path(sys.argv[1]), Path(sys.argv[2]))
