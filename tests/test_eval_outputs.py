"""What other tools read from an evaluation: results_lm_eval.json through lm-eval's own make_table, the
results.json reader (old files too), `eval compare` under the baseline's protocol, and corpus-score stderrs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from linguabridge.cli.main import app
from linguabridge.config import EvalConfig, EvalTaskConfig, ModelConfig, TinyModelConfig
from linguabridge.eval.compare import match_protocol, render_tables
from linguabridge.eval.lmeval_results import LM_EVAL_FILE, lm_eval_doc
from linguabridge.eval.results import load_results
from linguabridge.eval.runner import evaluate


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def table_rows(doc: dict, column: str = "results") -> dict[tuple[str, str], tuple[str, str]]:
    """lm-eval's own Markdown table of ``doc`` as {(task, metric): (value, stderr)}."""
    from lm_eval.utils import make_table

    out, task = {}, None
    for line in make_table(doc, column).splitlines()[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        task = cells[0].lstrip("- ") or task
        out[(task, cells[4])] = (cells[6], cells[8])
    return out


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory, qwen_tokenizer):
    from linguabridge.models import build_tiny_qwen2

    shape = TinyModelConfig(
        hidden_size=16, intermediate_size=32, num_attention_heads=2, num_key_value_heads=1
    )
    model = build_tiny_qwen2(ModelConfig(tiny=shape), len(qwen_tokenizer), seed=0)
    cfg = EvalConfig(
        tasks=[
            EvalTaskConfig(task="demo_copa", languages=["eng_Latn", "zho_Hans"]),
            EvalTaskConfig(task="demo_flores", languages=["zho_Hans"]),
        ],
        prompt_style="script-aware",
        limit=4,
        max_new_tokens=8,
    )
    out = tmp_path_factory.mktemp("eval") / "sft"
    res = evaluate(
        model, qwen_tokenizer, cfg, None, out / "results.json", "sft", model_name="runs/x/sft/model"
    )
    return out, res


def test_lm_eval_format_reads_in_lm_evals_make_table_and_names_the_checkpoint(evaluated):
    out, res = evaluated
    doc = json.loads((out / LM_EVAL_FILE).read_text(encoding="utf-8"))
    assert {"results", "configs", "versions", "n-samples", "n-shot", "higher_is_better"} <= set(doc)
    assert doc["config"]["model"] == doc["model_name"] == "runs/x/sft/model"
    assert doc["config"]["checkpoint"] == "sft"
    assert " at 0x" not in json.dumps(doc)  # function reprs without their addresses: stable between runs
    table = table_rows(doc)
    for row in res["rows"]:
        name = f"{row['task']}_{row.get('direction') or row['language']}"
        value, stderr = table[(name, row["metric"])]
        assert float(value) == pytest.approx(row["value"], abs=5e-5), name
        if row["task"] == "demo_copa":
            assert float(stderr) == pytest.approx(row["stderr"], abs=5e-5), name
        else:  # a corpus score on 4 sentences: too few for a bootstrap, no stderr on either side
            assert stderr == "N/A" and "stderr" not in row
        assert doc["n-samples"][name]["effective"] == row["n"] == 4
    assert len(table) == len(res["rows"]) == 2 * 2 + 2 * 2  # copa acc/acc_norm x 2, flores bleu/chrF++ x 2


def test_results_json_has_rows_and_packages_and_the_reader_takes_old_files(evaluated, tmp_path):
    out, res = evaluated
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert (data["format"], data["model"], data["checkpoint"]) == (2, "runs/x/sft/model", "sft")
    assert data["packages"]["lm-eval"] and "results" not in data and "versions" not in data
    assert data["rows"][0]["prompt_name"] == "lm-eval's prompt"
    old = {"model": "base", "versions": {"lm-eval": "0.4.13"}, "results": data["rows"]}
    (tmp_path / "old.json").write_text(json.dumps(old), encoding="utf-8")
    read = load_results(tmp_path / "old.json")
    assert read["rows"] == data["rows"] and read["packages"] == {"lm-eval": "0.4.13"}
    (tmp_path / "lm.json").write_text((out / LM_EVAL_FILE).read_text(encoding="utf-8"), encoding="utf-8")
    result = CliRunner().invoke(
        app, ["eval", "compare", str(out / "results.json"), "--baseline", str(tmp_path / "lm.json")]
    )
    assert "not a results.json" in str(result.exception) and "lm-eval's format" in str(result.exception)


def test_own_metrics_and_subject_groups_in_lm_evals_shape():
    heldout = {"task": "heldout", "language": "tha_Thai", "split": "heldout", "shots": 0, "n": 3,
               "harness": "linguabridge"}  # fmt: skip
    mmlu = {"task": "mmlu", "language": "eng_Latn", "metric": "acc", "value": 0.5, "n": 4, "subsets": 2,
            "shots": 5}  # fmt: skip
    rows = [heldout | {"metric": "loss", "value": 2.5}, heldout | {"metric": "bpb", "value": 1.25}, mmlu]
    groups = {"mmlu_eng_Latn": ["mmlu_eng_Latn_anatomy", "mmlu_eng_Latn_astronomy"]}
    doc = lm_eval_doc(None, rows, groups, "Qwen/Qwen2-7B", "base")
    table = table_rows(doc)
    assert (
        float(table[("heldout_tha_Thai", "bpb")][0]) == 1.25
        and table[("heldout_tha_Thai", "bpb")][1] == "N/A"
    )
    assert float(table[("heldout_tha_Thai", "loss")][0]) == 2.5
    assert doc["higher_is_better"]["heldout_tha_Thai"] == {"loss": False, "bpb": False}
    assert float(table_rows(doc, "groups")[("mmlu_eng_Latn", "acc")][0]) == 0.5
    assert doc["group_subtasks"] == groups and doc["config"] == {
        "model": "Qwen/Qwen2-7B",
        "checkpoint": "base",
    }


