"""SFT then DPO end to end on the tiny Qwen2 (real Qwen2 tokenizer, CPU), and the chat check.

A random tiny model knows no language, so the chat check overfits a handful of chats (one per language):
after SFT it must answer each prompt in the prompt's language and stop at ``<|im_end|>``. DPO then starts from
that checkpoint and must raise the implicit reward margin on its own training pairs.
"""

from __future__ import annotations

import json

import pytest

from linguabridge.config import ModelConfig, OptimConfig, PostTrainConfig
from linguabridge.data.langid import get_identifier
from linguabridge.models import build_tiny_qwen2
from linguabridge.train.post import run_dpo, run_sft
from linguabridge.train.preferences import build_language_consistency_pairs

CHATS = {
    "eng_Latn": ("Where do you live?", "I live in a small house near the river."),
    "zho_Hans": ("你住在哪里？", "我住在河边的一座小房子里。"),
    "rus_Cyrl": ("Где вы живёте?", "Мы живём в маленьком доме у реки."),
    "tha_Thai": ("คุณอาศัยอยู่ที่ไหน", "ฉันอาศัยอยู่ในบ้านหลังเล็กใกล้แม่น้ำ"),
}
CONVS = [
    {"id": f"home-{lang}", "group": "home", "language": lang,
     "messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
    for lang, (q, a) in CHATS.items()
]  # fmt: skip
SFT_STEPS = 40
pytestmark = pytest.mark.slow  # ~45 s on an idle 2-core machine (40 SFT steps with the 151k-token vocabulary)


def _train_cfg(steps: int, lr: float, **kw) -> PostTrainConfig:
    return PostTrainConfig(
        max_steps=steps, seq_len=64, micro_batch_size=4, save_every=20, keep_last=1,
        optim=OptimConfig(lr=lr, warmup_ratio=0.0, weight_decay=0.0, schedule="constant"), **kw,
    )  # fmt: skip


@pytest.fixture(scope="module")
def run(tmp_path_factory, qwen_tokenizer):
    root = tmp_path_factory.mktemp("post")
    model = build_tiny_qwen2(ModelConfig(), len(qwen_tokenizer), seed=0)
    sft = run_sft(_train_cfg(SFT_STEPS, 1e-2), CONVS, model, qwen_tokenizer, root / "sft", seed=0)
    return {"root": root, "sft": sft}


def _load(path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)


def _generate(model, tok, prompt: str, eos, max_new_tokens: int = 32) -> list[int]:
    import torch

    ids = tok.apply_chat_template(
        [{"role": "user", "content": prompt}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )["input_ids"]
    with torch.no_grad():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                             do_sample=False, eos_token_id=eos, pad_token_id=tok.pad_token_id)  # fmt: skip
    return out[0, ids.shape[1] :].tolist()


def test_sft_checkpoint_chats_in_the_prompts_language_and_stops_at_im_end(run):
    model, tok = _load(run["root"] / "sft" / "model")
    im_end, eot = tok.convert_tokens_to_ids("<|im_end|>"), tok.convert_tokens_to_ids("<|endoftext|>")
    assert model.generation_config.eos_token_id == [im_end, eot]
    assert model.generation_config.pad_token_id == eot and tok.pad_token == "<|endoftext|>"
    assert tok.apply_chat_template(
        [{"role": "user", "content": "x"}], add_generation_prompt=True, tokenize=False
    ) == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nx<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    lid = get_identifier("py3langid")
    losses = [
        r["loss"] for r in map(json.loads, (run["root"] / "sft" / "metrics.jsonl").open()) if "loss" in r
    ]
    print(f"\nSFT loss {losses[0]:.2f} -> {losses[-1]:.2f} over {len(losses)} steps")
    for lang, (prompt, answer) in CHATS.items():
        new = _generate(model, tok, prompt, model.generation_config.eos_token_id)
        assert new[-1] == im_end and len(new) < 32  # ended on <|im_end|>, not on the length limit
        text = tok.decode(new, skip_special_tokens=True)
        assert lid.predict(text).language == lang, text
        assert text == answer
        print(f"{lang}: {len(new)} tokens, stopped at <|im_end|>: {text}")
    # the trap the chat EOS avoids: stopping only at <|endoftext|> (the base model's EOS) runs to the limit
    runaway = _generate(model, tok, CHATS["eng_Latn"][0], [eot])
    assert len(runaway) == 32 and im_end in runaway


def test_sft_resumes_from_its_last_checkpoint(run, qwen_tokenizer):
    ckpts = sorted(p.name for p in (run["root"] / "sft" / "checkpoints").glob("checkpoint-*"))
    assert ckpts == [f"checkpoint-{SFT_STEPS}"]  # keep_last=1, sealed with a manifest
    assert (run["root"] / "sft" / "checkpoints" / ckpts[0] / "linguabridge_checkpoint.json").is_file()
    rows_before = (run["root"] / "sft" / "metrics.jsonl").read_text().splitlines()
    model = build_tiny_qwen2(ModelConfig(), len(qwen_tokenizer), seed=0)
    again = run_sft(_train_cfg(SFT_STEPS, 1e-2), CONVS, model, qwen_tokenizer, run["root"] / "sft", seed=0)
    assert again["resumed_from"].endswith(f"checkpoint-{SFT_STEPS}")
    rows_after = (run["root"] / "sft" / "metrics.jsonl").read_text().splitlines()
    assert [r for r in rows_after if '"loss"' in r] == [r for r in rows_before if '"loss"' in r]


def test_dpo_from_sft_raises_the_reward_margin_on_its_pairs(run):
    model, tok = _load(run["root"] / "sft" / "model")
    pairs = build_language_consistency_pairs(CONVS, seed=0, code_switch_fraction=0.5)
    assert len(pairs) == 4 and all(p["parallel"] for p in pairs)
    summary = run_dpo(_train_cfg(8, 1e-3, beta=0.1), pairs, model, tok, run["root"] / "dpo", seed=0)
    before, after = summary["before"], summary["after"]
    print(f"\nDPO ({summary['reference']}) reward margin {before['rewards/margins']:.4f} -> "
          f"{after['rewards/margins']:.4f}, accuracy {before['rewards/accuracies']:.2f} -> "
          f"{after['rewards/accuracies']:.2f}, logp chosen-rejected "
          f"{before['logps/chosen'] - before['logps/rejected']:.2f} -> "
          f"{after['logps/chosen'] - after['logps/rejected']:.2f}")  # fmt: skip
    assert summary["reference"] == "frozen copy" and summary["margin_pairs"] == 4
    assert abs(before["rewards/margins"]) < 1e-4  # policy == reference before training
    assert after["rewards/margins"] > 0.5 and after["rewards/accuracies"] == 1.0
    assert after["logps/chosen"] - after["logps/rejected"] > before["logps/chosen"] - before["logps/rejected"]
    # the DPO checkpoint is a chat model too
    dpo_model, dpo_tok = _load(run["root"] / "dpo" / "model")
    assert dpo_model.generation_config.eos_token_id == model.generation_config.eos_token_id
    new = _generate(dpo_model, dpo_tok, CHATS["zho_Hans"][0], dpo_model.generation_config.eos_token_id)
    assert new[-1] == dpo_tok.convert_tokens_to_ids("<|im_end|>")
    assert (
        get_identifier("py3langid").predict(dpo_tok.decode(new, skip_special_tokens=True)).language
        == "zho_Hans"
    )


def test_chat_command_answers_once(run):
    from typer.testing import CliRunner

    from linguabridge.cli.main import app

    res = CliRunner().invoke(
        app, ["chat", str(run["root"] / "sft" / "model"), "--prompt", CHATS["tha_Thai"][0], "--show-stop",
              "--max-new-tokens", "32"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert CHATS["tha_Thai"][1] in res.output and "stopped at end of turn" in res.output
