"""vLLM loads weights as safetensors only (no pickle), checked on the kwargs without vLLM installed."""

from __future__ import annotations

import sys
import types

from linguabridge.config import EvalConfig
from linguabridge.eval import lmeval_bridge


def test_vllm_lm_forces_safetensors(monkeypatch, tmp_path):
    seen: dict = {}

    class FakeVLLM:
        def __init__(self, **kwargs):
            seen.update(kwargs)

    module = types.ModuleType("lm_eval.models.vllm_causallms")
    module.VLLM = FakeVLLM
    monkeypatch.setitem(sys.modules, "lm_eval.models.vllm_causallms", module)
    monkeypatch.setattr(lmeval_bridge, "require", lambda name, extra: None)  # vllm itself is not needed
    lmeval_bridge.vllm_lm(tmp_path, EvalConfig(backend="vllm"))
    assert seen["load_format"] == "safetensors" and seen["pretrained"] == str(tmp_path)