def _doc(rows, **extra):
    return {"model": "m", "rows": rows} | extra


ROW = {"task": "demo_copa", "language": "tha_Thai", "metric": "acc", "split": "test", "shots": 0}


def test_eval_takes_the_baselines_protocol_for_tasks_named_alone():
    baseline = _doc([ROW | {"value": 0.5, "prompt_style": "script-aware", "limit": 4, "n": 4}])
    cfg = EvalConfig(tasks=["heldout_bpb", "demo_copa", "demo_flores"])
    notes = match_protocol(cfg, baseline)
    copa = cfg.tasks[1]
    assert cfg.tasks[0] == "heldout_bpb" and cfg.tasks[2] == "demo_flores"  # not in the baseline: unchanged
    assert (copa.task, copa.split, copa.shots, copa.prompt_style) == ("demo_copa", "test", 0, "script-aware")
    assert cfg.limit == 4 and len(notes) == 2
    kept = EvalConfig(tasks=["demo_copa"], prompt_style="lm-eval", limit=2)
    match_protocol(kept, baseline, explicit={"prompt_style", "limit"})
    assert kept.tasks[0].prompt_style is None and kept.limit == 2  # what the user set stays


def test_compare_flags_a_different_number_of_items_and_says_how_to_match_the_protocol():
    base = _doc([ROW | {"value": 0.5, "n": 4, "prompt_style": "script-aware", "stderr": 0.25},
                 ROW | {"language": "zho_Hans", "value": 0.5, "n": 4, "prompt_style": "script-aware"}])  # fmt: skip
    new = _doc([ROW | {"value": 0.75, "n": 8, "prompt_style": "script-aware", "stderr": 0.15},
                ROW | {"language": "zho_Hans", "value": 0.5, "n": 4, "prompt_style": "lm-eval"}])  # fmt: skip
    text = render_tables(new, base)
    assert "| tha_Thai | 75.0 (+25.0 ± 29.2) |" in text  # ± sqrt(0.25^2 + 0.15^2), within 2 SE: no *
    assert "| zho_Hans | 50.0 |" in text  # another prompt style: no delta
    assert "demo_copa tha_Thai acc: n 4 vs 8" in text
    assert "Not compared (protocol differs" in text and "--baseline" in text
    assert re.search(r"demo_copa zho_Hans acc: \{'prompt_style': \['script-aware', 'lm-eval'\]\}", text)


def test_eval_cli_with_a_baseline_compares_every_row(evaluated, tmp_path, qwen_tokenizer):
    """The demo run scores script-aware; `eval --tasks` alone would score lm-eval and compare nothing."""
    out, _ = evaluated
    result = CliRunner().invoke(app, ["eval", "--model", "tiny-qwen2", "--tasks", "demo_copa", "--out",
                                      str(tmp_path / "e"), "--baseline", str(out / "results.json")])  # fmt: skip
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())  # rich wraps long lines
    assert "demo_copa: the baseline's protocol (test split, 0-shot, script-aware)" in said
    tables = (tmp_path / "e" / "tables.md").read_text(encoding="utf-8")
    assert "Not compared" not in tables and "different number of items" not in tables
    rows = json.loads((tmp_path / "e" / "results.json").read_text(encoding="utf-8"))["rows"]
    assert {r["prompt_style"] for r in rows} == {"script-aware"} and {r["n"] for r in rows} == {4}


def test_corpus_stderr_agrees_with_sacrebleus_bootstrap_interval():
    import random

    from sacrebleu.metrics import CHRF

    from linguabridge.eval.metrics import corpus_stderr

    rng = random.Random(0)
    words = [
        "the",
        "a",
        "cat",
        "dog",
        "sat",
        "ran",
        "on",
        "mat",
        "big",
        "small",
        "red",
        "green",
        "house",
        "tree",
    ]
    refs = [" ".join(rng.choices(words, k=12)) for _ in range(200)]
    hyps = [" ".join(w if rng.random() < 0.7 else rng.choice(words) for w in r.split()) for r in refs]
    sacre = CHRF(word_order=2).corpus_score(hyps, [refs], n_bootstrap=1000)._ci / 1.96
    assert corpus_stderr("chrf++", hyps, refs) == pytest.approx(sacre, rel=0.15)
    assert corpus_stderr("chrf++", hyps[:9], refs[:9]) is None  # too few sentences to bootstrap
    assert corpus_stderr("bleu", ["", "a b c d e"] * 5, ["a b c d e"] * 10) > 0  # some resamples score 0


def test_results_json_reader_refuses_other_files_with_the_fix(tmp_path):
    from linguabridge.errors import LinguabridgeError

    (tmp_path / "x.json").write_text(json.dumps({"results": {"xcopa_th": {}}}), encoding="utf-8")
    with pytest.raises(LinguabridgeError, match="not a results.json"):
        load_results(Path(tmp_path / "x.json"))
