"""Task definitions, protocols, prompts and metrics of the evaluation suite (no model needed)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from eval_fixtures import COPA_ID, COPA_TH, COPA_ZH, write_all_benchmarks, write_jsonl, write_xcopa
from linguabridge.config import EvalConfig, EvalTaskConfig
from linguabridge.errors import ConfigError, LinguabridgeError
from linguabridge.eval import metrics
from linguabridge.eval.compare import deltas, language_table
from linguabridge.eval.suites import directions, resolve_tasks
from linguabridge.eval.tasks import BENCHMARKS
from linguabridge.recipe import load_recipe

RECIPES = Path(__file__).resolve().parents[1] / "recipes"


def _spec(cfg: EvalConfig, task: str, language: str):
    return next(s for s in resolve_tasks(cfg) if s.benchmark.name == task and s.language == language)


def _context(spec, doc: dict, choice: int = 0) -> str:
    """The scored string lm-eval builds for a 0-shot multiple-choice item: context + delimiter + choice."""
    cfg = spec.lm_eval_config()
    return cfg["doc_to_text"](doc) + spec.delimiter + cfg["doc_to_choice"](doc)[choice]


def test_lm_eval_style_reproduces_lm_evals_own_xcopa_functions(tmp_path):
    """Our connector table + generator give exactly lm-eval's xcopa prompts (its utils.py is the reference)."""
    from lm_eval.tasks.xcopa import utils as ref

    cfg = EvalConfig(tasks=["xcopa"], data_dir=str(write_xcopa(tmp_path)))
    for code, key, docs in (
        ("zho_Hans", "zh", COPA_ZH),
        ("tha_Thai", "th", COPA_TH),
        ("ind_Latn", "id", COPA_ID),
    ):
        spec = _spec(cfg, "xcopa", code)
        built = spec.lm_eval_config()
        for doc in docs:
            assert built["doc_to_text"](doc) == getattr(ref, f"doc_to_text_{key}")(doc)
            assert built["doc_to_choice"](doc) == ref.doc_to_choice(doc)
        assert spec.delimiter == " "  # lm-eval's default, kept in the lm-eval style
        assert spec.protocol.split == "test" and spec.protocol.shots == 0  # lm-eval's default protocol


def test_script_aware_style_fixes_spacing_truncation_and_questions(tmp_path):
    cfg = EvalConfig(tasks=["xcopa"], data_dir=str(write_xcopa(tmp_path)), prompt_style="script-aware")
    zh = _spec(cfg, "xcopa", "zho_Hans")
    assert zh.delimiter == ""
    assert _context(zh, COPA_ZH[0]) == "该物品用气泡包装纸包着因为它很易碎。"
    lm = _spec(EvalConfig(tasks=["xcopa"], data_dir=str(tmp_path)), "xcopa", "zho_Hans")
    assert _context(lm, COPA_ZH[0]) == "该物品用气泡包装纸包着 因为 它很易碎。"  # lm-eval's spaces
    th = _spec(cfg, "xcopa", "tha_Thai")
    # lm-eval cuts the final Thai letter (it assumes a period); script-aware keeps it
    assert _context(th, COPA_TH[0]).startswith("สิ่งของถูกห่อไว้ในพลาสติก")
    # the Thai file says "effect" everywhere; the question comes from the consensus language (zh) instead
    import datasets

    fixed = th.lm_eval_config()["process_docs"](datasets.Dataset.from_list(COPA_TH))
    assert [d["question"] for d in fixed] == [d["question"] for d in COPA_ZH]
    assert "zh" in th.extras["question_source"]
    idn = _spec(cfg, "xcopa", "ind_Latn")
    assert (
        idn.delimiter == " "
        and _context(idn, COPA_ID[0]) == "Barang itu dikemas dalam bungkus gelembung karena barang itu rapuh."
    )


