"""`mix plan --inventory` and `mix inventory --estimate` refuse what they cannot use, in one line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from linguabridge.errors import LinguabridgeError
from linguabridge.mixture.inventory import Inventory, read_available


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("garbage", "not an inventory (invalid JSON"),
        ("[1, 2]", "not an inventory (no 'sources' table)"),
        ('{"sources": {}}', "not an inventory (no 'sources' table)"),
        ('{"sources": {"web": {"documents": 3}}}', "source 'web' has no valid token count (None)"),
        ('{"sources": {"web": {"tokens": -5}}}', "source 'web' has no valid token count (-5)"),
        ('{"sources": {"web": {"tokens": "12"}}}', "source 'web' has no valid token count ('12')"),
        (b"\xff\xfe\x00", "not an inventory (invalid JSON"),
    ],
)
def test_bad_inventory_is_refused(tmp_path, content, expected):
    path = tmp_path / "inventory.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(LinguabridgeError) as exc:
        read_available(path)
    assert expected in exc.value.message
    assert str(path) in exc.value.message


def test_inventory_written_by_mix_inventory_reads_back_from_its_folder(tmp_path):
    rows = [
        {"source": "web", "language": "eng_Latn", "documents": 2, "tokens": 40, "heldout_tokens": 0, "bytes": 90},
        {"source": "web", "language": "deu_Latn", "documents": 1, "tokens": 10, "heldout_tokens": 0, "bytes": 30},
    ]
    Inventory(mode="exact", rows=rows).write(tmp_path)
    assert read_available(tmp_path) == {"web": 50}
    assert json.loads((tmp_path / "inventory.json").read_text())["sources"]["web"]["tokens"] == 50


@pytest.mark.parametrize("estimate", ["0", "-1", "1.5"])
def test_estimate_outside_zero_one_is_refused(tmp_path, estimate):
    src = tmp_path / "docs.jsonl"
    src.write_text('{"id": "a", "text": "hello", "metadata": {"language": "eng_Latn"}}\n')
    proc = subprocess.run(
        [sys.executable, "-m", "linguabridge.cli.main", "mix", "inventory", str(src), "--estimate", estimate],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "is not a fraction in (0, 1]" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_one_stage_mixture_recipe_plans_and_a_run_needing_stage2_fails_before_work(tmp_path):
    import linguabridge as lb
    from linguabridge.errors import ConfigError

    recipe = tmp_path / "mix.yaml"
    recipe.write_text(
        "mixture:\n  available: {eng_Latn: 1.0e9, tha_Thai: 1.0e8}\n"
        "  stages:\n    - {name: stage1, tokens: 5.0e8, shares: {eng_Latn: 0.5, tha_Thai: 0.5}}\n"
    )
    plan = lb.plan_mixture(recipe)  # cpt_stage2's default mixture stage does not matter to a plan
    assert [s.name for s in plan.stages] == ["stage1"]
    with pytest.raises(ConfigError) as exc:
        lb.run(recipe, tmp_path / "run")
    assert "cpt_stage2.mixture_stage 'stage2' is not one of mixture.stages (stage1)" in exc.value.message
    assert not (tmp_path / "run" / "data").exists()  # refused before any work


def test_a_stage_may_set_its_own_temperature(tmp_path):
    import linguabridge as lb

    recipe = tmp_path / "mix.yaml"
    body = (
        "mixture:\n  strategy: temperature\n  temperature: 1.0\n"
        "  available: {eng_Latn: 9.0e8, tha_Thai: 1.0e8}\n"
        "  stages:\n    - {name: stage1, tokens: 1.0e8}\n    - {name: stage2, tokens: 1.0e8, temperature: 100}\n"
    )
    recipe.write_text(body)
    plan = lb.plan_mixture(recipe)
    share = {st.name: {s.name: s.share for s in st.sources} for st in plan.stages}
    assert share["stage1"]["tha_Thai"] == pytest.approx(0.1, abs=0.01)  # T=1: proportional
    assert share["stage2"]["tha_Thai"] == pytest.approx(0.49, abs=0.02)  # T=100: nearly uniform
