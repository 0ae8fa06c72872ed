"""Mixture planning: the Marco recipe reproduces Table 1; strategies, epoch caps, refusal, redistribution, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from linguabridge.cli.main import app
from linguabridge.config import MixtureConfig
from linguabridge.errors import ConfigError, LinguabridgeError
from linguabridge.languages import canonical
from linguabridge.mixture.plan import make_plan
from linguabridge.mixture.strategies import apportion, temperature_weights, unimax, water_fill
from linguabridge.recipe import load_recipe

ROOT = Path(__file__).resolve().parents[1]
MARCO = ROOT / "recipes" / "marco" / "mixture.yaml"

# Marco-LLM (arXiv 2412.04003) Table 1, billions of tokens: available, used, utilisation %.
TABLE1 = {
    "en": (1459.7, 90.4, 6.2), "zh": (214.7, 48.2, 22.4), "ar": (45.8, 10.6, 23.0), "de": (442.8, 10.6, 2.4),
    "es": (397.8, 10.6, 2.7), "fr": (320.8, 10.6, 3.3), "ko": (41.8, 10.6, 25.2), "ja": (224.2, 10.6, 4.7),
    "pt": (145.3, 10.6, 7.3), "tr": (80.6, 10.6, 13.1), "bn": (6.5, 1.9, 28.7), "he": (11.3, 1.9, 16.4),
    "id": (23.8, 1.9, 7.8), "it": (56.3, 1.9, 3.3), "ms": (2.9, 1.9, 64.4), "nl": (31.3, 1.9, 6.0),
    "pl": (45.3, 1.9, 4.1), "ru": (251.0, 1.9, 0.7), "th": (8.3, 1.9, 22.4), "uk": (18.4, 1.9, 10.1),
    "ur": (8.7, 1.9, 21.4), "vi": (24.4, 1.9, 7.6), "cs": (270.2, 1.9, 0.7), "el": (376.8, 1.9, 0.5),
    "hu": (214.4, 1.9, 0.9), "kk": (16.8, 1.9, 11.1), "ro": (160.0, 1.9, 1.2), "az": (19.4, 1.9, 9.6),
    "ne": (22.6, 1.9, 8.2), "parallel": (103.0, 20.8, 20.2), "knowledge": (65.0, 16.4, 25.2),
    "synthetic": (6.0, 4.4, 73.3),
}  # fmt: skip
KINDS = ("parallel", "knowledge", "synthetic")


def test_marco_plan_reproduces_table1():
    plan = make_plan(load_recipe(MARCO).mixture, {})
    got = {s["name"]: s for s in plan.sources}
    assert len(got) == len(TABLE1) == 32
    for key, (available, used, util) in TABLE1.items():
        s = got[key if key in KINDS else canonical(key)]
        assert s["available"] == round(available * 1e9)
        assert abs(s["used"] / 1e9 - used) <= 0.05 + 1e-9, (key, s["used"] / 1e9, used)
        assert abs(100 * s["utilisation"] - util) <= 0.3, (key, 100 * s["utilisation"], util)
    assert sum(s["used"] for s in plan.sources) == 300_000_000_000
    s1, s2 = plan.stages
    assert (s1.tokens, s2.tokens) == (160_000_000_000, 140_000_000_000)
    for st in plan.stages:
        assert sum(s.tokens for s in st.sources) == st.tokens  # whole tokens, exactly the budget
    # Tables 2-3 per language: each other-HR language 6.0B (I) + 4.55B (II), each LR language 0.76B + 1.11B.
    by = {st.name: {s.name: s.tokens for s in st.sources} for st in plan.stages}
    assert by["stage1"]["deu_Latn"] == 6_000_000_000 and by["stage2"]["deu_Latn"] == 4_550_000_000
    assert (
        abs(by["stage1"]["kaz_Cyrl"] / 1e9 - 0.758) < 1e-3
        and abs(by["stage2"]["kaz_Cyrl"] / 1e9 - 1.105) < 1e-3
    )


def test_cli_json_has_the_documented_shape():
    result = CliRunner().invoke(app, ["mix", "plan", str(MARCO), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"stages", "sources"}
    for st in data["stages"]:
        assert set(st) == {"name", "tokens", "sources"} and isinstance(st["tokens"], int)
        for s in st["sources"]:
            assert set(s) == {"name", "tokens", "share", "epochs"} and isinstance(s["tokens"], int)
    for s in data["sources"]:
        assert set(s) == {"name", "available", "used", "utilisation"}
        assert isinstance(s["available"], int) and isinstance(s["used"], int)
    names = {s["name"] for s in data["sources"]}
    assert {"eng_Latn", "zsm_Latn", "parallel", "knowledge", "synthetic"} <= names
    table = CliRunner().invoke(app, ["mix", "plan", str(MARCO)])
    assert table.exit_code == 0 and "zsm_Latn" in table.stdout and "64.2%" in table.stdout


def test_infeasible_plan_is_refused_with_the_numbers():
    cfg = load_recipe(MARCO, ["mixture.stages.0.max_epochs=0.2"]).mixture
    with pytest.raises(LinguabridgeError) as err:
        make_plan(cfg, {})
    msg = str(err.value)
    assert "stage 'stage1' is infeasible" in msg and "zsm_Latn" in msg and "580,000,000" in msg
    assert "redistribute_shortfall" in msg
    result = CliRunner().invoke(app, ["mix", "plan", str(MARCO), "--set", "mixture.stages.0.max_epochs=0.2"])
    assert isinstance(result.exception, LinguabridgeError)  # main() prints it as one line and exits 2
    assert str(result.exception).startswith(f"{MARCO}: mixture stage 'stage1' is infeasible")


def test_redistribution_keeps_the_budget_respects_caps_and_reports():
    cfg = load_recipe(
        MARCO, ["mixture.stages.0.max_epochs=0.2", "mixture.redistribute_shortfall=true"]
    ).mixture
    plan = make_plan(cfg, {})
    st = plan.stage("stage1")
    tokens = {s.name: s.tokens for s in st.sources}
    avail = {s["name"]: s["available"] for s in plan.sources}
    assert sum(tokens.values()) == 160_000_000_000
    assert all(tokens[k] <= avail[k] * 0.2 for k in tokens)
    assert tokens["zsm_Latn"] == 580_000_000 and tokens["synthetic"] == 1_200_000_000
    moved = {r["source"]: r for r in plan.redistributed}
    assert moved["zsm_Latn"]["wanted"] == 757_894_737 and moved["zsm_Latn"]["planned"] == 580_000_000
    # the shortfall goes to the others in proportion to their shares: en (32%) gains 32/17 of zh's gain
    gain = {k: moved[k]["planned"] - moved[k]["wanted"] for k in ("eng_Latn", "zho_Hans")}
    assert gain["eng_Latn"] / gain["zho_Hans"] == pytest.approx(32 / 17, rel=1e-6)
    assert plan.notes and "zsm_Latn" in plan.notes[0]


def _cfg(**kw) -> MixtureConfig:
    return MixtureConfig.model_validate(kw)


def test_temperature_sampling_flattens_by_one_over_t():
    assert temperature_weights({"a": 900.0, "b": 100.0}, 1.0) == pytest.approx({"a": 0.9, "b": 0.1})
    assert temperature_weights({"a": 900.0, "b": 100.0}, 2.0) == pytest.approx({"a": 0.75, "b": 0.25})
    cfg = _cfg(
        strategy="temperature",
        temperature=2.0,
        stages=[{"name": "s", "tokens": 1000, "shares": {"parallel": 0.2}, "max_epochs": 10}],
    )
    plan = make_plan(cfg, {"eng_Latn": 900, "tha_Thai": 100, "parallel": 500})
    got = {s.name: s.tokens for s in plan.stages[0].sources}
    assert got == {"parallel": 200, "eng_Latn": 600, "tha_Thai": 200}


def test_unimax_is_uniform_under_the_epoch_cap():
    assert unimax(3000, {"x": 200, "y": 2000, "z": 1e6}) == pytest.approx({"x": 200, "y": 1400, "z": 1400})
    cfg = _cfg(
        stages=[
            {
                "name": "s",
                "tokens": 4000,
                "strategy": "unimax",
                "shares": {"parallel": 0.25},
                "sources": ["eng_Latn", "tha_Thai", "npi_Deva"],
                "max_epochs": 2,
            }
        ]
    )
    plan = make_plan(cfg, {"eng_Latn": 10_000, "tha_Thai": 1_000, "npi_Deva": 100, "parallel": 5_000})
    got = {s.name: s.tokens for s in plan.stages[0].sources}
    assert got == {"parallel": 1000, "npi_Deva": 200, "tha_Thai": 1400, "eng_Latn": 1400}
    with pytest.raises(LinguabridgeError, match="unimax"):
        make_plan(cfg, {"eng_Latn": 10, "tha_Thai": 10, "npi_Deva": 10, "parallel": 5_000})


def test_source_epoch_cap_counts_every_stage():
    cfg = _cfg(
        source_max_epochs={"tha_Thai": 1.0},
        stages=[
            {"name": "a", "tokens": 1000, "shares": {"eng_Latn": 0.4, "tha_Thai": 0.6}},
            {"name": "b", "tokens": 1000, "shares": {"eng_Latn": 0.4, "tha_Thai": 0.6}},
        ],
    )
    with pytest.raises(LinguabridgeError, match=r"stage 'b'.*tha_Thai.*source_max_epochs 1 over all stages"):
        make_plan(cfg, {"eng_Latn": 10_000, "tha_Thai": 1_000})
    plan = make_plan(cfg, {"eng_Latn": 10_000, "tha_Thai": 1_200})
    assert [s["used"] for s in plan.sources if s["name"] == "tha_Thai"] == [1200]


def test_group_split_uniform_or_by_data():
    groups = {"g": {"languages": ["tha_Thai", "npi_Deva"], "split": "proportional"}}
    cfg = _cfg(groups=groups, stages=[{"name": "s", "tokens": 100, "shares": {"g": 1.0}}])
    got = {s.name: s.tokens for s in make_plan(cfg, {"tha_Thai": 300, "npi_Deva": 100}).stages[0].sources}
    assert got == {"tha_Thai": 75, "npi_Deva": 25}


def test_a_source_without_data_is_refused():
    cfg = _cfg(stages=[{"name": "s", "tokens": 100, "shares": {"eng_Latn": 0.5, "kaz_Cyrl": 0.5}}])
    with pytest.raises(LinguabridgeError, match="kaz_Cyrl needs 50 tokens but has 0"):
        make_plan(cfg, {"eng_Latn": 1000})


def test_integer_helpers():
    got = apportion({"a": 1 / 3 * 10, "b": 1 / 3 * 10, "c": 1 / 3 * 10}, 10)
    assert sum(got.values()) == 10 and sorted(got.values()) == [3, 3, 4]
    assert apportion({"a": 4.6, "b": 5.4}, 10, caps={"a": 4.9}) == {"a": 4, "b": 6}
    filled = water_fill({"a": 10, "b": 10, "c": 10}, {"a": 4, "b": 12, "c": 100}, {"a": 1, "b": 1, "c": 1})
    assert filled == pytest.approx({"a": 4, "b": 12, "c": 14})


def test_config_rejects_bad_shares(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "mixture:\n  stages:\n    - {name: s, tokens: 10, shares: {eng_Latn: 0.5, tha_Thai: 0.4}}\n"
    )
    with pytest.raises(ConfigError, match=r"r.yaml:1: mixture: .*explicit shares sum to 0.9000"):
        load_recipe(recipe)
    recipe.write_text(
        "mixture:\n  stages:\n    - {name: s, tokens: 10, strategy: unimax, sources: [hr_oter]}\n"
    )
    with pytest.raises(ConfigError, match="source 'hr_oter' is not a language, a group"):
        load_recipe(recipe)
