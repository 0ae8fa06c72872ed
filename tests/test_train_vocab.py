"""Vocabulary extension: new tokens appended after Qwen2's specials, lossless, better compression for the
language, mean-of-sub-token embeddings, and the embeddings-only warm phase in CPT."""

from __future__ import annotations

import json

import pytest

import toy_cpt as toy
from linguabridge.train.vocab import extend_tokenizer, init_new_embeddings, subtoken_ids, train_tokenizer


@pytest.fixture(scope="module")
def thai():
    return toy.demo_corpus(["tha_Thai"])["tha_Thai"]


@pytest.fixture(scope="module")
def extension(qwen_tokenizer, thai):
    return extend_tokenizer(qwen_tokenizer, train_tokenizer(qwen_tokenizer, thai, 2048), 300)


def test_new_tokens_follow_the_specials_and_round_trip(extension, qwen_tokenizer, thai, tmp_path):
    from transformers import AutoTokenizer

    base, tok = qwen_tokenizer, extension.tokenizer
    assert extension.first_id == len(base) == 151646 and len(extension.added) == 300
    assert len(tok) == len(base) + 300
    for special in ("<|endoftext|>", "<|im_start|>", "<|im_end|>"):
        assert tok.convert_tokens_to_ids(special) == base.convert_tokens_to_ids(special)
    english = toy.demo_corpus(["eng_Latn"])["eng_Latn"]
    for text in english:  # text the new merges do not touch tokenizes exactly as before
        assert tok(text)["input_ids"] == base(text)["input_ids"]
    for text in thai + ["Mixed ภาษาไทย text, 123 <|endoftext|>"]:
        ids = tok(text, add_special_tokens=False)["input_ids"]
        assert tok.decode(ids) == text
    before = sum(len(base(t)["input_ids"]) for t in thai)
    after = sum(len(tok(t)["input_ids"]) for t in thai)
    assert after < 0.9 * before  # the language is cut into fewer pieces
    tok.save_pretrained(str(tmp_path))
    again = AutoTokenizer.from_pretrained(str(tmp_path))
    assert again(thai[0])["input_ids"] == tok(thai[0])["input_ids"] and len(again) == len(tok)


@pytest.mark.parametrize("tied", [True, False])
def test_new_embeddings_are_the_mean_of_their_subtokens(extension, qwen_tokenizer, tied):
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    base = qwen_tokenizer
    torch.manual_seed(0)
    cfg = Qwen2Config(
        vocab_size=len(base), hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
        num_key_value_heads=1, tie_word_embeddings=tied, pad_token_id=None, bos_token_id=None, eos_token_id=None,
    )  # fmt: skip
    model = Qwen2ForCausalLM(cfg)
    old_in = model.get_input_embeddings().weight.detach().clone()
    old_out = model.get_output_embeddings().weight.detach().clone()
    rows = init_new_embeddings(model, base, extension)
    assert rows == len(base) + 300 and model.config.vocab_size == rows
    emb, out = model.get_input_embeddings().weight, model.get_output_embeddings().weight
    assert torch.equal(emb[: len(base)], old_in)
    for k in (0, 150, 299):
        sub = subtoken_ids(base, extension.added[k])
        assert len(sub) >= 2 and base.convert_tokens_to_string([extension.added[k]])
        assert torch.allclose(emb[len(base) + k], old_in[sub].mean(0))
        assert torch.allclose(out[len(base) + k], old_out[sub].mean(0))


def test_embeddings_warm_phase_trains_only_the_embeddings_first(qwen_tokenizer, tmp_path):
    import torch
    from safetensors.torch import load_file
    from transformers import AutoTokenizer

    from linguabridge.train.cpt import run_cpt
    from test_cpt_runner import make_setup, model_for, plan, tiny_cfg

    tokens, tok_dir = make_setup(tmp_path / "work", qwen_tokenizer)
    tok = AutoTokenizer.from_pretrained(str(tok_dir))
    model = model_for(tok)
    start = {k: v.detach().clone() for k, v in model.state_dict().items()}
    out = tmp_path / "cpt"
    run_cpt(
        tiny_cfg(embeddings_warmup_steps=2, save_every=2, keep_last=3), plan(4), tokens, model, tok, out, 0
    )
    warm = load_file(str(out / "checkpoints" / "checkpoint-2" / "model.safetensors"))
    final = load_file(str(out / "checkpoints" / "checkpoint-4" / "model.safetensors"))
    emb = "model.embed_tokens.weight"
    assert not torch.equal(warm[emb], start[emb])
    frozen = [k for k in warm if k != emb and k != "lm_head.weight"]
    assert frozen and all(torch.equal(warm[k], start[k]) for k in frozen)
    assert all(not torch.equal(final[k], warm[k]) for k in frozen if k.endswith("proj.weight"))
    events = [json.loads(x).get("event") for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert "embeddings_warmup_done" in events


def test_extend_vocab_command_writes_a_loadable_model(tmp_path, thai):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from typer.testing import CliRunner

    from linguabridge.cli.main import app

    corpus = tmp_path / "th.jsonl"
    corpus.write_text(
        "".join(
            json.dumps({"id": f"t{i}", "text": t, "metadata": {"language": "th"}}) + "\n"
            for i, t in enumerate(thai)
        )
    )
    out = tmp_path / "ext"
    res = CliRunner().invoke(
        app,
        ["train", "extend-vocab", str(corpus), "--out", str(out), "--language", "th", "--new-tokens", "50"],
    )
    assert res.exit_code == 0, res.output
    report = json.loads((out / "vocab_extension.json").read_text())
    assert len(report["added"]) == 50 and report["tokens_per_byte_after"] < report["tokens_per_byte_before"]
    tok = AutoTokenizer.from_pretrained(str(out))
    model = AutoModelForCausalLM.from_pretrained(str(out))
    assert model.get_input_embeddings().weight.shape[0] >= len(tok) == 151646 + 50