def test_lm_eval_style_truncates_thai_like_lm_eval(tmp_path):
    cfg = EvalConfig(tasks=["xcopa"], data_dir=str(write_xcopa(tmp_path)))
    th = _spec(cfg, "xcopa", "tha_Thai")
    assert th.lm_eval_config()["doc_to_text"](COPA_TH[0]).startswith(
        "สิ่งของถูกห่อไว้ในพลาสติ "
    )  # last letter gone


def test_marco_suite_applies_table4_and_never_takes_shots_from_the_scored_split(tmp_path):
    root = write_all_benchmarks(tmp_path)
    cfg = load_recipe(RECIPES / "marco" / "eval_base.yaml").eval
    cfg.data_dir = str(root)
    # keep the languages our fixture has
    for t in cfg.tasks:
        t.languages = {
            "xcopa": ["zho_Hans", "tha_Thai", "ind_Latn"],
            "belebele": ["zho_Hans", "tha_Thai"],
            "mmmlu": ["zho_Hans"],
            "xstorycloze": ["zho_Hans"],
            "tydiqa": ["eng_Latn"],
            "flores": ["zho_Hans", "tha_Thai"],
            "wmt16": ["deu_Latn"],
        }.get(t.task, t.languages)
    specs = resolve_tasks(cfg)
    proto = {s.benchmark.name: s.protocol for s in specs}
    expect = {  # task: (split, shots, few-shot split)
        "xcopa": ("validation", 5, "test"),
        "ceval": ("validation", 5, "dev"),
        "mmlu": ("test", 5, "dev"),
        "arc": ("test", 25, "train"),
        "xstorycloze": ("validation", 5, "train"),
        "tydiqa": ("validation", 1, "train"),
        "belebele": ("test", 1, "test"),  # one split only: lm-eval excludes the scored item
        "mmmlu": ("test", 5, "test"),
        "agieval": ("test", 5, "test"),
        "flores": ("devtest", 1, "dev"),
        "wmt16": ("test", 1, "validation"),
    }
    for task, (split, shots, fewshot) in expect.items():
        p = proto[task]
        assert (p.split, p.shots, p.fewshot_split) == (split, shots, fewshot), task
        assert p.prompt_style == "script-aware"
    assert {s.subset for s in specs if s.benchmark.name == "mmlu"} == {"anatomy", "astronomy"}
    flores = [s for s in specs if s.benchmark.name == "flores"]
    assert {(s.source_language, s.language) for s in flores} == {
        ("eng_Latn", "zho_Hans"),
        ("zho_Hans", "eng_Latn"),
        ("eng_Latn", "tha_Thai"),
        ("tha_Thai", "eng_Latn"),
    }
    # every spec becomes a task lm-eval can build from the local files (offline)
    from lm_eval.api.task import ConfigurableTask

    for spec in specs:
        task = ConfigurableTask(config=spec.lm_eval_config())
        assert len(task.eval_docs) > 0, spec.name


def test_fewshot_from_the_scored_split_is_refused_when_another_exists(tmp_path):
    cfg = EvalConfig(
        tasks=[EvalTaskConfig(task="xcopa", split="test", shots=2, fewshot_split="test")],
        data_dir=str(write_xcopa(tmp_path)),
    )
    with pytest.raises(ConfigError, match="few-shot examples from the scored split"):
        resolve_tasks(cfg)


def test_missing_and_malformed_data_fail_with_file_line_and_fix(tmp_path):
    write_xcopa(tmp_path)
    with pytest.raises(LinguabridgeError, match=r"no data for tur_Latn .*fetch"):
        resolve_tasks(
            EvalConfig(tasks=[EvalTaskConfig(task="xcopa", languages=["tr"])], data_dir=str(tmp_path))
        )
    bad = tmp_path / "xcopa" / "zh" / "test.zh.jsonl"
    bad.write_text(json.dumps(COPA_ZH[0]) + "\n{broken\n", encoding="utf-8")
    with pytest.raises(LinguabridgeError, match=rf"{bad}:2: not valid JSON"):
        resolve_tasks(EvalConfig(tasks=["xcopa"], data_dir=str(tmp_path)))
    write_jsonl(bad, [{"premise": "x。", "choice1": "a", "choice2": "b", "label": 0}])
    with pytest.raises(LinguabridgeError, match=rf"{bad}:1: record has no field 'question'"):
        resolve_tasks(EvalConfig(tasks=["xcopa"], data_dir=str(tmp_path)))
    with pytest.raises(LinguabridgeError, match="did you mean 'xcopa'"):
        resolve_tasks(EvalConfig(tasks=["xcoppa"], data_dir=str(tmp_path)))


