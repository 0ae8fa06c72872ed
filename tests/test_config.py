from pathlib import Path

import pytest
from typer.testing import CliRunner

from linguabridge.cli.main import app
from linguabridge.config import load_recipe
from linguabridge.errors import ConfigError, LinguabridgeError

RECIPES = sorted((Path(__file__).resolve().parents[1] / "recipes").rglob("*.yaml"))


@pytest.mark.parametrize("path", RECIPES, ids=[str(p.relative_to(p.parents[1])) for p in RECIPES])
def test_every_shipped_recipe_validates(path):
    cfg = load_recipe(path)
    assert cfg.languages


def test_recipes_exist():
    names = {str(p.relative_to(p.parents[1])) for p in RECIPES}
    assert "demo/run.yaml" in names and "marco/run.yaml" in names


def test_typo_key_names_file_line_and_suggestion(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("name: x\ncpt_stage1:\n  optim:\n    lrr: 1e-5\n")
    with pytest.raises(ConfigError) as err:
        load_recipe(recipe)
    msg = str(err.value)
    assert f"{recipe}:4" in msg and "cpt_stage1.optim.lrr" in msg and "'lr'" in msg


def test_overrides_are_typed_and_validated(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("name: x\n")
    cfg = load_recipe(recipe, ["cpt_stage1.optim.lr=2e-5", "languages=[th, zh]"])
    assert cfg.cpt_stage1.optim.lr == 2e-5
    assert cfg.languages == ["tha_Thai", "zho_Hans"]
    with pytest.raises(ConfigError):
        load_recipe(recipe, ["cpt_stage1.optim.lr=fast"])


def test_inherit_merges_parent_first(tmp_path):
    (tmp_path / "base.yaml").write_text("name: base\nseed: 1\n")
    (tmp_path / "child.yaml").write_text("inherit: base.yaml\nname: child\n")
    cfg = load_recipe(tmp_path / "child.yaml")
    assert (cfg.name, cfg.seed) == ("child", 1)


def test_lora_is_a_post_section_and_absent_means_full_fine_tuning(tmp_path):
    from linguabridge.config import LoraConfig

    recipe = tmp_path / "r.yaml"
    recipe.write_text("sft:\n  post:\n    lora: {}\ndpo:\n  post:\n    lora: {r: 4}\n")
    cfg = load_recipe(recipe)
    assert cfg.sft.post.lora == LoraConfig() and cfg.dpo.post.lora.r == 4
    assert load_recipe(recipe, ["sft.post.lora=null"]).sft.post.lora is None


def test_unknown_language_in_recipe(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("languages: [eng_Latn, xx_Fake]\n")
    with pytest.raises(LinguabridgeError) as err:
        load_recipe(recipe)
    assert "xx_Fake" in str(err.value)


@pytest.mark.parametrize(
    "content,args,expect",
    [
        ("cpt_stage1:\n  optm: {}\n", [], "did you mean 'optim'"),
        ("languages: [klingon]\n", [], "unknown language code 'klingon'"),
        (
            "data:\n  synthetic: {concurrency: 4}\n",
            [],
            "'data.synthetic' has moved -- write it as 'synthetic'",
        ),
        ("sft:\n  lora: true\n", [], "'sft.lora' has moved -- write it as 'sft.post.lora: {}"),
        (
            "sft:\n  eval_every: 5\n",
            [],
            "'eval_every' is a key of cpt_stage1 and cpt_stage2 only: remove it from sft",
        ),
        (
            "cpt_stage2:\n  beta: 0.2\n",
            [],
            "unknown key 'cpt_stage2.beta' -- 'beta' is a key of sft and dpo only",
        ),
        (None, [], "recipe file not found"),
    ],
)
def test_cli_bad_input_is_one_line(tmp_path, content, args, expect):
    import subprocess
    import sys

    recipe = tmp_path / "r.yaml"
    if content is not None:
        recipe.write_text(content)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "linguabridge.cli.main",
            "run",
            str(recipe),
            "--out",
            str(tmp_path / "o"),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and expect in lines[0], proc.stderr


def test_help_for_every_command():
    runner = CliRunner()
    for args in (
        ["--help"],
        ["run", "--help"],
        ["demo", "--help"],
        ["data", "clean", "--help"],
        ["mix", "plan", "--help"],
        ["report", "--help"],
        ["eval", "--help"],
        ["languages", "--help"],
        ["train", "stage", "--help"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, args
        assert "Usage" in result.stdout
