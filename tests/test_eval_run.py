"""Evaluation end to end on lm-eval: the demo suite through the CLI on a tiny random Qwen2 (real Qwen2
tokenizer), every Marco benchmark on fixture files, and translation metrics checked against sacrebleu."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sacrebleu
from typer.testing import CliRunner

from eval_fixtures import FLORES, write_all_benchmarks, write_flores
from linguabridge.cli.main import app
from linguabridge.config import EvalConfig, EvalTaskConfig, ModelConfig, TinyModelConfig
from linguabridge.eval.runner import evaluate, spec_rows
from linguabridge.eval.suites import resolve_tasks
from linguabridge.eval.translation import direction_matrices
from linguabridge.languages import get_language
from linguabridge.recipe import load_recipe

RECIPES = Path(__file__).resolve().parents[1] / "recipes"
ROW_KEYS = {"task", "language", "metric", "value", "split", "shots", "n", "prompt", "harness"}


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Two torch threads on a shared 2-core box spin against each other (10x slower); one is faster."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory, qwen_tokenizer) -> Path:
    """A tiny random Qwen2 saved like any checkpoint (save_pretrained + the Qwen2 tokenizer)."""
    from linguabridge.models import build_tiny_qwen2

    shape = TinyModelConfig(
        hidden_size=16, intermediate_size=32, num_attention_heads=2, num_key_value_heads=1
    )
    model = build_tiny_qwen2(ModelConfig(tiny=shape), len(qwen_tokenizer), seed=0)
    out = tmp_path_factory.mktemp("tiny")
    model.save_pretrained(out)
    qwen_tokenizer.save_pretrained(out)
    return out


def test_demo_suite_from_the_cli(tiny_dir, tmp_path):
    out = tmp_path / "eval"
    args = ["eval", "--suite", "demo", "--model", str(tiny_dir), "--out", str(out), "--limit", "2"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    data = json.loads((out / "results.json").read_text())
    assert set(data) == {"format", "model", "checkpoint", "packages", "rows"} and data["packages"]["lm-eval"]
    assert data["model"] == data["checkpoint"] == str(tiny_dir)
    rows = data["rows"]
    assert all(set(r) >= ROW_KEYS for r in rows)
    copa = [r for r in rows if r["task"] == "demo_copa"]
    assert {r["language"] for r in copa} == {
        "eng_Latn",
        "zho_Hans",
        "tha_Thai",
        "vie_Latn",
        "rus_Cyrl",
        "ind_Latn",
    }
    assert {r["metric"] for r in copa} == {"acc", "acc_norm"} and all(r["n"] == 2 for r in copa)
    zh = next(r for r in copa if r["language"] == "zho_Hans")
    assert zh["target_delimiter"] == "" and "因为 " not in zh["example"] and " 所以" not in zh["example"]
    flores = [r for r in rows if r["task"] == "demo_flores"]
    assert len({r["direction"] for r in flores}) == 14  # 7 languages to and from English
    # BLEU / chrF++ recomputed with sacrebleu from the outputs the run wrote
    outputs = [json.loads(x) for x in (out / "translations.jsonl").read_text().splitlines()]
    for r in flores:
        items = [o for o in outputs if o["direction"] == r["direction"]]
        hyps, refs = [o["hypothesis"] for o in items], [o["reference"] for o in items]
        if r["metric"] == "bleu":
            expected = sacrebleu.corpus_bleu(hyps, [refs], tokenize=r["bleu_tokenize"]).score
        else:
            expected = sacrebleu.corpus_chrf(hyps, [refs], word_order=2).score
        assert r["value"] == pytest.approx(expected, abs=1e-9)
    tables = (out / "tables.md").read_text()
    assert (
        "high-resource" in tables and "low-resource" in tables and "demo_flores bleu by direction" in tables
    )


class ScriptedTranslator:
    """A stand-in LM (lm-eval's interface) that 'translates' from a fixed table, so BLEU is not zero."""

    def __new__(cls, table: dict[str, str]):
        from lm_eval.api.model import LM

        class _LM(LM):
            def generate_until(self, requests, disable_tqdm=False):
                outs = []
                for req in requests:
                    lines = req.args[0].split("\n")  # ... "<src> text: <source>", "<tgt> text:"
                    source, target = lines[-2].split(" text: ", 1)[1], lines[-1].removesuffix(" text:")
                    outs.append(" " + table.get((source, target), "?"))
                return outs

            def loglikelihood(self, requests, disable_tqdm=False):
                raise NotImplementedError

            def loglikelihood_rolling(self, requests, disable_tqdm=False):
                raise NotImplementedError

        return _LM()


def test_translation_metrics_match_sacrebleu_and_fill_the_direction_matrix(tmp_path):
    from linguabridge.eval.lmeval_bridge import run_specs

    langs = ["eng_Latn", "zho_Hans", "tha_Thai"]
    # an imperfect "translation" of every sentence into every language: drop the last character
    names = {code: get_language(code).name for code in langs}
    table = {(row[a], names[b]): row[b][:-1] for row in FLORES for a in langs for b in langs if a != b}
    cfg = EvalConfig(
        tasks=[
            EvalTaskConfig(
                task="flores", languages=langs, directions=["any-to-any"], metrics=["bleu", "chrf++"]
            )
        ],
        data_dir=str(write_flores(tmp_path / "flores")),
    )
    specs = resolve_tasks(cfg)
    out = run_specs(ScriptedTranslator(table), specs, cfg)
    rows = [r for s in specs for r in spec_rows(s, out, cfg, "lm-eval")]
    assert len(rows) == 12  # 6 directions x 2 metrics
    for r in rows:
        src, tgt = r["direction"].split("-")
        hyps = [row[tgt][:-1] for row in FLORES]
        refs = [row[tgt] for row in FLORES]
        if r["metric"] == "bleu":
            assert r["bleu_tokenize"] == {"eng_Latn": "13a", "zho_Hans": "zh", "tha_Thai": "char"}[tgt]
            assert r["value"] == pytest.approx(
                sacrebleu.corpus_bleu(hyps, [refs], tokenize=r["bleu_tokenize"]).score
            )
            assert r["value"] > 10
        else:
            assert r["value"] == pytest.approx(sacrebleu.corpus_chrf(hyps, [refs], word_order=2).score)
    matrix = direction_matrices(rows)[("flores", "bleu")]
    assert set(matrix) == set(langs) and all(len(v) == 2 for v in matrix.values())


def test_every_marco_benchmark_runs_on_fixture_files(tiny_dir, tmp_path):
    from transformers import AutoModelForCausalLM

    from linguabridge.tokenizer import load_tokenizer

    root = write_all_benchmarks(tmp_path / "data")
    cfg = load_recipe(RECIPES / "marco" / "eval_base.yaml").eval
    cfg.data_dir, cfg.limit, cfg.max_new_tokens, cfg.batch_size = str(root), 2, 4, 16
    keep = {
        "xcopa": ["zho_Hans"],
        "belebele": ["tha_Thai"],
        "mmmlu": ["zho_Hans"],
        "xstorycloze": ["zho_Hans"],
        "tydiqa": ["eng_Latn"],
        "flores": ["zho_Hans"],
        "wmt16": ["deu_Latn"],
    }
    for t in cfg.tasks:
        t.languages = keep.get(t.task, t.languages)
    model = AutoModelForCausalLM.from_pretrained(tiny_dir)
    res = evaluate(model, load_tokenizer(str(tiny_dir)), cfg, None, tmp_path / "out" / "results.json", "tiny")
    by_task: dict[str, list[dict]] = {}
    for r in res["rows"]:
        by_task.setdefault(r["task"], []).append(r)
    assert set(by_task) == {
        "xcopa",
        "belebele",
        "mmmlu",
        "xstorycloze",
        "tydiqa",
        "flores",
        "wmt16",
        "mmlu",
        "arc",
        "ceval",
        "agieval",
    }
    for task, rows in by_task.items():
        for r in rows:
            assert r["harness"].startswith("lm-eval") and r["prompt_style"] == "script-aware", task
            if r["metric"] in ("acc", "f1", "exact_match"):
                assert 0.0 <= r["value"] <= 1.0, task
    mmlu = by_task["mmlu"][0]
    assert mmlu["subsets"] == 2 and mmlu["n"] == 4  # two subjects, micro-averaged
    xcopa = by_task["xcopa"][0]
    assert (xcopa["split"], xcopa["shots"], xcopa["fewshot_split"]) == ("validation", 5, "test")
    assert xcopa["example"].count("因为") + xcopa["example"].count("所以") == 6  # 5 shots + the item
    assert {r["metric"] for r in by_task["tydiqa"]} == {"f1", "exact_match"}
    assert {r["direction"] for r in by_task["wmt16"]} == {"deu_Latn-eng_Latn", "eng_Latn-deu_Latn"}
