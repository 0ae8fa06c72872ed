"""XCOPA named alone reproduces lm-eval's own xcopa task on the real data (../shared/data/xcopa, 11 languages).

How the reference stays independent of our code: it is lm-eval's ``xcopa/default_<lang>.yaml`` read by
lm-eval's own YAML loader, so the prompt comes from lm-eval's ``xcopa/utils.py`` (``doc_to_text_<lang>``,
``doc_to_choice``, its connector words); the only change is where the data comes from (``dataset_path:
json`` + ``data_files`` on the same local files instead of the Hub). The model is loaded by lm-eval's HFLM
from the saved directory. Our side is the ``linguabridge eval`` command: prompts generated from our
connector table, our file discovery and protocol resolution, our model loading and our results rows, scored
by our backend (``eval.backend=linguabridge``, the default) and by lm-eval's HFLM (``eval.backend=hf``).

Items per language: ``LINGUABRIDGE_XCOPA_LIMIT`` (default 12; 0 = all 500 test items).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from linguabridge.cli.main import app
from linguabridge.config import ModelConfig, TinyModelConfig

KEYS = ("et", "ht", "id", "it", "qu", "sw", "ta", "th", "tr", "vi", "zh")  # lm-eval's xcopa languages
LIMIT = int(os.environ.get("LINGUABRIDGE_XCOPA_LIMIT", "12")) or None

pytestmark = pytest.mark.shared


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def reference_xcopa(model_dir: Path, data: Path) -> tuple[dict[str, float], dict[str, str]]:
    """lm-eval's own xcopa task configs on the local files: accuracy and first scored string per language."""
    from importlib import resources

    from lm_eval import evaluator
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager
    from lm_eval.tasks._yaml_loader import load_yaml

    task_dir = Path(str(resources.files("lm_eval.tasks").joinpath("xcopa")))
    configs = []
    for key in KEYS:
        cfg = load_yaml(task_dir / f"default_{key}.yaml", resolve_func=True)
        files = {
            "validation": str(data / key / f"val.{key}.jsonl"),
            "test": str(data / key / f"test.{key}.jsonl"),
        }
        cfg |= {"dataset_path": "json", "dataset_name": None, "dataset_kwargs": {"data_files": files}}
        configs.append(cfg)
    lm = HFLM(pretrained=str(model_dir), device="cpu", dtype="float32", batch_size=8)
    out = evaluator.simple_evaluate(
        model=lm,
        tasks=configs,
        task_manager=TaskManager(include_defaults=False),
        limit=LIMIT,
        bootstrap_iters=0,
    )
    accs = {key: out["results"][f"xcopa_{key}"]["acc,none"] for key in KEYS}
    firsts = {}
    for key in KEYS:
        ctx, cont = out["samples"][f"xcopa_{key}"][0]["arguments"][0]
        firsts[key] = ctx + cont
    return accs, firsts


@pytest.mark.parametrize("backend", ["linguabridge", "hf"])
def test_xcopa_zero_shot_equals_lm_evals_own_task(backend, shared_dir, tmp_path, qwen_tokenizer):
    from linguabridge.languages import canonical
    from linguabridge.models import build_tiny_qwen2

    data = shared_dir / "data" / "xcopa"
    shape = TinyModelConfig(
        hidden_size=16, intermediate_size=32, num_attention_heads=2, num_key_value_heads=1
    )
    model_dir = tmp_path / "tiny"
    build_tiny_qwen2(ModelConfig(tiny=shape), len(qwen_tokenizer), seed=7).save_pretrained(model_dir)
    qwen_tokenizer.save_pretrained(model_dir)

    out = tmp_path / "eval"
    args = ["eval", "--model", str(model_dir), "--tasks", "xcopa", "--data-dir", str(data), "--out", str(out)]
    args += ["--set", f"eval.backend={backend}"]
    if LIMIT:
        args += ["--limit", str(LIMIT)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    rows = json.loads((out / "results.json").read_text())["rows"]
    ours = {r["language"]: r for r in rows if r["task"] == "xcopa" and r["metric"] == "acc"}
    assert len(ours) == 11
    assert all((r["split"], r["shots"], r["prompt_style"]) == ("test", 0, "lm-eval") for r in ours.values())
    assert all(r["backend"] == backend for r in ours.values())

    accs, firsts = reference_xcopa(model_dir, data)
    for key in KEYS:
        row = ours[canonical(key)]
        assert row["n"] == (LIMIT or 500)
        assert row["value"] == pytest.approx(accs[key], abs=1e-6), key
        assert row["example"] == firsts[key], key  # the same scored string, byte for byte
