"""Hostile recipes: each one is a one-line ConfigError naming the file (and line) and the fix, never a
traceback, and an ``inherit`` never reads outside the recipe's folder."""

from __future__ import annotations

import subprocess
import sys

import pytest

from linguabridge.errors import ConfigError
from linguabridge.recipe import load_recipe


def _write(tmp_path, name, data: bytes | str):
    p = tmp_path / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data if isinstance(data, bytes) else data.encode())
    return p


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("seed: 1\nseed: 2\n", "dup.yaml:2: invalid YAML (key 'seed' is written twice"),
        ("data:\n  workers: 1\n  workers: 2\n", "dup.yaml:3: invalid YAML (key 'workers' is written twice"),
        (b"\xff\xfe\x00\x01binary", "dup.yaml: not UTF-8 text"),
        ("a: [\n", "dup.yaml:2: invalid YAML"),
        ("inherit: 5\n", "'inherit' must be a path or a list of paths"),
        ("inherit: [{a: 1}]\n", "'inherit' must be a path or a list of paths"),
        ("inherit: /etc/passwd\n", "inherit '/etc/passwd' is not a .yaml recipe"),
        ("- a\n- b\n", "a recipe must be a mapping of sections"),
    ],
)
def test_bad_recipe_is_one_line_error(tmp_path, content, expected):
    path = _write(tmp_path, "dup.yaml", content)
    with pytest.raises(ConfigError) as exc:
        load_recipe(path)
    assert expected in str(exc.value.message)
    assert "\n" not in exc.value.message


def test_inherit_outside_the_recipe_folder_is_refused_without_reading_it(tmp_path, monkeypatch):
    secret = _write(tmp_path, "elsewhere/secret.yaml", "seed: 4242\nname: top-secret-value\n")
    recipe = _write(tmp_path, "recipes/run.yaml", "inherit: ../elsewhere/secret.yaml\n")
    with pytest.raises(ConfigError) as exc:
        load_recipe(recipe)
    assert "outside the recipe's folder" in exc.value.message
    assert "top-secret-value" not in exc.value.message + (exc.value.hint or "")
    assert "LINGUABRIDGE_RECIPE_ROOTS" in exc.value.hint
    monkeypatch.setenv("LINGUABRIDGE_RECIPE_ROOTS", str(secret.parent))
    assert load_recipe(recipe).seed == 4242  # explicitly allowed


def test_inherit_inside_the_tree_and_builtin_sizes_still_load(tmp_path):
    _write(tmp_path, "r/base.yaml", "seed: 7\n")
    top = _write(tmp_path, "r/sub/../top.yaml", "inherit: base.yaml\nname: x\n")
    assert load_recipe(top).seed == 7
    from linguabridge.recipe import builtin_recipe

    sizes = builtin_recipe("marco").parent / "sizes" / "qwen2-7b.yaml"  # inherits ../run.yaml
    assert load_recipe(sizes).name


def test_broken_set_value_names_the_override(tmp_path):
    recipe = _write(tmp_path, "run.yaml", "seed: 1\n")
    with pytest.raises(ConfigError) as exc:
        load_recipe(recipe, ["seed=[1"])
    assert exc.value.message.startswith("--set 'seed=[1': invalid YAML")


def test_cli_prints_brackets_of_the_hint_and_exits_2(tmp_path):
    recipe = _write(tmp_path, "run.yaml", "inherit: 5\n")
    proc = subprocess.run(
        [sys.executable, "-m", "linguabridge.cli.main", "run", str(recipe), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "e.g. inherit: [mixture.yaml]" in proc.stderr  # rich markup does not eat the example
    assert len(proc.stderr.strip().splitlines()) == 1


def test_out_naming_a_file_is_one_line_error(tmp_path):
    blocker = _write(tmp_path, "a-file", "x")
    proc = subprocess.run(
        [sys.executable, "-m", "linguabridge.cli.main", "run", "demo", "--out", str(blocker), "--only", "data"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert f"cannot use {blocker}" in proc.stderr


def test_missing_optional_dependency_names_its_extra(tmp_path):
    from linguabridge.errors import extra_for

    assert [extra_for(m) for m in ("torch", "lm_eval", "kenlm", "datasketch", "no_such_module")] == [
        "train",
        "eval",
        "data",
        "data",
        None,
    ]
    code = (
        "import sys; sys.modules['torch'] = None\n"  # as if only [data] were installed
        "sys.argv = ['linguabridge', 'eval', '--model', 'tiny-qwen2', '--tasks', 'heldout_bpb', "
        f"'--out', {str(tmp_path / 'ev')!r}]\n"
        "from linguabridge.cli.main import main; main()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert "needs 'torch', which is not installed -- pip install 'linguabridge[train]'" in proc.stderr


def test_a_removed_key_says_why(tmp_path):
    recipe = _write(tmp_path, "run.yaml", "synthetic:\n  backoff_s: 2\n")
    with pytest.raises(ConfigError) as exc:
        load_recipe(recipe)
    assert exc.value.message.endswith("'synthetic.backoff_s' is no longer a setting")
    assert "openai client" in exc.value.hint
