"""GGUF -> Hugging Face directory: a tiny Llama GGUF written by the test, and the real SmolLM2 file when cached.

The tiny file is written with the ``gguf`` package's writer from a random ``LlamaForCausalLM``, the way
llama.cpp's converter lays it out (tensor names, Q/K rows permuted for its RoPE, tied output), with a
byte-level BPE vocabulary, control tokens and a chat template.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

gguf = pytest.importorskip("gguf")
torch = pytest.importorskip("torch")

from linguabridge.errors import LinguabridgeError  # noqa: E402
from linguabridge.models import gguf as lb_gguf  # noqa: E402

TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
HEADS, KV_HEADS = 4, 2


def _tiny_llama(vocab_size: int):
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=HEADS,
        num_key_value_heads=KV_HEADS,
        max_position_embeddings=64,
        rms_norm_eps=1e-5,
        rope_theta=10000.0,
        tie_word_embeddings=True,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=2,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():  # norms away from 1, so a lost or swapped norm weight shows in the logits
        for name, p in model.named_parameters():
            if "norm" in name:
                p.uniform_(0.5, 1.5)
    return model


def _permute(w, n_head: int):
    """llama.cpp's row order for Q and K (interleaved RoPE halves); transformers undoes it on load."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _write_tiny_gguf(path: Path):
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    alphabet = sorted(set(bytes_to_unicode().values()))
    merges = ["h e", "l l", "Ġ w", "o r"]
    tokens = SPECIALS + alphabet + [m.replace(" ", "") for m in merges]
    model = _tiny_llama(len(tokens))
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("tiny test llama")
    w.add_context_length(64)
    w.add_embedding_length(32)
    w.add_block_count(2)
    w.add_feed_forward_length(64)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV_HEADS)
    w.add_rope_dimension_count(32 // HEADS)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(len(tokens))
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_types([gguf.TokenType.CONTROL] * len(SPECIALS) + [gguf.TokenType.NORMAL] * (len(tokens) - 3))
    w.add_token_merges(merges)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_pad_token_id(2)
    w.add_add_bos_token(False)
    w.add_chat_template(TEMPLATE)
    names = {
        "input_layernorm": "attn_norm",
        "self_attn.q_proj": "attn_q",
        "self_attn.k_proj": "attn_k",
        "self_attn.v_proj": "attn_v",
        "self_attn.o_proj": "attn_output",
        "post_attention_layernorm": "ffn_norm",
        "mlp.gate_proj": "ffn_gate",
        "mlp.up_proj": "ffn_up",
        "mlp.down_proj": "ffn_down",
    }
    for name, tensor in model.state_dict().items():
        t = tensor.float().numpy()
        if name == "lm_head.weight":
            continue  # tied to the embeddings: llama.cpp writes no output.weight
        if name == "model.embed_tokens.weight":
            w.add_tensor("token_embd.weight", t)
        elif name == "model.norm.weight":
            w.add_tensor("output_norm.weight", t)
        else:
            layer, rest = name.removeprefix("model.layers.").split(".", 1)
            part = names[rest.removesuffix(".weight")]
            if part == "attn_q":
                t = _permute(t, HEADS)
            elif part == "attn_k":
                t = _permute(t, KV_HEADS)
            w.add_tensor(f"blk.{layer}.{part}.weight", t)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return model


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gguf")
    path = folder / "tiny-llama.F32.gguf"
    model = _write_tiny_gguf(path)
    out, record = lb_gguf.convert_gguf(path, folder / "hf")
    return path, model, out, record


def _logits(model, ids):
    with torch.no_grad():
        return model(input_ids=torch.tensor([ids])).logits


def test_conversion_keeps_weights_and_records_itself(tiny):
    from transformers import AutoModelForCausalLM

    path, original, out, record = tiny
    assert (out / "model.safetensors").is_file() and (out / "config.json").is_file()
    config = json.loads((out / "config.json").read_text())
    assert "quantization_config" not in config and config["tie_word_embeddings"] is True
    assert record == json.loads((out / lb_gguf.RECORD).read_text())
    assert record["sha256"] == lb_gguf.sha256_file(path) and out.name.endswith(record["sha256"][:16])
    assert record["file"] == path.name and record["architecture"] == "LlamaForCausalLM"
    from importlib.metadata import version

    assert record["transformers"] == version("transformers") and record["gguf"] == version("gguf")
    assert record["parameters"] == sum(p.numel() for p in original.parameters())
    assert record["check"]["max_abs_logit_diff"] <= lb_gguf.MAX_ABS_DIFF

    converted = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    from_gguf = AutoModelForCausalLM.from_pretrained(
        path.parent, gguf_file=path.name, dtype=torch.float32
    ).eval()
    ids = [1, 40, 75, 120, 200, 259, 3, 2]
    assert torch.allclose(_logits(converted, ids), _logits(from_gguf, ids), atol=1e-6, rtol=0)
    # and both are the model the file was written from (norms, tied head and permuted Q/K all round-trip)
    assert torch.allclose(_logits(converted, ids), _logits(original, ids), atol=1e-5, rtol=0)


def test_tokenizer_comes_from_the_gguf(tiny):
    from transformers import AutoTokenizer

    path, _, out, _ = tiny
    saved = AutoTokenizer.from_pretrained(out)
    read = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    assert saved.chat_template == TEMPLATE
    assert (saved.bos_token, saved.eos_token, saved.pad_token) == ("<|im_start|>", "<|im_end|>", "<|im_end|>")
    assert saved.convert_tokens_to_ids(SPECIALS) == [0, 1, 2]
    text = "hello world <|im_end|>"
    assert saved(text)["input_ids"] == read(text)["input_ids"]
    assert saved(text)["input_ids"][-1] == 2  # a control token stays whole
    assert saved.convert_ids_to_tokens(saved("hello")["input_ids"])[:2] == ["he", "ll"]  # the file's merges
    chat = saved.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )
    assert chat == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"