def test_directions_english_centric_any_to_any_and_pairs():
    langs = ["eng_Latn", "zho_Hans", "jpn_Jpan", "kor_Hang", "arb_Arab", "rus_Cyrl", "tha_Thai"]
    assert len(directions(["english-centric"], langs)) == 12
    assert len(directions(["any-to-any"], langs)) == 42  # the paper's any-to-any count for 7 languages
    assert directions(["zh-th", "eng_Latn-tha_Thai"], []) == [
        ("zho_Hans", "tha_Thai"),
        ("eng_Latn", "tha_Thai"),
    ]
    with pytest.raises(ConfigError, match="src-tgt"):
        directions(["zhth"], [])


def test_bleu_tokenizer_follows_the_target_script():
    assert [
        metrics.bleu_tokenizer(c) for c in ("eng_Latn", "zho_Hans", "jpn_Jpan", "kor_Hang", "tha_Thai")
    ] == ["13a", "zh", "ja-mecab", "ko-mecab", "char"]
    # 13a sees one "word" in an unsegmented Chinese sentence: BLEU is 0 for a near-perfect output
    hyp, ref = ["猫在温暖的垫子上睡觉了。"], ["猫在温暖的垫子上睡觉。"]
    assert metrics.corpus_bleu(hyp, ref, "13a") == 0.0 and metrics.corpus_bleu(hyp, ref, "zh") > 50


def test_qa_metrics_match_lm_evals_tydiqa_and_score_chinese_by_character():
    from lm_eval.tasks.tydiqa import utils as ref

    cases = [
        ("the Eiffel Tower", ["Eiffel Tower"], "en"),
        ("in Paris, France", ["Paris"], "en"),
        ("القاهرة الكبرى", ["القاهرة"], "ar"),
        ("Москва", ["Москва!"], "ru"),
    ]
    lang = {"en": "eng_Latn", "ar": "arb_Arab", "ru": "rus_Cyrl"}
    for pred, golds, key in cases:
        ours = metrics.qa_scores(pred, golds, lang[key])
        assert ours["f1"] == pytest.approx(ref.metric_max_over_ground_truths(ref.f1_score, pred, golds, key))
        assert ours["exact_match"] == float(
            ref.metric_max_over_ground_truths(ref.exact_match_score, pred, golds, key)
        )
    # whole-sentence "words" would give 0; characters give partial credit
    assert metrics.qa_f1("北京市", "北京", "zho_Hans") == pytest.approx(0.8)


def test_spbleu_checks_the_model_checksum_and_equals_sacrebleus_flores200(tmp_path, monkeypatch):
    spm = pytest.importorskip("sentencepiece")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(r for row in BENCH_TEXT for r in row) * 20, encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(tmp_path / "m"),
        vocab_size=45,
        minloglevel=2,
        character_coverage=1.0,
        model_type="unigram",
    )
    model = tmp_path / "m.model"
    digest = hashlib.sha256(model.read_bytes()).hexdigest()
    with pytest.raises(LinguabridgeError, match="does not match"):
        metrics.SpmTokenizer(model, "0" * 64)
    with pytest.raises(LinguabridgeError, match="spm_sha256"):
        metrics.SpmTokenizer(model, None)
    ours = metrics.corpus_spbleu(HYPS, REFS, metrics.SpmTokenizer(model, digest))
    # sacrebleu's own flores200 tokenizer, pointed at the same model file instead of downloading it
    import sacrebleu
    import sacrebleu.tokenizers.tokenizer_spm as tok_spm

    (tmp_path / "sb" / "models").mkdir(parents=True)
    (tmp_path / "sb" / "models" / "flores200sacrebleuspm").write_bytes(model.read_bytes())
    monkeypatch.setattr(tok_spm, "SACREBLEU_DIR", str(tmp_path / "sb"))
    assert ours == pytest.approx(sacrebleu.corpus_bleu(HYPS, [REFS], tokenize="flores200").score, abs=1e-9)
    assert ours > 0


