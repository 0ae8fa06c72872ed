"""Which stages a config key invalidates: every key of RunConfig against one table.

A stage's fingerprint decides whether a completed stage may be reused. A key missing from a stage's
fingerprint silently reuses stale results; a key wrongly in it reruns hours of training for nothing. The table
below is the contract: a new config key fails this test until someone decides which stages it feeds.
"""

from __future__ import annotations

import copy

import pytest

from linguabridge.config import RunConfig
from linguabridge.pipeline import stage_fingerprints
from linguabridge.stages import STAGE_NAMES, STAGES

TRAIN = ("cpt_stage1", "cpt_stage2", "sft", "dpo", "eval")

# The stages whose *own* fingerprint reads the key (most specific prefix wins). Stages after them are
# invalidated through the chain; the test adds those itself.
DIRECT: dict[str, tuple[str, ...]] = {
    "name": (),  # a label only
    "seed": tuple(STAGE_NAMES),
    "languages": ("data", "mixture", "tokens"),
    "model": TRAIN,
    "tokenizer": ("mixture", "tokens", *TRAIN),
    "data": ("data", "mixture", "tokens"),
    "data.workers": (),  # how fast, not what
    "synthetic": (),  # `data synth` only; no pipeline stage reads it
    "conversations": ("sft", "dpo"),
    "mixture": ("mixture", "tokens", "cpt_stage1"),
    "mixture.workers": (),
    "cpt_stage1": ("cpt_stage1",),
    "cpt_stage2": ("cpt_stage2",),
    "sft": ("sft",),
    "dpo": ("dpo",),
    "eval": ("eval",),
    "eval.data_dir": ("eval", "sft"),  # SFT decontaminates against the evaluation data
    "report": ("report",),
}


def _leaves(data: dict, prefix: str = ""):
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            yield from _leaves(value, dotted + ".")
        else:
            yield dotted


def _perturbed(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, str):
        return value + "x"
    if isinstance(value, list):
        return [*value, "x"]
    if isinstance(value, dict):
        return {"x": 1}
    return "x"  # None


def _set(data: dict, dotted: str, value) -> dict:
    out = copy.deepcopy(data)
    node = out
    *parents, last = dotted.split(".")
    for part in parents:
        node = node[part]
    node[last] = value
    return out


def _get(data: dict, dotted: str):
    for part in dotted.split("."):
        data = data[part]
    return data


def _expected(dotted: str) -> set[str]:
    prefix = max((p for p in DIRECT if dotted == p or dotted.startswith(p + ".")), key=len, default=None)
    assert prefix is not None, f"config key {dotted!r} is not in the fingerprint table: decide which stages it feeds"
    hit = set(DIRECT[prefix])
    for stage in STAGES:  # stages come in dependency order: the closure is one pass
        if any(dep in hit for dep in stage.after):
            hit.add(stage.name)
    return hit


BASE = RunConfig().model_dump(mode="json")
KEYS = sorted(_leaves(BASE))


def test_the_table_covers_real_keys_only():
    for prefix in DIRECT:
        assert any(k == prefix or k.startswith(prefix + ".") for k in KEYS), f"{prefix!r} is not a config key"


@pytest.mark.parametrize("dotted", KEYS)
def test_each_config_key_invalidates_exactly_its_stages(dotted):
    before = stage_fingerprints(BASE, STAGES)
    after = stage_fingerprints(_set(BASE, dotted, _perturbed(_get(BASE, dotted))), STAGES)
    changed = {name for name in STAGE_NAMES if before[name] != after[name]}
    assert changed == _expected(dotted)


def test_the_cases_the_renovation_fixed():
    def changed(dotted, value):
        before, after = stage_fingerprints(BASE, STAGES), stage_fingerprints(_set(BASE, dotted, value), STAGES)
        return {n for n in STAGE_NAMES if before[n] != after[n]}

    assert changed("synthetic.concurrency", 64) == set()  # it used to invalidate all 9 stages
    assert "data" not in changed("conversations", ["chats.jsonl"])  # it used to invalidate data
    assert "sft" in changed("eval.data_dir", "/bench")  # it used not to invalidate sft
    assert changed("data.workers", 8) == set()


def test_defaults_are_validated():
    cfg = RunConfig()
    assert "marco" not in cfg.languages and "eng_Latn" in cfg.languages and len(cfg.languages) == 29
    assert not hasattr(cfg.data, "languages") and not hasattr(cfg.data, "synthetic")
