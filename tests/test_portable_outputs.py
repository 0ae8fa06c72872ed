"""Saved tokenizers and final models load in the tools users already have: transformers 4.4x as well as 5,
with the KV cache on for inference.

``LINGUABRIDGE_TF4_PYTHON=/path/to/python`` (a venv with transformers 4.x) also loads the files there."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from linguabridge.tokenizer import load_tokenizer, make_portable, qwen2_tokenizer_path

# Tokenizer classes transformers 4.57 can import by name (tokenization_auto's table has no TokenizersBackend).
TF4_CLASSES = {
    "Qwen2TokenizerFast",
    "Qwen2Tokenizer",
    "PreTrainedTokenizerFast",
    "LlamaTokenizerFast",
    "GPT2TokenizerFast",
}


def _check_tf4_shape(folder):
    config = json.loads((folder / "tokenizer_config.json").read_text())
    assert config["tokenizer_class"] in TF4_CLASSES, config["tokenizer_class"]
    assert not isinstance(config.get("extra_special_tokens"), list)  # 4.x expects a mapping there
    return config


def test_qwen2_tokenizer_is_saved_for_transformers_4_and_5(tmp_path):
    config = _check_tf4_shape(qwen2_tokenizer_path())
    assert config["tokenizer_class"] == "Qwen2TokenizerFast"
    assert config["additional_special_tokens"] == ["<|im_start|>", "<|im_end|>"]
    tok = load_tokenizer("qwen2")
    assert tok("Hello, world! <|im_end|>")["input_ids"] == [9707, 11, 1879, 0, 220, 151645]
    tok.save_pretrained(tmp_path)  # what every checkpoint does, then make_portable
    make_portable(tmp_path)
    _check_tf4_shape(tmp_path)
    from transformers import AutoTokenizer

    again = AutoTokenizer.from_pretrained(tmp_path)
    assert again("Xin chào thế giới")["input_ids"] == tok("Xin chào thế giới")["input_ids"]
    assert again.chat_template == tok.chat_template


def test_other_tokenizers_get_a_generic_fast_class(tmp_path):
    (tmp_path / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "TokenizersBackend", "extra_special_tokens": ["<x>"]})
    )
    (tmp_path / "tokenizer.json").write_text('{"added_tokens": []}')
    make_portable(tmp_path)
    config = _check_tf4_shape(tmp_path)
    assert config == {"tokenizer_class": "PreTrainedTokenizerFast", "additional_special_tokens": ["<x>"]}


@pytest.mark.skipif(
    not os.environ.get("LINGUABRIDGE_TF4_PYTHON"), reason="set LINGUABRIDGE_TF4_PYTHON to a 4.x venv"
)
def test_transformers_4_loads_the_saved_tokenizer():
    code = (
        "import sys; from transformers import AutoTokenizer, __version__ as v; assert v.startswith('4.'), v\n"
        "t = AutoTokenizer.from_pretrained(sys.argv[1]); print(type(t).__name__, t('Hello, world!')['input_ids'])"
    )
    proc = subprocess.run(
        [os.environ["LINGUABRIDGE_TF4_PYTHON"], "-c", code, str(qwen2_tokenizer_path())],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Qwen2TokenizerFast [9707, 11, 1879, 0]" in proc.stdout
