"""SFT data builders: translation instructions from bitext, few-shot synthetic chats, balancing, decontamination."""

from __future__ import annotations

import json
from collections import Counter
from importlib import resources
from pathlib import Path

import pytest

from linguabridge.config import SFTDataConfig
from linguabridge.errors import ConfigError
from linguabridge.io import JsonlWriter
from linguabridge.train.chats import load_conversations
from linguabridge.train.sft_data import (
    balance_languages,
    build_sft_set,
    check_instruction_languages,
    decontaminate,
    language_name,
    load_synthetic_chats,
    translation_instructions,
    translation_prompt,
)

DEMO = Path(str(resources.files("linguabridge").joinpath("assets/demo")))


def _udhr_pairs(shared_dir: Path, langs: list[str]) -> list[dict]:
    rows = [
        json.loads(x) for x in (shared_dir / "data/udhr/udhr-articles-1-15.jsonl").read_text().splitlines()
    ]
    by = {(r["lang"], r["article"]): r["text"] for r in rows}
    return [
        {
            "id": f"udhr-{lang}-{a:02d}",
            "src_lang": "eng_Latn",
            "tgt_lang": lang,
            "src": by["eng_Latn", a],
            "tgt": by[lang, a],
        }
        for lang in langs
        for a in range(1, 6)
    ]


def test_translation_instructions_on_udhr_both_directions(shared_dir):
    pairs = _udhr_pairs(shared_dir, ["zho_Hans", "tha_Thai", "rus_Cyrl", "swh_Latn"])
    convs, stats = translation_instructions(
        pairs, seed=3, instruction_languages=["eng_Latn", "source", "target"]
    )
    assert len(convs) == 2 * len(pairs) == stats["built"]
    by_pair = {(c["metadata"]["pair_id"], c["metadata"]["src_lang"]): c for c in convs}
    for p in pairs:
        fwd, back = by_pair[p["id"], "eng_Latn"], by_pair[p["id"], p["tgt_lang"]]
        assert fwd["language"] == p["tgt_lang"] and fwd["messages"][-1]["content"] == p["tgt"]
        assert p["src"] in fwd["messages"][0]["content"]
        assert back["language"] == "eng_Latn" and back["messages"][-1]["content"] == p["src"]
        assert p["tgt"] in back["messages"][0]["content"]
    # several instruction languages, and Swahili (no template) fell back to English, counted
    used = {c["metadata"]["instruction_language"] for c in convs}
    assert {"eng_Latn", "zho_Hans", "tha_Thai", "rus_Cyrl"} <= used and "swh_Latn" not in used
    assert stats["instruction_fallback_eng_Latn"] > 0
    zh = next(
        c
        for c in convs
        if c["metadata"]["instruction_language"] == "zho_Hans" and c["language"] == "zho_Hans"
    )
    assert zh["messages"][0]["content"].startswith("请将下面的英语文本翻译成简体中文。")


def test_instruction_names_are_in_the_instruction_language():
    assert language_name("tha_Thai", "zho_Hans") == "泰语"
    assert language_name("eng_Latn", "rus_Cyrl") == "английский"
    assert language_name("kaz_Cyrl", "eng_Latn") == "Kazakh"
    prompt = translation_prompt("Hello.", "eng_Latn", "deu_Latn", "deu_Latn")
    assert (
        prompt == "Übersetze den folgenden Text.\nAusgangssprache: Englisch\nZielsprache: Deutsch\n\nHello."
    )


def test_instruction_language_without_template_fails_before_work():
    with pytest.raises(ConfigError, match="swh_Latn"):
        check_instruction_languages(["eng_Latn", "sw"])


def test_balance_follows_shares_and_caps_repetition():
    convs = [{"id": f"e{i}", "language": "eng_Latn"} for i in range(40)]
    convs += [{"id": f"t{i}", "language": "tha_Thai"} for i in range(3)]
    convs += [{"id": f"k{i}", "language": "kaz_Cyrl"} for i in range(10)]
    out, report = balance_languages(
        convs, {"eng_Latn": 0.4, "tha_Thai": 0.3, "kaz_Cyrl": 0.3}, examples=30, max_epochs=2, seed=0
    )
    counts = Counter(c["language"] for c in out)
    assert len(out) == 30
    assert counts["tha_Thai"] == 6  # 9 wanted, 3 available x 2 epochs
    # the 3-example shortfall went to the languages with room, in proportion to their shares (12+1.7, 9+1.3)
    assert counts["eng_Latn"] == 14 and counts["kaz_Cyrl"] == 10
    assert Counter(c["id"] for c in out if c["language"] == "tha_Thai") == {"t0": 2, "t1": 2, "t2": 2}
    assert report["per_language"]["tha_Thai"] == {"available": 3, "planned": 6}


