"""The mixture and tokens stages of a run: inventory, held-out ids, plan, shards, and the CPT dataset on top."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from linguabridge.errors import LinguabridgeError
from linguabridge.mixture.packing import PackedDataset
from linguabridge.recipe import load_recipe
from linguabridge.stages import load_plan, stage_mixture, stage_tokens
from test_mixture_corpus import write_demo_corpus

DEMO_RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "demo" / "run.yaml"


def test_mixture_then_tokens_stage(tmp_path):
    write_demo_corpus(tmp_path)
    cfg = load_recipe(DEMO_RECIPE, ["mixture.docs_per_shard=200"])
    summary = stage_mixture(cfg, tmp_path)
    assert summary["stages"] == ["stage1", "stage2"]
    inv = json.loads((tmp_path / "mixture" / "inventory.json").read_text())
    plan_json = json.loads((tmp_path / "mixture" / "plan.json").read_text())
    assert inv["mode"] == "exact" and inv["rows"]
    assert {s["name"]: s["available"] for s in plan_json["sources"]} == {
        k: v["tokens"] for k, v in inv["sources"].items()
    }
    assert len(json.loads((tmp_path / "mixture" / "heldout_ids.json").read_text())) == 32

    tokens = stage_tokens(cfg, tmp_path)
    assert tokens["shards"] == 3 and tokens["reused_shards"] == 0
    plan = load_plan(tmp_path)
    st = plan.stage("stage1")
    ds = PackedDataset(tmp_path / "tokens", st, cfg.cpt_stage1.seq_len, cfg.seed)
    assert ds.realised_tokens() == {s.name: s.tokens for s in st.sources if s.tokens}
    # a retried stage reuses its finished shards
    assert stage_tokens(cfg, tmp_path)["reused_shards"] == 3


def test_estimate_inventory_plans_and_tokenizes(tmp_path):
    write_demo_corpus(tmp_path)
    cfg = load_recipe(DEMO_RECIPE, ["mixture.inventory=estimate", "mixture.sample_rate=0.5"])
    stage_mixture(cfg, tmp_path)
    assert json.loads((tmp_path / "mixture" / "inventory.json").read_text())["mode"] == "estimate"
    summary = stage_tokens(cfg, tmp_path)
    assert summary["inventory_mode"] == "estimate" and 0 <= summary["inventory_max_rel_error"] < 0.1


def test_infeasible_demo_plan_stops_the_stage(tmp_path):
    write_demo_corpus(tmp_path)
    cfg = load_recipe(DEMO_RECIPE, ["mixture.stages.0.tokens=1e6"])
    with pytest.raises(LinguabridgeError, match="stage 'stage1' is infeasible"):
        stage_mixture(cfg, tmp_path)


def test_cli_inventory_then_plan_on_it(tmp_path):
    from typer.testing import CliRunner

    from linguabridge.cli.main import app

    files = write_demo_corpus(tmp_path)
    runner = CliRunner()
    result = runner.invoke(app, ["mix", "inventory", *map(str, files), "--out", str(tmp_path / "inv")])
    assert result.exit_code == 0, result.output
    assert "tha_Thai" in result.stdout and (tmp_path / "inv" / "inventory.tsv").is_file()
    planned = runner.invoke(
        app,
        ["mix", "plan", str(DEMO_RECIPE), "--inventory", str(tmp_path / "inv" / "inventory.json"), "--json"],
    )
    assert planned.exit_code == 0, planned.output
    data = json.loads(planned.stdout)
    assert [sum(s["tokens"] for s in st["sources"]) for st in data["stages"]] == [15360, 10240]
    inv = json.loads((tmp_path / "inv" / "inventory.json").read_text())
    assert {s["name"]: s["available"] for s in data["sources"]} == {
        k: v["tokens"] for k, v in inv["sources"].items()
    }
