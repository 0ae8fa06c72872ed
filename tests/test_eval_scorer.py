"""The linguabridge backend (eval/scorer.py + eval/lm_backend.py) against lm-eval's HFLM on the tiny Qwen2.

The model has the real 151,646-token vocabulary, so the LM head and its log-softmax are the costly, memory-hungry
part the scorer avoids; both backends run float32 on CPU.
"""

from __future__ import annotations

import random

import pytest

from eval_fixtures import COPA_ID, COPA_TH, COPA_ZH
from linguabridge.config import ModelConfig


@pytest.fixture(scope="module")
def model(qwen_tokenizer):
    from linguabridge.models import build_tiny_qwen2

    return build_tiny_qwen2(ModelConfig(), len(qwen_tokenizer), seed=3).eval()


@pytest.fixture(scope="module")
def hflm(model, qwen_tokenizer):
    from lm_eval.models.huggingface import HFLM

    return HFLM(pretrained=model, tokenizer=qwen_tokenizer, batch_size=8)


@pytest.fixture(scope="module")
def ours(model, qwen_tokenizer):
    from linguabridge.eval.lm_backend import LinguabridgeLM

    return LinguabridgeLM(model, qwen_tokenizer, device="cpu")


def instance(kind: str, args: tuple, idx: int = 0):
    from lm_eval.api.instance import Instance

    return Instance(request_type=kind, doc={}, arguments=args, idx=idx)


CONNECTORS = {"cause": ("因为", "karena", "เพราะ"), "effect": ("所以", "maka", "ดังนั้น")}


def xcopa_requests() -> list:
    """Two choices per item sharing the premise, lm-eval's XCOPA prompt shape."""
    reqs = []
    for lang, items in enumerate((COPA_ZH, COPA_ID, COPA_TH)):
        for item in items:
            context = item["premise"].rstrip("。.") + CONNECTORS[item["question"]][lang]
            for choice in (item["choice1"], item["choice2"]):
                reqs.append(
                    instance("loglikelihood", (context, " " + choice[0].lower() + choice[1:]), len(reqs))
                )
    return reqs


def belebele_5shot_requests(items: int = 4) -> list:
    """4-choice questions behind a shared 5-shot prefix, single-letter continuations (Belebele's prompt)."""

    def block(i: int) -> str:
        return (
            f"P: The market opened at {i} o'clock and the river was calm.\nQ: When did market {i} open?\n"
            f"A: {i}\nB: {i + 1}\nC: never\nD: at noon\nAnswer:"
        )

    shots = "".join(block(i) + " " + "ABCD"[i % 4] + "\n\n" for i in range(5))
    reqs = []
    for i in range(items):
        for letter in "ABCD":
            reqs.append(instance("loglikelihood", (shots + block(10 + i), " " + letter), len(reqs)))
    return reqs


def mixed_requests() -> list:
    """Every shape at once: shared contexts, 5-shot prefixes, an empty context, a multi-token continuation."""
    reqs = xcopa_requests() + belebele_5shot_requests(2)
    reqs.append(instance("loglikelihood", ("", "The cat sleeps on the warm mat."), 0))
    reqs.append(instance("loglikelihood", ("Translate: hello ->", " 你好世界，今天天气很好"), 0))
    return reqs


def test_registered_as_an_lm_eval_model():
    from lm_eval.api.registry import get_model

    from linguabridge.eval.lm_backend import LinguabridgeLM

    assert get_model("linguabridge") is LinguabridgeLM


@pytest.mark.parametrize(
    "requests_of", [xcopa_requests, belebele_5shot_requests], ids=["xcopa", "4choice-5shot"]
)
def test_loglikelihoods_equal_hflm(requests_of, hflm, ours):
    reqs = requests_of()
    ref = hflm.loglikelihood(reqs, disable_tqdm=True)
    got = ours.loglikelihood(reqs, disable_tqdm=True)
    for (ref_lp, ref_greedy), (lp, greedy) in zip(ref, got, strict=True):
        assert lp == pytest.approx(ref_lp, abs=1e-4)
        assert greedy == ref_greedy


def test_same_scores_at_any_token_budget_and_order(ours):
    reqs = mixed_requests()
    longest = max(len(ours.tok_encode(r.args[0] + r.args[1])) for r in reqs)
    reference, budget = None, ours.scorer.max_batch_tokens
    try:
        for budget_requests in (
            1,
            7,
            64,
        ):  # 1 token: one group per batch; then 7 and 64 of the longest requests
            ours.scorer.max_batch_tokens = 1 if budget_requests == 1 else budget_requests * longest
            order = list(range(len(reqs)))
            random.Random(budget_requests).shuffle(order)
            shuffled = ours.loglikelihood([reqs[i] for i in order], disable_tqdm=True)
            got = [None] * len(reqs)
            for pos, i in enumerate(order):
                got[i] = shuffled[pos]
            if reference is None:
                reference = got
                continue
            for (ref_lp, ref_greedy), (lp, greedy) in zip(reference, got, strict=True):
                assert lp == pytest.approx(ref_lp, abs=1e-5)
                assert greedy == ref_greedy
    finally:
        ours.scorer.max_batch_tokens = budget