def test_conversion_is_cached_by_file_content(tiny, tmp_path):
    path, _, out, record = tiny
    stamp = (out / "model.safetensors").stat().st_mtime_ns
    again, record2 = lb_gguf.convert_gguf(path, out.parent)
    assert (again, record2) == (out, record)
    assert (out / "model.safetensors").stat().st_mtime_ns == stamp  # nothing rewritten
    # other bytes -> another folder
    other = tmp_path / path.name
    other.write_bytes(path.read_bytes())
    with open(other, "ab") as fh:
        fh.write(b"\0" * 32)  # trailing padding: same model, different sha256
    out2, record3 = lb_gguf.convert_gguf(other, out.parent)
    assert out2 != out and record3["sha256"] != record["sha256"]


def test_missing_gguf_is_a_one_line_error(tmp_path):
    with pytest.raises(LinguabridgeError, match="no such GGUF file") as err:
        lb_gguf.convert_gguf(tmp_path / "nope.gguf", tmp_path)
    assert "\n" not in str(err.value)


def _smollm2_file() -> Path:
    cache = Path(os.environ.get("LINGUABRIDGE_CACHE", Path.home() / ".cache" / "linguabridge")) / "smollm2"
    path = cache / Path(lb_gguf.SMOLLM2_MEMBER).name
    if not path.is_file():
        pytest.skip(f"the SmolLM2 GGUF is not cached at {path} (ensure_smollm2 fetches it)")
    return path


def test_real_smollm2_converts(tmp_path):
    """Runs where the real file is cached (about a minute on 2 cores, once: the conversion is cached too)."""
    from transformers import AutoTokenizer

    path = _smollm2_file()
    assert lb_gguf.ensure_smollm2(path.parent) == path  # present: not fetched again
    out, record = lb_gguf.ensure_smollm2_hf(path.parent)
    assert record["sha256"] == lb_gguf.SMOLLM2_SHA256
    assert record["architecture"] == "LlamaForCausalLM" and record["parameters"] == 134_515_008
    assert record["check"]["max_abs_logit_diff"] <= lb_gguf.MAX_ABS_DIFF
    tok = AutoTokenizer.from_pretrained(out)
    assert len(tok) == 49152 and tok.eos_token == "<|im_end|>"
    assert tok.convert_tokens_to_ids("<|endoftext|>") == 0
    chat = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False)
    assert chat.startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")
