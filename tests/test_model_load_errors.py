"""Model folders a user should not load blindly: pickled-only weights and checkpoints that ship code."""

from __future__ import annotations

import json

import pytest

from linguabridge.config import ModelConfig
from linguabridge.errors import LinguabridgeError
from linguabridge.models import load_model
from linguabridge.tokenizer import load_tokenizer


def test_pickle_only_folder_is_refused_with_the_conversion(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "qwen2"}))
    (tmp_path / "pytorch_model.bin").write_bytes(b"not even read")
    with pytest.raises(LinguabridgeError) as exc:
        load_model(ModelConfig(), tmp_path)
    assert "only pickled weights (pytorch_model.bin)" in exc.value.message
    assert "save_pretrained" in exc.value.hint


def test_remote_code_is_refused_and_never_runs(tmp_path):
    (tmp_path / "config.json").write_text(
        json.dumps({"model_type": "xmodel", "auto_map": {"AutoModelForCausalLM": "modeling_x.XForCausalLM"}})
    )
    (tmp_path / "modeling_x.py").write_text("raise SystemExit('remote code ran')\n")
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(LinguabridgeError) as exc:
        load_model(ModelConfig(), tmp_path)
    assert "trust_remote_code" in exc.value.hint
    with pytest.raises(LinguabridgeError) as exc:
        load_tokenizer(str(tmp_path))
    assert "\n" not in exc.value.message