BENCH_TEXT = [
    ["The cat sleeps on the warm mat.", "猫在温暖的垫子上睡觉。"],
    ["We walked to the old market.", "我们走到了老市场。"],
]
HYPS = ["The cat sleeps on a warm mat.", "We walk to the old market."]
REFS = ["The cat sleeps on the warm mat.", "We walked to the old market."]


def test_deltas_and_tier_table_compare_only_like_protocols():
    row = {
        "task": "xcopa",
        "metric": "acc",
        "split": "test",
        "shots": 0,
        "prompt_style": "lm-eval",
        "checkpoint": "m",
    }
    base = {
        "model": "base",
        "rows": [
            row | {"language": "zho_Hans", "value": 0.6},
            row | {"language": "tha_Thai", "value": 0.5},
            row | {"language": "ind_Latn", "value": 0.5, "shots": 5},
        ],
    }
    new = {
        "model": "cpt",
        "rows": [
            row | {"language": "zho_Hans", "value": 0.55},
            row | {"language": "tha_Thai", "value": 0.7},
            row | {"language": "ind_Latn", "value": 0.9},
        ],
    }
    d = {x["language"]: x for x in deltas(new, base)}
    assert d["zho_Hans"]["delta"] == pytest.approx(-0.05) and d["zho_Hans"]["tier"] == "high"
    assert d["tha_Thai"]["delta"] == pytest.approx(0.2) and d["tha_Thai"]["tier"] == "low"
    assert "delta" not in d["ind_Latn"] and d["ind_Latn"]["protocol_differs"] == {"shots": [5, 0]}
    table = language_table(new, base)
    assert table.index("high-resource") < table.index("low-resource")
    assert (
        "| high-resource | zho_Hans | 55.0 (-5.0) |" in table
        and "| low-resource | tha_Thai | 70.0 (+20.0) |" in table
    )


def test_every_benchmark_has_a_title_default_and_hub_or_bundle():
    for name, bench in BENCHMARKS.items():
        assert bench.title and bench.default.split in bench.splits, name
        assert set(bench.default.metrics) <= set(bench.metrics), name
        assert bench.hub is not None or name.startswith("demo_"), name


def test_fetch_writes_the_layout_eval_reads(tmp_path):
    from linguabridge.eval.fetch import fetch

    calls = []

    def fake_load(repo, config, split):
        calls.append((repo, config, split))
        if repo == "google-research-datasets/tydiqa":
            return [
                {
                    "id": f"{lang}-{i}",
                    "title": "t",
                    "context": "Paris is in France.",
                    "question": "Where is Paris?",
                    "answers": {"text": ["France"], "answer_start": [12]},
                }
                for lang in ("english", "arabic")
                for i in range(2)
            ]
        return [dict(r, idx=i) for i, r in enumerate(COPA_ZH)]

    fetch("xcopa", tmp_path, ["zh"], load_dataset=fake_load)
    fetch("tydiqa", tmp_path, ["en"], load_dataset=fake_load)
    assert ("cambridgeltl/xcopa", "zh", "validation") in calls
    assert (tmp_path / "xcopa" / "zh" / "test.jsonl").is_file()
    tydiqa = [
        json.loads(x) for x in (tmp_path / "tydiqa" / "en" / "validation.jsonl").read_text().splitlines()
    ]
    assert len(tydiqa) == 2 and all(
        r["id"].startswith("english-") for r in tydiqa
    )  # other languages filtered out
    specs = resolve_tasks(EvalConfig(tasks=["xcopa", "tydiqa"], data_dir=str(tmp_path)))
    assert {(s.benchmark.name, s.language) for s in specs} == {("xcopa", "zho_Hans"), ("tydiqa", "eng_Latn")}
