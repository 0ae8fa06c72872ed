"""SFT/DPO options on the tiny model: LoRA adapters (merged on save), precomputed reference log-probs, and
several TRL preference losses combined with weights. A few steps each: they must run and save loadable chats."""

from __future__ import annotations

import pytest

from linguabridge.config import LoraConfig, ModelConfig, OptimConfig, PostTrainConfig
from linguabridge.errors import LinguabridgeError
from linguabridge.models import build_tiny_qwen2
from linguabridge.train.post import run_dpo, run_sft

CHATS = [
    {"id": "a", "language": "eng_Latn",
     "messages": [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hello there."}]},
    {"id": "b", "language": "zho_Hans",
     "messages": [{"role": "user", "content": "你好？"}, {"role": "assistant", "content": "你好。"}]},
]  # fmt: skip
PAIRS = [
    {"prompt": c["messages"][:-1], "chosen": c["messages"][-1:],
     "rejected": [{"role": "assistant", "content": o["messages"][-1]["content"]}]}
    for c, o in ((CHATS[0], CHATS[1]), (CHATS[1], CHATS[0]))
]  # fmt: skip


def _cfg(steps: int = 2, **kw) -> PostTrainConfig:
    post = kw.pop("post", {})
    cfg = PostTrainConfig(max_steps=steps, seq_len=48, micro_batch_size=2, save_every=100,
                          optim=OptimConfig(lr=1e-3, warmup_ratio=0.0, weight_decay=0.0), **kw)  # fmt: skip
    for k, v in post.items():
        setattr(cfg.post, k, v)
    return cfg


def _tiny(tok):
    return build_tiny_qwen2(ModelConfig(), len(tok), seed=0)


def test_lora_sft_then_lora_dpo_save_merged_chat_models(qwen_tokenizer, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    start = _tiny(qwen_tokenizer)
    before = {k: v.clone() for k, v in start.state_dict().items()}
    cfg = _cfg(post={"lora": LoraConfig(r=4)})
    run_sft(cfg, CHATS, start, qwen_tokenizer, tmp_path / "sft", seed=0)
    assert (tmp_path / "sft" / "adapter" / "adapter_config.json").is_file()
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "sft" / "model")
    state = merged.state_dict()
    assert not any("lora" in k for k in state)  # plain weights: the next stage loads it like any checkpoint
    changed = [k for k in before if k in state and not torch.equal(before[k], state[k])]
    assert any("q_proj" in k for k in changed)  # the adapters were merged in
    assert merged.generation_config.eos_token_id == [151645, 151643]

    summary = run_dpo(cfg, PAIRS, merged, qwen_tokenizer, tmp_path / "dpo", seed=0)
    assert summary["reference"] == "adapter disabled"
    assert abs(summary["before"]["rewards/margins"]) < 1e-4
    assert (tmp_path / "dpo" / "model" / "config.json").is_file()


def test_dpo_with_precomputed_reference_and_combined_losses(qwen_tokenizer, tmp_path):
    cfg = _cfg(
        loss_type=["sigmoid", "sft"], post={"precompute_ref_log_probs": True, "loss_weights": [1.0, 0.5]}
    )
    summary = run_dpo(cfg, PAIRS, _tiny(qwen_tokenizer), qwen_tokenizer, tmp_path / "dpo", seed=0)
    assert summary["reference"] == "precomputed log-probs" and summary["loss_type"] == ["sigmoid", "sft"]
    assert abs(summary["before"]["rewards/margins"]) < 1e-4
    assert summary["after"]["rewards/margins"] > summary["before"]["rewards/margins"]


def test_dpo_refuses_mismatched_loss_weights(qwen_tokenizer, tmp_path):
    cfg = _cfg(loss_type=["sigmoid", "hinge"], post={"loss_weights": [1.0]})
    with pytest.raises(LinguabridgeError, match="one weight per loss_type"):
        run_dpo(cfg, PAIRS, _tiny(qwen_tokenizer), qwen_tokenizer, tmp_path / "dpo", seed=0)
