"""Every numeric setting has a range, and a value outside it is a one-line error naming file:line."""

from __future__ import annotations

import types
import typing

import annotated_types
import pytest
from pydantic import BaseModel

from linguabridge.config import RunConfig, load_recipe
from linguabridge.errors import ConfigError

# Numbers any value of which is meaningful.
UNBOUNDED = {"seed", "eval.fewshot_seed", "data.bitext.min_qe"}
SEED_KEYS = ("seed",)  # a stage's seed: None = the run seed, any integer otherwise


def _numeric_leaves(model: type[BaseModel], prefix: str = ""):
    for name, info in model.model_fields.items():
        ann = info.annotation
        args = typing.get_args(ann) if isinstance(ann, types.UnionType) or typing.get_origin(ann) is typing.Union else (ann,)
        for arg in args:
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                yield from _numeric_leaves(arg, f"{prefix}{name}.")
        if any(a in (int, float) for a in args):
            yield f"{prefix}{name}", info


def _bounded(info) -> bool:
    return any(isinstance(m, (annotated_types.Ge, annotated_types.Gt)) for m in info.metadata)


def test_every_numeric_key_has_a_range():
    missing = [
        key
        for key, info in _numeric_leaves(RunConfig)
        if key not in UNBOUNDED and key.rsplit(".", 1)[-1] not in SEED_KEYS and not _bounded(info)
    ]
    assert not missing, f"numeric settings without a range: {missing}"


@pytest.mark.parametrize(
    ("line", "bad"),
    [
        ("cpt_stage1:\n  seq_len: 0\n", "cpt_stage1.seq_len"),
        ("cpt_stage1:\n  micro_batch_size: 0\n", "cpt_stage1.micro_batch_size"),
        ("sft:\n  optim:\n    lr: -1e-5\n", "sft.optim.lr"),
        ("data:\n  minhash_threshold: 1.5\n", "data.minhash_threshold"),
        ("model:\n  tiny:\n    hidden_size: -64\n", "model.tiny.hidden_size"),
        ("eval:\n  batch_size: 0\n", "eval.batch_size"),
    ],
)
def test_out_of_range_value_names_file_and_line(tmp_path, line, bad):
    path = tmp_path / "run.yaml"
    path.write_text("name: x\n" + line)
    with pytest.raises(ConfigError) as exc:
        load_recipe(path)
    last_line = line.count("\n") + 1  # the value sits on the recipe's last line
    assert exc.value.message.startswith(f"{path}:{last_line}: {bad}:"), exc.value.message


def test_train_plan_refuses_a_negative_sequence_length():
    from typer.testing import CliRunner

    from linguabridge.cli.main import app

    res = CliRunner().invoke(app, ["train", "plan", "demo", "--set", "cpt_stage1.seq_len=-5"])
    assert res.exit_code != 0
    assert isinstance(res.exception, ConfigError)
    assert "cpt_stage1.seq_len" in res.exception.message


def test_a_bad_set_value_is_named_as_the_set_that_gave_it(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("name: x\ncpt_stage1:\n  seq_len: 64\n")
    with pytest.raises(ConfigError) as exc:
        load_recipe(path, ["cpt_stage1.seq_len=0"])
    assert exc.value.message.startswith("--set cpt_stage1.seq_len=0: cpt_stage1.seq_len:")
    with pytest.raises(ConfigError) as exc:
        load_recipe(path, ["cpt_stage1.sq_len=3"])
    assert exc.value.message.startswith("--set cpt_stage1.sq_len=3: unknown key")
