"""The CPT runner on a tiny setup: per-language metrics, held-out evaluation, checkpoints, the guard.

The helpers at the top (a tokens directory from the demo corpus with a 512-token BPE of Qwen2's kind, and a
tiny Qwen2) are shared with the resume, distributed and vocabulary tests.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from linguabridge.config import CPTConfig, OptimConfig
from linguabridge.errors import ConfigError, LinguabridgeError

LANGS = ["eng_Latn", "zho_Hans", "tha_Thai", "npi_Deva"]
SHARES = {"eng_Latn": 0.3, "zho_Hans": 0.2, "tha_Thai": 0.25, "npi_Deva": 0.25}
SEQ, MBS = 64, 4


def make_setup(work: Path, base_tokenizer) -> tuple[Path, Path]:
    """Token shards of four demo languages and a saved 512-token tokenizer; returns (tokens, tokenizer dir)."""
    import toy_cpt as toy
    from linguabridge.train.vocab import train_tokenizer

    docs = toy.demo_corpus(LANGS)
    tok = train_tokenizer(base_tokenizer, [t for v in docs.values() for t in v], 512)
    tok.save_pretrained(str(work / "tokenizer"))
    return toy.build_tokens(docs, tok, work, heldout_per_language=2, seed=0), work / "tokenizer"


def tiny_cfg(**kw) -> CPTConfig:
    base = dict(
        seq_len=SEQ,
        micro_batch_size=MBS,
        save_every=4,
        eval_every=4,
        keep_last=2,
        optim=OptimConfig(lr=3e-3, warmup_ratio=0.1),
    )
    return CPTConfig(**{**base, **kw})


def plan(steps: int, shares: dict | None = None, per_step: int = SEQ * MBS):
    import toy_cpt as toy

    return toy.stage_plan("stage1", shares or SHARES, steps * per_step)


def model_for(tokenizer, seed: int = 0):
    import toy_cpt as toy

    return toy.tiny_qwen2(len(tokenizer), tokenizer.eos_token_id, seed=seed)


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def train_rows(path: Path) -> dict[int, dict]:
    return {r["step"]: r for r in rows(path) if "loss" in r and "event" not in r}


@pytest.fixture(scope="module")
def setup(tmp_path_factory, qwen_tokenizer):
    from transformers import AutoTokenizer

    work = tmp_path_factory.mktemp("cpt")
    tokens, tok_dir = make_setup(work, qwen_tokenizer)
    return tokens, AutoTokenizer.from_pretrained(str(tok_dir))


@pytest.fixture(scope="module")
def trained(setup, tmp_path_factory):
    from linguabridge.train.cpt import run_cpt

    tokens, tok = setup
    out = tmp_path_factory.mktemp("run") / "cpt_stage1"
    summary = run_cpt(tiny_cfg(), plan(12), tokens, model_for(tok), tok, out, seed=0)
    return out, summary


def test_tensorboard_events_when_installed(setup, tmp_path, monkeypatch):
    pytest.importorskip("tensorboard", reason="the [tensorboard] extra")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from linguabridge.train.cpt import run_cpt

    monkeypatch.delenv("LINGUABRIDGE_NO_TENSORBOARD", raising=False)  # conftest turns it off for speed
    tokens, tok = setup
    out = tmp_path / "cpt_stage1"
    run_cpt(tiny_cfg(eval_every=0), plan(4), tokens, model_for(tok), tok, out, seed=0)
    events = sorted((out / "checkpoints" / "runs").rglob("events.out.tfevents.*"))
    assert events, "no TensorBoard event file"
    acc = EventAccumulator(str(events[0].parent))
    acc.Reload()
    assert len(acc.Scalars("train/loss")) == 4  # every logged step


def test_metrics_hold_per_language_loss_tokens_heldout_and_throughput(trained, setup):
    out, summary = trained
    rs = rows(out / "metrics.jsonl")
    steps = train_rows(out / "metrics.jsonl")
    assert sorted(steps) == list(range(1, 13))
    prev = {}
    for step, r in steps.items():
        # the per-language losses, weighted by this step's tokens, are exactly the step's loss
        window = {k[7:]: v - prev.get(k, 0) for k, v in r.items() if k.startswith("tokens/")}
        prev.update({k: v for k, v in r.items() if k.startswith("tokens/")})
        n = sum(window.values())
        mixed = sum(r[f"loss/{lang}"] * c for lang, c in window.items() if c) / n
        assert mixed == pytest.approx(r["loss"], rel=1e-5), step
        assert 0 < n <= (SEQ - 1) * MBS  # a sequence's first token has no label
        assert r["throughput/tokens_per_s"] > 0 and r["tokens"] == step * SEQ * MBS
    held = [r for r in rs if any(k.startswith("heldout/") for k in r)]
    assert [r["step"] for r in held] == [0, 4, 8, 12]  # baseline, every eval_every steps, the end
    assert set(summary["heldout_end"]) == set(LANGS)
    for lang in LANGS:
        assert held[-1][f"heldout/{lang}/bpb"] > 0
        assert (
            summary["tradeoff"]["languages"][lang]["end_loss"]
            < summary["tradeoff"]["languages"][lang]["start_loss"]
        )
    # tokens per language counted from the batches equal the labelled tokens the layout served
    from linguabridge.mixture.packing import PackedDataset

    tokens, _ = setup
    data = PackedDataset(tokens, plan(12), SEQ, 0, num_tokens=12 * SEQ * MBS)
    served: dict[str, int] = {}
    for i in range(len(data)):
        item = data[i]
        for lang_id in item["token_lang"][item["labels"] != -100].tolist():
            served[data.languages[lang_id]] = served.get(data.languages[lang_id], 0) + 1
    assert summary["language_tokens"] == served


def test_checkpoints_are_sealed_rotated_and_final_model_loads(trained):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from linguabridge.train.checkpoints import MANIFEST, checkpoint_problem

    out, summary = trained
    ckpts = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert ckpts == ["checkpoint-12", "checkpoint-8"]  # keep_last=2, no staging left behind
    for name in ckpts:
        m = json.loads((out / "checkpoints" / name / MANIFEST).read_text())
        step = int(name.split("-")[1])
        assert m["data_position"]["sequences_consumed"] == step * MBS
        assert "model.safetensors" in m["files"] and "tokenizer.json" in m["files"]
        assert checkpoint_problem(out / "checkpoints" / name) is None
    model = AutoModelForCausalLM.from_pretrained(str(out / "model"))
    tok = AutoTokenizer.from_pretrained(str(out / "model"))
    assert model.config.vocab_size == len(tok) and summary["steps"] == 12


def test_corrupt_newest_checkpoint_is_set_aside_and_previous_used(trained, tmp_path):
    from linguabridge.train.checkpoints import REJECTED, STAGING, latest_checkpoint

    out, _ = trained
    run = tmp_path / "run"
    shutil.copytree(out / "checkpoints", run / "checkpoints")
    (run / "checkpoints" / STAGING / "checkpoint-16").mkdir(parents=True)  # a save killed midway
    weights = run / "checkpoints" / "checkpoint-12" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])  # truncated
    rejected: list[dict] = []
    assert latest_checkpoint(run, rejected) == str(run / "checkpoints" / "checkpoint-8")
    assert rejected[0]["checkpoint"] == "checkpoint-12" and "model.safetensors" in rejected[0]["reason"]
    assert (run / "checkpoints" / REJECTED / "checkpoint-12" / "REJECTED.txt").is_file()
    assert not (run / "checkpoints" / STAGING).exists()
    # same size, one flipped byte: only the sha256 notices
    opt = run / "checkpoints" / "checkpoint-8" / "optimizer.pt"
    data = bytearray(opt.read_bytes())
    data[len(data) // 2] ^= 0xFF
    opt.write_bytes(bytes(data))
    assert latest_checkpoint(run) is None


def test_resume_refuses_a_changed_data_layout(trained, setup, tmp_path):
    from linguabridge.train.cpt import run_cpt

    out, _ = trained
    tokens, tok = setup
    shutil.copytree(out / "checkpoints", tmp_path / "cpt" / "checkpoints")
    with pytest.raises(LinguabridgeError, match="different data layout"):
        run_cpt(tiny_cfg(), plan(12), tokens, model_for(tok), tok, tmp_path / "cpt", seed=1)


def test_forgetting_guard_saves_and_stops(setup, tmp_path):
    """A margin of -50% makes every evaluation a regression: the guard must log, checkpoint and stop."""
    from linguabridge.train.cpt import run_cpt

    tokens, tok = setup
    cfg = tiny_cfg(eval_every=2, save_every=10, forgetting_action="stop", forgetting_languages=["eng_Latn"])
    # A recipe may not set a negative margin (validated >= 0); model_copy(update=...) skips validation.
    cfg = cfg.model_copy(update={"forgetting_margin": -0.5})
    with pytest.raises(LinguabridgeError, match="forgetting guard stopped"):
        run_cpt(cfg, plan(8), tokens, model_for(tok), tok, tmp_path / "cpt", seed=0)
    events = [r for r in rows(tmp_path / "cpt" / "metrics.jsonl") if r.get("event") == "forgetting"]
    assert [(e["step"], e["language"]) for e in events] == [(2, "eng_Latn")]
    assert (tmp_path / "cpt" / "checkpoints" / "checkpoint-2").is_dir()
    assert not (tmp_path / "cpt" / "model").exists()  # a stopped stage is not complete


def test_batch_geometry_and_config_checks(setup, tmp_path):
    from linguabridge.train.cpt import run_cpt

    g = tiny_cfg(global_batch_sequences=64, micro_batch_size=4).batch_geometry(world_size=8)
    assert (g.grad_accum, g.sequences_per_step, g.tokens_per_step) == (2, 64, 64 * SEQ)
    assert tiny_cfg(grad_accum=3).batch_geometry(world_size=2).sequences_per_step == 24
    with pytest.raises(ConfigError, match="not a multiple"):
        tiny_cfg(global_batch_sequences=60).batch_geometry(world_size=8)
    tokens, tok = setup
    with pytest.raises(ConfigError, match="log_every"):
        run_cpt(tiny_cfg(save_every=5, log_every=2), plan(4), tokens, model_for(tok), tok, tmp_path, 0)


@pytest.mark.parametrize("schedule", ["cosine", "wsd"])
def test_schedules_warm_up_then_decay_to_the_minimum(schedule):
    import torch
    from transformers import get_scheduler

    from linguabridge.train.args import training_args_kwargs

    cfg = tiny_cfg(
        optim=OptimConfig(lr=1.0, warmup_ratio=0.1, min_lr_ratio=0.1, schedule=schedule, decay_ratio=0.2)
    )
    kw = training_args_kwargs(cfg, Path("/tmp/x"), 0, max_steps=100)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = get_scheduler(
        kw["lr_scheduler_type"],
        opt,
        kw["warmup_steps"],
        100,
        scheduler_specific_kwargs=kw["lr_scheduler_kwargs"],
    )
    lrs = []
    for _ in range(100):
        lrs.append(sched.get_last_lr()[0])
        opt.step()
        sched.step()
    assert lrs[0] < lrs[5] < lrs[10] == pytest.approx(1.0) == max(lrs)  # linear warmup over 10% of steps
    assert lrs[-1] == pytest.approx(0.1, abs=0.02)  # decays to min_lr_ratio x peak
    if schedule == "wsd":
        assert lrs[10:80] == [pytest.approx(1.0)] * 70  # stable until the last 20% of steps
    else:
        assert all(a >= b for a, b in zip(lrs[10:], lrs[11:], strict=False))  # cosine: monotone after warmup
