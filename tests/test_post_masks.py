"""What SFT and DPO actually train on: the token labels and masks TRL's collators produce with our ChatML
template (no training here, only the batches)."""

from __future__ import annotations

import json

import pytest

from linguabridge.config import ModelConfig, PostTrainConfig
from linguabridge.errors import LinguabridgeError
from linguabridge.models import build_tiny_qwen2
from linguabridge.train.chats import load_conversations
from linguabridge.train.post import build_dpo_trainer, build_sft_trainer

CHAT = {
    "id": "multi-turn",
    "language": "eng_Latn",
    "messages": [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "Name a fruit."},
        {"role": "assistant", "content": "An apple."},
        {"role": "user", "content": "Another one?"},
        {"role": "assistant", "content": "A pear."},
    ],
}
SHORT = {
    "id": "short",
    "language": "tha_Thai",
    "messages": [{"role": "user", "content": "สวัสดี"}, {"role": "assistant", "content": "สวัสดีครับ"}],
}


def _cfg(**post) -> PostTrainConfig:
    cfg = PostTrainConfig(max_steps=1, seq_len=96, micro_batch_size=2)
    for k, v in post.items():
        setattr(cfg.post, k, v)
    return cfg


def _model(tok):
    return build_tiny_qwen2(ModelConfig(), len(tok), seed=0)


def _labelled_spans(tok, ids, labels) -> list[str]:
    """Decoded runs of consecutive labelled tokens."""
    spans, cur = [], []
    for t, lab in zip(ids, labels, strict=True):
        if lab != -100:
            assert lab == t
            cur.append(t)
        elif cur:
            spans.append(tok.decode(cur))
            cur = []
    if cur:
        spans.append(tok.decode(cur))
    return spans


def test_sft_labels_cover_assistant_turns_and_im_end_only(qwen_tokenizer, tmp_path):
    tok = qwen_tokenizer
    trainer, _, _ = build_sft_trainer(_cfg(), [CHAT, SHORT], _model(tok), tok, tmp_path, seed=0)
    batch = next(iter(trainer.get_train_dataloader()))
    im_end, pad = tok.convert_tokens_to_ids("<|im_end|>"), tok.convert_tokens_to_ids("<|endoftext|>")
    rows = {}
    for ids, labels in zip(batch["input_ids"].tolist(), batch["labels"].tolist(), strict=True):
        text = tok.decode(ids)
        rows["multi" if "fruit" in text else "short"] = (ids, labels)
    ids, labels = rows["multi"]
    # exactly the two assistant answers, each with its <|im_end|>; nothing of the system/user turns,
    # no role header, not the newline after <|im_end|>
    assert _labelled_spans(tok, ids, labels) == ["An apple.<|im_end|>", "A pear.<|im_end|>"]
    # every <|im_end|> closing a system/user turn is unlabelled, the assistant ones are labelled
    im_end_labels = [lab for t, lab in zip(ids, labels, strict=True) if t == im_end]
    assert im_end_labels == [-100, -100, im_end, -100, im_end]
    ids, labels = rows["short"]
    assert _labelled_spans(tok, ids, labels) == ["สวัสดีครับ<|im_end|>"]
    # padding is <|endoftext|> (never <|im_end|>) and carries no label
    n_pad = sum(1 for t in ids if t == pad)
    assert n_pad > 0 and all(lab == -100 for t, lab in zip(ids, labels, strict=True) if t == pad)
    assert tok.pad_token == "<|endoftext|>"
    labelled = sum(lab != -100 for lab in labels) + sum(lab != -100 for lab in rows["multi"][1])
    total = len(ids) + len(rows["multi"][0]) - n_pad - sum(1 for t in rows["multi"][0] if t == pad)
    print(f"\nassistant-only labels: {labelled} of {total} non-pad tokens carry loss")


def test_packed_sft_batches_restart_positions_and_keep_the_mask(qwen_tokenizer, tmp_path):
    tok = qwen_tokenizer
    trainer, _, _ = build_sft_trainer(_cfg(packing=True), [CHAT, SHORT], _model(tok), tok, tmp_path, seed=0)
    batch = next(iter(trainer.get_train_dataloader()))
    assert "attention_mask" not in batch  # padding-free: documents separated by position_ids alone
    pos = batch["position_ids"][0].tolist()
    starts = [i for i, p in enumerate(pos) if p == 0]
    assert len(starts) == 2 and starts[0] == 0  # both chats in one packed row, positions restart
    ids, labels = batch["input_ids"][0].tolist(), batch["labels"][0].tolist()
    assert labels[starts[1]] == -100  # no loss across the document boundary
    spans = _labelled_spans(tok, ids, labels)
    assert sorted(spans) == sorted(["An apple.<|im_end|>", "A pear.<|im_end|>", "สวัสดีครับ<|im_end|>"])


def test_dpo_completion_mask_is_the_answer_and_im_end(qwen_tokenizer, tmp_path):
    tok = qwen_tokenizer
    pair = {
        "prompt": [{"role": "user", "content": "Где ты живёшь?"}],
        "chosen": [{"role": "assistant", "content": "Я живу у реки."}],
        "rejected": [{"role": "assistant", "content": "I live by the river."}],
    }
    trainer, _, _ = build_dpo_trainer(_cfg(), [pair], _model(tok), tok, tmp_path, seed=0)
    batch = next(iter(trainer.get_train_dataloader()))
    ids, mask = batch["input_ids"].tolist(), batch["completion_mask"].tolist()
    chosen = tok.decode([t for t, m in zip(ids[0], mask[0], strict=True) if m])
    rejected = tok.decode([t for t, m in zip(ids[1], mask[1], strict=True) if m])
    # the trailing newline the template writes after <|im_end|> is scored too (TRL cuts after the prompt);
    # it is identical on both sides, so it cancels in the preference margin
    assert chosen.rstrip("\n") == "Я живу у реки.<|im_end|>"
    assert rejected.rstrip("\n") == "I live by the river.<|im_end|>"
    assert trainer.ref_model is not None and not any(p.requires_grad for p in trainer.ref_model.parameters())


def test_bad_chat_records_stop_with_file_and_line(tmp_path):
    f = tmp_path / "chats.jsonl"
    good = {
        "language": "eng_Latn",
        "messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}],
    }
    bad = {"language": "eng_Latn", "messages": [{"role": "user", "content": "a"}]}
    f.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n", encoding="utf-8")
    with pytest.raises(LinguabridgeError, match=r"chats\.jsonl:2: the last turn is not the assistant's"):
        load_conversations([f])
    f.write_text(
        json.dumps(good | {"messages": [{"role": "robot", "content": "x"}]}) + "\n", encoding="utf-8"
    )
    with pytest.raises(LinguabridgeError, match=r"chats\.jsonl:1: bad turn"):
        load_conversations([f])


def test_chats_load_from_parquet_and_saved_datasets_with_language_id(tmp_path):
    from datasets import Dataset

    rows = [
        {
            "messages": [
                {"role": "user", "content": "你好"},
                {"role": "assistant", "content": "你好！我今天可以帮你做什么？"},
            ]
        },
        {
            "messages": [
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello, how can I help you today?"},
            ]
        },
    ]
    ds = Dataset.from_list(rows)
    ds.to_parquet(str(tmp_path / "chats.parquet"))
    ds.save_to_disk(str(tmp_path / "saved"))
    for source in (tmp_path / "chats.parquet", tmp_path / "saved"):
        convs = load_conversations([source])
        assert [c["language"] for c in convs] == ["zho_Hans", "eng_Latn"]
        assert all(c["language_source"] == "langid" for c in convs)