def test_rolling_loglikelihood_equals_hflm_across_windows(model, qwen_tokenizer, hflm, ours):
    """Documents longer than the context window are scored in HFLM's disjoint windows."""
    from lm_eval.models.huggingface import HFLM

    from linguabridge.eval.lm_backend import LinguabridgeLM

    docs = [("The river is wide and calm today. " * 12,), ("猫在温暖的垫子上睡觉。" * 5,), ("short",)]
    reqs = [instance("loglikelihood_rolling", d, i) for i, d in enumerate(docs)]
    short_hf = HFLM(pretrained=model, tokenizer=qwen_tokenizer, batch_size=4, max_length=32)
    short_ours = LinguabridgeLM(model, qwen_tokenizer, device="cpu", max_length=32)
    for ref, got in ((hflm, ours), (short_hf, short_ours)):
        expected = ref.loglikelihood_rolling(reqs, disable_tqdm=True)
        assert got.loglikelihood_rolling(reqs, disable_tqdm=True) == pytest.approx(expected, abs=1e-4)


def test_greedy_generation_equals_hflm(hflm, ours):
    gen = {"until": ["\n", "。"], "max_gen_toks": 16, "do_sample": False}
    prompts = [
        "English: The cat sleeps on the warm mat.\nChinese:",
        "English: We walked to the old market.\nThai:",
        "Translate to Indonesian: The river is wide and calm today. ->",
        "Q: What is the capital of France?\nA:",
        "1, 2, 3,",
    ]
    reqs = [instance("generate_until", (p, dict(gen)), i) for i, p in enumerate(prompts)]
    early = {"until": ["::", ",,,"], "max_gen_toks": 16, "do_sample": False}  # this model stops early on them
    reqs += [instance("generate_until", (p, dict(early)), i) for i, p in enumerate(prompts)]
    expected = hflm.generate_until(reqs, disable_tqdm=True)
    assert ours.generate_until(reqs, disable_tqdm=True) == expected
    budget = ours.scorer.max_batch_tokens
    try:
        ours.scorer.max_batch_tokens = 1  # one sequence per batch: no padding at all
        assert ours.generate_until(reqs, disable_tqdm=True) == expected
    finally:
        ours.scorer.max_batch_tokens = budget


def test_sampling_is_refused(ours):
    req = instance("generate_until", ("Hello", {"until": ["\n"], "do_sample": True, "temperature": 0.7}))
    with pytest.raises(ValueError, match="greedily"):
        ours.generate_until([req])


def test_lm_eval_command_line_runs_the_backend(tmp_path, qwen_tokenizer):
    """``python -m linguabridge.eval.lm_backend`` is lm-eval's own CLI with ``--model linguabridge`` registered."""
    import json
    import os
    import subprocess
    import sys

    from linguabridge.config import TinyModelConfig
    from linguabridge.models import build_tiny_qwen2

    shape = TinyModelConfig(
        hidden_size=16, intermediate_size=32, num_attention_heads=2, num_key_value_heads=1
    )
    model_dir = tmp_path / "tiny"
    build_tiny_qwen2(ModelConfig(tiny=shape), len(qwen_tokenizer), seed=7).save_pretrained(model_dir)
    qwen_tokenizer.save_pretrained(model_dir)
    data = tmp_path / "copa.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in COPA_ID), encoding="utf-8")
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "copa_id_local.yaml").write_text(
        "task: copa_id_local\ndataset_path: json\n"
        f"dataset_kwargs:\n  data_files:\n    test: {data}\ntest_split: test\noutput_type: multiple_choice\n"
        'doc_to_text: "{{premise}}"\ndoc_to_choice: "{{[choice1, choice2]}}"\ndoc_to_target: label\n'
        "metric_list:\n  - metric: acc\n"
    )
    cmd = [sys.executable, "-m", "linguabridge.eval.lm_backend", "run", "--model", "linguabridge"]
    cmd += ["--model_args", f"pretrained={model_dir}", "--device", "cpu", "--tasks", "copa_id_local"]
    cmd += ["--include_path", str(tmp_path / "tasks"), "--output_path", str(tmp_path / "out")]
    env = os.environ | {"HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (results,) = (tmp_path / "out").rglob("results_*.json")
    assert "acc,none" in json.loads(results.read_text())["results"]["copa_id_local"]
