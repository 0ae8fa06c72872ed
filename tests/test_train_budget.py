"""The budget planner: steps, tokens and GPU-hours of the Marco recipes, by hand and through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from linguabridge.cli.main import app
from linguabridge.errors import ConfigError
from linguabridge.recipe import load_recipe
from linguabridge.train.budget import plan_budget

RECIPES = Path(__file__).resolve().parents[1] / "recipes" / "marco"


def test_marco_7b_budget_by_hand():
    cfg = load_recipe(RECIPES / "sizes" / "qwen2-7b.yaml")
    got = plan_budget(cfg, gpu="h100", mfu=0.4, gpus=64)
    per_step = 1024 * 4096  # global batch of the recipe
    n = 28 * (3584 * 3584 * 2 + 3584 * 512 * 2 + 3 * 3584 * 18944) + 3584 * 152064
    flops_per_token = 6 * n + 12 * 28 * 3584 * 4096
    for row, tokens in zip(got["stages"], (160e9, 140e9), strict=True):
        steps = int(tokens // per_step)
        assert row["steps"] == steps and row["trained_tokens"] == steps * per_step
        assert row["grad_accum"] == 1024 // (2 * 64)
        hours = steps * per_step * flops_per_token / (989e12 * 0.4) / 3600
        assert row["gpu_hours"] == pytest.approx(hours)
        assert row["wall_clock_hours"] == pytest.approx(hours / 64)
    assert got["stages"][0]["steps"] == 38146
    assert 7.5e9 < got["params"] < 7.7e9


def test_model_size_option_overrides_the_recipe_model():
    cfg = load_recipe(RECIPES / "run.yaml")
    small = plan_budget(cfg, model="qwen2-1.5b", gpus=8)["total_gpu_hours"]
    big = plan_budget(cfg, model="qwen2-72b", gpus=8)["total_gpu_hours"]
    assert 20 < big / small < 60  # FLOPs per token scale with the model


def test_bad_inputs_are_clear_errors():
    cfg = load_recipe(RECIPES / "run.yaml")
    with pytest.raises(ConfigError, match="unknown GPU"):
        plan_budget(cfg, gpu="tpu9")
    with pytest.raises(ConfigError, match="mfu"):
        plan_budget(cfg, mfu=40)
    with pytest.raises(ConfigError, match="not a multiple"):
        plan_budget(cfg, gpus=3)  # 1024 sequences do not split over 2 x 3 per pass


def test_plan_command_prints_steps_tokens_and_gpu_hours():
    runner = CliRunner(env={"COLUMNS": "160"})
    res = runner.invoke(app, ["train", "plan", str(RECIPES / "run.yaml"), "--gpus", "64", "--mfu", "0.4"])
    assert res.exit_code == 0, res.output
    assert "38,146" in res.output and "GPU-hours" in res.output and "cpt_stage2" in res.output
    res = runner.invoke(app, ["train", "plan", "demo", "--stage", "cpt_stage1", "--gpus", "1", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["stages"][0]["steps"] == 30 and data["model"] == "tiny-qwen2"  # the demo: 30 steps of 4 x 128
