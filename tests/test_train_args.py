"""Training arguments built from config: precision and speed options, sharding, trackers."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from linguabridge.config import TrainStageConfig
from linguabridge.errors import MissingDependencyError
from linguabridge.train.args import deepspeed_zero3_config, training_args_kwargs

ROOT = Path(__file__).resolve().parents[1]


def _args(**kw):
    from transformers import TrainingArguments

    return TrainingArguments(
        **training_args_kwargs(TrainStageConfig(**kw), Path("/tmp/lb-args"), 0, max_steps=10)
    )


def test_cpu_ignores_gpu_only_options_and_keeps_checkpointing():
    args = _args(bf16=True, compile=True, gradient_checkpointing=True, grad_accum=4)
    assert not args.bf16 and not args.torch_compile  # CUDA-only options are off on CPU
    assert args.gradient_accumulation_steps == 4
    assert getattr(args, "activation_checkpointing", args.gradient_checkpointing) is True


def test_fsdp2_moves_activation_checkpointing_into_fsdp():
    kw = training_args_kwargs(
        TrainStageConfig(sharding="fsdp2", gradient_checkpointing=True), Path("/tmp/x"), 0, 10
    )
    assert kw["fsdp"] is True and kw["fsdp_config"]["version"] == 2
    assert kw["fsdp_config"]["activation_checkpointing"] is True
    assert kw["fsdp_config"]["state_dict_type"] == "FULL_STATE_DICT"  # checkpoints stay HF safetensors
    assert not any(v for k, v in kw.items() if k.endswith("checkpointing") and k != "fsdp_config")


def test_zero3_config_matches_the_shipped_json_and_needs_deepspeed():
    import json

    assert json.loads((ROOT / "recipes" / "launch" / "ds_zero3.json").read_text()) == deepspeed_zero3_config()
    if importlib.util.find_spec("deepspeed") is None:
        with pytest.raises(MissingDependencyError, match="pip install deepspeed"):
            training_args_kwargs(TrainStageConfig(sharding="zero3"), Path("/tmp/x"), 0, 10)


def test_trackers_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("LINGUABRIDGE_NO_TENSORBOARD", "1")
    monkeypatch.setenv("LINGUABRIDGE_REPORT_TO", "wandb,mlflow")
    assert training_args_kwargs(TrainStageConfig(), Path("/tmp/x"), 0, 10)["report_to"] == ["wandb", "mlflow"]
    monkeypatch.delenv("LINGUABRIDGE_REPORT_TO")
    assert training_args_kwargs(TrainStageConfig(), Path("/tmp/x"), 0, 10)["report_to"] == []