def test_balance_with_mixture_groups():
    from linguabridge.config import GroupConfig

    convs = [
        {"id": f"{lang}{i}", "language": lang}
        for lang in ("eng_Latn", "tha_Thai", "kaz_Cyrl")
        for i in range(10)
    ]
    groups = {"lr": GroupConfig(languages=["tha_Thai", "kaz_Cyrl"])}
    out, _ = balance_languages(convs, {"eng_Latn": 0.5, "lr": 0.5}, examples=20, groups=groups, seed=1)
    assert Counter(c["language"] for c in out) == {"eng_Latn": 10, "tha_Thai": 5, "kaz_Cyrl": 5}


def test_decontamination_drops_chats_quoting_eval_sets():
    flores = json.loads((DEMO / "eval_translation.jsonl").read_text().splitlines()[0])
    leaked = {
        "id": "leak",
        "language": "eng_Latn",
        "messages": [
            {"role": "user", "content": "Translate this sentence into Chinese please."},
            {"role": "assistant", "content": "Sure: " + flores["eng_Latn"]},
        ],
    }
    leaked_zh = {
        "id": "leak-zh",
        "language": "zho_Hans",
        "messages": [
            {"role": "user", "content": "翻译"},
            {"role": "assistant", "content": flores["zho_Hans"]},
        ],
    }
    clean = load_conversations([DEMO / "sft.jsonl"])
    kept, dropped = decontaminate(clean + [leaked, leaked_zh], [], n=8)
    assert {d["id"] for d in dropped} == {"leak", "leak-zh"}
    assert all(d["reject_reason"] == "eval_contamination" and d["eval_ngram_hits"] > 0 for d in dropped)
    assert len(kept) == len(clean)


def test_fewshot_family_outputs_become_chats(tmp_path):
    """The synthetic stage's accepted documents (few-shot family) load as chats; other families do not."""
    with JsonlWriter(tmp_path / "synth" / "accepted" / "part-00000.jsonl.gz") as w:
        w.write(
            {
                "id": "synth-1",
                "text": "User: Как сохранить хлеб свежим?\nAssistant: Храните его в бумажном пакете.",
                "metadata": {"family": "fewshot", "language": "rus_Cyrl", "request_key": "k1"},
            }
        )
        w.write(
            {"id": "synth-2", "text": "Жил-был кот.", "metadata": {"family": "story", "language": "rus_Cyrl"}}
        )
        w.write(
            {
                "id": "synth-3",
                "text": "no turns here",
                "metadata": {"family": "fewshot", "language": "rus_Cyrl"},
            }
        )
    kept, rejected = load_synthetic_chats([tmp_path / "synth"])
    assert [c["id"] for c in kept] == ["synth-1"]
    assert kept[0]["messages"] == [
        {"role": "user", "content": "Как сохранить хлеб свежим?"},
        {"role": "assistant", "content": "Храните его в бумажном пакете."},
    ]
    assert {r["id"]: r["reject_reason"] for r in rejected} == {
        "synth-2": "not_a_chat_family:story",
        "synth-3": "not_user_assistant_format",
    }


def test_build_sft_set_writes_data_rejections_and_stats(tmp_path):
    pairs = [json.loads(x) for x in (DEMO / "parallel.jsonl").read_text().splitlines()]
    truth = {
        json.loads(x)["id"]: json.loads(x) for x in (DEMO / "parallel_truth.jsonl").read_text().splitlines()
    }
    good = [p for p in pairs if truth.get(p["id"], {}).get("expected", "keep") == "keep"][:12]
    with JsonlWriter(tmp_path / "kept" / "part-00000.jsonl.gz") as w:
        for p in good:
            w.write(p)
    cfg = SFTDataConfig(translation_pairs=6, balance={"eng_Latn": 0.5, "zho_Hans": 0.5}, examples=16)
    chats = load_conversations([DEMO / "sft.jsonl"])
    convs = build_sft_set(cfg, chats, tmp_path / "kept", [], tmp_path / "sft", seed=0)
    stats = json.loads((tmp_path / "sft" / "data_stats.json").read_text())
    assert stats["translation"]["built"] == 12
    assert stats["examples"] == len(convs) == 16
    assert set(stats["per_language"]) == {"eng_Latn", "zho_Hans"}
    written = [json.loads(x) for x in (tmp_path / "sft" / "data.jsonl").read_text().splitlines()]
    assert len(written) == 16 and all("messages" in c for c in written)
    assert (tmp_path / "sft" / "data_rejected.jsonl").is_file()
